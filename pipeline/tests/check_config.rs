//! `recon check-config`: every configuration mistake names the key and what is allowed,
//! and exits with the config-error code (2) without running anything.

mod common;

use common::*;

fn check(text: &str) -> (Option<i32>, String) {
    let d = tmp();
    let cfg = config_in(d.path(), text);
    let o = recon()
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    (o.status.code(), stderr(&o))
}

#[test]
fn the_demo_config_is_valid() {
    let o = recon()
        .args(["check-config", "--config"])
        .arg(demo_config())
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert!(
        stderr(&o).contains("is valid (4 sources, 4 input files)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn misspelled_key() {
    let (code, e) = check(&demo_config_text().replacen(
        "updated_at = \"last_modified\"",
        "updated_att = \"last_modified\"",
        1,
    ));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("updated_att"), "{e}");
    assert!(
        e.contains("expected one of") && e.contains("`updated_at`"),
        "{e}"
    );
    assert!(e.contains("line"), "the TOML position is given: {e}");
}

#[test]
fn missing_file() {
    let (code, e) = check(&demo_config_text().replace("crm_accounts.csv", "crm_acounts.csv"));
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("source.crm_accounts.path") && e.contains("no file matches \"crm_acounts.csv\""),
        "{e}"
    );
}

#[test]
fn mapped_column_not_in_header() {
    let (code, e) =
        check(&demo_config_text().replace("from = \"Primary Email\"", "from = \"E-mail\""));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("source.crm_accounts.columns.email"), "{e}");
    assert!(e.contains("\"E-mail\" is not in the header"), "{e}");
    assert!(
        e.contains("\"Primary Email\"") && e.contains("\"Account ID\""),
        "lists the headers that exist: {e}"
    );
}

#[test]
fn mapped_column_not_in_parquet_file() {
    let (code, e) = check(&demo_config_text().replace("from = \"item_name\"", "from = \"title\""));
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("source.inventory_items.columns.name") && e.contains("\"item_name\""),
        "{e}"
    );
}

#[test]
fn unknown_type() {
    let (code, e) = check(&demo_config_text().replace(
        "type = \"integer\", required = true",
        "type = \"int32\", required = true",
    ));
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("source.invoice_lines.columns.quantity.type"),
        "{e}"
    );
    assert!(
        e.contains("unknown type \"int32\"") && e.contains("decimal(p,s)"),
        "{e}"
    );
}

#[test]
fn invalid_date_format() {
    let (code, e) =
        check(&demo_config_text().replace("formats = [\"%m/%d/%Y\"]", "formats = [\"%m/%d/%Q\"]"));
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("source.crm_accounts.columns.created_date.formats[0]"),
        "{e}"
    );
    assert!(e.contains("%m/%d/%Q"), "{e}");
}

#[test]
fn bad_enum_value_lists_the_allowed_values() {
    let (code, e) =
        check(&demo_config_text().replace("encoding = \"utf-8\"", "encoding = \"ascii\""));
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("ascii") && e.contains("windows-1252") && e.contains("latin-1"),
        "{e}"
    );
}

#[test]
fn several_problems_are_reported_together() {
    let text = demo_config_text()
        .replace("key = \"account_id\"", "key = \"acct\"")
        .replace(
            "time_zone = \"America/Chicago\"",
            "time_zone = \"Mars/Olympus\"",
        );
    let (code, e) = check(&text);
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e.contains("source.crm_accounts.key") && e.contains("run.time_zone"),
        "{e}"
    );
}

#[test]
fn run_with_a_bad_config_exits_2_and_writes_nothing() {
    let d = tmp();
    let cfg = config_in(
        d.path(),
        &demo_config_text().replace("entity = \"customer\"", "entty = \"customer\""),
    );
    let out = d.path().join("out");
    let o = run(&cfg, &out, "2026-11-20");
    assert_code(&o, 2);
    assert!(!out.exists());
}

#[test]
fn usage_errors_exit_2() {
    let o = recon()
        .args(["run", "--as-of", "20-11-2026"])
        .output()
        .unwrap();
    assert_code(&o, 2);
    assert!(stderr(&o).contains("YYYY-MM-DD"), "{}", stderr(&o));
}
