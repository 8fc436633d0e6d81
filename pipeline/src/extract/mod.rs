//! Extract: every declared source's files → `staged/<source>.parquet` (canonical schema
//! plus `_source`, `_record_key`, `_file`, `_line`) and `quarantine.parquet`.
//!
//! Each file streams through three steps: a reader thread finds records (CSV records,
//! JSON lines, Parquet batches) in chunks; chunks are converted to typed Arrow batches in
//! parallel (rayon); batches are written in order. Memory is a few chunks per source,
//! whatever the file size. Sources are extracted concurrently.
//!
//! Row accounting is checked per file: the records the reader found must equal the rows
//! written to the staged file plus the rows written to quarantine.

pub mod coerce;
pub mod csv;
pub mod input;
pub mod ndjson;
mod parquet_in;
pub mod quarantine;
pub mod reuse;
pub mod rows;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::csv::{Chunk, ScanOptions, Scanner, decode, decode_lossy, field_bytes, split_fields};
use self::quarantine::{QuarantineRecord, Reason};
use self::rows::{BatchBuilder, FieldText, RowError, RowPlan};
use crate::config::{Config, Encoding, Format, SourceConfig};
use crate::error::{Error, Result};
use crate::output::{ParquetSink, RunDir};
use crate::progress::Progress;

/// Accounting and identity of one input file, as recorded in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileReport {
    /// Path relative to the config file's directory.
    pub path: String,
    pub format: String,
    pub compression: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// Quarantined rows by reason code.
    pub quarantined_by_reason: BTreeMap<String, u64>,
    pub duration_ms: u64,
    /// Run date whose staged rows were reused because the file and the source's
    /// mapping were unchanged (`recon run --incremental`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// What extraction produced for one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub name: String,
    pub system: &'static str,
    pub entity: String,
    pub files: Vec<FileReport>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// Staged Parquet file, relative to the run directory.
    pub staged: String,
}

/// The extract stage's result.
#[derive(Debug, Clone, Serialize)]
pub struct ExtractOutput {
    pub sources: Vec<SourceReport>,
    pub rows_quarantined: u64,
}

impl ExtractOutput {
    pub fn source(&self, name: &str) -> Option<&SourceReport> {
        self.sources.iter().find(|s| s.name == name)
    }
}

impl SourceReport {
    /// Whether this run reused the previous run's staged rows (`--incremental`, every
    /// file unchanged).
    pub fn reused(&self) -> bool {
        !self.files.is_empty() && self.files.iter().all(|f| f.reused_from.is_some())
    }
}

/// Relative path of a source's staged file.
pub fn staged_rel(source: &str) -> String {
    format!("staged/{source}.parquet")
}

pub const QUARANTINE_FILE: &str = "quarantine.parquet";

