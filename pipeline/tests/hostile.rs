//! The hostile-inputs corpus (fixtures/hostile): each file gets a clear message, the
//! expected quarantine or error, bounded memory and no panic.

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;

const AS_OF: &str = "2026-11-20";

struct Case {
    dir: tempfile::TempDir,
    cfg: PathBuf,
}

/// A one-source config around `file` (copied from fixtures/hostile unless `bytes`).
fn case(file: &str, bytes: Option<&[u8]>, extra: &str) -> Case {
    let dir = tmp();
    match bytes {
        Some(b) => std::fs::write(dir.path().join(file), b).unwrap(),
        None => {
            std::fs::copy(
                repo().join("fixtures/hostile").join(file),
                dir.path().join(file),
            )
            .unwrap();
        }
    }
    let json = file.contains(".ndjson");
    let columns = if json {
        "id = { required = true }\nname = {}\n".to_string()
    } else if extra.contains("header = false") {
        "id = { index = 1, required = true }\nname = { index = 2 }\namount = { index = 3, type = \"decimal(12,2)\" }\nday = { index = 4, type = \"date\" }\n".to_string()
    } else {
        "id = { required = true }\nname = {}\namount = { type = \"decimal(12,2)\" }\nday = { type = \"date\" }\n".to_string()
    };
    let text = format!(
        "[run]\noutput = \"out\"\n\n[[source]]\nname = \"hostile\"\nsystem = \"other\"\nentity = \"thing\"\npath = \"{file}\"\nkey = \"id\"\n{extra}\n[source.columns]\n{columns}"
    );
    let cfg = dir.path().join("recon.toml");
    std::fs::write(&cfg, text).unwrap();
    Case { dir, cfg }
}

impl Case {
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    fn run(&self) -> Output {
        let o = run(&self.cfg, &self.out(), AS_OF);
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        o
    }
    fn staged(&self) -> Vec<std::collections::BTreeMap<String, String>> {
        rows(&run_dir(&self.out(), AS_OF).join("staged/hostile.parquet"))
    }
    fn quarantine(&self) -> Vec<(String, String)> {
        rows(&run_dir(&self.out(), AS_OF).join("quarantine.parquet"))
            .into_iter()
            .map(|r| (r["line"].clone(), r["reason"].clone()))
            .collect()
    }
}

#[test]
fn empty_file_is_an_error_naming_it() {
    let c = case("empty.csv", None, "");
    let o = c.run();
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("empty.csv") && stderr(&o).contains("expected a header line"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn header_only_gives_zero_rows() {
    let c = case("header_only.csv", None, "");
    let o = c.run();
    assert_code(&o, 0);
    assert!(stderr(&o).contains("the file has no data rows"));
    assert!(c.staged().is_empty());
}

#[test]
fn no_header_maps_by_position() {
    let c = case("no_header.csv", None, "[source.csv]\nheader = false\n");
    assert_code(&c.run(), 0);
    let s = c.staged();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1]["name"], "Bob");
    assert_eq!(s[1]["amount"], "2.00");
}

#[test]
fn nul_bytes_are_quarantined() {
    let c = case("nul_bytes.csv", None, "");
    assert_code(&c.run(), 0);
    assert_eq!(
        c.quarantine(),
        [("2".to_string(), "invalid_encoding".to_string())]
    );
    assert_eq!(c.staged().len(), 1);
}

#[test]
fn mixed_line_endings_keep_line_numbers() {
    let c = case("mixed_line_endings.csv", None, "");
    assert_code(&c.run(), 0);
    let lines: Vec<String> = c.staged().iter().map(|r| r["_line"].clone()).collect();
    assert_eq!(lines, ["2", "3", "4", "5"]);
    assert!(c.quarantine().is_empty());
}

#[test]
fn byte_order_marks_in_the_middle_are_stripped() {
    let c = case("bom_in_the_middle.csv", None, "");
    assert_code(&c.run(), 0);
    let s = c.staged();
    let keys: Vec<&str> = s.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(keys, ["1", "2", "3"]);
    assert_eq!(s[2]["name"], "Cy");
}

