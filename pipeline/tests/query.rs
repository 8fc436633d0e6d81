//! `recon query` over a run history built by the real binary.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::*;

/// A history of three demo runs, built once for the file's tests.
fn history() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let t = tmp();
        for d in ["2026-11-18", "2026-11-19", "2026-11-20"] {
            assert_code(&run(&demo_config(), t.path(), d), 0);
        }
        t
    })
    .path()
}

fn query(args: &[&str]) -> std::process::Output {
    recon()
        .arg("query")
        .arg("--output")
        .arg(history())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_join_across_runs_and_tables() {
    let o = query(&[
        "SELECT s.run_date, s.score, count(c._record_key) AS staged \
         FROM scorecard s JOIN staged_crm_accounts c ON c.run_date = s.run_date \
         WHERE s.source = 'crm_accounts' AND s.dimension = 'timeliness' \
         GROUP BY s.run_date, s.score ORDER BY s.run_date",
        "--format",
        "csv",
    ]);
    assert_code(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "run_date,score,staged");
    assert_eq!(
        &lines[1..],
        [
            "2026-11-18,93.75,32",
            "2026-11-19,93.75,32",
            "2026-11-20,93.75,32"
        ],
        "{out}"
    );
}

#[test]
fn golden_records_join_their_crosswalk_and_findings() {
    let o = query(&[
        "SELECT f.finding_type, f.kind, x.golden_id = f.golden_id AS same \
         FROM findings f JOIN crosswalk x ON x.run_date = f.run_date AND x.source = f.source AND x.record_key = f.record_key \
         WHERE f.run_date = DATE '2026-11-20' AND f.kind = 'wrong_reference'",
        "--format",
        "json",
    ]);
    assert_code(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["finding_type"], "id_mismatch");
    assert_eq!(v["same"], true);
}

#[test]
fn udfs_are_available() {
    let o = query(&[
        "SELECT DISTINCT normalize_company_name(name) AS n, jaro_winkler('martha', 'marhta') > 0.96 AS jw \
         FROM golden_customer WHERE name LIKE 'Acme%'",
    ]);
    assert_code(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("| acme | true |"), "{out}");
}

#[test]
fn parquet_output_reads_back() {
    let t = tmp();
    let file = t.path().join("scores.parquet");
    let o = recon()
        .arg("query")
        .arg("--output")
        .arg(history())
        .args([
            "SELECT run_date, source, dimension, score FROM scorecard WHERE dimension = 'overall' ORDER BY run_date, source",
            "--format",
            "parquet",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert!(stderr(&o).contains("wrote 12 rows"), "{}", stderr(&o));
    let rows = rows(&file);
    assert_eq!(rows.len(), 12, "3 runs × 4 sources");
    assert_eq!(rows[0]["run_date"], "2026-11-18");
    assert_eq!(rows[0]["dimension"], "overall");
}

#[test]
fn tables_are_listed_with_columns() {
    let o = query(&["--tables"]);
    assert_code(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    for t in [
        "scorecard",
        "findings",
        "golden_customer",
        "crosswalk",
        "staged_crm_accounts",
        "id_registry",
        "violations",
    ] {
        assert!(out.lines().any(|l| l == t), "{t} listed: {out}");
    }
    assert!(out.contains("  run_date"), "{out}");
}

#[test]
fn bad_queries_give_datafusion_messages_without_traces() {
    let o = query(&["SELECT no_such_column FROM scorecard"]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains("No field named no_such_column") && e.contains("scorecard.score"),
        "{e}"
    );
    assert!(!e.contains("backtrace") && !e.contains("panicked"), "{e}");
    let o = query(&["SELEC 1"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("SELEC"), "{}", stderr(&o));
    let o = query(&["COPY scorecard TO '/tmp/x.csv'"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("read-only"), "{}", stderr(&o));
    let o = query(&["SELECT 1", "--format", "parquet"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("--out"), "{}", stderr(&o));
}
