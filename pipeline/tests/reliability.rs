//! Reliability: runs killed at every stage and a full disk leave the previous run intact
//! and the next run recovers; the same inputs give byte-identical outputs whatever the
//! thread count; personal data stays out of logs, the manifest and error messages.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;

const AS_OF: &str = "2026-11-20";

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn wait_for_pause(child: &mut std::process::Child) {
    let err = child.stderr.take().unwrap();
    let mut reader = BufReader::new(err);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the run ended before pausing"
        );
        if line.contains("recon-test: paused after") {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
}

/// Outputs that must be identical between two runs of the same inputs: every file but
/// the documented run metadata (manifest.json, report.html: run id, clock times and
/// durations) and rule_results' duration_ms column.
fn comparable(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut f = files(dir);
    f.remove("manifest.json");
    f.remove("report.html");
    let rr = f.remove("rule_results.parquet").unwrap();
    let _ = rr;
    let mut rows = rows(&dir.join("rule_results.parquet"));
    for r in rows.iter_mut() {
        r.remove("duration_ms");
    }
    f.insert(
        "rule_results (without duration_ms)".into(),
        format!("{rows:?}").into_bytes(),
    );
    f
}

#[test]
fn same_inputs_give_identical_outputs_across_runs_and_thread_counts() {
    let a = tmp();
    let b = tmp();
    let c = tmp();
    assert_code(&run(&demo_config(), a.path(), AS_OF), 0);
    assert_code(&run(&demo_config(), b.path(), AS_OF), 0);
    let o = recon()
        .env("RAYON_NUM_THREADS", "1")
        .args(["run", "--config"])
        .arg(demo_config())
        .arg("--output")
        .arg(c.path())
        .args(["--as-of", AS_OF])
        .output()
        .unwrap();
    assert_code(&o, 0);
    let fa = comparable(&run_dir(a.path(), AS_OF));
    let fb = comparable(&run_dir(b.path(), AS_OF));
    let fc = comparable(&run_dir(c.path(), AS_OF));
    assert!(fa.len() >= 18, "{:?}", fa.keys());
    for (name, bytes) in &fa {
        assert!(
            fb.get(name) == Some(bytes),
            "{name} differs between two runs"
        );
        assert!(
            fc.get(name) == Some(bytes),
            "{name} differs with RAYON_NUM_THREADS=1"
        );
    }
    assert_eq!(fa.keys().collect::<Vec<_>>(), fc.keys().collect::<Vec<_>>());
}

#[test]
fn a_run_killed_at_any_stage_leaves_the_previous_run_and_the_rerun_matches() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let before = comparable(&run_dir(t.path(), AS_OF));
    let run_id = manifest(t.path(), AS_OF)["run_id"].clone();
    for stage in ["extract", "rules", "match", "golden", "score", "manifest"] {
        let mut child = recon()
            .args(["run", "--config"])
            .arg(demo_config())
            .arg("--output")
            .arg(t.path())
            .args(["--as-of", AS_OF])
            .env("RECON_TEST_PAUSE_AFTER", stage)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_pause(&mut child);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            manifest(t.path(), AS_OF)["run_id"],
            run_id,
            "killed after {stage}"
        );
        assert_eq!(
            comparable(&run_dir(t.path(), AS_OF)),
            before,
            "killed after {stage}: previous run intact"
        );
        let visible: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("run_date="))
            .collect();
        assert_eq!(
            visible,
            [format!("run_date={AS_OF}")],
            "no partial run visible after {stage}"
        );
    }
    // The lock is free again, the debris is cleaned, and the re-run equals the original.
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    assert_ne!(manifest(t.path(), AS_OF)["run_id"], run_id);
    assert_eq!(comparable(&run_dir(t.path(), AS_OF)), before);
    assert!(
        std::fs::read_dir(t.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp-")),
        "temporary directories removed"
    );
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_previous_run_survives() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let before = comparable(&run_dir(t.path(), AS_OF));
    for budget in ["0", "20000", "120000"] {
        let o = recon()
            .env("RECON_TEST_DISK_FULL_AFTER_BYTES", budget)
            .args(["run", "--config"])
            .arg(demo_config())
            .arg("--output")
            .arg(t.path())
            .args(["--as-of", AS_OF])
            .output()
            .unwrap();
        assert_code(&o, 1);
        let e = stderr(&o);
        assert!(
            e.contains("No space left on device"),
            "budget {budget}: {e}"
        );
        assert!(!e.contains("panicked"), "{e}");
        assert_eq!(
            comparable(&run_dir(t.path(), AS_OF)),
            before,
            "budget {budget}"
        );
    }
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
}

