//! The output directory: the run lock, the run directory written beside its final place,
//! and the atomic commit.
//!
//! Layout: `<output>/run_date=YYYY-MM-DD/` holds one committed run per date. A run is
//! written into `<output>/.tmp-run_date=YYYY-MM-DD.<run id>/` and moved into place only
//! when complete. Replacing an existing run of the same date is one atomic
//! `renameat2(RENAME_EXCHANGE)` on Linux, so a reader sees the old run or the new one and
//! never a mix; elsewhere the old run is first renamed aside and restored on the next
//! start if the process died in between. Leftover temporary directories of killed runs
//! are removed by the next run, under the lock.
//!
//! Files are created with mode 0640 and directories with 0750: outputs hold personal
//! data.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::arrow_writer::{
    ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves,
};
use datafusion::parquet::arrow::{ArrowSchemaConverter, add_encoded_arrow_schema_to_metadata};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use crate::error::{Error, Result};

pub const FILE_MODE: u32 = 0o640;
pub const DIR_MODE: u32 = 0o750;
const LOCK_FILE: &str = ".recon.lock";
const TMP_PREFIX: &str = ".tmp-";
const OLD_PREFIX: &str = ".old-";

/// Name of the directory of one run date.
pub fn run_dir_name(date: NaiveDate) -> String {
    format!("run_date={}", date.format("%Y-%m-%d"))
}

/// Creates a directory (and parents) with the output directory mode.
pub fn create_dir_all(p: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(p)
        .map_err(|e| Error::io("cannot create directory", p, e))
}

/// Creates (truncating) an output file with the output file mode.
pub fn create_file(p: &Path) -> Result<OutFile> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(p)
        .map_err(|e| Error::io("cannot create output file", p, e))?;
    Ok(OutFile { file })
}

/// An output file. Test hook: `RECON_TEST_DISK_FULL_AFTER_BYTES=<n>` makes writes
/// fail with "No space left on device" once the process has written `n` bytes of
/// outputs, so tests can prove a full disk leaves the previous run intact.
pub struct OutFile {
    file: File,
}

