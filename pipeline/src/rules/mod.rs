//! Rules: data-quality rules written as SQL files, run by DataFusion over the staged
//! sources, keeping every violating row.
//!
//! Tables a rule can read: every staged source by its name; `run` (one row: `as_of`,
//! `run_date`, `time_zone`); `sources` (one row per source: `name`, `system`, `entity`,
//! `rows`, `updated_at_column`, `stale_after_days`, `owner_team`, `owner_contact`).
//! A rule returns its violating rows with at least `source`, `record_key` and `detail`.
//!
//! Rules are read-only: anything but a single query (DDL, DML, `COPY`, `SET`,
//! `CREATE EXTERNAL TABLE`, `EXPLAIN` …) is refused before planning, and the session
//! refuses them again. A rule that cannot be parsed, planned or run — or that exceeds
//! the memory pool, the time limit or the violation cap — is marked `error` with its
//! file, line and DataFusion's message; the other rules are unaffected.

pub mod file;
pub mod reuse;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::{
    SortColumn, concat_batches, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use indexmap::IndexMap;
use serde::Serialize;

use self::file::{Rule, RuleFileError, Scope, Severity};
use crate::config::{Config, SourceConfig};
use crate::error::{Error, Result};
use crate::extract::ExtractOutput;
use crate::output::RunDir;

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

pub const VIOLATIONS_FILE: &str = "violations.parquet";
pub const RESULTS_FILE: &str = "rule_results.parquet";

/// Outcome status of a rule on one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// One row of `rule_results.parquet`.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub rule_id: String,
    pub description: String,
    pub dimension: String,
    pub severity: String,
    pub source: String,
    /// For rules over references: `column -> target.target_column`.
    pub reference: Option<String>,
    pub entity: String,
    pub population: u64,
    pub failed: u64,
    pub pass_rate: f64,
    pub status: Status,
    pub warn_below: Option<f64>,
    pub fail_below: Option<f64>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// Rule file, relative to its rule directory (`builtin/…` for the built-in pack).
    pub rule_file: String,
}

/// What the rules stage produced.
#[derive(Debug, Clone)]
pub struct RulesOutput {
    pub results: Vec<RuleResult>,
    pub violations: u64,
    /// Instances whose violations were reused from the previous run (incremental).
    pub reused: u64,
}

impl RulesOutput {
    pub fn errors(&self) -> impl Iterator<Item = &RuleResult> {
        self.results.iter().filter(|r| r.status == Status::Error)
    }
}

/// A rule file as loaded: parsed, or the reason it could not be.
struct Loaded {
    display: String,
    parsed: std::result::Result<Rule, RuleFileError>,
}

/// Loads the built-in pack (if enabled) and every configured directory, in order.
fn load_rules(cfg: &Config) -> Result<Vec<Loaded>> {
    let mut out = Vec::new();
    if cfg.rules.builtin {
        for (path, text) in BUILTIN {
            out.push(Loaded {
                display: path.to_string(),
                parsed: file::parse(Path::new(path), text),
            });
        }
    }
    for dir in &cfg.rules.dirs {
        let abs = cfg.resolve(dir);
        let mut files = Vec::new();
        collect_sql(&abs, &mut files).map_err(|e| Error::Config {
            path: cfg.path.clone(),
            message: format!(
                "rules.dirs: cannot read rule directory {}: {e}",
                abs.display()
            ),
        })?;
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| Error::io("cannot read rule file", &f, e))?;
            let display = crate::extract::input::display_path(&f, &cfg.base_dir);
            out.push(Loaded {
                parsed: file::parse(Path::new(&display), &text),
                display,
            });
        }
    }
    Ok(out)
}

fn collect_sql(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect_sql(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "sql") {
            out.push(p);
        }
    }
    Ok(())
}

/// A rule bound to one population (source) with its SQL rendered.
#[derive(Clone)]
struct Instance {
    rule: Arc<Rule>,
    source: String,
    reference: Option<String>,
    entity: String,
    display: String,
    sql: std::result::Result<String, String>,
}

fn source_vars(s: &SourceConfig, run_as_of: NaiveDate) -> IndexMap<String, String> {
    let mut v = IndexMap::new();
    v.insert("source".into(), s.name.clone());
    v.insert("entity".into(), s.entity.clone());
    v.insert("system".into(), s.system.as_str().into());
    v.insert(
        "as_of".into(),
        format!("DATE '{}'", run_as_of.format("%Y-%m-%d")),
    );
    if let Some(u) = &s.updated_at {
        v.insert("updated_at".into(), u.clone());
    }
    if let Some(d) = s.stale_after_days {
        v.insert("stale_after_days".into(), d.to_string());
    }
    v
}

