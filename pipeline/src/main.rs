//! The `recon` binary: parse arguments, set up logging, call the library, map the
//! outcome to an exit code (see the README's table; codes never change meaning).

use std::process::ExitCode;

use clap::Parser;
use recon::cli::{Cli, Command};
use recon::progress::Progress;
use recon::{Config, Error, exit_code, logging, pipeline};

/// mimalloc instead of the system allocator: see the note in Cargo.toml and the scale
/// benchmark in benches/README.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's option setter (in the linked library; the Rust crate exposes it only
    /// with its `extended` feature).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (libmimalloc-sys names its
/// neighbours: `mi_option_eager_commit_delay` = 14, `mi_option_use_numa_nodes` = 16).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Keeps memory the run frees for the run to reuse instead of returning it to the
/// kernel after 10 ms (mimalloc's default). A batch run frees and re-allocates gigabytes
/// stage after stage; each page handed back is zeroed by the kernel again when touched,
/// which was ~20 s of a 2-minute 1M-customer run on a 2-core VM (page faults cost tens
/// of microseconds there). The peak resident memory stays that of the largest stage
/// plus what the allocator could not reuse (benches/README.md).
///
/// Only while the inputs are small next to the machine's memory (at most an eighth of
/// it; 1M customers are 1.7 GB of exports): for larger runs the memory a stage frees
/// goes back to the kernel as usual, so that the peak is the largest stage's own (10M
/// customers kept everything the matcher had freed and grew past 21 GB in the golden
/// stage on a 24 GB machine). `MIMALLOC_PURGE_DELAY` in the environment still wins.
fn keep_freed_memory(input_bytes: u64) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    let small = recon::util::physical_memory().is_none_or(|ram| input_bytes <= ram / 8);
    if small {
        // SAFETY: sets a process-wide option of the allocator, read at each purge.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

/// Bytes of the run's input files (as found now; a missing file is the run's error).
fn input_bytes(cfg: &Config) -> u64 {
    cfg.sources
        .iter()
        .filter_map(|s| cfg.source_files(s).ok())
        .flatten()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = Progress::new(cli.quiet);
    logging::init(cli.log_format, cli.verbose, cli.quiet, &progress);
    let code = match dispatch(cli, &progress) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            e.exit_code()
        }
    };
    ExitCode::from(code as u8)
}

fn dispatch(cli: Cli, progress: &Progress) -> Result<i32, Error> {
    match cli.command {
        Command::Run(args) => {
            let cfg = Config::load(&args.config.config)?;
            keep_freed_memory(input_bytes(&cfg));
            let opts = pipeline::RunOptions {
                as_of: args.as_of,
                output: args.output,
                model: args.model,
                incremental: args.incremental,
            };
            let outcome = pipeline::run(&cfg, &opts, progress)?;
            for line in &outcome.summary {
                eprintln!("recon: {line}");
            }
            Ok(outcome.exit_code)
        }
        Command::Evaluate(args) => {
            let cfg = Config::load(&args.config.config)?;
            let root = pipeline::resolve_output(&cfg, args.output.as_ref());
            let date = match args.run_date {
                Some(d) => d,
                None => *recon::output::list_run_dates(&root)?
                    .last()
                    .ok_or_else(|| {
                        Error::Usage(format!("no committed run under {}", root.display()))
                    })?,
            };
            let dir = root.join(recon::output::run_dir_name(date));
            let ev = recon::matching::evaluate::evaluate(&dir, &args.truth)?;
            println!(
                "run {} — {} records evaluated",
                ev.run_date, ev.records_evaluated
            );
            println!(
                "{:<14} {:>9} {:>9} {:>9} {:>12} {:>12} {:>12}",
                "pairs", "precision", "recall", "f1", "true_pos", "predicted", "true"
            );
            for (name, s) in [
                ("within-source", ev.within_source),
                ("cross-source", ev.cross_source),
                ("all", ev.all),
            ] {
                println!(
                    "{:<14} {:>9.4} {:>9.4} {:>9.4} {:>12} {:>12} {:>12}",
                    name,
                    s.precision,
                    s.recall,
                    s.f1,
                    s.true_positives,
                    s.predicted_pairs,
                    s.true_pairs
                );
            }
            eprintln!("recon: wrote {}", dir.join("evaluation.json").display());
            Ok(exit_code::SUCCESS)
        }
        Command::History(args) => {
            let cfg = Config::load(&args.config.config)?;
            let root = pipeline::resolve_output(&cfg, args.output.as_ref());
            print!(
                "{}",
                recon::scorecard::print_history(&root, args.source.as_deref(), args.last)?
            );
            Ok(exit_code::SUCCESS)
        }
        Command::Query(args) => {
            // --output alone is enough: no config needed to read outputs.
            let (root, memory) = match &args.output {
                Some(o) => (o.clone(), 2048),
                None => {
                    let cfg = Config::load(&args.config.config)?;
                    (
                        pipeline::resolve_output(&cfg, None),
                        cfg.run.memory_limit_mb,
                    )
                }
            };
            if args.tables {
                print!("{}", recon::query::list_tables(&root)?);
                return Ok(exit_code::SUCCESS);
            }
            let sql = args.sql.as_deref().unwrap_or_default();
            let rows = recon::query::run(&root, sql, args.format, args.out.as_ref(), memory)?;
            if let Some(o) = &args.out {
                eprintln!("recon: wrote {rows} rows to {}", o.display());
            }
            Ok(exit_code::SUCCESS)
        }
        Command::CheckConfig(args) => {
            let cfg = Config::load(&args.config)?;
            let files = pipeline::check_config(&cfg)?;
            eprintln!(
                "recon: {} is valid ({} sources, {files} input files)",
                args.config.display(),
                cfg.sources.len()
            );
            Ok(exit_code::SUCCESS)
        }
    }
}

/// Prints an error with its chain of causes, one per line.
fn report(e: &Error) {
    let mut msg = format!("recon: error: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(&format!("\n  caused by: {text}"));
        }
        src = s.source();
    }
    eprintln!("{msg}");
}
