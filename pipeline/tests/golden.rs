//! Golden records through the real binary: findings for every planted duplicate, stale
//! record and ID mismatch; survivorship with lineage; golden ids stable over a sequence
//! of nightly runs on changing inputs; steward decisions that persist.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;

const AS_OF: &str = "2026-11-20";

fn crm(id5: &str) -> String {
    recon::normalize::salesforce_18(&format!("0015g00000{id5}")).unwrap()
}

fn findings(out: &Path, date: &str) -> BTreeSet<(String, String, String, String, String)> {
    rows(&run_dir(out, date).join("findings.parquet"))
        .into_iter()
        .map(|r| {
            (
                r["finding_type"].clone(),
                r["kind"].clone(),
                r["source"].clone(),
                r["record_key"].clone(),
                r["related_key"].clone(),
            )
        })
        .collect()
}

#[test]
fn demo_findings_are_exactly_the_planted_problems() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let got = findings(t.path(), AS_OF);
    let f = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        (
            a.to_string(),
            b.to_string(),
            c.to_string(),
            d.to_string(),
            e.to_string(),
        )
    };
    let want: BTreeSet<_> = [
        f(
            "duplicate",
            "matched",
            "crm_accounts",
            &crm("AcMe2"),
            &crm("AcMe1"),
        ),
        f(
            "duplicate",
            "matched",
            "crm_accounts",
            &crm("InTc5"),
            &crm("InTc4"),
        ),
        f(
            "duplicate",
            "matched",
            "billing_customers",
            "cus_Wayne000006",
            "cus_Wayne000007",
        ),
        f(
            "duplicate",
            "same_key",
            "crm_accounts",
            &crm("StCoQ"),
            &crm("StCoQ"),
        ),
        f(
            "duplicate",
            "matched",
            "inventory_items",
            "gad 2002",
            "GAD-2002",
        ),
        f(
            "duplicate",
            "matched",
            "inventory_items",
            "TOL-5012",
            "TOL-5002",
        ),
        f(
            "id_mismatch",
            "wrong_reference",
            "billing_customers",
            "cus_Umbrella004",
            &crm("UmBr6"),
        ),
        f(
            "id_mismatch",
            "missing_reference",
            "billing_customers",
            "cus_Initech0003",
            &crm("InTc4"),
        ),
        f(
            "id_mismatch",
            "dangling_reference",
            "billing_customers",
            "cus_Stark000005",
            &crm("StRk7"),
        ),
        f(
            "id_mismatch",
            "dangling_reference",
            "billing_customers",
            "cus_Krusty00019",
            &crm("KrKrS"),
        ),
        f("stale", "sla", "crm_accounts", &crm("SoYlA"), ""),
        f("stale", "sla", "crm_accounts", &crm("ViCoW"), ""),
        f("stale", "sla", "billing_customers", "cus_Oldco000028", ""),
        f("stale", "sla", "inventory_items", "OLD-0001", ""),
        f(
            "stale",
            "attribute",
            "crm_accounts",
            &crm("HoOl9"),
            "cus_Hooli000008",
        ),
        f(
            "conflict",
            "attribute",
            "crm_accounts",
            &crm("MaSsE"),
            "cus_Massive0009",
        ),
    ]
    .into_iter()
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nunexpected {extra:#?}"
    );
    let rows = rows(&run_dir(t.path(), AS_OF).join("findings.parquet"));
    let hooli: Vec<&BTreeMap<String, String>> = rows
        .iter()
        .filter(|r| r["record_key"] == crm("HoOl9"))
        .collect();
    assert_eq!(hooli.len(), 2, "email and street are both stale");
    assert!(
        hooli
            .iter()
            .any(|r| r["detail"].contains("email")
                && r["detail"].contains("2026-10-15 vs 2026-06-01"))
    );
    assert!(
        rows.iter()
            .all(|r| !r["owner_team"].is_empty() && r["run_date"] == AS_OF)
    );
    let umbrella = rows
        .iter()
        .find(|r| r["record_key"] == "cus_Umbrella004")
        .unwrap();
    assert!(
        umbrella["detail"].contains(&crm("GlBx3")),
        "names the record it points at: {umbrella:?}"
    );
    assert_eq!(umbrella["severity"], "error");
    assert_eq!(umbrella["owner_team"], "Finance Systems");
}

