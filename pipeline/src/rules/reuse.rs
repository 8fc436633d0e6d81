//! Rule reuse behind `recon run --incremental`.
//!
//! A rule instance's violation rows depend only on its rendered SQL and the tables the
//! SQL reads. An incremental run keeps, per instance that ran without error, the hash of
//! its rendered SQL, the tables it reads and where its rows sit in `violations.parquet`
//! (`rules_cache.json`, internal state). The next incremental night reuses the rows of
//! every instance whose SQL is unchanged and whose tables are all sources whose staged
//! rows were themselves reused (unchanged files and mapping): a rule over the `run` or
//! `sources` table, or whose SQL mentions the run date (`{{as_of}}`), always runs. Pass
//! rate and status are computed from the reused rows exactly as from executed ones.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

use crate::config::Config;

/// The cache file in a run directory.
pub const FILE: &str = "rules_cache.json";
pub const VERSION: u32 = 1;

/// `rules_cache.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {
    pub version: u32,
    pub fingerprint: String,
    pub instances: Vec<CachedInstance>,
}

/// An instance that ran without error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedInstance {
    pub rule_id: String,
    pub source: String,
    pub reference: Option<String>,
    pub sql_xxh3_128: String,
    /// Tables the SQL reads (sources only: an instance reading anything else is not kept).
    pub tables: Vec<String>,
    /// First row of its violations in `violations.parquet`, and how many.
    pub offset: u64,
    pub rows: u64,
}

/// Settings that change what a rule returns or whether it errors, besides its SQL.
pub fn fingerprint(cfg: &Config) -> String {
    format!(
        "{}/{}/{}/{}",
        env!("CARGO_PKG_VERSION"),
        cfg.rules.max_violations_per_rule,
        cfg.run.memory_limit_mb,
        cfg.rules.timeout_secs
    )
}

pub fn sql_hash(sql: &str) -> String {
    format!("{:032x}", xxh3_128(sql.as_bytes()))
}

/// The source tables `sql` reads, or `None` when it reads anything else (the `run` or
/// `sources` table, a table function) or cannot be parsed.
pub fn source_tables(ctx: &SessionContext, cfg: &Config, sql: &str) -> Option<Vec<String>> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let stmt = state.sql_to_statement(sql, &dialect).ok()?;
    let refs = state.resolve_table_references(&stmt).ok()?;
    let mut out: Vec<String> = Vec::new();
    for r in refs {
        if r.schema().is_some_and(|s| s != "public")
            || r.catalog().is_some_and(|c| c != "datafusion")
        {
            return None;
        }
        let t = r.table();
        if !cfg.sources.iter().any(|s| s.name == t) {
            return None;
        }
        if !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    out.sort();
    Some(out)
}

/// A previous run's cache and violations, read back.
pub struct Previous {
    pub cache: Cache,
    violations: RecordBatch,
}

impl Previous {
    /// Reads the cache and the violations of `run_dir`; `Err(reason)` when unusable.
    pub fn read(run_dir: &Path, fingerprint: &str) -> std::result::Result<Previous, String> {
        let text = std::fs::read_to_string(run_dir.join(FILE))
            .map_err(|e| format!("cannot read {FILE}: {e}"))?;
        let cache: Cache =
            serde_json::from_str(&text).map_err(|e| format!("{FILE} is damaged: {e}"))?;
        if cache.version != VERSION {
            return Err(format!("{FILE} format {}", cache.version));
        }
        if cache.fingerprint != fingerprint {
            return Err("rule limits or recon version changed".into());
        }
        let (schema, batches) = crate::output::read_parquet(&run_dir.join(super::VIOLATIONS_FILE))
            .map_err(|e| e.to_string())?;
        if schema.fields() != super::violations_schema().fields() {
            return Err("violations.parquet has another schema".into());
        }
        let violations =
            concat_batches(&super::violations_schema(), &batches).map_err(|e| e.to_string())?;
        Ok(Previous { cache, violations })
    }

    /// The cached instance matching, if its rows can be reused.
    pub fn find(
        &self,
        rule_id: &str,
        source: &str,
        reference: Option<&str>,
        sql: &str,
        unchanged: &HashSet<String>,
    ) -> Option<&CachedInstance> {
        let c = self.cache.instances.iter().find(|c| {
            c.rule_id == rule_id && c.source == source && c.reference.as_deref() == reference
        })?;
        (c.sql_xxh3_128 == sql_hash(sql)
            && unchanged.contains(source)
            && c.tables.iter().all(|t| unchanged.contains(t)))
        .then_some(c)
    }

    /// An instance's violation rows (source, record_key, detail), as it returned them.
    pub fn rows(&self, c: &CachedInstance) -> Option<RecordBatch> {
        let end = c.offset.checked_add(c.rows)?;
        if end > self.violations.num_rows() as u64 {
            return None;
        }
        let b = self.violations.slice(c.offset as usize, c.rows as usize);
        let ids = b.column(1).as_string_opt::<i32>()?;
        if ids.iter().any(|id| id != Some(c.rule_id.as_str())) {
            return None;
        }
        RecordBatch::try_new(
            super::violation_rows_schema(),
            vec![
                Arc::clone(b.column(4)),
                Arc::clone(b.column(6)),
                Arc::clone(b.column(7)),
            ],
        )
        .ok()
    }
}
