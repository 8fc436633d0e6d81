//! The rules stage through the real binary: the built-in pack on the demo fixtures finds
//! every planted rule-detectable problem and flags nothing else; broken rules are
//! reported with file and line without losing the rest of the run.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

const AS_OF: &str = "2026-11-20";

fn violations(out: &Path) -> BTreeSet<(String, String, String)> {
    rows(&run_dir(out, AS_OF).join("violations.parquet"))
        .into_iter()
        .map(|r| {
            (
                r["rule_id"].clone(),
                r["source"].clone(),
                r["record_key"].clone(),
            )
        })
        .collect()
}

fn results(out: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    rows(&run_dir(out, AS_OF).join("rule_results.parquet"))
}

/// Every violation the demo should produce (fixtures/demo/README.md), and nothing else.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("country_valid", "crm_accounts", "0015g00000VaNdDAAV"),
    ("duplicate_email", "billing_customers", "cus_Wayne000006"),
    ("duplicate_email", "billing_customers", "cus_Wayne000007"),
    ("duplicate_email", "crm_accounts", "0015g00000AcMe1AAF"),
    ("duplicate_email", "crm_accounts", "0015g00000AcMe2AAF"),
    ("duplicate_email", "crm_accounts", "0015g00000InTc4AAF"),
    ("duplicate_email", "crm_accounts", "0015g00000InTc5AAF"),
    ("duplicate_email", "crm_accounts", "0015g00000StCoQAAV"),
    ("duplicate_key", "crm_accounts", "0015g00000StCoQAAV"),
    ("duplicate_sku", "inventory_items", "GAD-2002"),
    ("duplicate_sku", "inventory_items", "gad 2002"),
    ("email_present", "crm_accounts", "0015g00000MoNaRAAV"),
    ("email_valid", "billing_customers", "cus_Virtucon029"),
    ("email_valid", "crm_accounts", "0015g00000CyBdBAAV"),
    ("phone_present", "crm_accounts", "0015g00000MoNaRAAV"),
    ("phone_valid", "crm_accounts", "0015g00000TyReCAAV"),
    ("price_non_negative", "inventory_items", "PRC-6001"),
    (
        "reference_email_consistent",
        "billing_customers",
        "cus_Cyberdyn023",
    ),
    (
        "reference_email_consistent",
        "billing_customers",
        "cus_Hooli000008",
    ),
    (
        "reference_email_consistent",
        "billing_customers",
        "cus_Umbrella004",
    ),
    (
        "reference_email_consistent",
        "billing_customers",
        "cus_Virtucon029",
    ),
    ("reference_exists", "billing_customers", "cus_Krusty00019"),
    ("reference_exists", "billing_customers", "cus_Stark000005"),
    ("reference_exists", "invoice_lines", "il_000064"),
    ("reference_exists", "invoice_lines", "il_000065"),
    ("reference_exists", "invoice_lines", "il_000069"),
    (
        "reference_name_consistent",
        "billing_customers",
        "cus_Umbrella004",
    ),
    ("reference_noncanonical", "invoice_lines", "il_000066"),
    ("reference_noncanonical", "invoice_lines", "il_000067"),
    ("reference_noncanonical", "invoice_lines", "il_000068"),
    ("reference_present", "billing_customers", "cus_Aperture017"),
    ("reference_present", "billing_customers", "cus_Initech0003"),
    ("reference_present", "billing_customers", "cus_Oldco000028"),
    ("stale_record", "billing_customers", "cus_Oldco000028"),
    ("stale_record", "crm_accounts", "0015g00000SoYlAAAV"),
    ("stale_record", "crm_accounts", "0015g00000ViCoWAAV"),
    ("stale_record", "inventory_items", "OLD-0001"),
];

#[test]
fn demo_violations_are_exactly_the_planted_problems() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let got = violations(t.path());
    let want: BTreeSet<(String, String, String)> = EXPECTED
        .iter()
        .map(|(r, s, k)| (r.to_string(), s.to_string(), k.to_string()))
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nunexpected: {extra:#?}"
    );
    // Valid aliases are not flagged: Globex (15-char) and Nakatomi (lower-cased 18-char).
    assert!(
        !got.iter()
            .any(|v| v.2 == "cus_Globex00002" || v.2 == "cus_Nakatomi011")
    );
}

