//! `report.html`: a self-contained page for stewards — inline CSS and SVG, no scripts,
//! fonts or anything else from the network — rendered with minijinja from
//! `report.html.j2`. Samples are capped (`[report] sample_rows`) and the page states the
//! caps, so a run of millions of records gives a page of the same size as the demo's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int8Type};
use serde::Serialize;

use super::{DIMENSIONS, HistoryRow, ScoreRow};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::golden::{Finding, GoldenSummary};
use crate::matching::Explained;
use crate::rules::{RuleResult, Status};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Everything the report shows, gathered by the pipeline.
pub struct ReportInput<'a> {
    pub cfg: &'a Config,
    pub run_dir: &'a Path,
    pub run_id: &'a str,
    pub run_date: NaiveDate,
    pub status: &'a str,
    pub rows_read: u64,
    pub rows_quarantined: u64,
    pub scores: &'a [ScoreRow],
    pub history: &'a [HistoryRow],
    pub results: &'a [RuleResult],
    pub findings: &'a [Finding],
    pub golden: &'a GoldenSummary,
    pub gates_broken: &'a [String],
}

#[derive(Serialize)]
struct Cell {
    text: String,
    style: String,
    title: String,
}

#[derive(Serialize)]
struct HeatRow {
    source: String,
    entity: String,
    system: String,
    owner: String,
    cells: Vec<Cell>,
    quarantine: String,
    duplicates: String,
    linked: String,
}

#[derive(Serialize)]
struct Chart {
    source: String,
    svg: String,
}

#[derive(Serialize)]
struct Sample {
    record_key: String,
    detail: String,
}

#[derive(Serialize)]
struct FailingRule {
    rule_id: String,
    description: String,
    source: String,
    reference: Option<String>,
    dimension: String,
    severity: String,
    status: String,
    failed: u64,
    population: u64,
    pass_rate: String,
    violations: u64,
    sample: Vec<Sample>,
}

#[derive(Serialize, Clone)]
struct Comp {
    name: String,
    label: String,
    weight: String,
    l: String,
    r: String,
}

#[derive(Serialize)]
struct Duplicate {
    entity: String,
    source: String,
    record_key: String,
    related_key: String,
    probability: Option<String>,
    owner: String,
    comparisons: Vec<Comp>,
}

#[derive(Serialize)]
struct FindingView {
    finding_type: String,
    kind: String,
    source: String,
    record_key: String,
    related_source: String,
    related_key: String,
    detail: String,
    owner: String,
}

#[derive(Serialize)]
struct Review {
    entity: String,
    source_l: String,
    key_l: String,
    source_r: String,
    key_r: String,
    probability: String,
    reason: String,
    comparisons: Vec<Comp>,
}

#[derive(Serialize)]
struct Regression {
    source: String,
    metric: String,
    detail: String,
}

/// A scored pair read back from `match_pairs.parquet` or `review_queue.parquet`.
struct PairView {
    entity: String,
    source_l: String,
    key_l: String,
    source_r: String,
    key_r: String,
    probability: f64,
    reason: String,
    comps: Vec<Explained>,
}