/// Runs the extract stage into `run`. With `incremental`, the sources whose files and
/// mapping are unchanged since the previous run reuse its staged rows (see [`reuse`]).
pub fn extract(
    cfg: &Config,
    run: &mut RunDir,
    run_date: NaiveDate,
    progress: &Progress,
    incremental: Option<&crate::matching::Incremental>,
) -> Result<ExtractOutput> {
    let run_date_days = crate::util::date_to_days(run_date);
    let tmp_q_dir = run
        .file(".quarantine/x")?
        .parent()
        .expect("has parent")
        .to_path_buf();
    let run_path = run.path().to_path_buf();
    // Resolve every source's files first, so a missing file fails before any work.
    let mut plans = Vec::new();
    for s in &cfg.sources {
        plans.push((s, cfg.source_files(s)?));
    }
    let previous = incremental.and_then(|i| i.previous.as_ref()).and_then(
        |(dir, date)| match reuse::read(dir) {
            Ok(c) => Some((c, dir.as_path())),
            Err(reason) => {
                tracing::info!(previous_run = %date, reason = %reason, "incremental: extract cache not used; extracting every source");
                None
            }
        },
    );
    let bar = progress.counter("extract", "rows");
    type Extracted = (SourceReport, PathBuf, Option<reuse::CachedSource>);
    let results: Vec<Result<Extracted>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plans
            .iter()
            .map(|(s, files)| {
                let run_path = &run_path;
                let tmp_q_dir = &tmp_q_dir;
                let bar = &bar;
                let previous = previous.as_ref();
                scope.spawn(move || -> Result<Extracted> {
                    if incremental.is_none() {
                        let (rep, q) = extract_source(
                            cfg,
                            s,
                            files,
                            run_path,
                            tmp_q_dir,
                            run_date_days,
                            bar,
                        )?;
                        return Ok((rep, q, None));
                    }
                    let started = Instant::now();
                    let fingerprint = reuse::fingerprint(cfg, s);
                    let ids = reuse::identify(cfg, files)?;
                    if let Some((prev, dir)) = previous {
                        match reuse::unchanged(prev, &s.name, &fingerprint, &ids) {
                            Ok(cached) => match reuse_source(
                                s,
                                cached,
                                (&prev.run_date, dir),
                                run_path,
                                tmp_q_dir,
                                run_date_days,
                                started,
                            ) {
                                Ok((rep, q)) => {
                                    bar.inc(rep.rows_read);
                                    return Ok((rep, q, Some(cached.clone())));
                                }
                                Err(e) => {
                                    tracing::warn!(source = %s.name, previous_run = %prev.run_date, error = %e, "incremental: cannot reuse the previous staged rows; extracting");
                                }
                            },
                            Err(reason) => {
                                tracing::info!(source = %s.name, reason, "incremental: extracting the source");
                            }
                        }
                    }
                    let (rep, q) =
                        extract_source(cfg, s, files, run_path, tmp_q_dir, run_date_days, bar)?;
                    let cached = reuse::CachedSource {
                        name: s.name.clone(),
                        fingerprint,
                        files: ids,
                        reports: rep.files.clone(),
                        rows_accepted: rep.rows_accepted,
                        rows_quarantined: rep.rows_quarantined,
                    };
                    Ok((rep, q, Some(cached)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Other("extract thread panicked".into())))
            })
            .collect()
    });
    bar.finish();
    let mut sources = Vec::new();
    let mut q_parts = Vec::new();
    let mut cache = reuse::Cache {
        version: reuse::VERSION,
        run_date: run_date.to_string(),
        sources: Vec::new(),
    };
    for r in results {
        let (rep, q, cached) = r?;
        sources.push(rep);
        q_parts.push(q);
        cache.sources.extend(cached);
    }
    // Concatenate per-source quarantine parts in source order (deterministic).
    let mut sink = run.parquet_writer(QUARANTINE_FILE, quarantine::schema())?;
    for part in &q_parts {
        let (_, batches) = crate::output::read_parquet(part)?;
        for b in &batches {
            sink.write(b)?;
        }
    }
    let q_rows = sink.finish()?;
    std::fs::remove_dir_all(&tmp_q_dir).map_err(|e| Error::io("cannot remove", &tmp_q_dir, e))?;
    let expected_q: u64 = sources.iter().map(|s| s.rows_quarantined).sum();
    if q_rows != expected_q {
        return Err(Error::Invariant(format!(
            "quarantine.parquet holds {q_rows} rows but the sources quarantined {expected_q}"
        )));
    }
    run.record(QUARANTINE_FILE, Some(q_rows))?;
    for s in &sources {
        run.record(&s.staged, Some(s.rows_accepted))?;
    }
    if incremental.is_some() {
        run.write_json(reuse::FILE, &cache)?;
    }
    Ok(ExtractOutput {
        sources,
        rows_quarantined: q_rows,
    })
}

/// Per-file context shared by the conversion workers.
struct FileCtx {
    plan: RowPlan,
    file: Arc<str>,
    /// For each canonical column, the 0-based field position (CSV).
    positions: Vec<usize>,
    encoding: Encoding,
    cap: usize,
    delimiter: u8,
    quote: u8,
}

/// The result of converting one chunk.
struct Converted {
    batch: RecordBatch,
    quarantine: Vec<QuarantineRecord>,
    read: u64,
}