#[test]
fn rule_results_cover_every_rule_and_source_with_rates() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let res = results(t.path());
    let stale_crm = res
        .iter()
        .find(|r| r["rule_id"] == "stale_record" && r["source"] == "crm_accounts")
        .unwrap();
    assert_eq!(stale_crm["population"], "32");
    assert_eq!(stale_crm["failed"], "2");
    assert_eq!(stale_crm["status"], "warn");
    assert_eq!(stale_crm["dimension"], "timeliness");
    let pr: f64 = stale_crm["pass_rate"].parse().unwrap();
    assert!((pr - 30.0 / 32.0).abs() < 1e-9);
    // A reference rule has one row per declared reference, told apart by `reference`.
    let refs: Vec<&String> = res
        .iter()
        .filter(|r| r["rule_id"] == "reference_exists" && r["source"] == "invoice_lines")
        .map(|r| &r["reference"])
        .collect();
    assert_eq!(
        refs,
        [
            "customer_id -> billing_customers.customer_id",
            "sku -> inventory_items.sku"
        ]
    );
    // The user rule directory of the demo is loaded next to the built-in pack.
    let user = res
        .iter()
        .find(|r| r["rule_id"] == "invoice_currency_usd")
        .unwrap();
    assert_eq!(user["status"], "pass");
    assert_eq!(user["rule_file"], "rules/invoice_currency.sql");
    for d in [
        "completeness",
        "validity",
        "uniqueness",
        "timeliness",
        "consistency",
        "integrity",
    ] {
        assert!(
            res.iter().any(|r| r["dimension"] == d),
            "no rule of dimension {d}"
        );
    }
    assert!(res.iter().all(|r| r["status"] != "error"), "{res:#?}");
}

/// A demo copy with extra user rules in `rules/`.
fn with_rules(
    extra: &[(&str, &str)],
    config_extra: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tmp();
    let text = demo_config_text().replace(
        "dirs = [\"rules\"]",
        &format!("dirs = [\"rules\"]\n{config_extra}"),
    );
    let cfg = config_in(d.path(), &text);
    std::fs::create_dir_all(d.path().join("rules")).unwrap();
    for (name, body) in extra {
        std::fs::write(d.path().join("rules").join(name), body).unwrap();
    }
    (d, cfg)
}

const HEADER: &str = "-- id: ID\n-- description: test rule\n-- dimension: validity\n-- severity: error\n-- source: crm_accounts\n";

#[test]
fn broken_rules_are_reported_and_the_rest_of_the_run_survives() {
    let rule = |id: &str, sql: &str| {
        (
            format!("{id}.sql"),
            format!("{}{sql}\n", HEADER.replace("ID", id)),
        )
    };
    let files = [
        rule("syntax_error", "SELECT 'crm_accounts' AS source,\n  _record_key AS record_key 'x' AS detail\nFROM crm_accounts"),
        rule("missing_table", "SELECT 'x' AS source, _record_key AS record_key, 'd' AS detail FROM no_such_table"),
        rule("copy_out", "COPY (SELECT * FROM crm_accounts) TO '/tmp/recon-exfil.csv'"),
        rule("wrong_columns", "SELECT _record_key AS key FROM crm_accounts"),
        rule("external", "CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '/etc/passwd'"),
        rule("set_option", "SET datafusion.execution.batch_size = 1"),
        (
            "no_severity.sql".to_string(),
            "-- id: no_severity\n-- description: x\n-- dimension: validity\n-- source: crm_accounts\nSELECT 1".to_string(),
        ),
    ];
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (d, cfg) = with_rules(&refs, "");
    let out = d.path().join("out");
    let o = run(&cfg, &out, AS_OF);
    assert_code(&o, 4);
    let e = stderr(&o);
    let res = results(&out);
    let err = |id: &str| -> String {
        let r = res
            .iter()
            .find(|r| r["rule_id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"));
        assert_eq!(r["status"], "error", "{id}");
        assert!(
            e.contains(&format!("rule {id} could not run")),
            "stderr names {id}: {e}"
        );
        r["error"].clone()
    };
    let m = err("syntax_error");
    assert!(
        m.starts_with("rules/syntax_error.sql:7:"),
        "file and line: {m}"
    );
    let m = err("missing_table");
    assert!(
        m.contains("rules/missing_table.sql") && m.contains("no_such_table"),
        "{m}"
    );
    let m = err("copy_out");
    assert!(
        m.contains("only a read-only SELECT") && m.contains("COPY"),
        "{m}"
    );
    assert!(!Path::new("/tmp/recon-exfil.csv").exists());
    let m = err("wrong_columns");
    assert!(
        m.contains("missing source, record_key, detail") && m.contains("returns: key"),
        "{m}"
    );
    let m = err("external");
    assert!(m.contains("CREATE EXTERNAL TABLE"), "{m}");
    let m = err("set_option");
    assert!(m.contains("SET"), "{m}");
    let m = err("no_severity");
    assert!(
        m.contains("rules/no_severity.sql") && m.contains("missing required header `-- severity"),
        "{m}"
    );
    // Everything else in the run is there.
    let got = violations(&out);
    assert!(got.contains(&(
        "email_valid".into(),
        "crm_accounts".into(),
        "0015g00000CyBdBAAV".into()
    )));
    assert_eq!(manifest(&out, AS_OF)["status"], "rule_errors");
    assert_eq!(manifest(&out, AS_OF)["exit_code"], 4);
}

