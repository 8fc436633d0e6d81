//! Crate-level tests: determinism and the shape of the generated files.

use std::path::{Path, PathBuf};

use crate::{Options, generate};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("recon-gen-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts(out: &Path, customers: u64, seed: u64) -> Options {
    Options {
        customers,
        seed,
        out: out.to_path_buf(),
        as_of: "2026-11-20".into(),
        lines_per_customer: 5.0,
        template: Options::default_template(),
    }
}

const FILES: &[&str] = &[
    "crm_accounts.csv",
    "billing_customers.csv",
    "invoice_lines.ndjson",
    "inventory_items.parquet",
    "truth.csv",
    "defects.csv",
    "recon.toml",
];

#[test]
fn generation_is_deterministic() {
    let a = temp_dir("det-a");
    let b = temp_dir("det-b");
    let c = temp_dir("det-c");
    generate(&opts(&a, 400, 7)).unwrap();
    generate(&opts(&b, 400, 7)).unwrap();
    generate(&opts(&c, 400, 8)).unwrap();
    for f in FILES {
        let x = std::fs::read(a.join(f)).unwrap();
        let y = std::fs::read(b.join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between two runs with the same arguments"
        );
    }
    let x = std::fs::read(a.join("crm_accounts.csv")).unwrap();
    let z = std::fs::read(c.join("crm_accounts.csv")).unwrap();
    assert_ne!(x, z, "another seed gives other data");
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Splits one RFC-4180 record into fields.
fn split_record(rec: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_q = false;
    let mut chars = rec.chars().peekable();
    while let Some(c) = chars.next() {
        if in_q {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_q = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_q = true,
            ',' => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Reads CSV records with their start lines, skipping the physical lines listed as
/// malformed (an unbalanced quote there must not swallow the following lines).
fn parse_csv(
    text: &str,
    malformed: &std::collections::HashSet<usize>,
) -> Vec<(Vec<String>, usize)> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out = Vec::new();
    let mut i = 1; // after the header
    while i < lines.len() {
        let line_no = i + 1;
        if lines[i].is_empty() || malformed.contains(&line_no) {
            i += 1;
            continue;
        }
        let mut rec = lines[i].to_string();
        while rec.matches('"').count() % 2 == 1 {
            i += 1;
            rec.push('\n');
            rec.push_str(lines[i]);
        }
        out.push((split_record(&rec), line_no));
        i += 1;
    }
    out
}

#[test]
fn files_have_the_demo_formats() {
    let d = temp_dir("shape");
    let sum = generate(&opts(&d, 300, 3)).unwrap();
    let crm = std::fs::read_to_string(d.join("crm_accounts.csv")).unwrap();
    assert!(crm.starts_with('\u{feff}'));
    let demo = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/crm_accounts.csv"),
    )
    .unwrap();
    let demo_header = demo.split(|&b| b == b'\n').next().unwrap();
    assert_eq!(
        crm.split('\n').next().unwrap().as_bytes(),
        demo_header,
        "CRM header (BOM, CRLF)"
    );
    assert!(crm.split('\n').filter(|l| !l.is_empty()).count() > 300);
    let bill = std::fs::read_to_string(d.join("billing_customers.csv")).unwrap();
    let demo_b = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/billing_customers.csv"),
    )
    .unwrap();
    let demo_b_header = demo_b.split(|&b| b == b'\n').next().unwrap();
    assert_eq!(
        bill.split('\n').next().unwrap().as_bytes(),
        demo_b_header,
        "billing header"
    );
    assert!(!bill.contains('\r'));

    // Every well-formed CSV record has 14 fields, is in truth.csv, and the malformed
    // lines listed in defects.csv are exactly the other records' start lines.
    let truth = std::fs::read_to_string(d.join("truth.csv")).unwrap();
    let defects = std::fs::read_to_string(d.join("defects.csv")).unwrap();
    let keys: std::collections::HashSet<&str> = truth
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    let mut malformed_lines = std::collections::HashSet::new();
    for l in defects.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[0] == "crm_accounts" && f[2] == "malformed" {
            malformed_lines.insert(f[1].trim_start_matches("line:").parse::<usize>().unwrap());
        }
    }
    let recs = parse_csv(crm.trim_start_matches('\u{feff}'), &malformed_lines);
    let mut good = 0;
    for (fields, line) in &recs {
        assert_eq!(fields.len(), 14, "line {line}: {fields:?}");
        assert!(
            keys.contains(fields[0].as_str()),
            "line {line} not in truth"
        );
        good += 1;
    }
    assert_eq!(good as u64, sum.truth_rows["crm_accounts"]);
    assert!(sum.malformed["crm_accounts"] >= 1);

    // NDJSON: one object per line, demo key order.
    let nd = std::fs::read_to_string(d.join("invoice_lines.ndjson")).unwrap();
    let first = nd.lines().find(|l| l.starts_with("{\"id\"")).unwrap();
    let keys_in_order: Vec<&str> = first
        .split("\": ")
        .map(|s| s.rsplit('"').next().unwrap())
        .collect();
    assert_eq!(
        &keys_in_order[..9],
        [
            "id",
            "invoice",
            "customer",
            "sku",
            "description",
            "quantity",
            "unit_amount_decimal",
            "currency",
            "invoice_date"
        ]
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn parquet_schema_matches_the_demo() {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let demo = std::fs::File::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/inventory_items.parquet"),
    )
    .unwrap();
    let demo_schema = ParquetRecordBatchReaderBuilder::try_new(demo)
        .unwrap()
        .schema()
        .clone();
    let ours = crate::inventory::Inventory::schema();
    assert_eq!(demo_schema.fields().len(), ours.fields().len());
    for (a, b) in demo_schema.fields().iter().zip(ours.fields()) {
        assert_eq!(a.name(), b.name());
        assert_eq!(a.data_type(), b.data_type(), "{}", a.name());
        assert_eq!(a.is_nullable(), b.is_nullable(), "{}", a.name());
    }
}
