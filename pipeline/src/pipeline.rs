//! `recon run`: the stages in order, timed, into one run directory committed atomically,
//! with the manifest.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result, exit_code};
use crate::extract::{self, ExtractOutput, FileReport};
use crate::output::{OutputDir, OutputFile};
use crate::progress::Progress;

/// The steward's report in the run directory.
pub const REPORT_FILE: &str = "report.html";

/// Options of one run, from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub as_of: Option<NaiveDate>,
    pub output: Option<PathBuf>,
    /// A model.json to score with instead of training.
    pub model: Option<PathBuf>,
    /// Reuse the previous run's model and comparison cache (`--incremental`).
    pub incremental: bool,
}

/// What a completed run reports back to the command line.
#[derive(Debug)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub exit_code: i32,
    /// One line per problem worth a cron mail (broken gates, rule errors).
    pub summary: Vec<String>,
}

/// Timing of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: &'static str,
    pub duration_ms: u64,
}

/// An input file in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestInput {
    pub source: String,
    #[serde(flatten)]
    pub file: FileReport,
}

/// Row accounting over all inputs.
#[derive(Debug, Clone, Serialize)]
pub struct Accounting {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// `rows_read == rows_accepted + rows_quarantined` for every file.
    pub balanced: bool,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub run_date: NaiveDate,
    pub as_of: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub recon_version: &'static str,
    pub config_path: String,
    pub config_sha256: String,
    pub time_zone: String,
    pub inputs: Vec<ManifestInput>,
    pub accounting: Accounting,
    pub stages: Vec<StageTiming>,
    pub matching: Vec<crate::matching::EntitySummary>,
    /// What `--incremental` reused from the previous run (absent in a full run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalReuse>,
    pub golden: crate::golden::GoldenSummary,
    /// Broken quality gates (one line each).
    pub gates_failed: Vec<String>,
    pub outputs: Vec<OutputFile>,
    /// `success`, `gates_failed` or `rule_errors`.
    pub status: &'static str,
    pub exit_code: i32,
}

/// `manifest.incremental`: the stages' reuse of the previous run (the comparison cache's
/// is under `matching[].incremental`).
#[derive(Debug, Clone, Serialize)]
pub struct IncrementalReuse {
    /// Run date reused from, if there was an earlier run.
    pub previous_run: Option<String>,
    /// Sources whose files and mapping were unchanged: staged rows reused.
    pub sources_reused: Vec<String>,
    /// Sources extracted again.
    pub sources_extracted: Vec<String>,
    /// Rule instances whose violations were reused / that ran.
    pub rule_instances_reused: u64,
    pub rule_instances_run: u64,
}

/// The run's date: `--as-of`, else `[run].as_of`, else today in the configured zone.
pub fn resolve_as_of(cfg: &Config, opt: Option<NaiveDate>) -> NaiveDate {
    opt.or(cfg.run.as_of)
        .unwrap_or_else(|| Utc::now().with_timezone(&cfg.time_zone()).date_naive())
}

/// The output directory: `--output`, else `[run].output` relative to the config file.
pub fn resolve_output(cfg: &Config, opt: Option<&PathBuf>) -> PathBuf {
    match opt {
        Some(p) => p.clone(),
        None => cfg.resolve(&cfg.run.output),
    }
}