fn has_requirement(s: &SourceConfig, target: Option<&SourceConfig>, req: &str) -> bool {
    if let Some(setting) = req.strip_prefix('@') {
        return match setting {
            "updated_at" => s.updated_at.is_some(),
            "stale_after_days" => s.stale_after_days.is_some() && s.updated_at.is_some(),
            _ => false,
        };
    }
    if let Some(col) = req.strip_prefix("target.") {
        return target.is_some_and(|t| t.columns.contains_key(col));
    }
    s.columns.contains_key(req)
}

fn instantiate(
    cfg: &Config,
    loaded: Vec<Loaded>,
    as_of: NaiveDate,
) -> Result<(Vec<Instance>, Vec<RuleResult>)> {
    let mut instances = Vec::new();
    let mut broken = Vec::new();
    let mut seen: IndexMap<String, String> = IndexMap::new();
    let known_ids: HashSet<String> = loaded
        .iter()
        .filter_map(|l| l.parsed.as_ref().ok().map(|r| r.id.clone()))
        .collect();
    for id in cfg.rules.disable.iter().chain(cfg.rules.params.keys()) {
        if !known_ids.contains(id) {
            let mut ids: Vec<&String> = known_ids.iter().collect();
            ids.sort();
            return Err(Error::Config {
                path: cfg.path.clone(),
                message: format!(
                    "rules: no rule has id {id:?} (in rules.disable or rules.params); loaded rules: {}",
                    ids.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    for l in loaded {
        let rule = match l.parsed {
            Ok(r) => r,
            Err(e) => {
                let id = Path::new(&l.display)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                broken.push(error_result(&id, "", "", &l.display, e.to_string()));
                continue;
            }
        };
        if let Some(prev) = seen.insert(rule.id.clone(), l.display.clone()) {
            broken.push(error_result(
                &rule.id,
                "",
                "",
                &l.display,
                format!(
                    "{}: rule id {:?} is already used by {prev}",
                    l.display, rule.id
                ),
            ));
            continue;
        }
        if cfg.rules.disable.contains(&rule.id) {
            tracing::info!(rule = %rule.id, "rule disabled by the config");
            continue;
        }
        // Parameters: header defaults, then config overrides (must be declared).
        let mut params = rule.params.clone();
        if let Some(over) = cfg.rules.params.get(&rule.id) {
            for (k, v) in over {
                if !params.contains_key(k) {
                    return Err(Error::Config {
                        path: cfg.path.clone(),
                        message: format!(
                            "rules.params.{}.{k}: the rule declares no parameter {k:?}; declared: {}",
                            rule.id,
                            if params.is_empty() {
                                "none".to_string()
                            } else {
                                params.keys().cloned().collect::<Vec<_>>().join(", ")
                            }
                        ),
                    });
                }
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                params.insert(k.clone(), text);
            }
        }
        let rule = Arc::new(rule);
        let mut bind = |s: &SourceConfig, extra: IndexMap<String, String>| {
            let mut vars = source_vars(s, as_of);
            vars.extend(extra.clone());
            for (k, v) in &params {
                vars.insert(k.clone(), v.clone());
            }
            let sql = file::render(&rule.sql, &vars).map_err(|(line, msg)| {
                format!("{}:{}: {msg}", l.display, rule.sql_line + line - 1)
            });
            let reference = extra
                .get("column")
                .map(|c| format!("{c} -> {}.{}", extra["target"], extra["target_column"]));
            instances.push(Instance {
                rule: rule.clone(),
                source: s.name.clone(),
                reference,
                entity: s.entity.clone(),
                display: l.display.clone(),
                sql,
            });
        };
        match &rule.scope {
            Scope::Source(name) => match cfg.source(name) {
                Some(s) => {
                    let missing: Vec<&String> = rule
                        .requires
                        .iter()
                        .filter(|r| !has_requirement(s, None, r))
                        .collect();
                    if missing.is_empty() {
                        bind(s, IndexMap::new());
                    } else {
                        broken.push(error_result(
                            &rule.id,
                            name,
                            &s.entity,
                            &l.display,
                            format!(
                                "{}: source {name} lacks what the rule requires: {missing:?}",
                                l.display
                            ),
                        ));
                    }
                }
                None => broken.push(error_result(
                    &rule.id,
                    name,
                    "",
                    &l.display,
                    format!(
                        "{}: the rule names source {name:?}, which is not configured; sources: {}",
                        l.display,
                        cfg.sources
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            },
            Scope::EachSource { entity } => {
                for s in &cfg.sources {
                    if entity.as_ref().is_some_and(|e| e != &s.entity) {
                        continue;
                    }
                    if rule.requires.iter().all(|r| has_requirement(s, None, r)) {
                        bind(s, IndexMap::new());
                    }
                }
            }
            Scope::EachReference => {
                for s in &cfg.sources {
                    for r in &s.references {
                        let Some(t) = cfg.source(&r.target) else {
                            continue;
                        };
                        if !rule.requires.iter().all(|q| has_requirement(s, Some(t), q)) {
                            continue;
                        }
                        let tc = r
                            .target_column
                            .clone()
                            .unwrap_or_else(|| t.key.0[0].clone());
                        let mut extra = IndexMap::new();
                        extra.insert("column".into(), r.column.clone());
                        extra.insert("target".into(), t.name.clone());
                        extra.insert("target_column".into(), tc);
                        extra.insert(
                            "aliases".into(),
                            match r.aliases {
                                crate::config::AliasRule::Exact => "exact",
                                crate::config::AliasRule::CaseInsensitive => "case_insensitive",
                                crate::config::AliasRule::Salesforce => "salesforce",
                                crate::config::AliasRule::Sku => "sku",
                            }
                            .into(),
                        );
                        bind(s, extra);
                    }
                }
            }
        }
    }
    Ok((instances, broken))
}

fn error_result(
    rule_id: &str,
    source: &str,
    entity: &str,
    file: &str,
    message: String,
) -> RuleResult {
    RuleResult {
        rule_id: rule_id.to_string(),
        description: String::new(),
        dimension: String::new(),
        severity: String::new(),
        source: source.to_string(),
        reference: None,
        entity: entity.to_string(),
        population: 0,
        failed: 0,
        pass_rate: 0.0,
        status: Status::Error,
        warn_below: None,
        fail_below: None,
        duration_ms: 0,
        error: Some(message),
        rule_file: file.to_string(),
    }
}

/// Checks that a rule is a single read-only query; names what it found otherwise.
pub fn check_read_only(sql: &str) -> std::result::Result<(), String> {
    use datafusion::sql::parser::{DFParser, Statement as DfStatement};
    use datafusion::sql::sqlparser::ast::Statement;
    let stmts = DFParser::parse_sql(sql).map_err(|e| e.to_string())?;
    if stmts.len() != 1 {
        return Err(format!(
            "a rule must be exactly one query; found {} statements",
            stmts.len()
        ));
    }
    let kind = match &stmts[0] {
        DfStatement::Statement(s) => match s.as_ref() {
            Statement::Query(_) => return Ok(()),
            other => {
                let text = other.to_string();
                text.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        },
        DfStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
        DfStatement::CopyTo(_) => "COPY … TO".into(),
        DfStatement::Explain(_) => "EXPLAIN".into(),
        DfStatement::Reset(_) => "RESET".into(),
    };
    Err(format!(
        "only a read-only SELECT query is allowed in a rule; found `{kind}`"
    ))
}

/// Maps "… at Line: 3, Column: 7" in a DataFusion message to the rule file's line.
/// The position is the last "Line: " of the message: an earlier one can be quoted SQL
/// (`found: 'Line: 9'`).
pub(crate) fn file_line(msg: &str, sql_line: usize) -> Option<usize> {
    let i = msg.rfind("Line: ")?;
    let n: String = msg[i + 6..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let k = n.parse::<usize>().ok().filter(|&k| k >= 1)?;
    sql_line.checked_add(k - 1)
}

/// Schema of the violation rows a rule instance yields.
fn violation_rows_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, true),
        Field::new("record_key", DataType::Utf8, true),
        Field::new("detail", DataType::Utf8, true),
    ]))
}

/// Schema of `violations.parquet`.
pub fn violations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("dimension", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, true),
        Field::new("reference", DataType::Utf8, true),
        Field::new("record_key", DataType::Utf8, true),
        Field::new("detail", DataType::Utf8, true),
    ]))
}

/// Schema of `rule_results.parquet`.
pub fn results_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
        Field::new("dimension", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("reference", DataType::Utf8, true),
        Field::new("entity", DataType::Utf8, false),
        Field::new("population", DataType::Int64, false),
        Field::new("failed", DataType::Int64, false),
        Field::new("pass_rate", DataType::Float64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("warn_below", DataType::Float64, true),
        Field::new("fail_below", DataType::Float64, true),
        Field::new("duration_ms", DataType::Int64, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("rule_file", DataType::Utf8, false),
    ]))
}