fn disk_budget() -> Option<&'static std::sync::atomic::AtomicI64> {
    static BUDGET: std::sync::OnceLock<Option<std::sync::atomic::AtomicI64>> =
        std::sync::OnceLock::new();
    BUDGET
        .get_or_init(|| {
            std::env::var("RECON_TEST_DISK_FULL_AFTER_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(std::sync::atomic::AtomicI64::new)
        })
        .as_ref()
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(b) = disk_budget()
            && b.fetch_sub(buf.len() as i64, std::sync::atomic::Ordering::SeqCst) < buf.len() as i64
        {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl OutFile {
    pub fn sync_all(&self) -> std::io::Result<()> {
        self.file.sync_all()
    }
}

/// Writer settings shared by every Parquet output: zstd, dictionaries, statistics.
pub fn parquet_props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_created_by(format!("recon {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// An exclusive lock on an output directory, held for the life of the value (and
/// released by the kernel if the process dies).
pub struct OutputDir {
    root: PathBuf,
    _lock: File,
}

impl OutputDir {
    /// Creates the output directory if needed, takes the lock, and cleans up after runs
    /// that were killed.
    pub fn lock(root: &Path) -> Result<OutputDir> {
        create_dir_all(root)?;
        let lock_path = root.join(LOCK_FILE);
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&lock_path)
            .map_err(|e| Error::io("cannot open lock file", &lock_path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&lock_path)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
                return Err(Error::Locked {
                    dir: root.to_path_buf(),
                    lock: lock_path,
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot lock", &lock_path, e));
            }
        }
        f.set_len(0)
            .and_then(|_| {
                writeln!(
                    f,
                    "pid {} since {}",
                    std::process::id(),
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
                )
            })
            .map_err(|e| Error::io("cannot write lock file", &lock_path, e))?;
        let dir = OutputDir {
            root: root.to_path_buf(),
            _lock: f,
        };
        dir.recover()?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Restores runs left renamed aside by an interrupted commit and removes temporary
    /// directories of runs that did not finish.
    fn recover(&self) -> Result<()> {
        let entries =
            fs::read_dir(&self.root).map_err(|e| Error::io("cannot list", &self.root, e))?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in &names {
            if let Some(rest) = name.strip_prefix(OLD_PREFIX) {
                let final_name = rest.split('.').next().unwrap_or(rest);
                let final_path = self.root.join(final_name);
                let old_path = self.root.join(name);
                if final_path.exists() {
                    let _ = fs::remove_dir_all(&old_path);
                } else {
                    tracing::warn!(
                        run = final_name,
                        "restoring a run left aside by an interrupted commit"
                    );
                    fs::rename(&old_path, &final_path)
                        .map_err(|e| Error::io("cannot restore", &old_path, e))?;
                }
            } else if name.starts_with(TMP_PREFIX) {
                tracing::info!(dir = %name, "removing the temporary directory of an unfinished run");
                let p = self.root.join(name);
                fs::remove_dir_all(&p).map_err(|e| Error::io("cannot remove", &p, e))?;
            }
        }
        Ok(())
    }

    /// Starts writing a run for `date` in a fresh temporary directory.
    pub fn begin_run(&self, date: NaiveDate, run_id: &str) -> Result<RunDir> {
        let final_path = self.root.join(run_dir_name(date));
        let tmp = self
            .root
            .join(format!("{TMP_PREFIX}{}.{run_id}", run_dir_name(date)));
        create_dir_all(&tmp)?;
        Ok(RunDir {
            tmp,
            final_path,
            outputs: Vec::new(),
        })
    }

    /// Committed run dates, oldest first.
    pub fn run_dates(&self) -> Result<Vec<NaiveDate>> {
        list_run_dates(&self.root)
    }
}

/// The committed run dates under an output directory, oldest first.
pub fn list_run_dates(root: &Path) -> Result<Vec<NaiveDate>> {
    let mut dates = Vec::new();
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dates),
        Err(e) => return Err(Error::io("cannot list", root, e)),
    };
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(d) = name.strip_prefix("run_date=")
            && let Ok(date) = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            && e.path().join("manifest.json").is_file()
        {
            dates.push(date);
        }
    }
    dates.sort();
    Ok(dates)
}

/// A file written into a run directory, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputFile {
    /// Path relative to the run directory.
    pub path: String,
    pub rows: Option<u64>,
    pub bytes: u64,
}

/// A run directory being written.
pub struct RunDir {
    tmp: PathBuf,
    final_path: PathBuf,
    outputs: Vec<OutputFile>,
}

impl RunDir {
    /// Where files are written while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Where the run will be once committed.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Path of an output inside the (temporary) run directory, creating parents.
    pub fn file(&self, rel: &str) -> Result<PathBuf> {
        let p = self.tmp.join(rel);
        if let Some(parent) = p.parent() {
            create_dir_all(parent)?;
        }
        Ok(p)
    }

    /// Records an output written by hand (its size is read from disk).
    pub fn record(&mut self, rel: &str, rows: Option<u64>) -> Result<()> {
        let p = self.tmp.join(rel);
        let bytes = fs::metadata(&p)
            .map_err(|e| Error::io("cannot stat output", &p, e))?
            .len();
        self.outputs.retain(|o| o.path != rel);
        self.outputs.push(OutputFile {
            path: rel.to_string(),
            rows,
            bytes,
        });
        Ok(())
    }

    /// Opens a streaming Parquet writer for an output.
    pub fn parquet_writer(&self, rel: &str, schema: SchemaRef) -> Result<ParquetSink> {
        ParquetSink::create(&self.file(rel)?, rel, schema)
    }

    /// Writes batches to a Parquet output and records it.
    pub fn write_parquet(
        &mut self,
        rel: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<u64> {
        let rows = self.write_parquet_unrecorded(rel, schema, batches)?;
        self.record(rel, Some(rows))?;
        Ok(rows)
    }

    /// Writes batches to a Parquet output without recording it (for files written side
    /// by side; the caller records each afterwards, with [`RunDir::record`]).
    pub fn write_parquet_unrecorded(
        &self,
        rel: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<u64> {
        let mut w = self.parquet_writer(rel, schema)?;
        for b in batches {
            w.write(b)?;
        }
        w.finish()
    }

    /// Writes a JSON document and records it.
    pub fn write_json<T: serde::Serialize>(&mut self, rel: &str, value: &T) -> Result<()> {
        let p = self.file(rel)?;
        let mut f = create_file(&p)?;
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::Other(format!("cannot serialise {rel}: {e}")))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io("cannot write", &p, e))?;
        self.record(rel, None)
    }

    /// Writes a text file and records it.
    pub fn write_text(&mut self, rel: &str, text: &str) -> Result<()> {
        let p = self.file(rel)?;
        let mut f = create_file(&p)?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io("cannot write", &p, e))?;
        self.record(rel, None)
    }

    pub fn outputs(&self) -> &[OutputFile] {
        &self.outputs
    }

    /// Moves the finished run into place atomically; returns its final path.
    pub fn commit(self) -> Result<PathBuf> {
        fsync_dir(&self.tmp)?;
        if let Ok(rd) = fs::read_dir(&self.tmp) {
            for e in rd.filter_map(|e| e.ok()) {
                if e.path().is_dir() {
                    fsync_dir(&e.path())?;
                }
            }
        }
        let root = self
            .final_path
            .parent()
            .expect("run dir has a parent")
            .to_path_buf();
        if !self.final_path.exists() {
            fs::rename(&self.tmp, &self.final_path)
                .map_err(|e| Error::io("cannot move the run into place at", &self.final_path, e))?;
        } else if exchange(&self.tmp, &self.final_path).is_ok() {
            // The old run now sits at the temporary path.
            fs::remove_dir_all(&self.tmp)
                .map_err(|e| Error::io("cannot remove the replaced run at", &self.tmp, e))?;
        } else {
            let name = self
                .final_path
                .file_name()
                .expect("run dir has a name")
                .to_string_lossy()
                .into_owned();
            let suffix = self
                .tmp
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .rsplit('.')
                        .next()
                        .unwrap_or("x")
                        .to_string()
                })
                .unwrap_or_default();
            let aside = root.join(format!("{OLD_PREFIX}{name}.{suffix}"));
            fs::rename(&self.final_path, &aside)
                .map_err(|e| Error::io("cannot move the previous run aside to", &aside, e))?;
            fs::rename(&self.tmp, &self.final_path)
                .map_err(|e| Error::io("cannot move the run into place at", &self.final_path, e))?;
            fs::remove_dir_all(&aside)
                .map_err(|e| Error::io("cannot remove the replaced run at", &aside, e))?;
        }
        fsync_dir(&root)?;
        Ok(self.final_path)
    }
}

