//! Scorecards: a score per source and quality dimension from the rule results, its
//! history and regression alerts, quality gates that set the exit code, and the HTML
//! report for stewards.
//!
//! **Score** of a source in a dimension = 100 × Σ(pass_rate × population) / Σ population
//! over the rules of that dimension run on the source — a population-weighted pass rate.
//! Rules that errored and `info` rules do not count. **Overall** = the mean of the
//! source's dimension scores. A score below `warn_below` is `warn`, below `fail_below`
//! `fail`; a source without rules in a dimension has no score (`no_rules`).

pub mod report;
pub mod spec;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::extract::ExtractOutput;
use crate::golden::Finding;
use crate::output::RunDir;
use crate::rules::{RuleResult, Status};

pub const SCORECARD_FILE: &str = "scorecard.parquet";
pub const DIMENSIONS: [&str; 6] = [
    "completeness",
    "validity",
    "uniqueness",
    "timeliness",
    "consistency",
    "integrity",
];

/// One row of `scorecard.parquet`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScoreRow {
    pub source: String,
    pub entity: String,
    pub system: String,
    pub owner_team: String,
    pub owner_contact: String,
    /// A dimension, or `overall`.
    pub dimension: String,
    pub score: Option<f64>,
    /// `pass`, `warn`, `fail` or `no_rules`.
    pub status: String,
    pub rules: u64,
    pub population: u64,
    pub failed: u64,
    pub rows_read: u64,
    pub rows_quarantined: u64,
    pub quarantine_rate: f64,
    pub duplicate_rate: Option<f64>,
    pub link_rate: Option<f64>,
}

/// A past scorecard row (from history).
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub run_date: NaiveDate,
    pub source: String,
    pub dimension: String,
    pub score: Option<f64>,
    pub quarantine_rate: f64,
    pub duplicate_rate: Option<f64>,
}

/// Population-weighted pass rate (0–100) of rule results; `None` without results.
pub fn weighted_score(results: &[&RuleResult]) -> Option<(f64, u64, u64, u64)> {
    let counted: Vec<&&RuleResult> = results
        .iter()
        .filter(|r| r.status != Status::Error && r.severity != "info")
        .collect();
    if counted.is_empty() {
        return None;
    }
    let pop: u64 = counted.iter().map(|r| r.population).sum();
    let failed: u64 = counted.iter().map(|r| r.failed).sum();
    let score = if pop == 0 {
        100.0
    } else {
        100.0
            * counted
                .iter()
                .map(|r| r.pass_rate * r.population as f64)
                .sum::<f64>()
            / pop as f64
    };
    Some((score, counted.len() as u64, pop, failed))
}

pub fn status_of(score: Option<f64>, warn: f64, fail: f64) -> &'static str {
    match score {
        None => "no_rules",
        Some(s) if s < fail => "fail",
        Some(s) if s < warn => "warn",
        Some(_) => "pass",
    }
}