fn golden(out: &Path, date: &str, entity: &str) -> Vec<BTreeMap<String, String>> {
    rows(&run_dir(out, date).join(format!("golden_{entity}.parquet")))
}

#[test]
fn golden_records_have_the_surviving_values_and_lineage() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let g = golden(t.path(), AS_OF, "customer");
    let by = |key: &str| {
        g.iter()
            .find(|r| r.values().any(|v| v == key))
            .unwrap_or_else(|| panic!("{key}"))
    };
    // Source priority: the CRM's name; of two CRM records the more recent one.
    let acme = by(&crm("AcMe1"));
    assert_eq!(acme["name"], "Acme Corporation");
    assert_eq!(acme["name_from_key"], crm("AcMe1"));
    assert_eq!(acme["record_count"], "3");
    assert_eq!(acme["source_count"], "2");
    // Most recent: Hooli's email and street come from billing (updated later).
    let hooli = by("cus_Hooli000008");
    assert_eq!(hooli["email"], "billing@hooli.example.de");
    assert_eq!(hooli["email_from_source"], "billing_customers");
    assert_eq!(hooli["street"], "Unter den Linden 5");
    assert_eq!(hooli["name"], "Hooli GmbH");
    assert_eq!(hooli["name_from_source"], "crm_accounts");
    // Validity-aware: Cyberdyne's CRM email is invalid, the billing one survives even
    // though the rule would prefer … the most recent; Virtucon's newer billing email is
    // invalid, so the older valid CRM email survives.
    let cyber = by("cus_Cyberdyn023");
    assert_eq!(cyber["email"], "info@cyberdyne.example.com");
    let virtucon = by("cus_Virtucon029");
    assert_eq!(virtucon["email"], "sales@virtucon.example.com");
    assert_eq!(virtucon["email_from_source"], "crm_accounts");
    // Vandelay: the CRM country XX is invalid; billing's US survives despite priority.
    let vandelay = by("cus_Vandelay025");
    assert_eq!(vandelay["country"], "US");
    assert_eq!(vandelay["country_from_source"], "billing_customers");
    // Products: the longest name, the most frequent SKU form.
    let p = golden(t.path(), AS_OF, "product");
    // "Hex Key Set" and "Hex-Key Set" are equally long: the tie-breaker (most recent)
    // picks TOL-5002's.
    let hex = p
        .iter()
        .find(|r| r["record_count"] == "2" && r["name"].contains("Hex"))
        .unwrap();
    assert_eq!(hex["name"], "Hex Key Set");
    assert_eq!(hex["name_from_key"], "TOL-5002");
}

#[test]
fn every_accepted_record_is_in_the_crosswalk_exactly_once() {
    let t = tmp();
    assert_code(&run(&demo_config(), t.path(), AS_OF), 0);
    let dir = run_dir(t.path(), AS_OF);
    let xw = rows(&dir.join("crosswalk.parquet"));
    for s in ["crm_accounts", "billing_customers", "inventory_items"] {
        let staged: BTreeSet<(String, String)> = rows(&dir.join(format!("staged/{s}.parquet")))
            .into_iter()
            .map(|r| (r["_record_key"].clone(), r["_line"].clone()))
            .collect();
        let in_xw: Vec<(String, String)> = xw
            .iter()
            .filter(|r| r["source"] == s)
            .map(|r| (r["record_key"].clone(), r["line"].clone()))
            .collect();
        assert_eq!(in_xw.len(), staged.len(), "{s}");
        assert_eq!(
            in_xw.iter().cloned().collect::<BTreeSet<_>>(),
            staged,
            "{s}"
        );
    }
    let golden_ids: BTreeSet<String> = golden(t.path(), AS_OF, "customer")
        .into_iter()
        .chain(golden(t.path(), AS_OF, "product"))
        .map(|r| r["golden_id"].clone())
        .collect();
    assert!(xw.iter().all(|r| golden_ids.contains(&r["golden_id"])));
    assert!(xw.iter().any(|r| r["golden_id"].starts_with("CUS-")));
}

