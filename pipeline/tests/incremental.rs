//! `recon run --incremental`: over a sequence of nightly input changes, the incremental
//! run's outputs (crosswalk, golden records, findings, pairs, clusters, review queue, rule
//! results, scorecard) are identical to a full run's with the same model, and the
//! staged rows of unchanged sources, the violations of rules over them and the comparison
//! cache are really reused (or, when damaged or missing, safely ignored).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Columns that legitimately differ between two runs of the same inputs.
const VOLATILE: &[&str] = &["run_id", "started_at", "finished_at", "duration_ms"];

/// Every Parquet file under a run directory (relative path → rows).
fn parquet_outputs(dir: &Path) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            let mut rows = rows(&p);
            for r in &mut rows {
                for v in VOLATILE {
                    r.remove(*v);
                }
            }
            (p.strip_prefix(dir).unwrap().display().to_string(), rows)
        })
        .collect()
}

/// Two copies of the demo, edited the same way night by night: one run with
/// `--incremental`, one run in full with the first night's model.
struct Twins {
    _dir: tempfile::TempDir,
    inc: PathBuf,
    full: PathBuf,
}

impl Twins {
    fn new() -> Twins {
        let dir = tmp();
        let text = demo_config_text().replace("../../out/demo", "out");
        let (inc, full) = (dir.path().join("inc"), dir.path().join("full"));
        for d in [&inc, &full] {
            std::fs::create_dir_all(d).unwrap();
            config_in(d, &text);
            std::fs::copy(
                repo().join("fixtures/demo/decisions.csv"),
                d.join("decisions.csv"),
            )
            .unwrap();
        }
        Twins {
            _dir: dir,
            inc,
            full,
        }
    }

    /// Edits an input in both copies, byte for byte outside the edit (the CRM export is
    /// Windows-1252: bytes map to chars one to one and back).
    fn edit(&self, file: &str, f: impl Fn(&str) -> String) {
        for d in [&self.inc, &self.full] {
            let p = d.join(file);
            let text: String = std::fs::read(&p)
                .unwrap()
                .iter()
                .map(|&b| b as char)
                .collect();
            let bytes: Vec<u8> = f(&text).chars().map(|c| c as u8).collect();
            std::fs::write(&p, bytes).unwrap();
        }
    }

    /// Writes a new file in both copies.
    fn add(&self, file: &str, text: &str) {
        for d in [&self.inc, &self.full] {
            std::fs::write(d.join(file), text).unwrap();
        }
    }

    fn night(&self, date: &str) -> serde_json::Value {
        let o = recon()
            .args(["run", "--incremental", "--config"])
            .arg(self.inc.join("recon.toml"))
            .args(["--as-of", date])
            .output()
            .unwrap();
        assert_code(&o, 0);
        let mut full = recon();
        full.args(["run", "--config"])
            .arg(self.full.join("recon.toml"))
            .args(["--as-of", date]);
        if date != FIRST {
            full.arg("--model")
                .arg(run_dir(&self.full.join("out"), FIRST).join("model.json"));
        }
        assert_code(&full.output().unwrap(), 0);
        let (a, b) = (
            parquet_outputs(&run_dir(&self.inc.join("out"), date)),
            parquet_outputs(&run_dir(&self.full.join("out"), date)),
        );
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{date}: the same output files"
        );
        for (name, rows) in &a {
            assert!(
                rows == &b[name],
                "{date}: {name} differs between the incremental and the full run"
            );
        }
        for f in [
            "crosswalk.parquet",
            "match_pairs.parquet",
            "findings.parquet",
        ] {
            assert!(a.contains_key(f), "{date}: {f} written; got {:?}", a.keys());
        }
        manifest(&self.inc.join("out"), date)
    }
}

const FIRST: &str = "2026-11-02";

fn incremental(m: &serde_json::Value, entity: &str) -> serde_json::Value {
    m["matching"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == entity)
        .unwrap_or_else(|| panic!("entity {entity} in the manifest"))["incremental"]
        .clone()
}

