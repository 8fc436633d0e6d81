//! The generator: writes every file of a synthetic data set into one directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::customers::{BILLING, CRM, Ctx, CustomerWriter};
use crate::fmt::{civil_from_days, parse_ymd};
use crate::geo::Geo;
use crate::ids::Ids;
use crate::inventory::{INVENTORY, Inventory};
use crate::invoices::{LINES, write_lines};
use crate::names::Names;
use crate::out::{Defects, Out, Res, Truth};

pub const CRM_FILE: &str = "crm_accounts.csv";
pub const BILLING_FILE: &str = "billing_customers.csv";
pub const LINES_FILE: &str = "invoice_lines.ndjson";
pub const INVENTORY_FILE: &str = "inventory_items.parquet";
pub const TRUTH_FILE: &str = "truth.csv";
pub const DEFECTS_FILE: &str = "defects.csv";
pub const CONFIG_FILE: &str = "recon.toml";

#[derive(Clone, Debug)]
pub struct Options {
    pub customers: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// `YYYY-MM-DD`.
    pub as_of: String,
    pub lines_per_customer: f64,
    /// The recon.toml to derive the generated config from.
    pub template: PathBuf,
}

impl Options {
    pub fn default_template() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/demo/recon.toml")
    }
}

/// What was generated.
#[derive(Debug, Default)]
pub struct Summary {
    /// File name → (data records, bytes).
    pub files: BTreeMap<&'static str, (u64, u64)>,
    /// Malformed rows per source.
    pub malformed: BTreeMap<&'static str, u64>,
    /// (source, defect) → count.
    pub defects: BTreeMap<(&'static str, &'static str), u64>,
    pub truth_rows: BTreeMap<&'static str, u64>,
    pub invoices: u64,
    pub seconds: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:<26} {:>12} {:>14}", "file", "records", "bytes")?;
        for (name, (rows, bytes)) in &self.files {
            writeln!(f, "{name:<26} {rows:>12} {bytes:>14}")?;
        }
        writeln!(f, "invoices: {}", self.invoices)?;
        writeln!(f, "{:<20} {:<20} {:>10}", "source", "defect", "count")?;
        for ((s, d), n) in &self.defects {
            writeln!(f, "{s:<20} {d:<20} {n:>10}")?;
        }
        write!(f, "generated in {:.1} s", self.seconds)
    }
}