/// Reads the pairs of a pairs file whose keys `keep` accepts (at most `limit`, in file
/// order), and the file's row count. The match pairs of a large run are millions of rows
/// (1.2 GB at 10M customers) of which the report shows a few: a first pass reads only
/// the two key columns, row group by row group on every core, and a second decodes the
/// full rows of the pairs kept and nothing else.
fn read_pairs(
    path: &Path,
    limit: Option<usize>,
    keep: &(dyn Fn(&str, &str) -> bool + Sync),
) -> Result<(Vec<PairView>, u64)> {
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::{
        ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
    };
    use rayon::prelude::*;
    if !path.is_file() {
        return Ok((Vec::new(), 0));
    }
    let cannot =
        |e: &dyn std::fmt::Display| Error::Other(format!("cannot read {}: {e}", path.display()));
    let file = || std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e));
    // The footer is read once; every reader below starts from it.
    let arrow_meta =
        ArrowReaderMetadata::load(&file()?, Default::default()).map_err(|e| cannot(&e))?;
    let open = || -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>> {
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file()?,
            arrow_meta.clone(),
        ))
    };
    let meta = arrow_meta.metadata().clone();
    let total = meta.file_metadata().num_rows().max(0) as u64;
    let keys = ProjectionMask::columns(
        meta.file_metadata().schema_descr(),
        ["record_key_l", "record_key_r"],
    );
    // Pass 1: the kept rows of each row group, by position within it.
    let mut hits: Vec<Vec<usize>> = (0..meta.num_row_groups())
        .into_par_iter()
        .map(|g| -> Result<Vec<usize>> {
            let reader = open()?
                .with_row_groups(vec![g])
                .with_projection(keys.clone())
                .with_batch_size(64 * 1024)
                .build()
                .map_err(|e| cannot(&e))?;
            let (mut rows, mut at) = (Vec::new(), 0);
            for b in reader {
                let b = b.map_err(|e| cannot(&e))?;
                let kl = b
                    .column_by_name("record_key_l")
                    .expect("schema")
                    .as_string::<i32>();
                let kr = b
                    .column_by_name("record_key_r")
                    .expect("schema")
                    .as_string::<i32>();
                rows.extend(
                    (0..b.num_rows())
                        .filter(|&i| keep(kl.value(i), kr.value(i)))
                        .map(|i| at + i),
                );
                at += b.num_rows();
            }
            Ok(rows)
        })
        .collect::<Result<_>>()?;
    if let Some(l) = limit {
        let mut left = l;
        for rows in &mut hits {
            rows.truncate(left);
            left -= rows.len();
        }
    }
    // Pass 2: those rows in full.
    let mut out = Vec::new();
    for (g, rows) in hits.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let mut sel = Vec::new();
        let mut at = 0;
        for &r in rows {
            if r > at {
                sel.push(RowSelector::skip(r - at));
            }
            sel.push(RowSelector::select(1));
            at = r + 1;
        }
        let reader = open()?
            .with_row_groups(vec![g])
            .with_row_selection(RowSelection::from(sel))
            .build()
            .map_err(|e| cannot(&e))?;
        for b in reader {
            let b = b.map_err(|e| cannot(&e))?;
            pair_views(&b, &mut out);
        }
    }
    Ok((out, total))
}

/// Every row of a batch of a pairs file.
fn pair_views(b: &datafusion::arrow::array::RecordBatch, out: &mut Vec<PairView>) {
    let s = |n: &str| {
        b.column_by_name(n)
            .expect("schema")
            .as_string::<i32>()
            .clone()
    };
    let (ent, sl, kl, sr, kr) = (
        s("entity"),
        s("source_l"),
        s("record_key_l"),
        s("source_r"),
        s("record_key_r"),
    );
    let prob = b
        .column_by_name("match_probability")
        .expect("schema")
        .as_primitive::<Float64Type>()
        .clone();
    let reason = b
        .column_by_name("reason")
        .map(|c| c.as_string::<i32>().clone());
    let list = b
        .column_by_name("comparisons")
        .expect("schema")
        .as_list::<i32>()
        .clone();
    for i in 0..b.num_rows() {
        let items = list.value(i);
        let st = items.as_struct();
        let name = st
            .column_by_name("comparison")
            .expect("schema")
            .as_string::<i32>();
        let level = st
            .column_by_name("level")
            .expect("schema")
            .as_primitive::<Int8Type>();
        let label = st
            .column_by_name("label")
            .expect("schema")
            .as_string::<i32>();
        let weight = st
            .column_by_name("weight")
            .expect("schema")
            .as_primitive::<Float64Type>();
        let vl = st
            .column_by_name("value_l")
            .expect("schema")
            .as_string::<i32>();
        let vr = st
            .column_by_name("value_r")
            .expect("schema")
            .as_string::<i32>();
        let opt = |a: &datafusion::arrow::array::StringArray, k: usize| {
            (!a.is_null(k)).then(|| a.value(k).to_string())
        };
        out.push(PairView {
            entity: ent.value(i).to_string(),
            source_l: sl.value(i).to_string(),
            key_l: kl.value(i).to_string(),
            source_r: sr.value(i).to_string(),
            key_r: kr.value(i).to_string(),
            probability: prob.value(i),
            reason: reason
                .as_ref()
                .map(|r| r.value(i).to_string())
                .unwrap_or_default(),
            comps: (0..st.len())
                .map(|k| Explained {
                    comparison: name.value(k).to_string(),
                    level: level.value(k),
                    label: label.value(k).to_string(),
                    weight: weight.value(k),
                    value_l: opt(vl, k),
                    value_r: opt(vr, k),
                })
                .collect(),
        });
    }
}

