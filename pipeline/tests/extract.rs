//! The extract stage and the run directory, through the real binary on the demo
//! fixtures: quarantine contents, row accounting, compression, encodings, the lock and
//! crash safety.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use common::*;

const AS_OF: &str = "2026-11-20";

/// Every malformed row planted in fixtures/demo (see fixtures/demo/README.md):
/// (source, line or row, reason, column).
const PLANTED: &[(&str, i64, &str, &str)] = &[
    ("crm_accounts", 34, "wrong_field_count", ""),
    ("crm_accounts", 35, "unbalanced_quote", ""),
    ("crm_accounts", 36, "type_mismatch", "created_date"),
    ("crm_accounts", 37, "missing_required", "name"),
    ("crm_accounts", 38, "invalid_encoding", "name"),
    ("crm_accounts", 39, "missing_key", "account_id"),
    ("billing_customers", 31, "type_mismatch", "created_at"),
    ("billing_customers", 32, "wrong_field_count", ""),
    ("billing_customers", 33, "missing_key", "customer_id"),
    ("invoice_lines", 70, "invalid_json", ""),
    ("invoice_lines", 71, "not_an_object", ""),
    ("invoice_lines", 72, "type_mismatch", "quantity"),
    ("invoice_lines", 73, "nested_value", "sku"),
    ("invoice_lines", 74, "missing_key", "line_id"),
    ("invoice_lines", 75, "invalid_encoding", ""),
    ("inventory_items", 18, "missing_required", "name"),
    ("inventory_items", 19, "type_mismatch", "unit_price"),
    ("inventory_items", 20, "missing_key", "sku"),
];

#[test]
fn demo_run_quarantines_every_planted_row_and_nothing_else() {
    let t = tmp();
    let o = run(&demo_config(), t.path(), AS_OF);
    assert_code(&o, 0);
    let dir = run_dir(t.path(), AS_OF);
    let q = rows(&dir.join("quarantine.parquet"));
    let got: Vec<(String, i64, String, String)> = q
        .iter()
        .map(|r| {
            (
                r["source"].clone(),
                r["line"].parse().unwrap(),
                r["reason"].clone(),
                r["column"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, i64, String, String)> = PLANTED
        .iter()
        .map(|(s, l, r, c)| (s.to_string(), *l, r.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    for r in &q {
        assert_eq!(r["run_date"], AS_OF);
        assert!(!r["message"].is_empty() && !r["raw"].is_empty(), "{r:?}");
    }
    // The row after a stray quote is read normally (recovery), as is the last row.
    let keys = strings(&dir.join("staged/crm_accounts.parquet"), "_record_key");
    assert!(!keys.contains(&"0015g00000BdDt3AAF".to_string()));
    assert!(
        keys.iter().any(|k| k.starts_with("0015g00000LaSt6")),
        "{keys:?}"
    );
}

#[test]
fn row_accounting_holds_for_every_file_and_matches_the_outputs() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let dir = run_dir(t.path(), AS_OF);
    let m = manifest(t.path(), AS_OF);
    let q = rows(&dir.join("quarantine.parquet"));
    assert!(m["accounting"]["balanced"].as_bool().unwrap());
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 4);
    for i in inputs {
        let read = i["rows_read"].as_u64().unwrap();
        let acc = i["rows_accepted"].as_u64().unwrap();
        let qua = i["rows_quarantined"].as_u64().unwrap();
        assert_eq!(read, acc + qua, "{i}");
        let source = i["source"].as_str().unwrap();
        let staged = count(&dir.join(format!("staged/{source}.parquet")));
        assert_eq!(staged as u64, acc, "{source}");
        let in_q = q.iter().filter(|r| r["source"] == source).count();
        assert_eq!(in_q as u64, qua, "{source}");
        assert_eq!(i["sha256"].as_str().unwrap().len(), 64);
    }
    // Physical rows in the fixtures: data lines minus the header and the blank line.
    let crm = inputs
        .iter()
        .find(|i| i["source"] == "crm_accounts")
        .unwrap();
    assert_eq!(
        crm["rows_read"], 38,
        "the CRM file has 39 records, one spanning two lines"
    );
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"quarantine.parquet"));
    assert!(outputs.contains(&"staged/crm_accounts.parquet"));
    assert_eq!(m["status"], "success");
    assert_eq!(m["exit_code"], 0);
}

#[test]
fn staged_values_are_typed_and_decoded() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let dir = run_dir(t.path(), AS_OF);
    let crm = rows(&dir.join("staged/crm_accounts.parquet"));
    let pied = crm.iter().find(|r| r["name"] == "Pied Piper Inc").unwrap();
    assert_eq!(
        pied["street"], "5230 Newell Road\nSuite 3",
        "quoted newline kept"
    );
    assert_eq!(pied["_line"], "21");
    assert_eq!(pied["created_date"], "2019-04-04");
    // 10/25/2026 10:25 AM in America/Chicago (CDT, UTC-5).
    assert_eq!(pied["last_modified"], "2026-10-25T15:25:00Z");
    let dunder = crm
        .iter()
        .find(|r| r["account_id"].starts_with("0015g00000DuMiM"))
        .unwrap();
    assert_eq!(
        dunder["name"], "Dunder Mifflin Paper Company, Inc.",
        "quoted comma"
    );
    assert!(crm.iter().any(|r| r["name"] == "Café Müller GmbH"));
    let inv = rows(&dir.join("staged/inventory_items.parquet"));
    let w = inv.iter().find(|r| r["sku"] == "WID-1001").unwrap();
    assert_eq!(w["unit_price"], "19.99");
    assert_eq!(w["stock_qty"], "120");
    let lines = rows(&dir.join("staged/invoice_lines.parquet"));
    assert_eq!(lines.len(), 70);
    assert!(
        lines
            .iter()
            .all(|r| r["_source"] == "invoice_lines" && !r["_record_key"].is_empty())
    );
}

