//! `recon query`: SQL over every output table of every committed run.
//!
//! Each output file name is a table (`scorecard`, `findings`, `golden_customer`, …;
//! staged sources as `staged_<source>`), registered over
//! `<output>/run_date=*/<file>` so a query sees all runs. Tables without an in-file
//! `run_date` (staged sources, `id_registry`) get it from the partition directory.
//! The recon UDFs are available.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;

use crate::error::{Error, Result};

/// Output formats of `recon query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// Table name → path relative to a run directory.
fn discover(root: &Path) -> Result<BTreeMap<String, String>> {
    let mut tables = BTreeMap::new();
    for d in crate::output::list_run_dates(root)? {
        let dir = root.join(crate::output::run_dir_name(d));
        let mut add = |sub: &str, prefix: &str| -> Result<()> {
            let p = dir.join(sub);
            let Ok(rd) = std::fs::read_dir(&p) else {
                return Ok(());
            };
            for e in rd.filter_map(|e| e.ok()) {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".parquet") {
                    let rel = if sub.is_empty() {
                        name.clone()
                    } else {
                        format!("{sub}/{name}")
                    };
                    tables.insert(format!("{prefix}{stem}"), rel);
                }
            }
            Ok(())
        };
        add("", "")?;
        add("staged", "staged_")?;
    }
    Ok(tables)
}

/// A session with every output table registered.
pub async fn context(
    root: &Path,
    memory_limit_mb: usize,
) -> Result<(SessionContext, BTreeMap<String, String>)> {
    let ctx = crate::sql::context(memory_limit_mb, None)?;
    let tables = discover(root)?;
    if tables.is_empty() {
        return Err(Error::Usage(format!(
            "no committed run under {}",
            root.display()
        )));
    }
    let root_abs = std::fs::canonicalize(root).map_err(|e| Error::io("cannot open", root, e))?;
    for (name, rel) in &tables {
        // Does the newest file carry run_date itself?
        let newest = crate::output::list_run_dates(root)?
            .into_iter()
            .rev()
            .map(|d| root_abs.join(crate::output::run_dir_name(d)).join(rel))
            .find(|p| p.is_file())
            .expect("discovered");
        let has_run_date = {
            let f =
                std::fs::File::open(&newest).map_err(|e| Error::io("cannot open", &newest, e))?;
            let b =
                datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    f,
                )
                .map_err(|e| Error::parquet(format!("cannot read {}", newest.display()), e))?;
            b.schema().column_with_name("run_date").is_some()
        };
        let df = if has_run_date {
            // Committed runs only (never a run still being written).
            let files: Vec<String> = crate::output::list_run_dates(root)?
                .into_iter()
                .map(|d| root_abs.join(crate::output::run_dir_name(d)).join(rel))
                .filter(|p| p.is_file())
                .map(|p| p.display().to_string())
                .collect();
            ctx.read_parquet(files, ParquetReadOptions::default()).await
        } else {
            // run_date from the run directory, as a column in front.
            let mut acc: Option<datafusion::dataframe::DataFrame> = None;
            for d in crate::output::list_run_dates(root)? {
                let p = root_abs.join(crate::output::run_dir_name(d)).join(rel);
                if !p.is_file() {
                    continue;
                }
                let df = ctx
                    .read_parquet(p.display().to_string(), ParquetReadOptions::default())
                    .await
                    .map_err(|e| Error::datafusion(format!("cannot read table {name}"), e))?;
                let mut cols = vec![
                    datafusion::prelude::lit(datafusion::common::ScalarValue::Date32(Some(
                        crate::util::date_to_days(d),
                    )))
                    .alias("run_date"),
                ];
                cols.extend(
                    df.schema()
                        .columns()
                        .into_iter()
                        .map(datafusion::prelude::Expr::Column),
                );
                let df = df
                    .select(cols)
                    .map_err(|e| Error::datafusion(format!("cannot read table {name}"), e))?;
                acc = Some(match acc {
                    None => df,
                    Some(a) => a
                        .union(df)
                        .map_err(|e| Error::datafusion(format!("cannot read table {name}"), e))?,
                });
            }
            Ok(acc.expect("discovered in at least one run"))
        }
        .map_err(|e| Error::datafusion(format!("cannot read table {name}"), e))?;
        ctx.register_table(name, df.into_view())
            .map_err(|e| Error::datafusion(format!("cannot register table {name}"), e))?;
    }
    Ok((ctx, tables))
}