/// A copy of the demo in a scratch directory whose inputs the test edits night by night.
struct Nightly {
    dir: tempfile::TempDir,
    cfg: PathBuf,
}

impl Nightly {
    fn new() -> Nightly {
        let dir = tmp();
        let cfg = config_in(
            dir.path(),
            &demo_config_text().replace("../../out/demo", "out"),
        );
        std::fs::copy(
            repo().join("fixtures/demo/decisions.csv"),
            dir.path().join("decisions.csv"),
        )
        .unwrap();
        Nightly { dir, cfg }
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    fn run(&self, date: &str) {
        let o = run(&self.cfg, &self.out(), date);
        assert_code(&o, 0);
    }
    fn edit(&self, file: &str, f: impl FnOnce(String) -> String) {
        let p = self.dir.path().join(file);
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        std::fs::write(&p, f(text)).unwrap();
    }
    fn append_crm(&self, line: &str) {
        let p = self.dir.path().join("crm_accounts.csv");
        let mut b = std::fs::read(&p).unwrap();
        b.extend_from_slice(line.as_bytes());
        b.extend_from_slice(b"\r\n");
        std::fs::write(&p, b).unwrap();
    }
    /// (source, key) → golden id.
    fn ids(&self, date: &str) -> BTreeMap<(String, String), String> {
        rows(&run_dir(&self.out(), date).join("crosswalk.parquet"))
            .into_iter()
            .map(|r| {
                (
                    (r["source"].clone(), r["record_key"].clone()),
                    r["golden_id"].clone(),
                )
            })
            .collect()
    }
    fn changes(&self, date: &str) -> Vec<BTreeMap<String, String>> {
        rows(&run_dir(&self.out(), date).join("id_changes.parquet"))
    }
}

fn id_of(ids: &BTreeMap<(String, String), String>, source: &str, key: &str) -> String {
    ids[&(source.to_string(), key.to_string())].clone()
}

#[test]
fn unchanged_inputs_keep_golden_ids_and_outputs() {
    let n = Nightly::new();
    n.run("2026-11-18");
    n.run("2026-11-19");
    assert_eq!(n.ids("2026-11-18"), n.ids("2026-11-19"));
    assert!(
        n.changes("2026-11-19").is_empty(),
        "{:#?}",
        n.changes("2026-11-19")
    );
    assert!(
        n.changes("2026-11-18")
            .iter()
            .all(|c| c["change_type"] == "new")
    );
    let strip = |v: Vec<BTreeMap<String, String>>| {
        v.into_iter()
            .map(|mut r| {
                r.remove("run_date");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(golden(&n.out(), "2026-11-18", "customer")),
        strip(golden(&n.out(), "2026-11-19", "customer"))
    );
    // Re-running a date gives the same ids again (it builds on the run before it).
    n.run("2026-11-19");
    assert_eq!(n.ids("2026-11-18"), n.ids("2026-11-19"));
}

#[test]
fn a_new_duplicate_merges_two_entities_and_the_older_id_survives() {
    let n = Nightly::new();
    n.run("2026-11-17");
    let oscorp_crm = crm("OsCoF");
    // Day 2: billing gets an "Oscorp" customer in the same postcode with the same email
    // domain, but another mailbox, phone and street: not enough to call it the same.
    n.edit("billing_customers.csv", |t| {
        t + "cus_Oscorp000040,Oscorp,labs@oscorp.example.com,+16465550177,99 Lab Road,New York,10019,US,2026-11-01 10:00:00,2026-11-18 09:00:00,\n"
    });
    n.run("2026-11-18");
    let d2 = n.ids("2026-11-18");
    let old = id_of(&d2, "crm_accounts", &oscorp_crm);
    let young = id_of(&d2, "billing_customers", "cus_Oscorp000040");
    assert_ne!(old, young, "not yet known to be one entity");
    // Day 3: a new CRM duplicate arrives with the CRM record's address and the billing
    // record's email and phone: the two entities are one.
    n.append_crm(&format!(
        "{},Oscorp,Customer - Direct,1 Oscorp Tower,New York,NY,10019,US,+1 646-555-0177,labs@oscorp.example.com,,Fox Mulder,11/18/2026,11/19/2026 09:00 AM",
        crm("OsCoX")
    ));
    n.run("2026-11-19");
    let d3 = n.ids("2026-11-19");
    assert_eq!(
        id_of(&d3, "crm_accounts", &oscorp_crm),
        old,
        "the older id survives"
    );
    assert_eq!(id_of(&d3, "billing_customers", "cus_Oscorp000040"), old);
    assert_eq!(id_of(&d3, "crm_accounts", &crm("OsCoX")), old);
    let ch = n.changes("2026-11-19");
    let merged: Vec<_> = ch.iter().filter(|c| c["change_type"] == "merged").collect();
    assert_eq!(merged.len(), 1, "{ch:#?}");
    assert_eq!(merged[0]["golden_id"], young);
    assert_eq!(merged[0]["related_golden_id"], old);
    let reg = rows(&run_dir(&n.out(), "2026-11-19").join("id_registry.parquet"));
    let y = reg.iter().find(|r| r["golden_id"] == young).unwrap();
    assert_eq!(
        (y["status"].as_str(), y["merged_into"].as_str()),
        ("merged", old.as_str())
    );
}

#[test]
fn an_edit_that_splits_a_cluster_is_recorded() {
    let n = Nightly::new();
    n.run("2026-11-18");
    let d1 = n.ids("2026-11-18");
    let acme = id_of(&d1, "crm_accounts", &crm("AcMe1"));
    assert_eq!(id_of(&d1, "crm_accounts", &crm("AcMe2")), acme);
    // ACME Corp. (AcMe2) turns out to be another company.
    n.edit("crm_accounts.csv", |t| {
        let key = crm("AcMe2");
        t.lines()
            .map(|l| {
                if l.starts_with(&key) {
                    format!("{key},Zenith Holdings,Customer - Direct,9 Far Away Road,Omaha,NE,68102,US,(402) 555-0199,finance@zenith.example.com,zenith.example.com,Fox Mulder,06/03/2021,11/18/2026 04:40 PM")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n"
    });
    n.run("2026-11-19");
    let d2 = n.ids("2026-11-19");
    assert_eq!(
        id_of(&d2, "crm_accounts", &crm("AcMe1")),
        acme,
        "the largest part keeps the id"
    );
    assert_eq!(id_of(&d2, "billing_customers", "cus_Acme000001"), acme);
    let split_id = id_of(&d2, "crm_accounts", &crm("AcMe2"));
    assert_ne!(split_id, acme);
    let ch = n.changes("2026-11-19");
    let split = ch
        .iter()
        .find(|c| c["change_type"] == "split")
        .unwrap_or_else(|| panic!("{ch:#?}"));
    assert_eq!(split["golden_id"], split_id);
    assert_eq!(split["related_golden_id"], acme);
    assert!(split["records"].contains(&crm("AcMe2")));
}

#[test]
fn decisions_change_the_result_and_keep_doing_so() {
    let n = Nightly::new();
    n.run("2026-11-17");
    let d0 = n.ids("2026-11-17");
    assert_eq!(
        id_of(&d0, "crm_accounts", &crm("InTc4")),
        id_of(&d0, "crm_accounts", &crm("InTc5"))
    );
    assert_ne!(
        id_of(&d0, "crm_accounts", &crm("OsCoF")),
        id_of(&d0, "billing_customers", "cus_Aperture017")
    );
    n.edit("decisions.csv", |t| {
        format!(
            "{t}cannot_link,crm_accounts,{},crm_accounts,{},different subsidiaries\nmust_link,crm_accounts,{},billing_customers,cus_Aperture017,acquired\n",
            crm("InTc4"),
            crm("InTc5"),
            crm("OsCoF")
        )
    });
    for day in ["2026-11-18", "2026-11-19"] {
        n.run(day);
        let ids = n.ids(day);
        assert_ne!(
            id_of(&ids, "crm_accounts", &crm("InTc4")),
            id_of(&ids, "crm_accounts", &crm("InTc5")),
            "{day}"
        );
        assert_eq!(
            id_of(&ids, "crm_accounts", &crm("OsCoF")),
            id_of(&ids, "billing_customers", "cus_Aperture017"),
            "{day}"
        );
        let m = manifest(&n.out(), day);
        assert_eq!(m["golden"]["decisions_applied"], 3);
    }
    // The next night keeps the same ids for the decided clusters.
    assert_eq!(n.ids("2026-11-18"), n.ids("2026-11-19"));
}

#[test]
fn contradictory_decisions_are_a_clear_error_and_unknown_records_are_reported() {
    let n = Nightly::new();
    n.edit("decisions.csv", |t| {
        format!(
            "{t}must_link,crm_accounts,{a},crm_accounts,{b},\nmust_link,crm_accounts,{b},billing_customers,cus_Acme000001,\ncannot_link,crm_accounts,{a},billing_customers,cus_Acme000001,\n",
            a = crm("InTc4"),
            b = crm("InTc5")
        )
    });
    let o = run(&n.cfg, &n.out(), AS_OF);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(
        e.contains("decisions.csv") && e.contains("line 5") && e.contains("lines 3, 4"),
        "{e}"
    );
    assert!(!n.out().join(format!("run_date={AS_OF}")).exists());

    let n = Nightly::new();
    n.edit("decisions.csv", |t| {
        format!("{t}must_link,crm_accounts,0015g00000GoNe1AAF,billing_customers,cus_Acme000001,\n")
    });
    let o = run(&n.cfg, &n.out(), AS_OF);
    assert_code(&o, 0);
    assert!(
        stderr(&o).contains("decision names a record that does not exist"),
        "{}",
        stderr(&o)
    );
    let f = findings(&n.out(), AS_OF);
    assert!(
        f.iter()
            .any(|x| x.0 == "decision" && x.1 == "unknown_record" && x.3 == "0015g00000GoNe1AAF")
    );
}

#[test]
fn an_unknown_status_in_the_previous_registry_is_a_clear_error() {
    use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
    use std::sync::Arc;
    let n = Nightly::new();
    n.run("2026-11-18");
    let path = run_dir(&n.out(), "2026-11-18").join("id_registry.parquet");
    let batches = read(&path);
    let schema = batches[0].schema();
    let status = schema.index_of("status").unwrap();
    let f = std::fs::File::create(&path).unwrap();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None).unwrap();
    for (bi, b) in batches.iter().enumerate() {
        let mut cols = b.columns().to_vec();
        let old = b.column(status).as_string::<i32>();
        let new: StringArray = (0..b.num_rows())
            .map(|i| {
                Some(if bi == 0 && i == 1 {
                    "frozen"
                } else {
                    old.value(i)
                })
            })
            .collect();
        cols[status] = Arc::new(new) as ArrayRef;
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
    }
    w.close().unwrap();
    let o = run(&n.cfg, &n.out(), "2026-11-19");
    assert_code(&o, 1);
    let err = stderr(&o);
    for want in [
        "id_registry.parquet",
        "row 2",
        "status",
        "\"frozen\"",
        "active, merged, retired",
    ] {
        assert!(err.contains(want), "{want:?} not in: {err}");
    }
}
