//! Scorecards, history, regression alerts, gates and the report, through the real
//! binary over a sequence of fixture runs.

mod common;

use std::path::PathBuf;

use common::*;

struct Nightly {
    dir: tempfile::TempDir,
    cfg: PathBuf,
}

impl Nightly {
    fn new(extra: impl Fn(String) -> String) -> Nightly {
        let dir = tmp();
        let cfg = config_in(
            dir.path(),
            &extra(demo_config_text().replace("../../out/demo", "out")),
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
    fn run(&self, date: &str) -> std::process::Output {
        run(&self.cfg, &self.out(), date)
    }
}

#[test]
fn scorecard_has_every_source_and_dimension_with_its_figures() {
    let n = Nightly::new(|t| t);
    assert_code(&n.run("2026-11-20"), 0);
    let rows = rows(&run_dir(&n.out(), "2026-11-20").join("scorecard.parquet"));
    assert_eq!(rows.len(), 4 * 7, "4 sources × (6 dimensions + overall)");
    let crm = |d: &str| {
        rows.iter()
            .find(|r| r["source"] == "crm_accounts" && r["dimension"] == d)
            .unwrap()
    };
    // Timeliness: stale_record 30/32 → 93.75 — the only timeliness rule for the CRM.
    assert_eq!(crm("timeliness")["score"], "93.75");
    assert_eq!(
        crm("timeliness")["status"],
        "pass",
        "timeliness warns below 90 in the demo"
    );
    assert_eq!(crm("consistency")["status"], "no_rules");
    assert_eq!(crm("overall")["owner_team"], "Sales Operations");
    assert_eq!(crm("overall")["rows_read"], "38");
    assert_eq!(crm("overall")["rows_quarantined"], "6");
    let q: f64 = crm("overall")["quarantine_rate"].parse().unwrap();
    assert!((q - 6.0 / 38.0).abs() < 1e-9);
    let d: f64 = crm("overall")["duplicate_rate"].parse().unwrap();
    assert!(
        (d - 3.0 / 32.0).abs() < 1e-9,
        "AcMe2, InTc5 and the repeated Sterling key"
    );
    assert!(
        rows.iter()
            .filter(|r| r["source"] == "invoice_lines")
            .all(|r| r["link_rate"].is_empty())
    );
    // From a score to its rules: rule_results joins on source and dimension.
    let rr = common::rows(&run_dir(&n.out(), "2026-11-20").join("rule_results.parquet"));
    assert!(rr.iter().any(|r| r["source"] == "crm_accounts"
        && r["dimension"] == "timeliness"
        && r["rule_id"] == "stale_record"));
}

/// Makes most CRM emails invalid (a broken export) — validity falls.
fn break_emails(n: &Nightly) {
    let p = n.dir.path().join("crm_accounts.csv");
    let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
    let broken = text.replace(".example.com,", "example-com,");
    std::fs::write(&p, broken).unwrap();
}

#[test]
fn history_builds_up_and_a_planted_drop_raises_an_alert() {
    let n = Nightly::new(|t| t);
    for d in ["2026-11-17", "2026-11-18", "2026-11-19"] {
        assert_code(&n.run(d), 0);
        let f = rows(&run_dir(&n.out(), d).join("findings.parquet"));
        assert!(
            !f.iter().any(|r| r["finding_type"] == "regression"),
            "no alert without a change ({d})"
        );
    }
    break_emails(&n);
    let o = n.run("2026-11-20");
    assert_code(&o, 0);
    let f = rows(&run_dir(&n.out(), "2026-11-20").join("findings.parquet"));
    let alerts: Vec<_> = f
        .iter()
        .filter(|r| r["finding_type"] == "regression" && r["source"] == "crm_accounts")
        .collect();
    assert!(
        alerts
            .iter()
            .any(|r| r["kind"] == "score_drop" && r["record_key"] == "validity"),
        "{alerts:#?}"
    );
    let a = alerts
        .iter()
        .find(|r| r["record_key"] == "validity")
        .unwrap();
    assert!(a["detail"].contains("on 2026-11-19"), "{}", a["detail"]);
    assert!(stderr(&o).contains("regression alert"));
    // recon history shows the trend.
    let h = recon()
        .args(["history", "--config"])
        .arg(&n.cfg)
        .args(["--source", "crm_accounts", "--last", "3"])
        .output()
        .unwrap();
    assert_code(&h, 0);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(
        text.contains("2026-11-20") && !text.contains("2026-11-17"),
        "{text}"
    );
    assert!(text.contains('▼'), "{text}");
    // The report shows the alert.
    let html =
        std::fs::read_to_string(run_dir(&n.out(), "2026-11-20").join("report.html")).unwrap();
    assert!(
        html.contains("Regression alerts") && html.contains("validity score fell"),
        "report"
    );
}

#[test]
fn a_gate_above_the_achievable_score_fails_the_run_with_a_summary_line() {
    let n = Nightly::new(|t| t.replace("min = 90", "min = 99.5"));
    let o = n.run("2026-11-20");
    assert_code(&o, 3);
    let e = stderr(&o);
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("recon: gate failed:"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("overall score of crm_accounts")
                && l.contains("(min 99.5)")
                && l.contains("Sales Operations")),
        "{e}"
    );
    assert_eq!(lines.len(), 3, "one line per broken gate: {lines:#?}");
    // The run is committed and says so.
    let m = manifest(&n.out(), "2026-11-20");
    assert_eq!(m["status"], "gates_failed");
    assert_eq!(m["exit_code"], 3);
    assert_eq!(m["gates_failed"].as_array().unwrap().len(), 3);
}

#[test]
fn other_gate_kinds_fail_too() {
    let n = Nightly::new(|t| {
        t.replace("max_quarantine_rate = 0.20", "max_quarantine_rate = 0.10")
            .replace(
                "rules_must_pass = [\"quantity_positive\", \"invoice_currency_usd\"]",
                "rules_must_pass = [\"email_valid\"]",
            )
    });
    let o = n.run("2026-11-20");
    assert_code(&o, 3);
    let e = stderr(&o);
    assert!(
        e.contains("gate failed: quarantine rate of crm_accounts is 15.79% (max 10.00%)"),
        "{e}"
    );
    assert!(
        e.contains("gate failed: rule email_valid on crm_accounts is fail"),
        "{e}"
    );
}

#[test]
fn gates_met_exit_zero() {
    let n = Nightly::new(|t| t);
    let o = n.run("2026-11-20");
    assert_code(&o, 0);
    assert!(!stderr(&o).contains("gate failed"));
    let html =
        std::fs::read_to_string(run_dir(&n.out(), "2026-11-20").join("report.html")).unwrap();
    assert!(
        html.contains("All 5 gates passed"),
        "report shows the gates"
    );
}

#[test]
fn the_report_is_self_contained_and_can_mask_personal_data() {
    let n = Nightly::new(|t| t);
    assert_code(&n.run("2026-11-19"), 0);
    assert_code(&n.run("2026-11-20"), 0);
    let html =
        std::fs::read_to_string(run_dir(&n.out(), "2026-11-20").join("report.html")).unwrap();
    for id in [
        "summary",
        "gates",
        "changes",
        "scorecard",
        "trends",
        "rules",
        "duplicates",
        "mismatches",
        "stale",
        "review",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url(http"),
        "nothing from the network"
    );
    assert!(html.matches("<svg").count() >= 4, "a chart per source");
    assert!(
        html.contains("Acme Corp"),
        "values are shown unmasked by default"
    );
    assert!(html.contains("Showing"), "caps are stated");
    let m = Nightly::new(|t| t.replace("mask_personal_data = false", "mask_personal_data = true"));
    assert_code(&m.run("2026-11-20"), 0);
    let masked =
        std::fs::read_to_string(run_dir(&m.out(), "2026-11-20").join("report.html")).unwrap();
    for pii in [
        "Acme Corp",
        "ap@acme.example.com",
        "217-555-0100",
        "100 Main St",
        "Wayne Enterprises",
    ] {
        assert!(!masked.contains(pii), "{pii} is masked");
    }
    assert!(masked.contains("personal data masked"));
}