/// Builds the scorecard rows.
pub fn score(
    cfg: &Config,
    extracted: &ExtractOutput,
    results: &[RuleResult],
    findings: &[Finding],
    link: &HashMap<String, (u64, u64)>,
) -> Vec<ScoreRow> {
    let mut rows = Vec::new();
    for s in &cfg.sources {
        let ex = extracted.source(&s.name);
        let rows_read = ex.map(|e| e.rows_read).unwrap_or(0);
        let rows_q = ex.map(|e| e.rows_quarantined).unwrap_or(0);
        let accepted = ex.map(|e| e.rows_accepted).unwrap_or(0);
        let qrate = if rows_read == 0 {
            0.0
        } else {
            rows_q as f64 / rows_read as f64
        };
        let in_entity = cfg.entities.iter().any(|e| {
            e.member_sources(&cfg.sources)
                .iter()
                .any(|m| m.name == s.name)
        });
        let dups = findings
            .iter()
            .filter(|f| f.finding_type == "duplicate" && f.source == s.name)
            .count() as u64;
        let drate = in_entity.then(|| {
            if accepted == 0 {
                0.0
            } else {
                dups as f64 / accepted as f64
            }
        });
        let lrate = link
            .get(&s.name)
            .map(|(l, t)| if *t == 0 { 0.0 } else { *l as f64 / *t as f64 });
        let base =
            |dimension: &str, score: Option<f64>, rules: u64, population: u64, failed: u64| {
                let t = cfg.scorecard.thresholds_for(dimension);
                ScoreRow {
                    source: s.name.clone(),
                    entity: s.entity.clone(),
                    system: s.system.as_str().to_string(),
                    owner_team: s.owner.team.clone(),
                    owner_contact: s.owner.contact.clone(),
                    dimension: dimension.to_string(),
                    score,
                    status: status_of(score, t.warn_below, t.fail_below).to_string(),
                    rules,
                    population,
                    failed,
                    rows_read,
                    rows_quarantined: rows_q,
                    quarantine_rate: qrate,
                    duplicate_rate: drate,
                    link_rate: lrate,
                }
            };
        let mut dim_scores = Vec::new();
        let (mut all_rules, mut all_pop, mut all_failed) = (0, 0, 0);
        for d in DIMENSIONS {
            let rs: Vec<&RuleResult> = results
                .iter()
                .filter(|r| r.source == s.name && r.dimension == d)
                .collect();
            match weighted_score(&rs) {
                Some((sc, n, pop, failed)) => {
                    dim_scores.push(sc);
                    all_rules += n;
                    all_pop += pop;
                    all_failed += failed;
                    rows.push(base(d, Some(sc), n, pop, failed));
                }
                None => rows.push(base(d, None, 0, 0, 0)),
            }
        }
        let overall = (!dim_scores.is_empty())
            .then(|| dim_scores.iter().sum::<f64>() / dim_scores.len() as f64);
        rows.push(base("overall", overall, all_rules, all_pop, all_failed));
    }
    rows
}

/// Regression alerts: a score that fell by more than `max_drop_points` against the
/// previous run or against the mean of the last `baseline_runs` runs; a quarantine or
/// duplicate rate that rose by more than `max_rate_jump_points` percentage points.
/// `history` holds earlier runs only, oldest first. No history, no alerts.
pub fn regressions(cfg: &Config, current: &[ScoreRow], history: &[HistoryRow]) -> Vec<Finding> {
    let sc = &cfg.scorecard;
    let mut out = Vec::new();
    for row in current {
        let past: Vec<&HistoryRow> = history
            .iter()
            .filter(|h| h.source == row.source && h.dimension == row.dimension)
            .collect();
        let Some(prev) = past.last() else { continue };
        let mk = |kind: &'static str, detail: String, evidence: String| Finding {
            finding_type: "regression",
            kind,
            entity: row.entity.clone(),
            golden_id: None,
            source: row.source.clone(),
            record_key: row.dimension.clone(),
            related_source: None,
            related_key: None,
            severity: "warn",
            detail,
            evidence: Some(evidence),
        };
        if let Some(cur) = row.score {
            let window: Vec<f64> = past
                .iter()
                .rev()
                .take(sc.baseline_runs)
                .filter_map(|h| h.score)
                .collect();
            let baseline =
                (!window.is_empty()).then(|| window.iter().sum::<f64>() / window.len() as f64);
            let drop_prev = prev.score.map(|p| p - cur);
            let drop_base = baseline.map(|b| b - cur);
            if drop_prev.is_some_and(|d| d > sc.max_drop_points)
                || drop_base.is_some_and(|d| d > sc.max_drop_points)
            {
                out.push(mk(
                    "score_drop",
                    format!(
                        "{} score fell to {cur:.1}: {} on {} (baseline of {} runs {})",
                        row.dimension,
                        prev.score
                            .map(|p| format!("{p:.1}"))
                            .unwrap_or("no score".into()),
                        prev.run_date,
                        window.len(),
                        baseline.map(|b| format!("{b:.1}")).unwrap_or("-".into())
                    ),
                    format!(
                        "current={cur:.2} previous={} baseline={} max_drop_points={}",
                        prev.score.map(|p| format!("{p:.2}")).unwrap_or_default(),
                        baseline.map(|b| format!("{b:.2}")).unwrap_or_default(),
                        sc.max_drop_points
                    ),
                ));
            }
        }
        if row.dimension == "overall" {
            let jump = |kind: &'static str,
                        name: &str,
                        cur: Option<f64>,
                        prev: Option<f64>|
             -> Option<Finding> {
                let (c, p) = (cur?, prev?);
                ((c - p) * 100.0 > sc.max_rate_jump_points).then(|| {
                    mk(
                        kind,
                        format!(
                            "{name} rose from {:.2}% to {:.2}% since {}",
                            p * 100.0,
                            c * 100.0,
                            prev_date(prev_run(history, &row.source))
                        ),
                        format!(
                            "current={c:.4} previous={p:.4} max_rate_jump_points={}",
                            sc.max_rate_jump_points
                        ),
                    )
                })
            };
            let mut f1 = jump(
                "quarantine_rate_jump",
                "quarantine rate",
                Some(row.quarantine_rate),
                Some(prev.quarantine_rate),
            );
            let mut f2 = jump(
                "duplicate_rate_jump",
                "duplicate rate",
                row.duplicate_rate,
                prev.duplicate_rate,
            );
            for f in [f1.take(), f2.take()].into_iter().flatten() {
                let mut f = f;
                f.record_key = match f.kind {
                    "quarantine_rate_jump" => "quarantine_rate".into(),
                    _ => "duplicate_rate".into(),
                };
                out.push(f);
            }
        }
    }
    out
}

