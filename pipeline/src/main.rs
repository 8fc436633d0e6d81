//! The `recon` binary: parse arguments, set up logging, call the library, map the
//! outcome to an exit code (see the README's table; codes never change meaning).

use std::process::ExitCode;

use clap::Parser;
use recon::cli::{Cli, Command};
use recon::progress::Progress;
use recon::{Config, Error, exit_code, logging, pipeline};

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
            let opts = pipeline::RunOptions {
                as_of: args.as_of,
                output: args.output,
            };
            let outcome = pipeline::run(&cfg, &opts, progress)?;
            for line in &outcome.summary {
                eprintln!("recon: {line}");
            }
            Ok(outcome.exit_code)
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