/// A source unchanged since the previous run: its staged file linked, its quarantined
/// rows copied with this run's date, its file reports reused.
fn reuse_source(
    src: &SourceConfig,
    cached: &reuse::CachedSource,
    (previous_run, prev_dir): (&str, &Path),
    run_path: &Path,
    tmp_q_dir: &Path,
    run_date: i32,
    started: Instant,
) -> Result<(SourceReport, PathBuf)> {
    let staged = staged_rel(&cached.name);
    let from = prev_dir.join(&staged);
    let rows = crate::output::parquet_rows(&from)?;
    if rows != cached.rows_accepted {
        return Err(Error::Invariant(format!(
            "{} holds {rows} rows, the cache says {}",
            from.display(),
            cached.rows_accepted
        )));
    }
    let q = reuse::quarantine_rows(prev_dir, &cached.name, run_date)?;
    let q_rows: u64 = q.iter().map(|b| b.num_rows() as u64).sum();
    if q_rows != cached.rows_quarantined {
        return Err(Error::Invariant(format!(
            "the previous quarantine holds {q_rows} rows of the source, the cache says {}",
            cached.rows_quarantined
        )));
    }
    reuse::link_or_copy(&from, &run_path.join(&staged))?;
    let q_path = tmp_q_dir.join(format!("{}.parquet", cached.name));
    let mut q_sink = ParquetSink::create(&q_path, "quarantine part", quarantine::schema())?;
    for b in &q {
        q_sink.write(b)?;
    }
    q_sink.finish()?;
    let duration_ms = started.elapsed().as_millis() as u64;
    let files: Vec<FileReport> = cached
        .reports
        .iter()
        .map(|r| FileReport {
            duration_ms,
            reused_from: Some(previous_run.to_string()),
            ..r.clone()
        })
        .collect();
    tracing::info!(
        source = %cached.name,
        previous_run,
        files = files.len(),
        rows_accepted = cached.rows_accepted,
        rows_quarantined = cached.rows_quarantined,
        duration_ms,
        "incremental: source unchanged; staged rows reused"
    );
    let rows_read = files.iter().map(|r| r.rows_read).sum();
    Ok((
        SourceReport {
            name: cached.name.clone(),
            system: src.system.as_str(),
            entity: src.entity.clone(),
            files,
            rows_read,
            rows_accepted: cached.rows_accepted,
            rows_quarantined: cached.rows_quarantined,
            staged,
        },
        q_path,
    ))
}