struct InstanceOutput {
    result: RuleResult,
    /// Violation rows (source, record_key, detail), sorted.
    rows: Option<RecordBatch>,
    /// Stopped because the SQL memory pool was exhausted.
    out_of_memory: bool,
}

/// Registers the staged sources and the `run` and `sources` tables.
pub async fn register_tables(
    ctx: &SessionContext,
    cfg: &Config,
    run_dir: &Path,
    extracted: &ExtractOutput,
    as_of: NaiveDate,
) -> Result<()> {
    for s in &extracted.sources {
        let path = run_dir.join(&s.staged);
        ctx.register_parquet(
            &s.name,
            path.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(|e| Error::datafusion(format!("cannot register staged source {}", s.name), e))?;
    }
    let d = crate::util::date_to_days(as_of);
    let run = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("as_of", DataType::Date32, false),
            Field::new("run_date", DataType::Date32, false),
            Field::new("time_zone", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(Date32Array::from(vec![d])),
            Arc::new(Date32Array::from(vec![d])),
            Arc::new(StringArray::from(vec![cfg.run.time_zone.clone()])),
        ],
    )
    .map_err(|e| Error::arrow("run table", e))?;
    ctx.register_batch("run", run)
        .map_err(|e| Error::datafusion("cannot register the run table", e))?;
    let n = cfg.sources.len();
    let col = |f: &dyn Fn(&SourceConfig) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            cfg.sources.iter().map(f).collect::<Vec<_>>(),
        ))
    };
    let rows: Vec<i64> = cfg
        .sources
        .iter()
        .map(|s| {
            extracted
                .source(&s.name)
                .map(|r| r.rows_accepted as i64)
                .unwrap_or(0)
        })
        .collect();
    let sources = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("system", DataType::Utf8, true),
            Field::new("entity", DataType::Utf8, true),
            Field::new("rows", DataType::Int64, false),
            Field::new("updated_at_column", DataType::Utf8, true),
            Field::new("stale_after_days", DataType::Int64, true),
            Field::new("owner_team", DataType::Utf8, true),
            Field::new("owner_contact", DataType::Utf8, true),
        ])),
        vec![
            col(&|s| Some(s.name.clone())),
            col(&|s| Some(s.system.as_str().to_string())),
            col(&|s| Some(s.entity.clone())),
            Arc::new(Int64Array::from(rows)),
            col(&|s| s.updated_at.clone()),
            Arc::new(Int64Array::from(
                cfg.sources
                    .iter()
                    .map(|s| s.stale_after_days.map(i64::from))
                    .collect::<Vec<_>>(),
            )),
            col(&|s| Some(s.owner.team.clone())),
            col(&|s| Some(s.owner.contact.clone())),
        ],
    )
    .map_err(|e| Error::arrow("sources table", e))?;
    debug_assert_eq!(sources.num_rows(), n);
    ctx.register_batch("sources", sources)
        .map_err(|e| Error::datafusion("cannot register the sources table", e))?;
    Ok(())
}