fn prev_run(history: &[HistoryRow], source: &str) -> Option<NaiveDate> {
    history
        .iter()
        .filter(|h| h.source == source)
        .map(|h| h.run_date)
        .max()
}

fn prev_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string())
        .unwrap_or_else(|| "the previous run".into())
}

/// A broken gate: one summary line for the cron mail.
pub fn gates(cfg: &Config, rows: &[ScoreRow], results: &[RuleResult]) -> Vec<String> {
    let g = &cfg.gates;
    let mut broken = Vec::new();
    for r in rows.iter().filter(|r| r.dimension == "overall") {
        if let Some(max) = g.max_quarantine_rate
            && r.quarantine_rate > max
        {
            broken.push(format!(
                "gate failed: quarantine rate of {} is {:.2}% (max {:.2}%); owner {}",
                r.source,
                r.quarantine_rate * 100.0,
                max * 100.0,
                owner(r)
            ));
        }
        if let (Some(max), Some(d)) = (g.max_duplicate_rate, r.duplicate_rate)
            && d > max
        {
            broken.push(format!(
                "gate failed: duplicate rate of {} is {:.2}% (max {:.2}%); owner {}",
                r.source,
                d * 100.0,
                max * 100.0,
                owner(r)
            ));
        }
    }
    for sg in &g.score {
        for r in rows
            .iter()
            .filter(|r| (sg.source == "*" || sg.source == r.source) && r.dimension == sg.dimension)
        {
            if let Some(s) = r.score
                && s < sg.min
            {
                broken.push(format!(
                    "gate failed: {} score of {} is {s:.1} (min {}); owner {}",
                    r.dimension,
                    r.source,
                    sg.min,
                    owner(r)
                ));
            }
        }
    }
    for id in &g.rules_must_pass {
        let rs: Vec<&RuleResult> = results.iter().filter(|r| &r.rule_id == id).collect();
        if rs.is_empty() {
            broken.push(format!("gate failed: rule {id} must pass but did not run"));
        }
        for r in rs
            .iter()
            .filter(|r| matches!(r.status, Status::Fail | Status::Error))
        {
            broken.push(format!(
                "gate failed: rule {id} on {} is {} ({} of {} records failed)",
                r.source,
                r.status.as_str(),
                r.failed,
                r.population
            ));
        }
    }
    broken
}