fn extract_source(
    cfg: &Config,
    src: &SourceConfig,
    files: &[PathBuf],
    run_path: &Path,
    tmp_q_dir: &Path,
    run_date: i32,
    bar: &crate::progress::Counter,
) -> Result<(SourceReport, PathBuf)> {
    let started = Instant::now();
    let plan = RowPlan::new(src, cfg.source_time_zone(src));
    let staged = staged_rel(&src.name);
    let mut sink = ParquetSink::create(
        &{
            let p = run_path.join(&staged);
            crate::output::create_dir_all(p.parent().expect("has parent"))?;
            p
        },
        &staged,
        plan.schema.clone(),
    )?;
    let q_path = tmp_q_dir.join(format!("{}.parquet", src.name));
    let mut q_sink = ParquetSink::create(&q_path, "quarantine part", quarantine::schema())?;
    let mut reports = Vec::new();
    for path in files {
        let t0 = Instant::now();
        let shown = input::display_path(path, &cfg.base_dir);
        let file: Arc<str> = shown.as_str().into();
        let mut report = FileReport {
            path: shown.clone(),
            format: src.format.expect("validated").as_str().to_string(),
            compression: "none".to_string(),
            bytes: 0,
            sha256: String::new(),
            rows_read: 0,
            rows_accepted: 0,
            rows_quarantined: 0,
            quarantined_by_reason: BTreeMap::new(),
            duration_ms: 0,
            reused_from: None,
        };
        let accepted_before = sink_rows(&sink);
        let quarantined_before = sink_rows(&q_sink);
        let mut consume = |c: Converted, report: &mut FileReport| -> Result<()> {
            report.rows_read += c.read;
            report.rows_accepted += c.batch.num_rows() as u64;
            report.rows_quarantined += c.quarantine.len() as u64;
            for q in &c.quarantine {
                *report
                    .quarantined_by_reason
                    .entry(q.reason.as_str().to_string())
                    .or_default() += 1;
            }
            bar.inc(c.read);
            if c.batch.num_rows() > 0 {
                sink.write(&c.batch)?;
            }
            if !c.quarantine.is_empty() {
                q_sink.write(&quarantine::to_batch(
                    run_date,
                    &src.name,
                    &file,
                    &c.quarantine,
                ))?;
            }
            Ok(())
        };
        match src.format.expect("validated") {
            Format::Csv | Format::Ndjson => {
                let opened = input::open_text(path, src.text_encoding())?;
                report.compression = opened.compression.as_str().to_string();
                read_text_input(
                    src,
                    &plan,
                    &file,
                    path,
                    opened.reader,
                    cfg.run.batch_size,
                    |c| consume(c, &mut report),
                )?;
                report.sha256 = opened
                    .hash
                    .finish_hash()
                    .map_err(|e| Error::io("cannot read", path.clone(), e))?;
                report.bytes = file_size(path)?;
            }
            Format::Parquet => {
                let (sha, bytes) = input::hash_file(path)?;
                report.sha256 = sha;
                report.bytes = bytes;
                let mut reader =
                    parquet_in::ParquetInput::open(path, src, &plan, cfg.run.batch_size)?;
                let ctx = FileCtx {
                    plan: reader.plan.clone(),
                    file: file.clone(),
                    positions: Vec::new(),
                    encoding: Encoding::Utf8,
                    cap: src.max_raw_chars,
                    delimiter: 0,
                    quote: 0,
                };
                let mapping = reader.mapping.clone();
                pipelined(
                    || reader.next_batch(),
                    |(b, first)| {
                        parquet_in::convert(&b, first, &ctx.plan, &ctx.file, &mapping, ctx.cap)
                    },
                    |(batch, quarantine, read)| {
                        consume(
                            Converted {
                                batch,
                                quarantine,
                                read,
                            },
                            &mut report,
                        )
                    },
                )?;
                let expected = reader.total_rows;
                if report.rows_read != expected {
                    return Err(Error::Invariant(format!(
                        "{}: the Parquet footer says {expected} rows but {} were read",
                        shown, report.rows_read
                    )));
                }
            }
        }
        // Row accounting, checked against what the writers actually received.
        let accepted = sink_rows(&sink) - accepted_before;
        let quarantined = sink_rows(&q_sink) - quarantined_before;
        if report.rows_read != accepted + quarantined
            || accepted != report.rows_accepted
            || quarantined != report.rows_quarantined
        {
            return Err(Error::Invariant(format!(
                "row accounting failed for {shown}: read {} but wrote {accepted} accepted + {quarantined} quarantined",
                report.rows_read
            )));
        }
        report.duration_ms = t0.elapsed().as_millis() as u64;
        tracing::info!(
            source = %src.name,
            file = %shown,
            rows_read = report.rows_read,
            rows_accepted = report.rows_accepted,
            rows_quarantined = report.rows_quarantined,
            duration_ms = report.duration_ms,
            "extracted file"
        );
        if report.rows_read == 0 {
            tracing::warn!(source = %src.name, file = %shown, "the file has no data rows");
        }
        reports.push(report);
    }
    let rows_accepted = sink.finish()?;
    q_sink.finish()?;
    let rows_read = reports.iter().map(|r| r.rows_read).sum();
    let rows_quarantined = reports.iter().map(|r| r.rows_quarantined).sum();
    tracing::debug!(source = %src.name, duration_ms = started.elapsed().as_millis() as u64, "extracted source");
    Ok((
        SourceReport {
            name: src.name.clone(),
            system: src.system.as_str(),
            entity: src.entity.clone(),
            files: reports,
            rows_read,
            rows_accepted,
            rows_quarantined,
            staged,
        },
        q_path,
    ))
}