/// Runs every rule over the staged sources in `run` and writes `violations.parquet` and
/// `rule_results.parquet`.
///
/// With `incremental`, instances whose SQL and tables are unchanged since the previous
/// run reuse its violation rows (see [`reuse`]).
pub fn run(
    cfg: &Config,
    run: &mut RunDir,
    extracted: &ExtractOutput,
    as_of: NaiveDate,
    progress: &crate::progress::Progress,
    incremental: Option<&crate::matching::Incremental>,
) -> Result<RulesOutput> {
    let loaded = load_rules(cfg)?;
    let (instances, mut broken) = instantiate(cfg, loaded, as_of)?;
    let spill = run
        .file(".spill/x")?
        .parent()
        .expect("has parent")
        .to_path_buf();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(rayon::current_num_threads().max(1))
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let run_path = run.path().to_path_buf();
    let counter = progress.counter("rules", "rules");
    let mut reused_count = 0;
    // The SQL hash and the tables of each instance (incremental runs), by (rule, source,
    // reference): what the next night's reuse checks.
    type Key = (String, String, Option<String>);
    let mut tables: std::collections::HashMap<Key, (String, Vec<String>)> = Default::default();
    let outputs: Vec<InstanceOutput> = rt.block_on(async {
        let ctx = crate::sql::context(cfg.run.memory_limit_mb, Some(&spill))?;
        register_tables(&ctx, cfg, &run_path, extracted, as_of).await?;
        let fingerprint = reuse::fingerprint(cfg);
        let previous = incremental
            .and_then(|i| i.previous.as_ref())
            .and_then(|(dir, date)| match reuse::Previous::read(dir, &fingerprint) {
                Ok(p) => Some(p),
                Err(reason) => {
                    tracing::info!(previous_run = %date, reason = %reason, "incremental: rules cache not used; running every rule");
                    None
                }
            });
        let unchanged: HashSet<String> = extracted
            .sources
            .iter()
            .filter(|s| s.reused())
            .map(|s| s.name.clone())
            .collect();
        let mut reused = Vec::new();
        let mut to_run = Vec::new();
        for inst in instances {
            if let (true, Ok(sql)) = (incremental.is_some(), &inst.sql) {
                let key = (inst.rule.id.clone(), inst.source.clone(), inst.reference.clone());
                if let Some(t) = reuse::source_tables(&ctx, cfg, sql) {
                    tables.insert(key, (reuse::sql_hash(sql), t));
                }
                let hit = previous.as_ref().and_then(|p| {
                    p.find(&inst.rule.id, &inst.source, inst.reference.as_deref(), sql, &unchanged)
                        .and_then(|c| p.rows(c))
                });
                if let Some(rows) = hit {
                    let population = extracted
                        .source(&inst.source)
                        .map(|s| s.rows_accepted)
                        .unwrap_or(0);
                    reused.push(with_rows(base_result(&inst, population), &inst.rule, rows, 0));
                    counter.inc(1);
                    continue;
                }
            }
            to_run.push(inst);
        }
        if incremental.is_some() {
            tracing::info!(reused = reused.len(), running = to_run.len(), "incremental: rule instances over unchanged sources reuse the previous violations");
        }
        let instances = to_run;
        let ctx = Arc::new(ctx);
        let parallel = rayon::current_num_threads().max(1);
        let run_all = |instances: Vec<Instance>, parallel: usize| {
            let ctx = ctx.clone();
            let counter = &counter;
            futures::stream::iter(instances.into_iter().map(move |inst| {
                let ctx = ctx.clone();
                let population = extracted
                    .source(&inst.source)
                    .map(|s| s.rows_accepted)
                    .unwrap_or(0);
                async move {
                    let retry = inst.clone();
                    let o = run_instance(&ctx, cfg, inst, population).await;
                    // A rule to be run again alone counts once, when it has run.
                    if !(o.out_of_memory && parallel > 1) {
                        counter.inc(1);
                    }
                    (o, retry)
                }
            }))
            .buffer_unordered(parallel)
            .collect::<Vec<(InstanceOutput, Instance)>>()
        };
        let mut outs = Vec::new();
        let mut again = Vec::new();
        for (o, inst) in run_all(instances, parallel).await {
            if o.out_of_memory && parallel > 1 {
                again.push(inst);
            } else {
                outs.push(o);
            }
        }
        // The memory pool is shared by the rules running side by side: a rule that ran
        // out beside others runs again alone with the whole pool, and fails only if it
        // needs more than that.
        if !again.is_empty() {
            tracing::info!(
                rules = again.len(),
                "rules out of memory beside others run again one at a time"
            );
            outs.extend(run_all(again, 1).await.into_iter().map(|(o, _)| o));
        }
        reused_count = reused.len() as u64;
        outs.extend(reused);
        Ok::<_, Error>(outs)
    })?;
    counter.finish();
    drop(rt);
    let _ = std::fs::remove_dir_all(&spill);

    let mut outputs = outputs;
    outputs.sort_by(|a, b| {
        (&a.result.rule_id, &a.result.source, &a.result.reference).cmp(&(
            &b.result.rule_id,
            &b.result.source,
            &b.result.reference,
        ))
    });
    let run_date = crate::util::date_to_days(as_of);
    let mut sink = run.parquet_writer(VIOLATIONS_FILE, violations_schema())?;
    let mut cache = reuse::Cache {
        version: reuse::VERSION,
        fingerprint: reuse::fingerprint(cfg),
        instances: Vec::new(),
    };
    let mut offset = 0u64;
    for o in &outputs {
        let r = &o.result;
        let n = o.rows.as_ref().map_or(0, |b| b.num_rows() as u64);
        if r.status != Status::Error
            && let Some((sql, t)) =
                tables.get(&(r.rule_id.clone(), r.source.clone(), r.reference.clone()))
        {
            cache.instances.push(reuse::CachedInstance {
                rule_id: r.rule_id.clone(),
                source: r.source.clone(),
                reference: r.reference.clone(),
                sql_xxh3_128: sql.clone(),
                tables: t.clone(),
                offset,
                rows: n,
            });
        }
        offset += n;
        if let Some(rows) = &o.rows
            && rows.num_rows() > 0
        {
            let n = rows.num_rows();
            let r = &o.result;
            let batch = RecordBatch::try_new(
                violations_schema(),
                vec![
                    Arc::new(Date32Array::from(vec![run_date; n])),
                    Arc::new(StringArray::from(vec![r.rule_id.as_str(); n])),
                    Arc::new(StringArray::from(vec![r.dimension.as_str(); n])),
                    Arc::new(StringArray::from(vec![r.severity.as_str(); n])),
                    rows.column(0).clone(),
                    Arc::new(StringArray::from(vec![r.reference.as_deref(); n])),
                    rows.column(1).clone(),
                    rows.column(2).clone(),
                ],
            )
            .map_err(|e| Error::arrow("violations batch", e))?;
            sink.write(&batch)?;
        }
    }
    let violations = sink.finish()?;
    run.record(VIOLATIONS_FILE, Some(violations))?;
    if incremental.is_some() {
        run.write_json(reuse::FILE, &cache)?;
    }

    let mut results: Vec<RuleResult> = outputs.into_iter().map(|o| o.result).collect();
    results.append(&mut broken);
    results.sort_by(|a, b| {
        (&a.rule_id, &a.source, &a.reference).cmp(&(&b.rule_id, &b.source, &b.reference))
    });
    let batch = results_batch(&results, run_date)?;
    run.write_parquet(RESULTS_FILE, results_schema(), &[batch])?;
    for r in &results {
        match r.status {
            Status::Error => tracing::error!(
                rule = %r.rule_id,
                source = %r.source,
                file = %r.rule_file,
                error = %r.error.as_deref().unwrap_or(""),
                "rule failed to run"
            ),
            _ => tracing::debug!(
                rule = %r.rule_id,
                source = %r.source,
                population = r.population,
                failed = r.failed,
                status = r.status.as_str(),
                duration_ms = r.duration_ms,
                "rule"
            ),
        }
    }
    tracing::info!(
        rules = results.len(),
        failing = results
            .iter()
            .filter(|r| matches!(r.status, Status::Fail | Status::Warn))
            .count(),
        errors = results.iter().filter(|r| r.status == Status::Error).count(),
        violations,
        "rules evaluated"
    );
    Ok(RulesOutput {
        results,
        violations,
        reused: reused_count,
    })
}

