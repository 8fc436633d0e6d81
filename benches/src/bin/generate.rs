//! Deterministic synthetic data for recon: CRM accounts, billing customers, invoice
//! lines and inventory items with known duplicates and defects.
//!
//! ```text
//! cargo run -p recon-benches --release --bin generate -- \
//!     --customers 1000000 --seed 1 --out benches/data/1m [--as-of 2026-11-20] \
//!     [--lines-per-customer 5] [--template fixtures/demo/recon.toml]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use recon_benches::{Options, generate};

const USAGE: &str = "usage: generate --customers N --seed S --out DIR [--as-of YYYY-MM-DD] [--lines-per-customer X] [--template PATH]

Writes crm_accounts.csv, billing_customers.csv, invoice_lines.ndjson,
inventory_items.parquet, truth.csv, defects.csv and recon.toml into DIR.
The output depends only on the arguments (byte-identical on every machine).

  --customers N            customer entities to generate (required)
  --seed S                 random seed (default 1)
  --out DIR                output directory (required; created if missing)
  --as-of DATE             the date the data is as of (default 2026-11-20)
  --lines-per-customer X   invoice lines per customer entity on average (default 5)
  --template PATH          recon.toml to derive the generated config from
                           (default fixtures/demo/recon.toml)";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut customers = None;
    let mut seed = 1u64;
    let mut out = None;
    let mut as_of = "2026-11-20".to_string();
    let mut lines = 5.0f64;
    let mut template = Options::default_template();
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?
            }
        };
        let bad = |what: &str| format!("{flag}: expected {what}, got {value:?}");
        match flag.as_str() {
            "--customers" => {
                customers = Some(
                    value
                        .replace('_', "")
                        .parse::<u64>()
                        .map_err(|_| bad("a positive integer"))?,
                )
            }
            "--seed" => seed = value.parse().map_err(|_| bad("an unsigned integer"))?,
            "--out" => out = Some(PathBuf::from(&value)),
            "--as-of" => as_of = value.clone(),
            "--lines-per-customer" => lines = value.parse().map_err(|_| bad("a number"))?,
            "--template" => template = PathBuf::from(&value),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
        i += 1;
    }
    Ok(Options {
        customers: customers.ok_or("--customers is required")?,
        seed,
        out: out.ok_or("--out is required")?,
        as_of,
        lines_per_customer: lines,
        template,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&opts) {
        Ok(summary) => {
            eprintln!("wrote {}\n{summary}", opts.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