/// A demo copy whose names, emails and phones carry distinctive markers.
fn marked_demo(dir: &Path) -> (PathBuf, Vec<String>) {
    let cfg = config_in(
        dir,
        &demo_config_text().replace("mask_personal_data = false", "mask_personal_data = true"),
    );
    std::fs::copy(
        repo().join("fixtures/demo/decisions.csv"),
        dir.join("decisions.csv"),
    )
    .unwrap();
    let mut markers = Vec::new();
    for f in ["crm_accounts.csv", "billing_customers.csv"] {
        let p = dir.join(f);
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        let text = text
            .replace("Acme Corporation", "Zqxname Acme Corporation")
            .replace("Acme Corp", "Zqxname Acme Corp")
            .replace("ap@acme.example.com", "zqxmail@acme.example.com")
            .replace("217-555-0100", "217-555-0137")
            .replace("2175550100", "2175550137")
            .replace("100 Main Street", "100 Zqxstreet Street");
        std::fs::write(&p, text).unwrap();
    }
    markers.extend(
        ["Zqxname", "zqxmail", "5550137", "555-0137", "Zqxstreet"]
            .iter()
            .map(|s| s.to_string()),
    );
    (cfg, markers)
}

#[test]
fn personal_data_stays_out_of_logs_manifest_errors_and_the_masked_report() {
    let d = tmp();
    let (cfg, markers) = marked_demo(d.path());
    let out = d.path().join("out");
    let mut captured = String::new();
    for fmt in ["text", "json"] {
        let o = recon()
            .env("RUST_LOG", "recon=trace")
            .args(["--log-format", fmt, "-vv", "run", "--config"])
            .arg(&cfg)
            .arg("--output")
            .arg(&out)
            .args(["--as-of", AS_OF])
            .output()
            .unwrap();
        assert_code(&o, 0);
        captured.push_str(&stderr(&o));
        captured.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    // Error messages too: a rule that fails, a bad query naming a column.
    std::fs::write(
        d.path().join("rules/bad.sql"),
        "-- id: bad\n-- description: x\n-- dimension: validity\n-- severity: warn\n-- source: crm_accounts\nSELECT _source AS source, _record_key AS record_key, 'x' AS detail FROM crm_accounts WHERE CAST(name AS BIGINT) > 0\n",
    )
    .unwrap();
    let o = run(&cfg, &out, "2026-11-21");
    assert_code(&o, 4);
    assert!(
        stderr(&o).contains("rule bad could not run"),
        "{}",
        stderr(&o)
    );
    captured.push_str(&stderr(&o));
    let q = recon()
        .args(["query", "--output"])
        .arg(&out)
        .arg("SELECT nope FROM golden_customer WHERE name = 'x'")
        .output()
        .unwrap();
    captured.push_str(&stderr(&q));
    let manifest = std::fs::read_to_string(run_dir(&out, AS_OF).join("manifest.json")).unwrap();
    let report = std::fs::read_to_string(run_dir(&out, AS_OF).join("report.html")).unwrap();
    // The markers really are in the data (so the test can fail).
    let staged = String::from_utf8_lossy(
        &std::fs::read(run_dir(&out, AS_OF).join("staged/crm_accounts.parquet")).unwrap(),
    )
    .into_owned();
    assert!(
        staged.contains("Zqxname")
            || rows(&run_dir(&out, AS_OF).join("staged/crm_accounts.parquet"))
                .iter()
                .any(|r| r["name"].contains("Zqxname"))
    );
    assert!(captured.len() > 2000, "logs were captured");
    for m in &markers {
        assert!(
            !captured.contains(m.as_str()),
            "{m} leaked into logs or errors"
        );
        assert!(
            !manifest.contains(m.as_str()),
            "{m} leaked into the manifest"
        );
        assert!(
            !report.contains(m.as_str()),
            "{m} leaked into the masked report"
        );
    }
}