fn results_batch(results: &[RuleResult], run_date: i32) -> Result<RecordBatch> {
    let s = |f: &dyn Fn(&RuleResult) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(results.iter().map(f)))
    };
    RecordBatch::try_new(
        results_schema(),
        vec![
            Arc::new(Date32Array::from(vec![run_date; results.len()])),
            s(&|r| &r.rule_id),
            s(&|r| &r.description),
            s(&|r| &r.dimension),
            s(&|r| &r.severity),
            s(&|r| &r.source),
            Arc::new(StringArray::from(
                results
                    .iter()
                    .map(|r| r.reference.clone())
                    .collect::<Vec<_>>(),
            )),
            s(&|r| &r.entity),
            Arc::new(Int64Array::from_iter_values(
                results.iter().map(|r| r.population as i64),
            )),
            Arc::new(Int64Array::from_iter_values(
                results.iter().map(|r| r.failed as i64),
            )),
            Arc::new(Float64Array::from_iter_values(
                results.iter().map(|r| r.pass_rate),
            )),
            s(&|r| r.status.as_str()),
            Arc::new(Float64Array::from(
                results.iter().map(|r| r.warn_below).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                results.iter().map(|r| r.fail_below).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from_iter_values(
                results.iter().map(|r| r.duration_ms as i64),
            )),
            Arc::new(StringArray::from(
                results.iter().map(|r| r.error.clone()).collect::<Vec<_>>(),
            )),
            s(&|r| &r.rule_file),
        ],
    )
    .map_err(|e| Error::arrow("rule results batch", e))
}

