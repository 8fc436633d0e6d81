//! Helpers for integration tests: run the real `recon` binary on real files and read its
//! Parquet outputs back with the `parquet` crate's reader.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn demo_config() -> PathBuf {
    repo().join("fixtures/demo/recon.toml")
}

/// A command for the `recon` binary with a quiet, deterministic environment.
pub fn recon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_recon"));
    c.env_remove("RUST_LOG")
        .env_remove("RECON_TEST_PAUSE_AFTER")
        .env_remove("RECON_CONFIG");
    c
}

/// Runs `recon run` on a config into `out` for `as_of`.
pub fn run(config: &Path, out: &Path, as_of: &str) -> Output {
    recon()
        .args(["run", "--config"])
        .arg(config)
        .args(["--output"])
        .arg(out)
        .args(["--as-of", as_of])
        .output()
        .expect("recon runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, printing stderr on failure.
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit code {code}; stderr:\n{}",
        stderr(o)
    );
}

/// Reads a Parquet file with the parquet crate's reader.
pub fn read(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A Parquet file as rows of column name → displayed value ("" for null).
pub fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    for b in read(path) {
        let opts = FormatOptions::default();
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            let mut m = BTreeMap::new();
            for (i, f) in b.schema().fields().iter().enumerate() {
                let v = if b.column(i).is_null(r) {
                    String::new()
                } else {
                    fmts[i].value(r).to_string()
                };
                m.insert(f.name().clone(), v);
            }
            out.push(m);
        }
    }
    out
}

/// Number of rows in a Parquet file.
pub fn count(path: &Path) -> usize {
    read(path).iter().map(|b| b.num_rows()).sum()
}

/// The values of a string column.
pub fn strings(path: &Path, col: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in read(path) {
        let a = b
            .column_by_name(col)
            .unwrap_or_else(|| panic!("no column {col}"));
        let a = datafusion::arrow::compute::cast(a, &DataType::Utf8).unwrap();
        let s = a.as_string::<i32>();
        for i in 0..s.len() {
            out.push(if s.is_null(i) {
                String::new()
            } else {
                s.value(i).to_string()
            });
        }
    }
    out
}

/// The values of an Int64 column.
pub fn ints(path: &Path, col: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in read(path) {
        let a = b.column_by_name(col).unwrap();
        out.extend(
            a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.unwrap_or(-1)),
        );
    }
    out
}

/// The run directory of a date.
pub fn run_dir(out: &Path, as_of: &str) -> PathBuf {
    out.join(format!("run_date={as_of}"))
}

pub fn manifest(out: &Path, as_of: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(run_dir(out, as_of).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every file under `dir` (recursively), as paths.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A scratch directory removed at the end of the test.
pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("recon-test")
        .tempdir()
        .unwrap()
}

/// Writes `text` as a config next to copies of the demo fixtures, returning its path.
pub fn config_in(dir: &Path, text: &str) -> PathBuf {
    for f in [
        "crm_accounts.csv",
        "billing_customers.csv",
        "invoice_lines.ndjson",
        "inventory_items.parquet",
    ] {
        std::fs::copy(repo().join("fixtures/demo").join(f), dir.join(f)).unwrap();
    }
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    for e in std::fs::read_dir(repo().join("fixtures/demo/rules")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("rules").join(e.file_name())).unwrap();
    }
    let p = dir.join("recon.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The demo config text.
pub fn demo_config_text() -> String {
    std::fs::read_to_string(demo_config()).unwrap()
}