#[test]
fn incremental_runs_equal_full_runs_over_a_sequence_of_changes() {
    let t = Twins::new();

    // Night 1: no earlier run — everything is compared, the cache is written.
    let m = t.night(FIRST);
    let inc = incremental(&m, "customer");
    assert_eq!(inc["cache_unused_reason"], "no previous run", "{inc}");
    assert_eq!(inc["pairs_reused"], 0);
    assert_reuse(&m, &[], &ALL_SOURCES);
    assert_eq!(m["incremental"]["rule_instances_reused"], 0);
    assert!(
        run_dir(&t.inc.join("out"), FIRST)
            .join("match_cache/customer.bin")
            .is_file()
    );
    assert!(
        m["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["path"] == "match_cache/customer.bin"),
        "the cache is listed in the manifest"
    );

    // Night 2: one CRM account's phone changes, a new near-duplicate account arrives, a
    // billing customer disappears.
    t.edit("crm_accounts.csv", |s| {
        let s = s.replace("+1 512-555-0134", "+1 512-555-0199");
        format!(
            "{s}0015g00000InTc9AAF,Initech L.L.C.,Customer - Direct,4120 Friedrich Ln,Austin,TX,78744,US,+1 512-555-0134,accounts@initech.example.com,initech.example.com,Walter Skinner,11/02/2017,11/01/2026 02:30 PM\r\n"
        )
    });
    t.edit("billing_customers.csv", |s| {
        s.lines()
            .filter(|l| !l.starts_with("cus_Globex00002,"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let m = t.night("2026-11-03");
    let inc = incremental(&m, "customer");
    assert_eq!(inc["previous_run"], FIRST, "{inc}");
    assert!(inc["cache_unused_reason"].is_null(), "{inc}");
    // The edited and the new account; the dropped customer is simply gone.
    assert_eq!(inc["records_new_or_changed"], 2, "{inc}");
    let (reused, compared) = (
        inc["pairs_reused"].as_u64().unwrap(),
        inc["pairs_compared"].as_u64().unwrap(),
    );
    assert!(reused > 0 && compared > 0, "{inc}");
    assert!(reused > compared, "most pairs come from the cache: {inc}");
    let customer = m["matching"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "customer")
        .unwrap()
        .clone();
    assert_eq!(
        customer["candidate_pairs"].as_u64().unwrap(),
        reused + compared
    );
    let product = incremental(&m, "product");
    assert_eq!(product["records_new_or_changed"], 0, "{product}");
    assert_eq!(product["pairs_compared"], 0, "{product}");
    // Invoice lines and inventory did not change: their staged rows and the rules over
    // them alone are reused; the rules reading CRM or billing ran.
    assert_reuse(
        &m,
        &["invoice_lines", "inventory_items"],
        &["crm_accounts", "billing_customers"],
    );
    let rules_reused = m["incremental"]["rule_instances_reused"].as_u64().unwrap();
    assert!(rules_reused > 0, "{}", m["incremental"]);
    let reused_input = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["source"] == "invoice_lines")
        .unwrap();
    assert_eq!(reused_input["reused_from"], FIRST, "{reused_input}");
    assert!(reused_input["sha256"].as_str().unwrap().len() == 64);

    // Night 3: the previous cache is damaged — it is ignored (with the reason) and the
    // outputs are still those of a full run; a billing name changes too.
    let cache = run_dir(&t.inc.join("out"), "2026-11-03").join("match_cache/customer.bin");
    let mut bytes = std::fs::read(&cache).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&cache, bytes).unwrap();
    // … and a staged file of the previous run is gone: that source is extracted again.
    std::fs::remove_file(
        run_dir(&t.inc.join("out"), "2026-11-03").join("staged/inventory_items.parquet"),
    )
    .unwrap();
    t.edit("billing_customers.csv", |s| {
        s.replace(
            "cus_Acme000001,Acme Corp,",
            "cus_Acme000001,Acme Corporation,",
        )
    });
    // A user rule over the (unchanged) invoice lines arrives: it runs.
    t.add(
        "rules/bulk_lines.sql",
        "-- id: bulk_lines\n-- description: Lines of 19 units or more (a test rule)\n\
         -- dimension: validity\n-- severity: warn\n-- source: invoice_lines\n\
         SELECT 'invoice_lines' AS source, _record_key AS record_key,\n\
         'quantity ' || CAST(quantity AS VARCHAR) || ' over one' AS detail\n\
         FROM invoice_lines WHERE quantity >= 19\n",
    );
    let m = t.night("2026-11-04");
    let inc = incremental(&m, "customer");
    assert!(
        inc["cache_unused_reason"]
            .as_str()
            .is_some_and(|r| r.contains("checksum")),
        "{inc}"
    );
    assert_eq!(inc["pairs_reused"], 0);
    let product = incremental(&m, "product");
    assert!(product["pairs_reused"].as_u64().unwrap() > 0, "{product}");
    assert_reuse(
        &m,
        &["crm_accounts", "invoice_lines"],
        &["billing_customers", "inventory_items"],
    );

    // Night 4: no input changed — every pair comes from the cache — but the new rule's
    // SQL is edited: its previous violations must not be reused (their detail would be
    // stale and differ from the full run's).
    t.edit("rules/bulk_lines.sql", |s| {
        let edited = s.replace("' over one'", "' above one'");
        assert_ne!(edited, s);
        edited
    });
    let m = t.night("2026-11-05");
    let inc = incremental(&m, "customer");
    assert_eq!(inc["records_new_or_changed"], 0, "{inc}");
    assert_eq!(inc["pairs_compared"], 0, "{inc}");
    assert_reuse(&m, &ALL_SOURCES, &[]);
    // Only the rules that read the run date (staleness, timeliness) run again.
    let (reused, ran) = (
        m["incremental"]["rule_instances_reused"].as_u64().unwrap(),
        m["incremental"]["rule_instances_run"].as_u64().unwrap(),
    );
    assert!(
        reused > rules_reused && ran < reused,
        "{}",
        m["incremental"]
    );
    let bulk = rows(&run_dir(&t.inc.join("out"), "2026-11-05").join("violations.parquet"))
        .into_iter()
        .filter(|r| r["rule_id"] == "bulk_lines")
        .collect::<Vec<_>>();
    assert!(
        !bulk.is_empty() && bulk.iter().all(|r| r["detail"].ends_with("above one")),
        "the edited rule ran: {:?}",
        bulk.first()
    );
}

const ALL_SOURCES: [&str; 4] = [
    "crm_accounts",
    "billing_customers",
    "invoice_lines",
    "inventory_items",
];

/// The manifest's account of which sources' staged rows were reused.
fn assert_reuse(m: &serde_json::Value, reused: &[&str], extracted: &[&str]) {
    assert_eq!(
        m["incremental"]["sources_reused"],
        serde_json::json!(reused),
        "{}",
        m["incremental"]
    );
    assert_eq!(
        m["incremental"]["sources_extracted"],
        serde_json::json!(extracted),
        "{}",
        m["incremental"]
    );
}

#[test]
fn caches_from_other_settings_or_mappings_are_not_used() {
    let dir = tmp();
    let text = demo_config_text().replace("../../out/demo", "out");
    let cfg = config_in(dir.path(), &text);
    let run_inc = |date: &str| {
        let o = recon()
            .args(["run", "--incremental", "--config"])
            .arg(&cfg)
            .args(["--as-of", date])
            .output()
            .unwrap();
        assert_code(&o, 0);
        manifest(&dir.path().join("out"), date)
    };
    run_inc("2026-11-02");
    // A comparison threshold changes: cached vectors would be wrong for it.
    let changed = text.replacen("thresholds = [1, 2, 4]", "thresholds = [1, 2, 3]", 1);
    assert_ne!(changed, text, "the demo config has these thresholds");
    // The invoice lines' mapping changes too (their file does not): their staged rows
    // would be wrong, so that source is extracted again; the others are reused.
    let with_mapping = changed.replacen(
        r#"description = { from = "description" }"#,
        r#"description = { from = "invoice" }"#,
        1,
    );
    assert_ne!(with_mapping, changed, "the demo maps the description");
    std::fs::write(&cfg, with_mapping).unwrap();
    let m = run_inc("2026-11-03");
    assert_reuse(
        &m,
        &["crm_accounts", "billing_customers", "inventory_items"],
        &["invoice_lines"],
    );
    let staged =
        rows(&run_dir(&dir.path().join("out"), "2026-11-03").join("staged/invoice_lines.parquet"));
    assert!(
        !staged.is_empty() && staged.iter().all(|r| r["description"].starts_with("in_")),
        "the new mapping is applied: {:?}",
        staged.first().map(|r| &r["description"])
    );
    let reasons: Vec<String> = ["customer", "product"]
        .iter()
        .map(|e| {
            incremental(&m, e)["cache_unused_reason"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("settings")),
        "{reasons:?}"
    );
}