fn copy_dir(from: &Path, to: &Path) -> Res<()> {
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Generates the data set described by `opts`.
pub fn generate(opts: &Options) -> Res<Summary> {
    let started = Instant::now();
    if opts.customers == 0 {
        return Err("--customers must be at least 1".into());
    }
    if !(opts.lines_per_customer >= 0.0 && opts.lines_per_customer.is_finite()) {
        return Err("--lines-per-customer must be a non-negative number".into());
    }
    let as_of = parse_ymd(&opts.as_of)
        .ok_or_else(|| format!("--as-of: expected YYYY-MM-DD, got {:?}", opts.as_of))?;
    let (y, _, _) = civil_from_days(as_of);
    if !(2000..=2200).contains(&y) {
        return Err("--as-of must be between 2000 and 2200".into());
    }
    let template = std::fs::read_to_string(&opts.template).map_err(|e| {
        format!(
            "cannot read the config template {}: {e}",
            opts.template.display()
        )
    })?;
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let dir = &opts.out;

    let ids = Ids::new(opts.seed, opts.customers);
    let geo = Geo::new(opts.seed);
    let names = Names::new(opts.seed);
    let ctx = Ctx::new(opts.seed, opts.customers, as_of, &ids, &geo, &names);
    let inventory = Inventory::generate(opts.seed, opts.customers);

    let mut truth_out = Out::create(&dir.join(TRUTH_FILE))?;
    let mut defects_out = Out::create(&dir.join(DEFECTS_FILE))?;
    truth_out.write(b"source,record_key,entity_id\n")?;
    defects_out.write(b"source,record_key,defect,related_source,related_key\n")?;
    let mut inv_truth = Truth::default();
    let mut inv_defects = Defects::default();
    inventory.record(&mut inv_truth, &mut inv_defects);
    inv_truth.spill(&mut truth_out, true)?;
    inv_defects.spill(&mut defects_out, true)?;

    let crm_out = Out::create(&dir.join(CRM_FILE))?;
    let billing_out = Out::create(&dir.join(BILLING_FILE))?;
    let lines_out = Out::create(&dir.join(LINES_FILE))?;

    let (cust, lines, parquet_bytes, cust_truth, cust_defects, line_defects) =
        std::thread::scope(|s| -> Res<_> {
            let ctx = &ctx;
            let inventory = &inventory;
            let lines =
                s.spawn(move || write_lines(ctx, inventory, opts.lines_per_customer, lines_out));
            let parquet =
                s.spawn(move || inventory.write_parquet(&dir.join(INVENTORY_FILE), as_of));
            let writer =
                CustomerWriter::new(ctx, crm_out, billing_out, &mut truth_out, &mut defects_out)?;
            let (cust, truth_rows, defect_counts) = writer.run()?;
            let (lines, line_defects) = lines.join().map_err(|_| "invoice thread panicked")??;
            let parquet_bytes = parquet.join().map_err(|_| "parquet thread panicked")??;
            Ok((
                cust,
                lines,
                parquet_bytes,
                truth_rows,
                defect_counts,
                line_defects,
            ))
        })?;
    let mut line_defects = line_defects;
    line_defects.spill(&mut defects_out, true)?;
    let truth_bytes = truth_out.finish()?;
    let defect_bytes = defects_out.finish()?;

    let config = crate::template::render(&template, &opts.as_of);
    std::fs::write(dir.join(CONFIG_FILE), &config)?;
    // Rule directories are relative to the config: copy them along.
    let template_dir = opts.template.parent().unwrap_or(Path::new("."));
    for d in crate::template::relative_rule_dirs(&template) {
        let from = template_dir.join(&d);
        if from.is_dir() {
            copy_dir(&from, &dir.join(&d))?;
        }
    }

    let mut sum = Summary::default();
    let mut defects = inv_defects.counts.clone();
    for (k, v) in cust_defects.iter().chain(line_defects.counts.iter()) {
        *defects.entry(*k).or_default() += v;
    }
    let mut truth_rows = inv_truth.rows.clone();
    for (k, v) in &cust_truth {
        *truth_rows.entry(*k).or_default() += v;
    }
    let total_truth: u64 = truth_rows.values().sum();
    let total_defects: u64 = defects.values().sum();
    sum.files.insert(
        CRM_FILE,
        (cust.crm_rows + cust.crm_malformed, cust.crm_bytes),
    );
    sum.files.insert(
        BILLING_FILE,
        (
            cust.billing_rows + cust.billing_malformed,
            cust.billing_bytes,
        ),
    );
    sum.files
        .insert(LINES_FILE, (lines.lines + lines.malformed, lines.bytes));
    sum.files.insert(
        INVENTORY_FILE,
        (inventory.items.len() as u64, parquet_bytes),
    );
    sum.files.insert(TRUTH_FILE, (total_truth, truth_bytes));
    sum.files
        .insert(DEFECTS_FILE, (total_defects, defect_bytes));
    sum.files.insert(CONFIG_FILE, (0, config.len() as u64));
    sum.malformed.insert(CRM, cust.crm_malformed);
    sum.malformed.insert(BILLING, cust.billing_malformed);
    sum.malformed.insert(LINES, lines.malformed);
    sum.malformed.insert(INVENTORY, 0);
    sum.defects = defects;
    sum.truth_rows = truth_rows;
    sum.invoices = lines.invoices;
    sum.seconds = started.elapsed().as_secs_f64();
    Ok(sum)
}
