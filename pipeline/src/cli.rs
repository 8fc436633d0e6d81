//! Command-line types (clap derive). Parsing only; validation lives in the library.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

/// recon reconciles the customer and product master data of several systems: it
/// extracts their exports, checks data-quality rules, matches records, builds golden
/// records and scorecards, and writes everything as Parquet.
#[derive(Debug, Parser)]
#[command(name = "recon", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr: `text` for people, `json` (one object per line) for cron
    /// and log shippers.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "RECON_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    /// Only warnings and errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// More detail in the logs (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline and commit a run directory `<output>/run_date=YYYY-MM-DD/`.
    Run(RunArgs),
    /// Validate the configuration and the inputs' headers without running.
    CheckConfig(ConfigArg),
    /// Pairwise precision, recall and F1 of a run's clusters against ground truth.
    Evaluate(EvaluateArgs),
    /// Print the trend of the quality scores over the committed runs.
    History(HistoryArgs),
    /// Query the outputs of every run with SQL (tables: recon query --tables).
    Query(QueryArgs),
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A read-only SQL query, e.g. "SELECT run_date, source, score FROM scorecard".
    #[arg(required_unless_present = "tables")]
    pub sql: Option<String>,

    /// List the tables and their columns.
    #[arg(long)]
    pub tables: bool,

    #[command(flatten)]
    pub config: ConfigArg,

    /// Output directory (default: `[run].output` of the config).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Result format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::query::QueryFormat,

    /// Write the result to this file instead of stdout (required for parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub config: ConfigArg,

    /// Output directory (overrides `[run].output`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Only this source.
    #[arg(long)]
    pub source: Option<String>,

    /// The last N runs.
    #[arg(long, default_value_t = 10)]
    pub last: usize,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Ground truth: CSV with columns source, record_key, entity_id.
    #[arg(long)]
    pub truth: PathBuf,

    #[command(flatten)]
    pub config: ConfigArg,

    /// Output directory (overrides `[run].output`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// The run to evaluate (default: the latest run).
    #[arg(long, value_parser = parse_date)]
    pub run_date: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Path of recon.toml.
    #[arg(short, long, default_value = "recon.toml", env = "RECON_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,

    /// The date the run is as of (YYYY-MM-DD); names the run directory. Defaults to
    /// `[run].as_of`, else today in `[run].time_zone`. Re-running a date replaces it.
    #[arg(long, value_parser = parse_date)]
    pub as_of: Option<NaiveDate>,

    /// Output directory (overrides `[run].output`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Score with this model.json (from an earlier run) instead of training a model.
    #[arg(long)]
    pub model: Option<PathBuf>,

    /// Nightly mode: reuse the previous run's staged rows of unchanged sources, the
    /// violations of rules over them, its model (unless --model is given) and its
    /// comparison cache, comparing only pairs that touch a new or changed record. Gives
    /// the same outputs as a full run with that model. Writes the caches for the next
    /// night; with no earlier run it does everything in full. Retrain now and then with a
    /// run without this flag.
    #[arg(long)]
    pub incremental: bool,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expected a date as YYYY-MM-DD, got {s:?}"))
}
