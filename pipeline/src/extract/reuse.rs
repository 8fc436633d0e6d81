//! Extract reuse behind `recon run --incremental`.
//!
//! A source's staged rows and quarantined rows depend only on its files' bytes, its
//! `[[source]]` mapping, its time zone and the recon version. An incremental run keeps,
//! per source, that fingerprint and every file's path, size and xxh3-128 digest in
//! `extract_cache.json` (internal state, next to the match cache). The next incremental
//! night hashes each source's files (a fraction of a second per gigabyte) and, when
//! nothing differs, hard-links the previous run's `staged/<source>.parquet`, copies the
//! source's quarantined rows with this run's date and reuses the file reports (the
//! manifest's `reused_from` says so). Any difference, a missing or unreadable cache or a
//! missing staged file means the source is extracted in full, as in any run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, Date32Array, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::FileReport;
use crate::config::{Config, SourceConfig};
use crate::error::{Error, Result};

/// The cache file in a run directory.
pub const FILE: &str = "extract_cache.json";
pub const VERSION: u32 = 1;

/// `extract_cache.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {
    pub version: u32,
    /// Run date of the run that wrote it (the date reused files report).
    pub run_date: String,
    pub sources: Vec<CachedSource>,
}

/// A source as extracted (or reused) by a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedSource {
    pub name: String,
    pub fingerprint: String,
    pub files: Vec<FileId>,
    /// The reports of the files, in order (what a reuse puts in the manifest).
    pub reports: Vec<FileReport>,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
}

/// Identity of an input file's content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileId {
    /// As shown in the manifest (relative to the config file).
    pub path: String,
    pub bytes: u64,
    pub xxh3_128: String,
}

/// Everything a source's extract output depends on besides its files' bytes.
pub fn fingerprint(cfg: &Config, src: &SourceConfig) -> String {
    let text = format!(
        "{}\u{1f}{:?}\u{1f}{}\u{1f}{}",
        env!("CARGO_PKG_VERSION"),
        src,
        cfg.source_time_zone(src),
        cfg.run.batch_size
    );
    format!("{:016x}", xxh3_64(text.as_bytes()))
}

/// Content identity of a source's files (one read of each file).
pub fn identify(cfg: &Config, files: &[PathBuf]) -> Result<Vec<FileId>> {
    files
        .iter()
        .map(|path| {
            let mut h = Xxh3::new();
            let bytes = super::input::read_through(path, |b| h.update(b))?;
            Ok(FileId {
                path: super::input::display_path(path, &cfg.base_dir),
                bytes,
                xxh3_128: format!("{:032x}", h.digest128()),
            })
        })
        .collect()
}

/// Reads a previous run's cache; `Err(reason)` when it cannot be used.
pub fn read(run_dir: &Path) -> std::result::Result<Cache, String> {
    let p = run_dir.join(FILE);
    let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read {FILE}: {e}"))?;
    let c: Cache = serde_json::from_str(&text).map_err(|e| format!("{FILE} is damaged: {e}"))?;
    if c.version != VERSION {
        return Err(format!(
            "{FILE} format {}, this recon writes {VERSION}",
            c.version
        ));
    }
    Ok(c)
}

/// The previous run's entry for a source, when its mapping and files are unchanged.
pub fn unchanged<'a>(
    prev: &'a Cache,
    name: &str,
    fingerprint: &str,
    files: &[FileId],
) -> std::result::Result<&'a CachedSource, &'static str> {
    let Some(s) = prev.sources.iter().find(|s| s.name == name) else {
        return Err("source not in the previous run");
    };
    if s.fingerprint != fingerprint {
        return Err("source mapping or recon version changed");
    }
    if s.files != files {
        return Err("input files changed");
    }
    Ok(s)
}

/// Hard-links (or, across file systems, copies) a previous run's file into this run.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        crate::output::create_dir_all(parent)?;
    }
    if to.exists() {
        std::fs::remove_file(to).map_err(|e| Error::io("cannot replace", to, e))?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| Error::io("cannot copy", from, e))?;
    }
    Ok(())
}

/// A source's rows of a previous `quarantine.parquet`, dated `run_date`.
pub fn quarantine_rows(
    prev_run_dir: &Path,
    source: &str,
    run_date: i32,
) -> Result<Vec<RecordBatch>> {
    let path = prev_run_dir.join(super::QUARANTINE_FILE);
    let (_, batches) = crate::output::read_parquet(&path)?;
    let schema = super::quarantine::schema();
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name("source")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| Error::Invariant(format!("{}: no source column", path.display())))?;
        let keep = BooleanArray::from_iter(col.iter().map(|v| Some(v == Some(source))));
        let b = datafusion::arrow::compute::filter_record_batch(&b, &keep)
            .map_err(|e| Error::Other(format!("filtering {}: {e}", path.display())))?;
        if b.num_rows() == 0 {
            continue;
        }
        let mut cols = b.columns().to_vec();
        cols[0] = Arc::new(Date32Array::from(vec![run_date; b.num_rows()]));
        out.push(
            RecordBatch::try_new(schema.clone(), cols)
                .map_err(|e| Error::Invariant(format!("{}: {e}", path.display())))?,
        );
    }
    Ok(out)
}