/// The status of a rule from its pass rate and thresholds: below `fail_below` fails,
/// below `warn_below` warns; without thresholds any violation fails an `error` rule and
/// warns a `warn` rule, and `info` rules always pass.
pub fn status_for(
    severity: Severity,
    failed: u64,
    pass_rate: f64,
    warn_below: Option<f64>,
    fail_below: Option<f64>,
) -> Status {
    if warn_below.is_none() && fail_below.is_none() {
        return match (failed, severity) {
            (0, _) | (_, Severity::Info) => Status::Pass,
            (_, Severity::Error) => Status::Fail,
            (_, Severity::Warn) => Status::Warn,
        };
    }
    if fail_below.is_some_and(|t| pass_rate < t) {
        Status::Fail
    } else if warn_below.is_some_and(|t| pass_rate < t) {
        Status::Warn
    } else {
        Status::Pass
    }
}

/// An instance's result before it has run.
fn base_result(inst: &Instance, population: u64) -> RuleResult {
    let rule = &inst.rule;
    RuleResult {
        rule_id: rule.id.clone(),
        description: rule.description.clone(),
        dimension: rule.dimension.as_str().into(),
        severity: rule.severity.as_str().into(),
        source: inst.source.clone(),
        reference: inst.reference.clone(),
        entity: inst.entity.clone(),
        population,
        failed: 0,
        pass_rate: 1.0,
        status: Status::Pass,
        warn_below: rule.warn_below,
        fail_below: rule.fail_below,
        duration_ms: 0,
        error: None,
        rule_file: inst.display.clone(),
    }
}