#[test]
fn compressed_inputs_give_the_same_rows() {
    let t = tmp();
    let src = tmp();
    let text = demo_config_text()
        .replace(
            "path = \"crm_accounts.csv\"",
            "path = \"crm_accounts.csv.gz\"",
        )
        .replace(
            "path = \"invoice_lines.ndjson\"",
            "path = \"invoice_lines.ndjson.zst\"",
        );
    let cfg = config_in(src.path(), &text);
    let crm = std::fs::read(src.path().join("crm_accounts.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&crm).unwrap();
    std::fs::write(src.path().join("crm_accounts.csv.gz"), gz.finish().unwrap()).unwrap();
    let lines = std::fs::read(src.path().join("invoice_lines.ndjson")).unwrap();
    std::fs::write(
        src.path().join("invoice_lines.ndjson.zst"),
        zstd::encode_all(&lines[..], 3).unwrap(),
    )
    .unwrap();
    assert_code(&run(&cfg, t.path(), AS_OF), 0);
    let plain = tmp();
    assert_code(&run(&demo_config(), plain.path(), AS_OF), 0);
    for s in ["crm_accounts", "invoice_lines"] {
        let a = rows(&run_dir(t.path(), AS_OF).join(format!("staged/{s}.parquet")));
        let b = rows(&run_dir(plain.path(), AS_OF).join(format!("staged/{s}.parquet")));
        let strip = |v: Vec<std::collections::BTreeMap<String, String>>| {
            v.into_iter()
                .map(|mut r| {
                    r.remove("_file");
                    r
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(a), strip(b), "{s}");
    }
    let m = manifest(t.path(), AS_OF);
    let comp: Vec<&str> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["compression"].as_str().unwrap())
        .collect();
    assert_eq!(comp, ["gzip", "none", "zstd", "none"]);
}

#[test]
fn file_named_gz_that_is_not_gzip_is_a_clear_error() {
    let src = tmp();
    let text = demo_config_text().replace(
        "path = \"crm_accounts.csv\"",
        "path = \"crm_accounts.csv.gz\"",
    );
    let cfg = config_in(src.path(), &text);
    std::fs::copy(
        src.path().join("crm_accounts.csv"),
        src.path().join("crm_accounts.csv.gz"),
    )
    .unwrap();
    let t = tmp();
    let o = run(&cfg, t.path(), AS_OF);
    assert_code(&o, 1);
    let e = stderr(&o);
    assert!(
        e.contains("crm_accounts.csv.gz") && e.contains("not gzip"),
        "{e}"
    );
    assert!(
        !run_dir(t.path(), AS_OF).exists(),
        "no partial run is visible"
    );
}

#[test]
fn truncated_gzip_fails_the_run_naming_the_file() {
    let src = tmp();
    let text = demo_config_text().replace(
        "path = \"crm_accounts.csv\"",
        "path = \"crm_accounts.csv.gz\"",
    );
    let cfg = config_in(src.path(), &text);
    let crm = std::fs::read(src.path().join("crm_accounts.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&crm).unwrap();
    let full = gz.finish().unwrap();
    std::fs::write(
        src.path().join("crm_accounts.csv.gz"),
        &full[..full.len() / 2],
    )
    .unwrap();
    let t = tmp();
    let o = run(&cfg, t.path(), AS_OF);
    assert_code(&o, 1);
    let e = stderr(&o);
    assert!(
        e.contains("crm_accounts.csv.gz") && e.contains("near line"),
        "{e}"
    );
}

/// A small CSV source config around one file.
fn one_source(
    dir: &std::path::Path,
    file: &str,
    bytes: &[u8],
    encoding: &str,
) -> std::path::PathBuf {
    std::fs::write(dir.join(file), bytes).unwrap();
    let cfg = format!(
        r#"
[run]
output = "out"

[[source]]
name = "people"
system = "crm"
entity = "customer"
path = "{file}"
key = "id"
[source.csv]
encoding = "{encoding}"
[source.columns]
id = {{ from = "id", required = true }}
name = {{ from = "name" }}
"#
    );
    let p = dir.join("recon.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

#[test]
fn windows_1252_input_decodes_correctly() {
    let d = tmp();
    // é = 0xE9, € = 0x80, ’ = 0x92, Ü = 0xDC in windows-1252.
    let cfg = one_source(
        d.path(),
        "p.csv",
        b"id,name\r\n1,Caf\xe9 \x80 \x92s\r\n2,M\xdcller\r\n",
        "windows-1252",
    );
    let out = d.path().join("o");
    assert_code(&run(&cfg, &out, AS_OF), 0);
    let names = strings(&run_dir(&out, AS_OF).join("staged/people.parquet"), "name");
    assert_eq!(names, ["Café € ’s", "MÜller"]);
}

#[test]
fn latin_1_input_decodes_correctly() {
    let d = tmp();
    let cfg = one_source(d.path(), "p.csv", b"id,name\n1,Gr\xfc\xdfe\n", "latin-1");
    let out = d.path().join("o");
    assert_code(&run(&cfg, &out, AS_OF), 0);
    assert_eq!(
        strings(&run_dir(&out, AS_OF).join("staged/people.parquet"), "name"),
        ["Grüße"]
    );
}

#[test]
fn utf16_input_decodes_when_declared_and_is_refused_otherwise() {
    let d = tmp();
    let text = "id,name\r\n1,Zoë\r\n2,Łukasz\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let cfg = one_source(d.path(), "p.csv", &bytes, "utf-16");
    let out = d.path().join("o");
    assert_code(&run(&cfg, &out, AS_OF), 0);
    assert_eq!(
        strings(&run_dir(&out, AS_OF).join("staged/people.parquet"), "name"),
        ["Zoë", "Łukasz"]
    );
    let cfg = one_source(d.path(), "p.csv", &bytes, "utf-8");
    let o = run(&cfg, &out, AS_OF);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("UTF-16 byte-order mark"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn invalid_utf8_is_quarantined_not_lost() {
    let d = tmp();
    let cfg = one_source(
        d.path(),
        "p.csv",
        b"id,name\n1,ok\n2,bad \xff\xfe byte\n3,fine\n",
        "utf-8",
    );
    let out = d.path().join("o");
    assert_code(&run(&cfg, &out, AS_OF), 0);
    let dir = run_dir(&out, AS_OF);
    assert_eq!(
        strings(&dir.join("staged/people.parquet"), "id"),
        ["1", "3"]
    );
    let q = rows(&dir.join("quarantine.parquet"));
    assert_eq!(q.len(), 1);
    assert_eq!(q[0]["reason"], "invalid_encoding");
    assert_eq!(q[0]["line"], "3");
    assert_eq!(q[0]["column"], "name");
    assert!(q[0]["raw"].starts_with("2,bad "), "{:?}", q[0]["raw"]);
}

#[test]
fn a_second_concurrent_run_is_refused() {
    let t = tmp();
    let mut first = recon()
        .args(["run", "--config"])
        .arg(demo_config())
        .arg("--output")
        .arg(t.path())
        .args(["--as-of", AS_OF])
        .env("RECON_TEST_PAUSE_AFTER", "extract")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_pause(&mut first);
    let second = run(&demo_config(), t.path(), "2026-11-21");
    first.kill().unwrap();
    first.wait().unwrap();
    assert_code(&second, 5);
    let e = stderr(&second);
    assert!(
        e.contains("another recon run") && e.contains(".recon.lock"),
        "{e}"
    );
    // Once the holder is gone (killed), the lock is free again.
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
}

fn wait_for_pause(child: &mut std::process::Child) {
    let err = child.stderr.take().unwrap();
    let mut reader = BufReader::new(err);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "the run ended before pausing");
        if line.contains("recon-test: paused after") {
            break;
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
}

#[test]
fn a_killed_run_leaves_the_previous_run_intact() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let before = manifest(t.path(), AS_OF);
    let staged_before = rows(&run_dir(t.path(), AS_OF).join("staged/crm_accounts.parquet"));
    for stage in ["extract", "manifest"] {
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
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The committed run is untouched and readable; the partial one is not visible.
        assert_eq!(
            manifest(t.path(), AS_OF)["run_id"],
            before["run_id"],
            "after kill at {stage}"
        );
        assert_eq!(
            rows(&run_dir(t.path(), AS_OF).join("staged/crm_accounts.parquet")),
            staged_before
        );
        let visible: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("run_date="))
            .collect();
        assert_eq!(visible, [format!("run_date={AS_OF}")]);
    }
    // The next run recovers the lock, cleans up and replaces the run.
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let after = manifest(t.path(), AS_OF);
    assert_ne!(after["run_id"], before["run_id"]);
    let leftovers: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-") || n.starts_with(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(
        rows(&run_dir(t.path(), AS_OF).join("staged/crm_accounts.parquet")),
        staged_before
    );
}

#[test]
fn rerunning_a_date_replaces_it_and_keeps_other_dates() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), "2026-11-19"), 0);
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let mut dates: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    dates.sort();
    assert_eq!(dates, ["run_date=2026-11-19", "run_date=2026-11-20"]);
}

#[cfg(unix)]
#[test]
fn outputs_are_not_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    // Every file of the run at most 0640, every directory at most 0750.
    let mut stack = vec![run_dir(t.path(), AS_OF)];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o750, 0, "{} has mode {mode:o}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode & !0o640, 0, "{} has mode {mode:o}", p.display());
                files += 1;
            }
        }
    }
    assert!(files > 10, "{files} files checked");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let t = tmp();
    let o = recon()
        .args(["--log-format", "json", "run", "--config"])
        .arg(demo_config())
        .arg("--output")
        .arg(t.path())
        .args(["--as-of", AS_OF])
        .output()
        .unwrap();
    assert_code(&o, 0);
    let e = stderr(&o);
    let mut files = 0;
    for line in e.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if v["message"] == "extracted file" {
            files += 1;
            assert!(v["rows_read"].is_u64());
        }
    }
    assert_eq!(files, 4);
}