fn fsync_dir(p: &Path) -> Result<()> {
    File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("cannot sync directory", p, e))
}

/// Atomically swaps two paths (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings; AT_FDCWD resolves them
    // relative to the working directory like rename(2).
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no atomic exchange",
    ))
}

/// A Parquet file being written, counting rows.
pub struct ParquetSink {
    writer: SerializedFileWriter<OutFile>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Column writers of the row group being written.
    columns: Option<Vec<ArrowColumnWriter>>,
    rows_in_group: usize,
    max_group_rows: usize,
    groups: usize,
    path: PathBuf,
    rel: String,
    rows: u64,
}

/// A streaming Parquet writer that encodes and compresses a batch's columns in parallel
/// (the same file `ArrowWriter` would write: Arrow schema in the footer, row groups of
/// the configured size — `ArrowWriter` encodes the columns one after another).
impl ParquetSink {
    pub fn create(path: &Path, rel: &str, schema: SchemaRef) -> Result<ParquetSink> {
        let f = create_file(path)?;
        let err = |e| Error::parquet(format!("cannot start writing {rel}"), e);
        let mut props = parquet_props();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let parquet_schema = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)
            .map_err(err)?;
        let max_group_rows = props
            .max_row_group_row_count()
            .unwrap_or(1024 * 1024)
            .max(1);
        let writer =
            SerializedFileWriter::new(f, parquet_schema.root_schema_ptr(), Arc::new(props))
                .map_err(err)?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, schema.clone());
        Ok(ParquetSink {
            writer,
            factory,
            schema,
            columns: None,
            rows_in_group: 0,
            max_group_rows,
            groups: 0,
            path: path.to_path_buf(),
            rel: rel.to_string(),
            rows: 0,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let room = self.max_group_rows - self.rows_in_group;
            let now = batch.slice(0, room.min(batch.num_rows()));
            batch = batch.slice(now.num_rows(), batch.num_rows() - now.num_rows());
            self.encode(&now)?;
            if self.rows_in_group >= self.max_group_rows {
                self.close_group()?;
            }
        }
        Ok(())
    }

    /// Writes `items` in order as batches of `rows` built by `build`, several batches
    /// built in parallel at a time (building the arrays is most of the cost of wide
    /// outputs; encoding is parallel over columns already).
    pub fn write_parallel<T: Sync>(
        &mut self,
        items: &[T],
        rows: usize,
        build: impl Fn(&[T]) -> Result<RecordBatch> + Sync,
    ) -> Result<()> {
        self.write_ranges(items.len(), rows, |r| build(&items[r]))
    }

    /// Writes rows `0..n` in order as batches of `rows` built by `build(range)`, several
    /// built in parallel at a time: an output is never held whole in memory.
    pub fn write_ranges(
        &mut self,
        n: usize,
        rows: usize,
        build: impl Fn(std::ops::Range<usize>) -> Result<RecordBatch> + Sync,
    ) -> Result<()> {
        const IN_FLIGHT: usize = 8;
        let rows = rows.max(1);
        let mut start = 0;
        while start < n {
            let end = (start + rows * IN_FLIGHT).min(n);
            let ranges: Vec<std::ops::Range<usize>> = (start..end)
                .step_by(rows)
                .map(|s| s..(s + rows).min(end))
                .collect();
            let batches: Vec<RecordBatch> =
                ranges.into_par_iter().map(&build).collect::<Result<_>>()?;
            for b in &batches {
                self.write(b)?;
            }
            start = end;
        }
        Ok(())
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        let rel = &self.rel;
        let err = |e| Error::parquet(format!("cannot write {rel}"), e);
        if self.columns.is_none() {
            self.columns = Some(
                self.factory
                    .create_column_writers(self.groups)
                    .map_err(err)?,
            );
        }
        let mut leaves: Vec<ArrowLeafColumn> = Vec::new();
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field.as_ref(), column).map_err(err)?);
        }
        let writers = self.columns.as_mut().expect("created above");
        writers
            .par_iter_mut()
            .zip(leaves.par_iter())
            .with_max_len(1)
            .try_for_each(|(w, leaf)| w.write(leaf))
            .map_err(err)?;
        self.rows_in_group += batch.num_rows();
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn close_group(&mut self) -> Result<()> {
        let Some(writers) = self.columns.take() else {
            return Ok(());
        };
        let rel = &self.rel;
        let err = |e| Error::parquet(format!("cannot write {rel}"), e);
        let chunks = writers
            .into_par_iter()
            .with_max_len(1)
            .map(|w| w.close())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(err)?;
        let mut group = self.writer.next_row_group().map_err(err)?;
        for c in chunks {
            c.append_to_row_group(&mut group).map_err(err)?;
        }
        group.close().map_err(err)?;
        self.groups += 1;
        self.rows_in_group = 0;
        Ok(())
    }

    /// Closes the file (flushing and syncing it); returns the number of rows written.
    pub fn finish(mut self) -> Result<u64> {
        self.close_group()?;
        let meta = self
            .writer
            .close()
            .map_err(|e| Error::parquet(format!("cannot finish {}", self.rel), e))?;
        let written: i64 = meta.file_metadata().num_rows();
        if written as u64 != self.rows {
            return Err(Error::Invariant(format!(
                "{}: wrote {} rows but the Parquet footer says {written}",
                self.rel, self.rows
            )));
        }
        File::open(&self.path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("cannot sync", &self.path, e))?;
        Ok(self.rows)
    }
}

/// Reads a whole Parquet file into batches (small outputs, tests, history).
pub fn read_parquet(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let f = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| Error::parquet(format!("cannot read {}", path.display()), e))?;
    let schema: SchemaRef = Arc::clone(builder.schema());
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| Error::parquet(format!("cannot read {}", path.display()), e))?;
    let mut batches = Vec::new();
    for b in reader {
        batches.push(b.map_err(|e| Error::arrow(format!("cannot read {}", path.display()), e))?);
    }
    Ok((schema, batches))
}

/// Rows of a Parquet file, from its footer.
pub fn parquet_rows(path: &Path) -> Result<u64> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let f = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let r = SerializedFileReader::new(f)
        .map_err(|e| Error::parquet(format!("cannot read {}", path.display()), e))?;
    Ok(r.metadata().file_metadata().num_rows().max(0) as u64)
}