#[test]
fn utf16_declared_as_utf8_is_a_clear_error() {
    let c = case("utf16le.csv", None, "");
    let o = c.run();
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("UTF-16 byte-order mark")
            && stderr(&o).contains("encoding = \"utf-16\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn duplicate_mapped_column_names_are_a_config_error() {
    let c = case("duplicate_columns.csv", None, "");
    let o = c.run();
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("\"name\" appears 2 times") && stderr(&o).contains("positions 2, 3"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn numbers_out_of_range() {
    let c = case("out_of_range.csv", None, "");
    assert_code(&c.run(), 0);
    assert_eq!(
        c.quarantine(),
        [("2".to_string(), "type_mismatch".to_string())]
    );
    let q = rows(&run_dir(&c.out(), AS_OF).join("quarantine.parquet"));
    assert!(
        q[0]["message"].contains("out of range for decimal(12,2)"),
        "{}",
        q[0]["message"]
    );
    assert!(
        c.staged().iter().any(|r| r["id"] == "99999999999999999999"),
        "keys are text"
    );
}

#[test]
fn extreme_dates() {
    let c = case("extreme_dates.csv", None, "");
    assert_code(&c.run(), 0);
    let days: Vec<String> = c.staged().iter().map(|r| r["day"].clone()).collect();
    assert_eq!(days.len(), 2);
    assert!(
        days[0].starts_with("0000-01-01") && days[1] == "9999-12-31",
        "{days:?}"
    );
    assert_eq!(
        c.quarantine(),
        [
            ("4".into(), "type_mismatch".into()),
            ("5".into(), "type_mismatch".into())
        ]
    );
}

#[test]
fn every_field_empty() {
    let c = case("all_empty.csv", None, "");
    assert_code(&c.run(), 0);
    assert_eq!(
        c.quarantine(),
        [
            ("2".into(), "missing_key".into()),
            ("3".into(), "missing_key".into())
        ]
    );
    assert_eq!(c.staged().len(), 1);
}

#[test]
fn gzip_that_is_not_gzip_or_truncated() {
    let c = case("not_gzip.csv.gz", None, "");
    let o = c.run();
    assert_code(&o, 1);
    assert!(stderr(&o).contains("not gzip"), "{}", stderr(&o));
    let c = case("truncated.csv.gz", None, "");
    let o = c.run();
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("truncated.csv.gz") && stderr(&o).contains("reading stopped near line"),
        "{}",
        stderr(&o)
    );
    assert!(
        !run_dir(&c.out(), AS_OF).exists(),
        "nothing committed from a truncated file"
    );
}

#[test]
fn deeply_nested_json() {
    let c = case("deep_nesting.ndjson", None, "");
    assert_code(&c.run(), 0);
    // Nesting in a key that is not mapped is skipped without building it; a nested
    // object where a single value is mapped is quarantined.
    assert_eq!(
        c.quarantine(),
        [("3".to_string(), "nested_value".to_string())]
    );
    assert_eq!(c.staged().len(), 2);
}

/// Runs recon and samples its resident memory; returns (output, peak RSS in MiB).
fn run_measured(c: &Case) -> (Output, u64) {
    let mut child = recon()
        .args(["run", "--config"])
        .arg(&c.cfg)
        .arg("--output")
        .arg(c.out())
        .args(["--as-of", AS_OF])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb: u64 = l
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kb / 1024);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), peak)
}

#[test]
fn a_100_mb_single_line_is_quarantined_in_bounded_memory() {
    let mut big = b"id,name,amount,day\n1,Ann,1.50,2024-01-02\n2,".to_vec();
    big.extend(std::iter::repeat_n(b'x', 100 * 1024 * 1024));
    big.extend(b",2.00,2024-01-03\n3,Cy,3.00,2024-01-04\n");
    let c = case("one_line.csv", Some(&big), "");
    drop(big);
    let (o, peak) = run_measured(&c);
    assert_code(&o, 0);
    assert_eq!(
        c.quarantine(),
        [("3".to_string(), "record_too_large".to_string())]
    );
    assert_eq!(c.staged().len(), 2);
    let q = rows(&run_dir(&c.out(), AS_OF).join("quarantine.parquet"));
    assert_eq!(q[0]["raw_truncated"], "true");
    assert!(q[0]["raw_bytes"].parse::<u64>().unwrap() > 100 * 1024 * 1024);
    assert!(
        peak < 400,
        "peak resident memory {peak} MiB for a 100 MB line"
    );
}

#[test]
fn a_million_columns() {
    let mut header = String::from("id,name,amount,day");
    let mut row = String::from("1,Ann,1.50,2024-01-02");
    for i in 0..1_000_000 {
        header.push_str(&format!(",c{i}"));
        row.push_str(",0");
    }
    let text = format!("{header}\n{row}\n");
    let c = case("wide.csv", Some(text.as_bytes()), "");
    let (o, peak) = run_measured(&c);
    assert_code(&o, 0);
    assert_eq!(c.staged().len(), 1);
    assert!(peak < 600, "peak resident memory {peak} MiB");
    // With a record limit below the header's 7.9 MB the file is refused clearly.
    let c = case(
        "wide.csv",
        Some(text.as_bytes()),
        "max_record_bytes = 4194304\n",
    );
    let o = c.run();
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("header on line 1 is longer than max_record_bytes"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_huge_json_value_is_quarantined() {
    let mut b = b"{\"id\": \"1\", \"name\": \"".to_vec();
    b.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    b.extend(b"\"}\n{\"id\": \"2\", \"name\": \"Bob\"}\n");
    let c = case(
        "huge_value.ndjson",
        Some(&b),
        "max_record_bytes = 1048576\n",
    );
    assert_code(&c.run(), 0);
    assert_eq!(
        c.quarantine(),
        [("1".to_string(), "record_too_large".to_string())]
    );
    assert_eq!(c.staged().len(), 1);
}
