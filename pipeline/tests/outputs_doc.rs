//! Schema snapshot: docs/outputs.md documents every column (name and type) of every
//! Parquet table a demo run writes, and nothing that is not there.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use datafusion::arrow::datatypes::DataType;

/// The type names used in docs/outputs.md.
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Int64 => "int64".into(),
        DataType::Int8 => "int8".into(),
        DataType::Float64 => "float64".into(),
        DataType::Boolean => "bool".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::List(f) => match f.data_type() {
            DataType::Struct(_) => "list<struct>".into(),
            other => format!("list<{}>", type_name(other)),
        },
        other => format!("{other:?}"),
    }
}

/// Table heading → (column → type) as documented.
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(repo().join("docs/outputs.md")).unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("### `") {
            current = Some(h.trim_end_matches('`').to_string());
            continue;
        }
        if line.starts_with("## ") || line.starts_with("### ") {
            current = None;
            continue;
        }
        let Some(table) = &current else { continue };
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4
            && let Some(col) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`'))
        {
            out.entry(table.clone())
                .or_default()
                .insert(col.to_string(), cells[2].to_string());
        }
    }
    out
}

fn actual(path: &Path) -> BTreeMap<String, String> {
    let f = std::fs::File::open(path).unwrap();
    let b = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap();
    b.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), type_name(f.data_type())))
        .collect()
}

#[test]
fn every_output_column_is_documented_with_its_type() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), "2026-11-20"), 0);
    let dir = run_dir(t.path(), "2026-11-20");
    let docs = documented();
    let mut problems = Vec::new();
    let mut seen_tables = BTreeSet::new();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let cols = actual(f);
        if let Some(entity) = name
            .strip_prefix("golden_")
            .and_then(|n| n.strip_suffix(".parquet"))
        {
            seen_tables.insert("golden_<entity>.parquet".to_string());
            let doc = &docs["golden_<entity>.parquet"];
            for (c, ty) in &cols {
                let key = if doc.contains_key(c) {
                    c.clone()
                } else if c.ends_with("_from_source") {
                    "<attr>_from_source".into()
                } else if c.ends_with("_from_key") {
                    "<attr>_from_key".into()
                } else {
                    "<attr>".into()
                };
                match doc.get(&key) {
                    Some(t) if t == ty => {}
                    other => problems.push(format!(
                        "golden_{entity}.{c}: type {ty}, documented {other:?}"
                    )),
                }
            }
            for c in doc.keys().filter(|c| !c.starts_with('<')) {
                if !cols.contains_key(c) {
                    problems.push(format!(
                        "golden_{entity}: documented column {c} is not written"
                    ));
                }
            }
            continue;
        }
        seen_tables.insert(name.clone());
        let Some(doc) = docs.get(&name) else {
            problems.push(format!("{name} is not documented"));
            continue;
        };
        if doc != &cols {
            problems.push(format!("{name}: written {cols:?}\n   documented {doc:?}"));
        }
    }
    // Staged sources: the system columns exactly, canonical columns by pattern.
    let doc = &docs["staged/<source>.parquet"];
    for s in [
        "crm_accounts",
        "billing_customers",
        "invoice_lines",
        "inventory_items",
    ] {
        let cols = actual(&dir.join(format!("staged/{s}.parquet")));
        for (c, ty) in &cols {
            if c.starts_with('_') {
                if doc.get(c) != Some(ty) {
                    problems.push(format!(
                        "staged/{s}.{c}: type {ty}, documented {:?}",
                        doc.get(c)
                    ));
                }
            } else if !doc.contains_key("<column>") {
                problems.push("staged: <column> pattern missing".into());
            }
        }
    }
    // Every documented table is written.
    for t in docs.keys() {
        if !t.starts_with("staged/") && !seen_tables.contains(t) {
            problems.push(format!(
                "docs/outputs.md documents {t}, which the run does not write"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/outputs.md is out of date:\n{}",
        problems.join("\n")
    );
}