fn owner(r: &ScoreRow) -> String {
    match (r.owner_team.is_empty(), r.owner_contact.is_empty()) {
        (true, true) => "not set".into(),
        (false, true) => r.owner_team.clone(),
        (true, false) => r.owner_contact.clone(),
        (false, false) => format!("{} <{}>", r.owner_team, r.owner_contact),
    }
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("system", DataType::Utf8, false),
        Field::new("owner_team", DataType::Utf8, false),
        Field::new("owner_contact", DataType::Utf8, false),
        Field::new("dimension", DataType::Utf8, false),
        Field::new("score", DataType::Float64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("rules", DataType::Int64, false),
        Field::new("population", DataType::Int64, false),
        Field::new("failed", DataType::Int64, false),
        Field::new("rows_read", DataType::Int64, false),
        Field::new("rows_quarantined", DataType::Int64, false),
        Field::new("quarantine_rate", DataType::Float64, false),
        Field::new("duplicate_rate", DataType::Float64, true),
        Field::new("link_rate", DataType::Float64, true),
    ]))
}

pub fn write(run: &mut RunDir, rows: &[ScoreRow], run_date: NaiveDate) -> Result<()> {
    let n = rows.len();
    let s = |f: &dyn Fn(&ScoreRow) -> &str| -> Arc<StringArray> {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let i = |f: &dyn Fn(&ScoreRow) -> u64| -> Arc<Int64Array> {
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| f(r) as i64),
        ))
    };
    let b = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Date32Array::from(vec![
                crate::util::date_to_days(run_date);
                n
            ])),
            s(&|r| &r.source),
            s(&|r| &r.entity),
            s(&|r| &r.system),
            s(&|r| &r.owner_team),
            s(&|r| &r.owner_contact),
            s(&|r| &r.dimension),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.score).collect::<Vec<_>>(),
            )),
            s(&|r| &r.status),
            i(&|r| r.rules),
            i(&|r| r.population),
            i(&|r| r.failed),
            i(&|r| r.rows_read),
            i(&|r| r.rows_quarantined),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.quarantine_rate),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.duplicate_rate).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.link_rate).collect::<Vec<_>>(),
            )),
        ],
    )
    .map_err(|e| Error::arrow("scorecard batch", e))?;
    run.write_parquet(SCORECARD_FILE, schema(), &[b])?;
    Ok(())
}

/// Scorecard rows of committed runs before `before` (all runs when `None`), oldest first.
pub fn history(root: &Path, before: Option<NaiveDate>) -> Result<Vec<HistoryRow>> {
    let mut out = Vec::new();
    for d in crate::output::list_run_dates(root)? {
        if before.is_some_and(|b| d >= b) {
            continue;
        }
        let p = root
            .join(crate::output::run_dir_name(d))
            .join(SCORECARD_FILE);
        if !p.is_file() {
            continue;
        }
        let (_, batches) = crate::output::read_parquet(&p)?;
        for b in &batches {
            let src = b
                .column_by_name("source")
                .expect("schema")
                .as_string::<i32>();
            let dim = b
                .column_by_name("dimension")
                .expect("schema")
                .as_string::<i32>();
            let sc = b
                .column_by_name("score")
                .expect("schema")
                .as_primitive::<Float64Type>();
            let q = b
                .column_by_name("quarantine_rate")
                .expect("schema")
                .as_primitive::<Float64Type>();
            let du = b
                .column_by_name("duplicate_rate")
                .expect("schema")
                .as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                out.push(HistoryRow {
                    run_date: d,
                    source: src.value(i).to_string(),
                    dimension: dim.value(i).to_string(),
                    score: (!sc.is_null(i)).then(|| sc.value(i)),
                    quarantine_rate: q.value(i),
                    duplicate_rate: (!du.is_null(i)).then(|| du.value(i)),
                });
            }
        }
    }
    Ok(out)
}