/// Reads one CSV or NDJSON input — already decompressed, and transcoded when UTF-16 —
/// converting its records on the rayon pool and passing each converted chunk, in input
/// order, to `consume`. Shared by the extract stage and [`extract_bytes`].
fn read_text_input<R: Read + Send>(
    src: &SourceConfig,
    plan: &RowPlan,
    file: &Arc<str>,
    path: &Path,
    reader: R,
    batch: usize,
    consume: impl FnMut(Converted) -> Result<()>,
) -> Result<()> {
    let batch = batch.max(1);
    match src.format.expect("validated") {
        Format::Csv => {
            let opts = ScanOptions {
                delimiter: src.csv.delimiter,
                quote: src.csv.quote,
                max_lines: src.csv.max_lines_per_record.max(1),
                max_record_bytes: src.max_record_bytes,
            };
            let mut scanner = Scanner::new(reader, path, opts, src.max_raw_chars, src.csv.encoding);
            let positions = if src.csv.header {
                let header = scanner.read_header()?.ok_or_else(|| Error::Input {
                    path: path.to_path_buf(),
                    message: "the file is empty; expected a header line naming the columns (csv.header = true)".into(),
                })?;
                resolve_header(src, path, &header)?
            } else {
                src.columns
                    .values()
                    .map(|c| c.index.unwrap_or(1).max(1) - 1)
                    .collect()
            };
            let ctx = FileCtx {
                plan: plan.clone(),
                file: file.clone(),
                positions,
                encoding: src.csv.encoding,
                cap: src.max_raw_chars,
                delimiter: src.csv.delimiter,
                quote: src.csv.quote,
            };
            pipelined(
                || scanner.next_chunk(batch),
                |chunk| convert_csv(chunk, &ctx),
                consume,
            )
        }
        Format::Ndjson => {
            let mut lines =
                ndjson::LineChunker::new(reader, path, src.max_record_bytes, src.max_raw_chars);
            let ctx = FileCtx {
                plan: plan.clone(),
                file: file.clone(),
                positions: Vec::new(),
                encoding: src.encoding,
                cap: src.max_raw_chars,
                delimiter: 0,
                quote: 0,
            };
            let keys = ndjson::KeyPlan::new(
                &src.columns
                    .keys()
                    .map(|k| src.export_name(k).to_string())
                    .collect::<Vec<_>>(),
            );
            pipelined(
                || lines.next_chunk(batch),
                |chunk| convert_ndjson(chunk, &ctx, &keys),
                consume,
            )
        }
        Format::Parquet => Err(Error::Other(format!(
            "{}: a Parquet input is not a text input",
            path.display()
        ))),
    }
}

/// What [`extract_bytes`] read from one in-memory input.
#[derive(Debug)]
pub struct ExtractedBytes {
    /// Accepted rows, with the staged schema of the source.
    pub batches: Vec<RecordBatch>,
    /// Refused rows, in line order.
    pub quarantine: Vec<QuarantineRecord>,
    /// Records the reader found (accepted + quarantined).
    pub rows_read: u64,
}