#[test]
fn an_exploding_join_is_stopped_by_the_violation_cap() {
    let body = "-- id: explode\n-- description: x\n-- dimension: validity\n-- severity: warn\n-- source: invoice_lines\nSELECT 'invoice_lines' AS source, a._record_key AS record_key, 'x' AS detail\nFROM invoice_lines a, invoice_lines b, invoice_lines c\n";
    let (d, cfg) = with_rules(&[("explode.sql", body)], "max_violations_per_rule = 1000");
    let out = d.path().join("out");
    let o = run(&cfg, &out, AS_OF);
    assert_code(&o, 4);
    let r = results(&out)
        .into_iter()
        .find(|r| r["rule_id"] == "explode")
        .unwrap();
    assert!(
        r["error"].contains("max_violations_per_rule (1000)"),
        "{}",
        r["error"]
    );
}

#[test]
fn rules_can_be_disabled_and_parameterised() {
    let (d, cfg) = with_rules(
        &[],
        "disable = [\"email_valid\", \"phone_present\"]\n[rules.params.reference_name_consistent]\nmin_similarity = 0.2",
    );
    let out = d.path().join("out");
    assert_code(&run(&cfg, &out, AS_OF), 0);
    let got = violations(&out);
    assert!(
        !got.iter()
            .any(|v| v.0 == "email_valid" || v.0 == "phone_present")
    );
    assert!(
        !got.iter().any(|v| v.0 == "reference_name_consistent"),
        "threshold lowered"
    );
    assert!(!results(&out).iter().any(|r| r["rule_id"] == "email_valid"));
}

#[test]
fn unknown_rule_ids_in_the_config_are_config_errors() {
    let (d, cfg) = with_rules(&[], "disable = [\"email_vaild\"]");
    let o = run(&cfg, &d.path().join("out"), AS_OF);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("\"email_vaild\"") && stderr(&o).contains("email_valid"),
        "{}",
        stderr(&o)
    );
    let (d, cfg) = with_rules(&[], "[rules.params.stale_record]\nmax_days = 3");
    let o = run(&cfg, &d.path().join("out"), AS_OF);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("rules.params.stale_record.max_days"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_rule_can_use_the_run_and_sources_tables_and_udfs() {
    let body = "-- id: owner_known\n-- description: x\n-- dimension: consistency\n-- severity: warn\n-- source: billing_customers\nSELECT 'billing_customers' AS source, b._record_key AS record_key, s.owner_team || ' ' || CAST(r.as_of AS VARCHAR) AS detail\nFROM billing_customers b CROSS JOIN run r JOIN sources s ON s.name = 'billing_customers'\nWHERE normalize_company_name(b.name) = 'wayne enterprises'\n";
    let (d, cfg) = with_rules(&[("owner_known.sql", body)], "");
    let out = d.path().join("out");
    assert_code(&run(&cfg, &out, AS_OF), 0);
    let v: Vec<_> = rows(&run_dir(&out, AS_OF).join("violations.parquet"))
        .into_iter()
        .filter(|r| r["rule_id"] == "owner_known")
        .collect();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["detail"], "Finance Systems 2026-11-20");
}