async fn run_instance(
    ctx: &SessionContext,
    cfg: &Config,
    inst: Instance,
    population: u64,
) -> InstanceOutput {
    let started = Instant::now();
    let rule = inst.rule.clone();
    let base = base_result(&inst, population);
    let timeout = Duration::from_secs(cfg.rules.timeout_secs.max(1));
    let outcome = match tokio::time::timeout(timeout, execute(ctx, cfg, &inst)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Other(format!(
            "{}: the rule ran longer than rules.timeout_secs ({} s) and was stopped",
            inst.display,
            timeout.as_secs()
        ))),
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Err(failure) => {
            let out_of_memory = matches!(failure, Failure::OutOfMemory(_));
            let (Failure::OutOfMemory(message) | Failure::Other(message)) = failure;
            InstanceOutput {
                result: RuleResult {
                    status: Status::Error,
                    pass_rate: 0.0,
                    error: Some(message),
                    duration_ms,
                    ..base
                },
                rows: None,
                out_of_memory,
            }
        }
        Ok(rows) => with_rows(base, &rule, rows, duration_ms),
    }
}

/// The result of an instance that ran (or was reused) and returned `rows`.
fn with_rows(base: RuleResult, rule: &Rule, rows: RecordBatch, duration_ms: u64) -> InstanceOutput {
    let population = base.population;
    let keys = rows.column(1).as_string::<i32>();
    let mut distinct = HashSet::new();
    for i in 0..keys.len() {
        if !keys.is_null(i) {
            distinct.insert(keys.value(i));
        }
    }
    let failed = (distinct.len() as u64).min(population.max(distinct.len() as u64));
    let pass_rate = if population == 0 {
        1.0
    } else {
        (1.0 - failed as f64 / population as f64).max(0.0)
    };
    let status = status_for(
        rule.severity,
        failed,
        pass_rate,
        rule.warn_below,
        rule.fail_below,
    );
    InstanceOutput {
        result: RuleResult {
            failed,
            pass_rate,
            status,
            duration_ms,
            ..base
        },
        rows: Some(rows),
        out_of_memory: false,
    }
}

/// Why a rule could not run.
enum Failure {
    /// The SQL memory pool was exhausted.
    OutOfMemory(String),
    Other(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Other(message)
    }
}

/// Plans and runs one instance; returns its violation rows sorted by key and detail.
async fn execute(
    ctx: &SessionContext,
    cfg: &Config,
    inst: &Instance,
) -> std::result::Result<RecordBatch, Failure> {
    let rule = &inst.rule;
    let sql = inst.sql.clone()?;
    let at = |msg: String| -> String {
        match file_line(&msg, rule.sql_line) {
            Some(l) => format!("{}:{l}: {msg}", inst.display),
            None => format!("{}: {msg}", inst.display),
        }
    };
    check_read_only(&sql).map_err(at)?;
    let opts = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx
        .sql_with_options(&sql, opts)
        .await
        .map_err(|e| at(e.to_string()))?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_lowercase())
        .collect();
    let missing: Vec<&str> = ["source", "record_key", "detail"]
        .into_iter()
        .filter(|c| !names.iter().any(|n| n == c))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::Other(format!(
            "{}: the query must return columns source, record_key and detail; missing {}; it returns: {}",
            inst.display,
            missing.join(", "),
            names.join(", ")
        )));
    }
    let wrapped = format!(
        "SELECT CAST(source AS VARCHAR) AS source, CAST(record_key AS VARCHAR) AS record_key, CAST(detail AS VARCHAR) AS detail FROM (\n{sql}\n) AS rule_rows"
    );
    let df = ctx
        .sql_with_options(&wrapped, opts)
        .await
        .map_err(|e| at(e.to_string()))?;
    let mut stream = df.execute_stream().await.map_err(|e| at(e.to_string()))?;
    let cap = cfg.rules.max_violations_per_rule;
    let mut batches = Vec::new();
    let mut n = 0usize;
    while let Some(b) = stream.next().await {
        // Execution errors can quote the data (a value that would not cast): redact.
        let b = b.map_err(|e| {
            if matches!(
                e.find_root(),
                datafusion::error::DataFusionError::ResourcesExhausted(_)
            ) {
                Failure::OutOfMemory(format!(
                    "{}: the rule needed more memory than run.memory_limit_mb ({} MiB) allows and was stopped; is a join missing a condition? ({})",
                    inst.display,
                    cfg.run.memory_limit_mb,
                    redact_values(&e.find_root().to_string())
                ))
            } else {
                Failure::Other(at(redact_values(&e.to_string())))
            }
        })?;
        n += b.num_rows();
        if n > cap {
            return Err(Failure::Other(format!(
                "{}: the rule returned more than rules.max_violations_per_rule ({cap}) rows and was stopped; is a join missing a condition?",
                inst.display
            )));
        }
        batches.push(normalise_batch(&b).map_err(|e| at(e.to_string()))?);
    }
    let schema = violation_rows_schema();
    let all = concat_batches(&schema, &batches).map_err(|e| e.to_string())?;
    if all.num_rows() <= 1 {
        return Ok(all);
    }
    let idx = lexsort_to_indices(
        &[
            SortColumn {
                values: all.column(1).clone(),
                options: None,
            },
            SortColumn {
                values: all.column(2).clone(),
                options: None,
            },
            SortColumn {
                values: all.column(0).clone(),
                options: None,
            },
        ],
        None,
    )
    .map_err(|e| e.to_string())?;
    take_record_batch(&all, &idx).map_err(|e| Failure::Other(e.to_string()))
}