impl ExtractedBytes {
    pub fn rows_accepted(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
}

/// Extracts one CSV or NDJSON file held in memory (its bytes as stored, uncompressed)
/// through the same scanner, converters and row accounting as the extract stage. For the
/// fuzz targets and property tests; `src` must come from a validated [`Config`].
pub fn extract_bytes(
    src: &SourceConfig,
    tz: chrono_tz::Tz,
    bytes: &[u8],
    batch_size: usize,
) -> Result<ExtractedBytes> {
    let plan = RowPlan::new(src, tz);
    let file: Arc<str> = "<memory>".into();
    let path = Path::new("<memory>");
    let reader = input::decoding_reader(bytes, src.text_encoding());
    let mut out = ExtractedBytes {
        batches: Vec::new(),
        quarantine: Vec::new(),
        rows_read: 0,
    };
    read_text_input(src, &plan, &file, path, reader, batch_size, |c| {
        out.rows_read += c.read;
        if c.batch.num_rows() > 0 {
            out.batches.push(c.batch);
        }
        out.quarantine.extend(c.quarantine);
        Ok(())
    })?;
    let accepted = out.rows_accepted();
    if out.rows_read != accepted + out.quarantine.len() as u64 {
        return Err(Error::Invariant(format!(
            "row accounting failed: read {} but {accepted} accepted + {} quarantined",
            out.rows_read,
            out.quarantine.len()
        )));
    }
    Ok(out)
}

fn sink_rows(s: &ParquetSink) -> u64 {
    s.rows()
}

fn file_size(p: &Path) -> Result<u64> {
    Ok(std::fs::metadata(p)
        .map_err(|e| Error::io("cannot stat", p, e))?
        .len())
}

/// Maps each canonical column to its position in the header; a missing column is a
/// configuration error that lists the headers the file does have.
fn resolve_header(src: &SourceConfig, path: &Path, header: &[String]) -> Result<Vec<usize>> {
    let mut positions = Vec::new();
    let mut problems = Vec::new();
    for (name, _) in &src.columns {
        let export = src.export_name(name);
        let exact: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| h.as_str() == export)
            .map(|(i, _)| i)
            .collect();
        let found = if exact.is_empty() {
            header
                .iter()
                .enumerate()
                .filter(|(_, h)| h.eq_ignore_ascii_case(export))
                .map(|(i, _)| i)
                .collect()
        } else {
            exact
        };
        match found.as_slice() {
            [i] => positions.push(*i),
            [] => {
                problems.push(format!(
                    "source.{}.columns.{name}: column {export:?} is not in the header of {}; the header has: {}",
                    src.name,
                    path.display(),
                    header.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
                ));
                positions.push(0);
            }
            many => {
                problems.push(format!(
                    "source.{}.columns.{name}: column {export:?} appears {} times in the header of {} (positions {}); rename the duplicates in the export or map by index",
                    src.name,
                    many.len(),
                    path.display(),
                    many.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", ")
                ));
                positions.push(0);
            }
        }
    }
    if problems.is_empty() {
        Ok(positions)
    } else {
        Err(Error::Config {
            path: PathBuf::from(format!("source {}", src.name)),
            message: problems.join("\n"),
        })
    }
}