/// Masks a personal value: the first letter or digit of each word stays, the rest
/// becomes •.
pub fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.push(if start { c } else { '•' });
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

fn heat_style(score: Option<f64>) -> String {
    match score {
        None => String::new(),
        Some(s) => {
            // Red (0) → amber → green (100), on a scale that spends most colour above 70.
            let t = ((s - 50.0) / 50.0).clamp(0.0, 1.0);
            let hue = 120.0 * t * t;
            format!("background: hsl({hue:.0}, 65%, 82%)")
        }
    }
}

fn owner(cfg: &Config, source: &str) -> String {
    cfg.source(source)
        .map(
            |s| match (s.owner.team.as_str(), s.owner.contact.as_str()) {
                ("", "") => "not set".to_string(),
                (t, "") => t.to_string(),
                ("", c) => c.to_string(),
                (t, c) => format!("{t} ({c})"),
            },
        )
        .unwrap_or_default()
}

const COLORS: [&str; 7] = [
    "#0969da", "#8250df", "#bf3989", "#cf222e", "#9a6700", "#1a7f37", "#1f2328",
];

/// A line chart (SVG) of a source's scores over runs.
fn chart(series: &BTreeMap<NaiveDate, BTreeMap<String, f64>>) -> String {
    let (w, h, l, r, t, b) = (360.0, 200.0, 34.0, 96.0, 10.0, 30.0);
    let dates: Vec<&NaiveDate> = series.keys().collect();
    let n = dates.len().max(1);
    // The axis starts 10 points below the lowest score (in steps of 10), so small
    // movements near 100 stay visible.
    let lowest = series
        .values()
        .flat_map(|m| m.values())
        .fold(100.0f64, |a, b| a.min(*b));
    let y0 = ((lowest / 10.0).floor() * 10.0 - 10.0).clamp(0.0, 90.0);
    let x = |i: usize| {
        if n == 1 {
            l + (w - l - r) / 2.0
        } else {
            l + (w - l - r) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| t + (h - t - b) * (1.0 - (v - y0) / (100.0 - y0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="score trend">"#
    );
    for k in 0..=4 {
        let v = y0 + (100.0 - y0) * k as f64 / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{l}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#d0d7de" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#57606a">{v:.0}</text>"##,
            y(v),
            w - r,
            y(v),
            l - 4.0,
            y(v) + 3.0
        );
    }
    let first = dates.first().map(|d| d.to_string()).unwrap_or_default();
    let last = dates.last().map(|d| d.to_string()).unwrap_or_default();
    let _ = write!(
        s,
        r##"<text x="{l}" y="{:.1}" font-size="10" fill="#57606a">{first}</text><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#57606a">{last}</text>"##,
        h - 8.0,
        w - r,
        h - 8.0
    );
    let dims: Vec<&str> = DIMENSIONS.iter().copied().chain(["overall"]).collect();
    let mut legend = 0;
    for (k, d) in dims.iter().enumerate() {
        let pts: Vec<(f64, f64)> = dates
            .iter()
            .enumerate()
            .filter_map(|(i, day)| series[*day].get(*d).map(|v| (x(i), y(*v))))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let color = COLORS[k % COLORS.len()];
        let width = if *d == "overall" { 2.5 } else { 1.5 };
        let path: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        let _ = write!(
            s,
            r#"<polyline class="series" data-dimension="{d}" fill="none" stroke="{color}" stroke-width="{width}" points="{}"/>"#,
            path.join(" ")
        );
        for (a, b) in &pts {
            let _ = write!(
                s,
                r#"<circle cx="{a:.1}" cy="{b:.1}" r="2.5" fill="{color}"/>"#
            );
        }
        let ly = t + 12.0 + legend as f64 * 15.0;
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="{width}"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#1f2328">{d}</text>"##,
            w - r + 8.0,
            w - r + 22.0,
            w - r + 26.0,
            ly + 3.0
        );
        legend += 1;
    }
    s.push_str("</svg>");
    s
}

/// Renders `report.html`.
pub fn render(inp: &ReportInput) -> Result<String> {
    let cfg = inp.cfg;
    let rc = &cfg.report;
    let cap = rc.sample_rows;
    let personal = |comparison: &str| -> bool {
        if !rc.mask_personal_data {
            return false;
        }
        rc.personal_fields.iter().any(|f| f == comparison)
            || cfg.entities.iter().any(|e| {
                e.comparisons.iter().any(|c| {
                    c.name == comparison
                        && c.fields().iter().any(|f| rc.personal_fields.contains(f))
                })
            })
    };
    let comp_view = |c: &Explained| -> Comp {
        let m = personal(&c.comparison);
        let v = |x: &Option<String>| match x {
            None => "—".to_string(),
            Some(s) if m => mask(s),
            Some(s) => s.clone(),
        };
        Comp {
            name: c.comparison.clone(),
            label: c.label.clone(),
            weight: format!("{:+.1}", c.weight),
            l: v(&c.value_l),
            r: v(&c.value_r),
        }
    };
    // Heat map.
    let mut heat = Vec::new();
    for s in &cfg.sources {
        let row = |d: &str| {
            inp.scores
                .iter()
                .find(|r| r.source == s.name && r.dimension == d)
        };
        let Some(overall) = row("overall") else {
            continue;
        };
        let mut cells = Vec::new();
        for d in DIMENSIONS.iter().copied().chain(["overall"]) {
            let r = row(d).expect("every dimension has a row");
            let rules: Vec<String> = inp
                .results
                .iter()
                .filter(|x| x.source == s.name && x.dimension == d)
                .map(|x| {
                    format!(
                        "{} {:.1}% ({})",
                        x.rule_id,
                        x.pass_rate * 100.0,
                        x.status.as_str()
                    )
                })
                .collect();
            cells.push(Cell {
                text: r
                    .score
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or_else(|| "–".into()),
                style: heat_style(r.score),
                title: if rules.is_empty() {
                    format!("{d}: no rules")
                } else {
                    rules.join("; ")
                },
            });
        }
        heat.push(HeatRow {
            source: s.name.clone(),
            entity: s.entity.clone(),
            system: s.system.as_str().into(),
            owner: owner(cfg, &s.name),
            cells,
            quarantine: format!("{:.2}%", overall.quarantine_rate * 100.0),
            duplicates: overall
                .duplicate_rate
                .map(|d| format!("{:.2}%", d * 100.0))
                .unwrap_or_else(|| "–".into()),
            linked: overall
                .link_rate
                .map(|d| format!("{:.1}%", d * 100.0))
                .unwrap_or_else(|| "–".into()),
        });
    }
    // Trend charts: history plus this run.
    let mut charts = Vec::new();
    let mut dates: Vec<NaiveDate> = inp.history.iter().map(|h| h.run_date).collect();
    dates.sort();
    dates.dedup();
    let keep: Vec<NaiveDate> = dates
        .iter()
        .rev()
        .take(rc.history_runs.saturating_sub(1))
        .copied()
        .collect();
    for s in &cfg.sources {
        let mut series: BTreeMap<NaiveDate, BTreeMap<String, f64>> = BTreeMap::new();
        for h in inp
            .history
            .iter()
            .filter(|h| h.source == s.name && keep.contains(&h.run_date))
        {
            if let Some(v) = h.score {
                series
                    .entry(h.run_date)
                    .or_default()
                    .insert(h.dimension.clone(), v);
            }
        }
        for r in inp.scores.iter().filter(|r| r.source == s.name) {
            if let Some(v) = r.score {
                series
                    .entry(inp.run_date)
                    .or_default()
                    .insert(r.dimension.clone(), v);
            }
        }
        if !series.is_empty() {
            charts.push(Chart {
                source: s.name.clone(),
                svg: chart(&series),
            });
        }
    }
    // What changed.
    let previous_run = dates.last().copied();
    let mut changes = Vec::new();
    if let Some(p) = previous_run {
        for r in inp.scores {
            let before = inp
                .history
                .iter()
                .find(|h| h.run_date == p && h.source == r.source && h.dimension == r.dimension)
                .and_then(|h| h.score);
            if let (Some(a), Some(b)) = (r.score, before)
                && (a - b).abs() > 0.1
            {
                changes.push(format!(
                    "{} {}: {b:.1} → {a:.1} ({}{:.1})",
                    r.source,
                    r.dimension,
                    if a > b { "+" } else { "−" },
                    (a - b).abs()
                ));
            }
        }
        for e in &inp.golden.entities {
            if e.ids_new + e.ids_merged + e.ids_split + e.ids_retired > 0 {
                changes.push(format!(
                    "{} golden ids: {} new, {} merged, {} split, {} retired",
                    e.entity, e.ids_new, e.ids_merged, e.ids_split, e.ids_retired
                ));
            }
        }
    }
    // Failing rules with samples of their violations.
    let violations = {
        let p = inp.run_dir.join(crate::rules::VIOLATIONS_FILE);
        let mut by: BTreeMap<(String, String, String), (u64, Vec<Sample>)> = BTreeMap::new();
        if p.is_file() {
            let (_, batches) = crate::output::read_parquet(&p)?;
            for b in &batches {
                let s = |n: &str| {
                    b.column_by_name(n)
                        .expect("schema")
                        .as_string::<i32>()
                        .clone()
                };
                let (rid, src, rf, key, det) = (
                    s("rule_id"),
                    s("source"),
                    s("reference"),
                    s("record_key"),
                    s("detail"),
                );
                for i in 0..b.num_rows() {
                    let k = (
                        rid.value(i).to_string(),
                        src.value(i).to_string(),
                        if rf.is_null(i) {
                            String::new()
                        } else {
                            rf.value(i).to_string()
                        },
                    );
                    let e = by.entry(k).or_default();
                    e.0 += 1;
                    if e.1.len() < cap {
                        e.1.push(Sample {
                            record_key: key.value(i).to_string(),
                            detail: det.value(i).to_string(),
                        });
                    }
                }
            }
        }
        by
    };
    let mut violations = violations;
    let mut failing_rules: Vec<FailingRule> = inp
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Warn))
        .map(|r| {
            let (n, sample) = violations
                .remove(&(
                    r.rule_id.clone(),
                    r.source.clone(),
                    r.reference.clone().unwrap_or_default(),
                ))
                .unwrap_or_default();
            FailingRule {
                rule_id: r.rule_id.clone(),
                description: r.description.clone(),
                source: r.source.clone(),
                reference: r.reference.clone(),
                dimension: r.dimension.clone(),
                severity: r.severity.clone(),
                status: r.status.as_str().into(),
                failed: r.failed,
                population: r.population,
                pass_rate: format!("{:.2}%", r.pass_rate * 100.0),
                violations: n,
                sample,
            }
        })
        .collect();
    failing_rules.sort_by(|a, b| {
        (a.status != "fail", &a.rule_id, &a.source).cmp(&(
            b.status != "fail",
            &b.rule_id,
            &b.source,
        ))
    });
    // Duplicates with the pair evidence side by side.
    let dup_findings: Vec<&Finding> = inp
        .findings
        .iter()
        .filter(|f| f.finding_type == "duplicate")
        .collect();
    let mut wanted: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    for f in dup_findings.iter().take(cap) {
        let r = f.related_key.clone().unwrap_or_default();
        wanted.insert((
            f.record_key.clone().min(r.clone()),
            f.record_key.clone().max(r),
        ));
    }
    let wanted_keys: std::collections::HashSet<&str> = wanted
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let (pairs, _) = read_pairs(
        &inp.run_dir.join(crate::matching::PAIRS_FILE),
        None,
        &|l, r| wanted_keys.contains(l) && wanted_keys.contains(r),
    )?;
    let mut pair_by: BTreeMap<(String, String), &PairView> = BTreeMap::new();
    for p in &pairs {
        let k = (
            p.key_l.clone().min(p.key_r.clone()),
            p.key_l.clone().max(p.key_r.clone()),
        );
        if wanted.contains(&k) {
            pair_by.entry(k).or_insert(p);
        }
    }
    let duplicates: Vec<Duplicate> = dup_findings
        .iter()
        .take(cap)
        .map(|f| {
            let r = f.related_key.clone().unwrap_or_default();
            let k = (
                f.record_key.clone().min(r.clone()),
                f.record_key.clone().max(r.clone()),
            );
            let p = pair_by.get(&k);
            Duplicate {
                entity: f.entity.clone(),
                source: f.source.clone(),
                record_key: f.record_key.clone(),
                related_key: r,
                probability: p.map(|p| format!("{:.4}", p.probability)),
                owner: owner(cfg, &f.source),
                comparisons: p
                    .map(|p| {
                        let flip = p.key_l != f.record_key;
                        p.comps
                            .iter()
                            .map(|c| {
                                let mut v = comp_view(c);
                                if flip {
                                    std::mem::swap(&mut v.l, &mut v.r);
                                }
                                v
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let view = |f: &Finding| FindingView {
        finding_type: f.finding_type.into(),
        kind: f.kind.into(),
        source: f.source.clone(),
        record_key: f.record_key.clone(),
        related_source: f.related_source.clone().unwrap_or_default(),
        related_key: f.related_key.clone().unwrap_or_default(),
        detail: f.detail.clone(),
        owner: owner(cfg, &f.source),
    };
    let mism: Vec<&Finding> = inp
        .findings
        .iter()
        .filter(|f| f.finding_type == "id_mismatch")
        .collect();
    let stale: Vec<&Finding> = inp
        .findings
        .iter()
        .filter(|f| f.finding_type == "stale" || f.finding_type == "conflict")
        .collect();
    let (review_pairs, review_total) = read_pairs(
        &inp.run_dir.join(crate::matching::REVIEW_FILE),
        Some(cap),
        &|_, _| true,
    )?;
    let review: Vec<Review> = review_pairs
        .iter()
        .map(|p| Review {
            entity: p.entity.clone(),
            source_l: p.source_l.clone(),
            key_l: p.key_l.clone(),
            source_r: p.source_r.clone(),
            key_r: p.key_r.clone(),
            probability: format!("{:.3}", p.probability),
            reason: p.reason.clone(),
            comparisons: p.comps.iter().map(comp_view).collect(),
        })
        .collect();
    let regressions: Vec<Regression> = inp
        .findings
        .iter()
        .filter(|f| f.finding_type == "regression")
        .map(|f| Regression {
            source: f.source.clone(),
            metric: f.record_key.clone(),
            detail: f.detail.clone(),
        })
        .collect();
    let gates_count = cfg.gates.score.len()
        + cfg.gates.rules_must_pass.len()
        + cfg.gates.max_quarantine_rate.iter().count()
        + cfg.gates.max_duplicate_rate.iter().count();
    let (status_label, status_class) = match inp.status {
        "success" => ("OK — all gates passed", "ok"),
        "gates_failed" => ("GATES FAILED", "fail"),
        _ => ("RULES COULD NOT RUN", "warn"),
    };
    let rule_errors: Vec<String> = inp
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| format!("{}: {}", r.rule_id, r.error.clone().unwrap_or_default()))
        .collect();
    let ctx = serde_json::json!({
        "run_date": inp.run_date.to_string(),
        "run_id": inp.run_id,
        "version": env!("CARGO_PKG_VERSION"),
        "generated_at": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        "status_label": status_label,
        "status_class": status_class,
        "sources_count": cfg.sources.len(),
        "rows_read": inp.rows_read,
        "rows_quarantined": inp.rows_quarantined,
        "masked": rc.mask_personal_data,
        "gates_configured": gates_count > 0,
        "gates_count": gates_count,
        "gates_broken": inp.gates_broken,
        "rule_errors": rule_errors,
        "previous_run": previous_run.map(|d| d.to_string()),
        "changes": changes,
        "regressions": regressions,
        "dimensions": DIMENSIONS,
        "heat": heat,
        "history_runs": rc.history_runs,
        "charts": charts,
        "failing_rules": failing_rules,
        "duplicates": duplicates,
        "duplicates_total": dup_findings.len(),
        "mismatches": mism.iter().take(cap).map(|f| view(f)).collect::<Vec<_>>(),
        "mismatches_total": mism.len(),
        "stale": stale.iter().take(cap).map(|f| view(f)).collect::<Vec<_>>(),
        "stale_total": stale.len(),
        "review": review,
        "review_total": review_total,
        "decisions_file": cfg.golden.decisions.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "set [golden] decisions".into()),
        "cap": cap,
    });
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report", TEMPLATE)
        .map_err(|e| Error::Other(format!("report template: {e}")))?;
    env.get_template("report")
        .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
        .map_err(|e| Error::Other(format!("cannot render the report: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A match pairs file of `n` pairs (keys `k<i>`, `k<i+1>`, one comparison `c<i>`) in
    /// row groups of `group` rows.
    fn pairs_file(path: &Path, n: usize, group: usize) {
        use datafusion::arrow::array::{
            ArrayRef, BooleanArray, Date32Array, Float64Array, Int8Array, ListArray, RecordBatch,
            StringArray, StructArray,
        };
        use datafusion::arrow::buffer::OffsetBuffer;
        use datafusion::arrow::datatypes::DataType;
        use std::sync::Arc;
        let schema = crate::matching::pairs_schema();
        let DataType::List(item) = schema.field_with_name("comparisons").unwrap().data_type()
        else {
            panic!("comparisons is a list")
        };
        let DataType::Struct(fields) = item.data_type() else {
            panic!("of structs")
        };
        let strs = |f: &dyn Fn(usize) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values((0..n).map(f)))
        };
        let comps = StructArray::new(
            fields.clone(),
            vec![
                strs(&|i| format!("c{i}")),
                Arc::new(Int8Array::from(vec![1i8; n])),
                strs(&|_| "exact".into()),
                Arc::new(Float64Array::from(vec![2.5; n])),
                strs(&|i| format!("v{i}")),
                strs(&|i| format!("w{i}")),
            ],
            None,
        );
        let list = ListArray::new(
            item.clone(),
            OffsetBuffer::from_lengths(vec![1; n]),
            Arc::new(comps),
            None,
        );
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Date32Array::from(vec![0; n])),
                strs(&|_| "customer".into()),
                strs(&|_| "crm".into()),
                strs(&|i| format!("k{i}")),
                strs(&|_| "billing".into()),
                strs(&|i| format!("k{}", i + 1)),
                Arc::new(Float64Array::from(vec![3.0; n])),
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| i as f64 / n as f64),
                )),
                strs(&|_| "match".into()),
                Arc::new(BooleanArray::from(vec![true; n])),
                strs(&|_| "name".into()),
                Arc::new(list),
            ],
        )
        .unwrap();
        let props = datafusion::parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let f = std::fs::File::create(path).unwrap();
        let mut w =
            datafusion::parquet::arrow::ArrowWriter::try_new(f, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn read_pairs_finds_the_kept_pairs_in_every_row_group_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("match_pairs.parquet");
        pairs_file(&path, 50, 7);
        let meta = datafusion::parquet::file::reader::FileReader::metadata(
            &datafusion::parquet::file::serialized_reader::SerializedFileReader::new(
                std::fs::File::open(&path).unwrap(),
            )
            .unwrap(),
        )
        .num_row_groups();
        assert_eq!(meta, 8, "row groups of 7 rows");
        // Rows 3, 13, 23, 33, 43: in row groups 0, 1, 3, 4, 6; the last row (49) too.
        let keep = |l: &str, r: &str| l.ends_with('3') || r == "k50";
        let (pairs, total) = read_pairs(&path, None, &keep).unwrap();
        assert_eq!(total, 50);
        let got: Vec<(String, String, String, String)> = pairs
            .iter()
            .map(|p| {
                let c = &p.comps[0];
                (
                    p.key_l.clone(),
                    p.key_r.clone(),
                    c.comparison.clone(),
                    c.value_r.clone().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, String, String, String)> = [3, 13, 23, 33, 43, 49]
            .iter()
            .map(|i| {
                (
                    format!("k{i}"),
                    format!("k{}", i + 1),
                    format!("c{i}"),
                    format!("w{i}"),
                )
            })
            .collect();
        assert_eq!(got, want);
        assert!((pairs[1].probability - 13.0 / 50.0).abs() < 1e-12);
        let (first, total) = read_pairs(&path, Some(2), &keep).unwrap();
        assert_eq!(total, 50);
        assert_eq!(
            first.iter().map(|p| p.key_l.as_str()).collect::<Vec<_>>(),
            ["k3", "k13"]
        );
        let (none, _) = read_pairs(&path, None, &|_, _| false).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn masking_keeps_only_initials() {
        assert_eq!(mask("Acme Corporation"), "A••• C••••••••••");
        assert_eq!(mask("ap@acme.example.com"), "a•@a•••.e••••••.c••");
        assert_eq!(mask("+1 217-555-0100"), "+1 2••-5••-0•••");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn chart_has_a_line_per_dimension() {
        let mut s: BTreeMap<NaiveDate, BTreeMap<String, f64>> = BTreeMap::new();
        for d in 1..=3 {
            let day = NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
            s.entry(day)
                .or_default()
                .insert("validity".into(), 90.0 + d as f64);
            s.entry(day).or_default().insert("overall".into(), 95.0);
        }
        let svg = chart(&s);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("http://") || svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }
}