/// `recon query --tables`: every table and its columns.
pub fn list_tables(root: &Path) -> Result<String> {
    let rt = runtime()?;
    rt.block_on(async {
        let (ctx, tables) = context(root, 512).await?;
        let mut out = String::new();
        for name in tables.keys() {
            let df = ctx
                .table(name)
                .await
                .map_err(|e| Error::datafusion("table", e))?;
            out.push_str(&format!("{name}\n"));
            for f in df.schema().fields() {
                out.push_str(&format!("  {:<28} {}\n", f.name(), f.data_type()));
            }
        }
        Ok(out)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(rayon::current_num_threads().max(1))
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))
}

/// Runs a read-only query and writes the result (to stdout, or to `out`).
pub fn run(
    root: &Path,
    sql: &str,
    format: QueryFormat,
    out: Option<&PathBuf>,
    memory_limit_mb: usize,
) -> Result<u64> {
    crate::rules::check_read_only(sql).map_err(Error::Usage)?;
    if format == QueryFormat::Parquet && out.is_none() {
        return Err(Error::Usage("--format parquet needs --out FILE".into()));
    }
    let rt = runtime()?;
    rt.block_on(async {
        let (ctx, _) = context(root, memory_limit_mb).await?;
        let opts = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = ctx
            .sql_with_options(sql, opts)
            .await
            .map_err(|e| Error::Usage(e.to_string()))?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let mut stream = df
            .execute_stream()
            .await
            .map_err(|e| Error::Usage(e.to_string()))?;
        let mut rows = 0u64;
        match format {
            QueryFormat::Table => {
                let mut batches = Vec::new();
                while let Some(b) = stream.next().await {
                    let b =
                        b.map_err(|e| Error::Usage(crate::rules::redact_values(&e.to_string())))?;
                    rows += b.num_rows() as u64;
                    batches.push(b);
                }
                let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                    .map_err(|e| Error::arrow("format", e))?
                    .to_string();
                write_text(out, &format!("{text}\n"))?;
            }
            QueryFormat::Csv | QueryFormat::Json => {
                let mut batches = Vec::new();
                while let Some(b) = stream.next().await {
                    let b =
                        b.map_err(|e| Error::Usage(crate::rules::redact_values(&e.to_string())))?;
                    rows += b.num_rows() as u64;
                    batches.push(b);
                }
                let mut buf: Vec<u8> = Vec::new();
                if format == QueryFormat::Csv {
                    let mut w = datafusion::arrow::csv::Writer::new(&mut buf);
                    for b in &batches {
                        w.write(b).map_err(|e| Error::arrow("csv", e))?;
                    }
                } else {
                    let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
                    for b in &batches {
                        w.write(b).map_err(|e| Error::arrow("json", e))?;
                    }
                    w.finish().map_err(|e| Error::arrow("json", e))?;
                }
                match out {
                    Some(p) => {
                        std::fs::write(p, &buf).map_err(|e| Error::io("cannot write", p, e))?
                    }
                    None => std::io::stdout()
                        .write_all(&buf)
                        .map_err(|e| Error::io("cannot write", "stdout", e))?,
                }
            }
            QueryFormat::Parquet => {
                let p = out.expect("checked");
                let mut sink =
                    crate::output::ParquetSink::create(p, &p.display().to_string(), schema)?;
                while let Some(b) = stream.next().await {
                    let b =
                        b.map_err(|e| Error::Usage(crate::rules::redact_values(&e.to_string())))?;
                    sink.write(&b)?;
                }
                rows = sink.finish()?;
            }
        }
        Ok(rows)
    })
}

fn write_text(out: Option<&PathBuf>, text: &str) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).map_err(|e| Error::io("cannot write", p, e)),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