/// A source of `n` generated rows and the given user rules, with a small SQL memory pool.
fn generated_source_with_rules(
    n: usize,
    memory_limit_mb: usize,
    rules: &[(&str, &str)],
) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tmp();
    let mut csv = String::from("id,name\n");
    for i in 0..n {
        csv.push_str(&format!(
            "r{i:05},name number {i} of the generated source\n"
        ));
    }
    std::fs::write(d.path().join("big.csv"), csv).unwrap();
    std::fs::create_dir_all(d.path().join("rules")).unwrap();
    for (name, body) in rules {
        std::fs::write(d.path().join("rules").join(name), body).unwrap();
    }
    let cfg = d.path().join("recon.toml");
    std::fs::write(
        &cfg,
        format!(
            "[run]\noutput = \"out\"\nmemory_limit_mb = {memory_limit_mb}\n\n[[source]]\nname = \"big\"\nsystem = \"other\"\nentity = \"thing\"\npath = \"big.csv\"\nkey = \"id\"\n[source.columns]\nid = {{}}\nname = {{}}\n\n[rules]\nbuiltin = false\ndirs = [\"rules\"]\ntimeout_secs = 300\n"
        ),
    )
    .unwrap();
    (d, cfg)
}

#[test]
fn a_rule_that_exhausts_the_memory_pool_fails_alone_with_a_clear_error() {
    // A three-way join without a condition, aggregated into one growing value: 27
    // billion rows that no spill can help. The memory pool stops it; the other rule of
    // the run still runs.
    let explode = "-- id: explode\n-- description: a join without a condition\n-- dimension: validity\n-- severity: warn\n-- source: big\nSELECT 'big' AS source, min(a.id) AS record_key,\n  CAST(length(string_agg(a.name || b.name || c.name, ',')) AS VARCHAR) AS detail\nFROM big a CROSS JOIN big b CROSS JOIN big c\n";
    let fine = "-- id: name_present\n-- description: names are present\n-- dimension: completeness\n-- severity: error\n-- source: big\nSELECT 'big' AS source, _record_key AS record_key, 'no name' AS detail FROM big WHERE name IS NULL\n";
    let (d, cfg) = generated_source_with_rules(
        3000,
        16,
        &[("explode.sql", explode), ("name_present.sql", fine)],
    );
    let out = d.path().join("out");
    let started = std::time::Instant::now();
    let o = run(&cfg, &out, AS_OF);
    assert_code(&o, 4);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "stopped by the memory pool, not the timeout"
    );
    let e = stderr(&o);
    let line = e
        .lines()
        .find(|l| l.contains("rule explode could not run"))
        .unwrap_or_else(|| panic!("stderr names the rule: {e}"));
    assert!(
        line.contains("rules/explode.sql")
            && line.contains("more memory than run.memory_limit_mb (16 MiB)"),
        "{line}"
    );
    let res = results(&out);
    let r = res.iter().find(|r| r["rule_id"] == "explode").unwrap();
    assert_eq!(r["status"], "error");
    assert!(r["error"].contains("memory"), "{}", r["error"]);
    let ok = res.iter().find(|r| r["rule_id"] == "name_present").unwrap();
    assert_eq!(ok["status"], "pass");
    assert_eq!(ok["population"], "3000");
    assert_eq!(manifest(&out, AS_OF)["status"], "rule_errors");
    // Bounded memory: the largest resident size of any recon this test process ran.
    // SAFETY: getrusage fills the struct it is given.
    let max_rss_mb = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut u), 0);
        u.ru_maxrss / 1024
    };
    assert!(max_rss_mb < 1024, "peak resident memory {max_rss_mb} MiB");
}

#[test]
fn an_out_of_range_memory_limit_is_a_config_error_naming_the_key() {
    let (d, cfg) = generated_source_with_rules(10, 8, &[]);
    let o = run(&cfg, &d.path().join("out"), AS_OF);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("run.memory_limit_mb") && stderr(&o).contains("from 16 to"),
        "{}",
        stderr(&o)
    );
}