/// Test hook: `RECON_TEST_PAUSE_AFTER=<stage>` makes the run announce
/// `recon-test: paused after <stage>` on stderr and sleep, so crash tests can kill it
/// at a known point. Not for production use.
fn test_pause(stage: &str) {
    if let Ok(want) = std::env::var("RECON_TEST_PAUSE_AFTER")
        && want == stage
    {
        eprintln!("recon-test: paused after {stage}");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// Runs every stage and commits the run directory.
pub fn run(cfg: &Config, opts: &RunOptions, progress: &Progress) -> Result<RunOutcome> {
    let started_at = Utc::now();
    let t0 = Instant::now();
    let as_of = resolve_as_of(cfg, opts.as_of);
    let root = resolve_output(cfg, opts.output.as_ref());
    let run_id = format!(
        "{}-{}",
        started_at.format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    );
    let decisions = crate::golden::decisions::Decisions::load(cfg)?;
    let out = OutputDir::lock(&root)?;
    let mut run = out.begin_run(as_of, &run_id)?;
    tracing::info!(run_id = %run_id, as_of = %as_of, output = %root.display(), "run started");
    let mut stages = Vec::new();
    let incremental = if opts.incremental {
        let previous = crate::output::list_run_dates(&root)?
            .into_iter()
            .rev()
            .find(|d| *d < as_of)
            .map(|d| (root.join(crate::output::run_dir_name(d)), d.to_string()));
        if previous.is_none() {
            tracing::info!("incremental: no earlier run; this run does every stage in full");
        }
        Some(crate::matching::Incremental { previous })
    } else {
        None
    };

    let t = Instant::now();
    let extracted: ExtractOutput =
        extract::extract(cfg, &mut run, as_of, progress, incremental.as_ref())?;
    stages.push(StageTiming {
        stage: "extract",
        duration_ms: t.elapsed().as_millis() as u64,
    });
    test_pause("extract");

    let inputs: Vec<ManifestInput> = extracted
        .sources
        .iter()
        .flat_map(|s| {
            s.files.iter().map(|f| ManifestInput {
                source: s.name.clone(),
                file: f.clone(),
            })
        })
        .collect();
    let accounting = Accounting {
        rows_read: inputs.iter().map(|i| i.file.rows_read).sum(),
        rows_accepted: inputs.iter().map(|i| i.file.rows_accepted).sum(),
        rows_quarantined: inputs.iter().map(|i| i.file.rows_quarantined).sum(),
        balanced: inputs
            .iter()
            .all(|i| i.file.rows_read == i.file.rows_accepted + i.file.rows_quarantined),
    };
    if !accounting.balanced {
        return Err(Error::Invariant("row accounting does not balance".into()));
    }

    let t = Instant::now();
    let rules = crate::rules::run(
        cfg,
        &mut run,
        &extracted,
        as_of,
        progress,
        incremental.as_ref(),
    )?;
    stages.push(StageTiming {
        stage: "rules",
        duration_ms: t.elapsed().as_millis() as u64,
    });
    test_pause("rules");
    let incremental_reuse = incremental.as_ref().map(|i| {
        let (reused, extracted_again): (Vec<_>, Vec<_>) =
            extracted.sources.iter().partition(|s| s.reused());
        IncrementalReuse {
            previous_run: i.previous.as_ref().map(|p| p.1.clone()),
            sources_reused: reused.iter().map(|s| s.name.clone()).collect(),
            sources_extracted: extracted_again.iter().map(|s| s.name.clone()).collect(),
            rule_instances_reused: rules.reused,
            rule_instances_run: rules.results.len() as u64 - rules.reused,
        }
    });

    let t = Instant::now();
    let unknown = std::sync::Mutex::new(Vec::new());
    let previous_model = incremental
        .as_ref()
        .and_then(|i| i.previous.as_ref())
        .map(|(dir, _)| dir.join(crate::matching::MODEL_FILE))
        .filter(|p| p.is_file());
    let model_source = match (&opts.model, &previous_model) {
        (Some(p), _) => crate::matching::ModelSource::File(p),
        (None, Some(p)) => crate::matching::ModelSource::Previous(p),
        (None, None) => crate::matching::ModelSource::Train,
    };
    let mut matched = crate::matching::run(
        cfg,
        &mut run,
        as_of,
        model_source,
        incremental.as_ref(),
        &|entity, records| crate::golden::constraints(&decisions, entity, records, &unknown),
        progress,
    )?;
    stages.push(StageTiming {
        stage: "match",
        duration_ms: t.elapsed().as_millis() as u64,
    });
    test_pause("match");
    // The match outputs are written: the prepared comparisons and the raw matching
    // fields are not needed by golden records, and are the bulk of matching's memory.
    for e in &mut matched.entities {
        e.comparisons = Vec::new();
        e.records.fields = Default::default();
    }

    let t = Instant::now();
    let unknown = unknown.into_inner().expect("lock");
    let golden = crate::golden::run(
        cfg,
        &mut run,
        &root,
        &matched,
        as_of,
        &unknown,
        decisions.items.len() as u64,
    )?;
    let matching_summary: Vec<crate::matching::EntitySummary> =
        matched.entities.iter().map(|e| e.summary.clone()).collect();
    let link = matched.link_rates();
    drop(matched);
    stages.push(StageTiming {
        stage: "golden",
        duration_ms: t.elapsed().as_millis() as u64,
    });
    test_pause("golden");

    let t = Instant::now();
    let mut phase = crate::util::Phases::new("score", "*");
    let mut findings = golden.findings;
    let scores = crate::scorecard::score(cfg, &extracted, &rules.results, &findings, &link);
    let history = crate::scorecard::history(&root, Some(as_of))?;
    let alerts = crate::scorecard::regressions(cfg, &scores, &history);
    for a in &alerts {
        tracing::warn!(source = %a.source, metric = %a.record_key, kind = a.kind, "regression alert");
    }
    findings.extend(alerts);
    phase.lap("scores_history");
    let gates_broken = crate::scorecard::gates(cfg, &scores, &rules.results);

    let mut summary = Vec::new();
    for r in rules.errors() {
        summary.push(format!(
            "rule {} could not run: {}",
            r.rule_id,
            r.error.as_deref().unwrap_or("unknown error")
        ));
    }
    summary.extend(gates_broken.iter().cloned());
    let (exit, status) = if rules.errors().next().is_some() {
        (exit_code::RULE_ERRORS, "rule_errors")
    } else if !gates_broken.is_empty() {
        (exit_code::GATES_FAILED, "gates_failed")
    } else {
        (exit_code::SUCCESS, "success")
    };
    // The findings and scorecard files are written while the report renders (it reads
    // the earlier stages' files and this stage's rows in memory): one core each.
    let run_path = run.path().to_path_buf();
    let (written, html) = rayon::join(
        || -> Result<()> {
            crate::golden::write_findings(
                &mut run,
                cfg,
                &findings,
                crate::util::date_to_days(as_of),
            )?;
            crate::scorecard::write(&mut run, &scores, as_of)
        },
        || {
            crate::scorecard::report::render(&crate::scorecard::report::ReportInput {
                cfg,
                run_dir: &run_path,
                run_id: &run_id,
                run_date: as_of,
                status,
                rows_read: accounting.rows_read,
                rows_quarantined: accounting.rows_quarantined,
                scores: &scores,
                history: &history,
                results: &rules.results,
                findings: &findings,
                golden: &golden.summary,
                gates_broken: &gates_broken,
            })
        },
    );
    written?;
    let html = html?;
    phase.lap("write_findings_render_report");
    run.write_text(REPORT_FILE, &html)?;
    stages.push(StageTiming {
        stage: "score",
        duration_ms: t.elapsed().as_millis() as u64,
    });
    test_pause("score");

    let mut manifest = Manifest {
        run_id: run_id.clone(),
        run_date: as_of,
        as_of,
        started_at,
        finished_at: Utc::now(),
        recon_version: env!("CARGO_PKG_VERSION"),
        config_path: cfg.path.display().to_string(),
        config_sha256: cfg.hash.clone(),
        time_zone: cfg.run.time_zone.clone(),
        inputs,
        accounting,
        stages,
        matching: matching_summary,
        incremental: incremental_reuse,
        golden: golden.summary.clone(),
        gates_failed: gates_broken.clone(),
        outputs: Vec::new(),
        status,
        exit_code: exit,
    };
    manifest.outputs = run.outputs().to_vec();
    manifest.outputs.sort_by(|a, b| a.path.cmp(&b.path));
    manifest.finished_at = Utc::now();
    run.write_json("manifest.json", &manifest)?;
    test_pause("manifest");
    let final_path = run.commit()?;
    tracing::info!(
        run_dir = %final_path.display(),
        rows_read = manifest.accounting.rows_read,
        rows_quarantined = manifest.accounting.rows_quarantined,
        duration_ms = t0.elapsed().as_millis() as u64,
        "run committed"
    );
    drop(out);
    Ok(RunOutcome {
        run_dir: final_path,
        exit_code: exit,
        summary,
    })
}

/// `recon check-config`: validates the config and that every source's files exist and
/// carry the mapped columns. Returns the number of files checked.
pub fn check_config(cfg: &Config) -> Result<usize> {
    let mut problems = Vec::new();
    let mut files = 0;
    for s in &cfg.sources {
        match cfg.source_files(s) {
            Ok(f) => files += f.len(),
            Err(e) => {
                problems.push(strip_config_prefix(&e));
                continue;
            }
        }
        if let Err(e) = extract::check_headers(cfg, s) {
            problems.push(strip_config_prefix(&e));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Error::Config {
            path: cfg.path.clone(),
            message: problems.join("\n"),
        })
    }
}

fn strip_config_prefix(e: &Error) -> String {
    match e {
        Error::Config { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