/// Replaces every single-quoted literal in a message with '…', so errors raised while
/// executing a query (which may quote field values) never carry personal data.
pub fn redact_values(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut in_quote = false;
    for c in msg.chars() {
        if c == '\'' {
            if in_quote {
                out.push('…');
            }
            in_quote = !in_quote;
            out.push(c);
        } else if !in_quote {
            out.push(c);
        }
    }
    out
}

fn normalise_batch(b: &RecordBatch) -> datafusion::error::Result<RecordBatch> {
    let cols: Vec<ArrayRef> = (0..3)
        .map(|i| datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8))
        .collect::<std::result::Result<_, _>>()?;
    Ok(RecordBatch::try_new(violation_rows_schema(), cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_are_allowed() {
        assert!(check_read_only("SELECT 1").is_ok());
        assert!(check_read_only("WITH a AS (SELECT 1) SELECT * FROM a").is_ok());
        for (sql, what) in [
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("DROP TABLE crm", "DROP"),
            ("INSERT INTO t VALUES (1)", "INSERT"),
            ("SELECT 1; SELECT 2", "statements"),
            ("EXPLAIN SELECT 1", "EXPLAIN"),
        ] {
            let e = check_read_only(sql).unwrap_err();
            assert!(e.contains(what), "{sql}: {e}");
        }
    }

    #[test]
    fn status_rules() {
        use Severity::*;
        assert_eq!(status_for(Error, 0, 1.0, None, None), Status::Pass);
        assert_eq!(status_for(Error, 1, 0.99, None, None), Status::Fail);
        assert_eq!(status_for(Warn, 1, 0.99, None, None), Status::Warn);
        assert_eq!(status_for(Info, 5, 0.5, None, None), Status::Pass);
        assert_eq!(
            status_for(Error, 1, 0.97, Some(0.99), Some(0.95)),
            Status::Warn
        );
        assert_eq!(
            status_for(Error, 1, 0.94, Some(0.99), Some(0.95)),
            Status::Fail
        );
        assert_eq!(
            status_for(Error, 1, 0.995, Some(0.99), Some(0.95)),
            Status::Pass
        );
    }

    #[test]
    fn execution_errors_are_redacted() {
        assert_eq!(
            redact_values("Cast error: Cannot cast string 'Jane Doe' to value of Int64 type"),
            "Cast error: Cannot cast string '…' to value of Int64 type"
        );
        assert_eq!(redact_values("no quotes"), "no quotes");
    }

    #[test]
    fn line_mapping() {
        assert_eq!(
            file_line("Expected: ..., found: FROM at Line: 3, Column: 1", 8),
            Some(10)
        );
        assert_eq!(file_line("no position", 8), None);
        // Regressions (rule_file fuzz target): a quoted "Line: " in the message is not
        // the position, and a huge number does not overflow.
        assert_eq!(
            file_line(
                "Expected: end of statement, found: 'Line: 5' at Line: 2, Column: 52",
                8
            ),
            Some(9)
        );
        assert_eq!(
            file_line("found: x at Line: 18446744073709551615, Column: 1", 8),
            None
        );
        assert_eq!(file_line("at Line: 0, Column: 1", 8), None);
    }
}