/// Checks that every mapped column exists in a source's files, without extracting.
pub fn check_headers(cfg: &Config, src: &SourceConfig) -> Result<()> {
    for path in cfg.source_files(src)? {
        match src.format.expect("validated") {
            Format::Csv if src.csv.header => {
                let opened = input::open_text(&path, src.csv.encoding)?;
                let opts = ScanOptions {
                    delimiter: src.csv.delimiter,
                    quote: src.csv.quote,
                    max_lines: src.csv.max_lines_per_record.max(1),
                    max_record_bytes: src.max_record_bytes,
                };
                let mut scanner = Scanner::new(
                    opened.reader,
                    &path,
                    opts,
                    src.max_raw_chars,
                    src.csv.encoding,
                );
                let header = scanner.read_header()?.ok_or_else(|| Error::Input {
                    path: path.clone(),
                    message: "the file is empty; expected a header line".into(),
                })?;
                resolve_header(src, &path, &header)?;
            }
            Format::Parquet => {
                let plan = RowPlan::new(src, cfg.source_time_zone(src));
                parquet_in::ParquetInput::open(&path, src, &plan, 1024)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn convert_csv(chunk: Chunk, ctx: &FileCtx) -> Converted {
    let read = (chunk.records.len() + chunk.bad.len()) as u64;
    let mut bb = BatchBuilder::new(&ctx.plan, ctx.file.clone(), chunk.records.len());
    let mut quarantine: Vec<QuarantineRecord> = chunk
        .bad
        .into_iter()
        .map(|b| csv::quarantine_bad(b, ctx.cap, ctx.encoding))
        .collect();
    let mut spans = Vec::with_capacity(ctx.positions.len() + 4);
    let mut values = Vec::with_capacity(ctx.positions.len());
    let data = &chunk.data;
    for r in &chunk.records {
        let rec = &data[r.start..r.end];
        split_fields(rec, ctx.delimiter, ctx.quote, &mut spans);
        let res = bb.push(r.line, &mut values, |i| match spans.get(ctx.positions[i]) {
            None => FieldText::Missing,
            Some(s) => match decode(&field_bytes(rec, s, ctx.quote), ctx.encoding) {
                Ok(t) => FieldText::Text(t),
                Err(m) => FieldText::Invalid(Reason::InvalidEncoding, m),
            },
        });
        if let Err(e) = res {
            quarantine.push(QuarantineRecord::from_bytes(
                r.line,
                e,
                rec,
                rec.len(),
                ctx.cap,
                |x| decode_lossy(x, ctx.encoding),
            ));
        }
    }
    quarantine.sort_by_key(|q| q.line);
    Converted {
        batch: bb.finish(),
        quarantine,
        read,
    }
}

fn convert_ndjson(chunk: Chunk, ctx: &FileCtx, keys: &ndjson::KeyPlan) -> Converted {
    let read = (chunk.records.len() + chunk.bad.len()) as u64;
    let mut bb = BatchBuilder::new(&ctx.plan, ctx.file.clone(), chunk.records.len());
    let mut quarantine: Vec<QuarantineRecord> = chunk
        .bad
        .into_iter()
        .map(|b| csv::quarantine_bad(b, ctx.cap, ctx.encoding))
        .collect();
    let data = &chunk.data;
    let mut order = ndjson::KeyOrder::default();
    for r in &chunk.records {
        let bytes = &data[r.start..r.end];
        let bad = |reason: Reason, column: Option<String>, message: String| {
            QuarantineRecord::from_bytes(
                r.line,
                RowError {
                    reason,
                    column,
                    message,
                },
                bytes,
                bytes.len(),
                ctx.cap,
                |x| decode_lossy(x, ctx.encoding),
            )
        };
        let text: std::borrow::Cow<str> = match ctx.encoding {
            Encoding::Utf8 | Encoding::Utf16 => match std::str::from_utf8(bytes) {
                Ok(s) => s.into(),
                Err(e) => {
                    quarantine.push(bad(
                        Reason::InvalidEncoding,
                        None,
                        format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
                    ));
                    continue;
                }
            },
            enc => decode_lossy(bytes, enc).into(),
        };
        let mut raws = Vec::with_capacity(keys.len());
        if let Err(e) = ndjson::parse_line_with(&text, keys, &mut raws, &mut order) {
            quarantine.push(bad(e.reason, None, e.message));
            continue;
        }
        let mut values = Vec::with_capacity(keys.len());
        let res = bb.push(r.line, &mut values, |i| ndjson::field_text(raws[i]));
        if let Err(e) = res {
            quarantine.push(bad(e.reason, e.column, e.message));
        }
    }
    quarantine.sort_by_key(|q| q.line);
    Converted {
        batch: bb.finish(),
        quarantine,
        read,
    }
}

/// Runs `produce` on a reader thread, `convert` on the rayon pool (a window of chunks
/// at a time) and `consume` in input order on the calling thread.
fn pipelined<C: Send, P: Send>(
    mut produce: impl FnMut() -> Result<Option<C>> + Send,
    convert: impl Fn(C) -> P + Sync + Send,
    mut consume: impl FnMut(P) -> Result<()>,
) -> Result<()> {
    let window = (rayon::current_num_threads() * 2).max(2);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<C>>(window);
        s.spawn(move || {
            loop {
                match produce() {
                    Ok(Some(c)) => {
                        if tx.send(Ok(c)).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let mut done = false;
        while !done {
            let mut group = Vec::with_capacity(window);
            for _ in 0..window {
                match rx.recv() {
                    Ok(r) => group.push(r?),
                    Err(_) => {
                        done = true;
                        break;
                    }
                }
            }
            let results: Vec<P> = group.into_par_iter().map(&convert).collect();
            for r in results {
                consume(r)?;
            }
        }
        Ok(())
    })
}