/// `recon history`: score trends per source, one line per run.
pub fn print_history(root: &Path, source: Option<&str>, last: usize) -> Result<String> {
    let h = history(root, None)?;
    if h.is_empty() {
        return Err(Error::Usage(format!(
            "no committed run with a scorecard under {}",
            root.display()
        )));
    }
    let mut by_source: BTreeMap<&str, BTreeMap<NaiveDate, BTreeMap<&str, Option<f64>>>> =
        BTreeMap::new();
    for r in &h {
        if source.is_some_and(|s| s != r.source) {
            continue;
        }
        by_source
            .entry(&r.source)
            .or_default()
            .entry(r.run_date)
            .or_default()
            .insert(&r.dimension, r.score);
    }
    if by_source.is_empty() {
        return Err(Error::Usage(format!(
            "no source {:?} in the history; sources: {}",
            source.unwrap_or(""),
            {
                let mut s: Vec<&str> = h.iter().map(|r| r.source.as_str()).collect();
                s.sort();
                s.dedup();
                s.join(", ")
            }
        )));
    }
    let mut out = String::new();
    let cols: Vec<&str> = DIMENSIONS.iter().copied().chain(["overall"]).collect();
    for (src, runs) in by_source {
        out.push_str(&format!("{src}\n{:<12}", "run_date"));
        for c in &cols {
            out.push_str(&format!(" {:>14}", c));
        }
        out.push('\n');
        let dates: Vec<&NaiveDate> = runs.keys().collect();
        let start = dates.len().saturating_sub(last);
        let mut prev: Option<&BTreeMap<&str, Option<f64>>> =
            start.checked_sub(1).map(|i| &runs[dates[i]]);
        for d in &dates[start..] {
            let row = &runs[*d];
            out.push_str(&format!("{:<12}", d.to_string()));
            for c in &cols {
                let cur = row.get(c).copied().flatten();
                let before = prev.and_then(|p| p.get(c).copied().flatten());
                let cell = match (cur, before) {
                    (None, _) => "-".to_string(),
                    (Some(x), Some(b)) if x > b + 0.05 => format!("{x:.1} ▲{:.1}", x - b),
                    (Some(x), Some(b)) if x < b - 0.05 => format!("{x:.1} ▼{:.1}", b - x),
                    (Some(x), _) => format!("{x:.1}"),
                };
                out.push_str(&format!(" {cell:>14}"));
            }
            out.push('\n');
            prev = Some(row);
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(rule: &str, dim: &str, sev: &str, pop: u64, failed: u64, status: Status) -> RuleResult {
        RuleResult {
            rule_id: rule.into(),
            description: String::new(),
            dimension: dim.into(),
            severity: sev.into(),
            source: "crm".into(),
            reference: None,
            entity: "customer".into(),
            population: pop,
            failed,
            pass_rate: if pop == 0 {
                1.0
            } else {
                1.0 - failed as f64 / pop as f64
            },
            status,
            warn_below: None,
            fail_below: None,
            duration_ms: 0,
            error: None,
            rule_file: String::new(),
        }
    }

    #[test]
    fn population_weighted_pass_rate() {
        let a = rr("a", "validity", "error", 100, 10, Status::Fail); // 0.90
        let b = rr("b", "validity", "warn", 300, 0, Status::Pass); // 1.00
        let info = rr("c", "validity", "info", 1000, 1000, Status::Pass);
        let broken = rr("d", "validity", "error", 0, 0, Status::Error);
        let (s, n, pop, failed) = weighted_score(&[&a, &b, &info, &broken]).unwrap();
        assert!(
            (s - 97.5).abs() < 1e-9,
            "(0.9·100 + 1·300) / 400 = 97.5, got {s}"
        );
        assert_eq!((n, pop, failed), (2, 400, 10));
        assert_eq!(weighted_score(&[&info]), None, "info rules do not score");
        let empty = rr("e", "validity", "error", 0, 0, Status::Pass);
        assert_eq!(weighted_score(&[&empty]).unwrap().0, 100.0);
    }

    #[test]
    fn statuses() {
        assert_eq!(status_of(Some(96.0), 95.0, 80.0), "pass");
        assert_eq!(status_of(Some(95.0), 95.0, 80.0), "pass");
        assert_eq!(status_of(Some(90.0), 95.0, 80.0), "warn");
        assert_eq!(status_of(Some(79.9), 95.0, 80.0), "fail");
        assert_eq!(status_of(None, 95.0, 80.0), "no_rules");
    }

    fn cfg() -> Config {
        Config::from_str_at(
            "[run]\n[[source]]\nname = \"crm\"\nsystem = \"crm\"\nentity = \"customer\"\npath = \"x.csv\"\nkey = \"id\"\n[source.columns]\nid = {}\n",
            Path::new("recon.toml"),
            std::path::PathBuf::from("."),
            String::new(),
        )
        .unwrap()
    }

    fn row(dim: &str, score: Option<f64>, q: f64) -> ScoreRow {
        ScoreRow {
            source: "crm".into(),
            entity: "customer".into(),
            system: "crm".into(),
            owner_team: String::new(),
            owner_contact: String::new(),
            dimension: dim.into(),
            score,
            status: "pass".into(),
            rules: 1,
            population: 1,
            failed: 0,
            rows_read: 1,
            rows_quarantined: 0,
            quarantine_rate: q,
            duplicate_rate: Some(0.0),
            link_rate: None,
        }
    }

    fn hist(day: u32, dim: &str, score: f64, q: f64) -> HistoryRow {
        HistoryRow {
            run_date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            source: "crm".into(),
            dimension: dim.into(),
            score: Some(score),
            quarantine_rate: q,
            duplicate_rate: Some(0.0),
        }
    }

    #[test]
    fn first_run_has_no_alerts() {
        let c = cfg();
        assert!(regressions(&c, &[row("validity", Some(10.0), 0.9)], &[]).is_empty());
    }

    #[test]
    fn drops_against_previous_and_baseline() {
        let c = cfg();
        let h = vec![
            hist(1, "validity", 99.0, 0.0),
            hist(2, "validity", 98.0, 0.0),
        ];
        // 98 → 92.5: a drop of 5.5 points (> 5).
        let a = regressions(&c, &[row("validity", Some(92.5), 0.0)], &h);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, "score_drop");
        assert!(
            a[0].detail.contains("98.0 on 2026-11-02"),
            "{}",
            a[0].detail
        );
        // 98 → 94: within the tolerance.
        assert!(regressions(&c, &[row("validity", Some(94.0), 0.0)], &h).is_empty());
        // A slow slide: each step small, but 7-run baseline (95.5) minus 90 > 5.
        let slide: Vec<HistoryRow> = (1..=7)
            .map(|d| hist(d, "validity", 99.0 - d as f64, 0.0))
            .collect();
        // Previous 92 → 89 is a drop of 3; the 7-run mean of 95 → 89 is a drop of 6.
        let a = regressions(&c, &[row("validity", Some(89.0), 0.0)], &slide);
        assert_eq!(a.len(), 1, "baseline {:?}", a);
    }

    #[test]
    fn rate_jumps() {
        let c = cfg();
        let h = vec![hist(1, "overall", 99.0, 0.01)];
        let a = regressions(&c, &[row("overall", Some(99.0), 0.05)], &h);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, "quarantine_rate_jump");
        assert_eq!(a[0].record_key, "quarantine_rate");
        assert!(regressions(&c, &[row("overall", Some(99.0), 0.02)], &h).is_empty());
    }
}
