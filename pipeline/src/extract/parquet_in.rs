//! Parquet inputs: mapped columns are read in batches, rendered as text by Arrow's
//! cast and coerced like any other source, so a value is judged the same way whatever
//! the file format. Temporal columns that are already dates/timestamps are read with the
//! ISO formats, whatever formats the mapping declares for text exports.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use super::coerce::Coercer;
use super::quarantine::{QuarantineRecord, cap_chars};
use super::rows::{BatchBuilder, FieldText, RowPlan};
use crate::config::SourceConfig;
use crate::error::{Error, Result};

pub struct ParquetInput {
    reader: ParquetRecordBatchReader,
    path: std::path::PathBuf,
    next_row: i64,
    pub total_rows: u64,
    pub plan: RowPlan,
    /// For each canonical column, its index in the projected batches.
    pub mapping: Arc<Vec<usize>>,
}

impl ParquetInput {
    pub fn open(
        path: &Path,
        src: &SourceConfig,
        plan: &RowPlan,
        batch_size: usize,
    ) -> Result<ParquetInput> {
        let f = File::open(path).map_err(|e| Error::io("cannot open input file", path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: format!("not a readable Parquet file: {e}"),
        })?;
        let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let arrow_schema = builder.schema().clone();
        let names: Vec<&str> = arrow_schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let mut leaf_idx = Vec::new();
        let mut problems = Vec::new();
        let mut top_idx = Vec::new();
        for name in src.columns.keys() {
            let export = src.export_name(name);
            match names.iter().position(|n| *n == export) {
                Some(i) => top_idx.push(i),
                None => problems.push(format!(
                    "source.{}.columns.{name}: column {export:?} is not in {}; the file has: {}",
                    src.name,
                    path.display(),
                    names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config {
                path: std::path::PathBuf::from(format!("source {}", src.name)),
                message: problems.join("\n"),
            });
        }
        // Projection by root column; the projected batch keeps file order, so map each
        // canonical column to its rank among the selected roots.
        let mut sorted: Vec<usize> = top_idx.clone();
        sorted.sort_unstable();
        sorted.dedup();
        leaf_idx.extend(sorted.iter().copied());
        let mapping: Vec<usize> = top_idx
            .iter()
            .map(|i| sorted.iter().position(|s| s == i).expect("present"))
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), leaf_idx);
        // Temporal columns stored as dates/timestamps are read in ISO form.
        let mut plan = plan.clone();
        for (c, &i) in plan.columns.iter_mut().zip(top_idx.iter()) {
            let dt = arrow_schema.field(i).data_type();
            if c.coercer.ty.is_temporal()
                && matches!(
                    dt,
                    DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
                )
            {
                c.coercer = Coercer::new(c.coercer.ty, &[], chrono_tz::UTC);
            }
        }
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_size)
            .build()
            .map_err(|e| Error::Input {
                path: path.to_path_buf(),
                message: format!("cannot read Parquet: {e}"),
            })?;
        Ok(ParquetInput {
            reader,
            path: path.to_path_buf(),
            next_row: 1,
            total_rows,
            plan,
            mapping: Arc::new(mapping),
        })
    }

    /// The next batch and the 1-based row number of its first row.
    pub fn next_batch(&mut self) -> Result<Option<(RecordBatch, i64)>> {
        match self.reader.next() {
            None => Ok(None),
            Some(Err(e)) => Err(Error::Input {
                path: self.path.clone(),
                message: format!("reading stopped near row {}: {e}", self.next_row),
            }),
            Some(Ok(b)) => {
                let first = self.next_row;
                self.next_row += b.num_rows() as i64;
                Ok(Some((b, first)))
            }
        }
    }
}

/// Converts one input batch: (accepted rows, quarantined rows, rows read).
pub fn convert(
    batch: &RecordBatch,
    first_row: i64,
    plan: &RowPlan,
    file: &Arc<str>,
    mapping: &[usize],
    cap: usize,
) -> (RecordBatch, Vec<QuarantineRecord>, u64) {
    let n = batch.num_rows();
    let mut texts: Vec<Option<StringArray>> = Vec::with_capacity(mapping.len());
    let mut cast_errors: Vec<Option<String>> = Vec::with_capacity(mapping.len());
    for &i in mapping {
        let col = batch.column(i);
        match cast(col, &DataType::Utf8) {
            Ok(a) => {
                texts.push(Some(
                    a.as_any()
                        .downcast_ref::<StringArray>()
                        .expect("cast to Utf8")
                        .clone(),
                ));
                cast_errors.push(None);
            }
            Err(_) => {
                texts.push(None);
                cast_errors.push(Some(format!(
                    "Parquet type {} cannot be read as text",
                    col.data_type()
                )));
            }
        }
    }
    let mut bb = BatchBuilder::new(plan, file.clone(), n);
    let mut quarantine = Vec::new();
    let mut values = Vec::with_capacity(mapping.len());
    for row in 0..n {
        let res = bb.push(first_row + row as i64, &mut values, |i| match &texts[i] {
            None => FieldText::Invalid(
                super::quarantine::Reason::TypeMismatch,
                cast_errors[i].clone().unwrap_or_default(),
            ),
            Some(a) if a.is_null(row) => FieldText::Missing,
            Some(a) => FieldText::Text(std::borrow::Cow::Borrowed(a.value(row))),
        });
        if let Err(e) = res {
            let mut obj = serde_json::Map::new();
            for (c, t) in plan.columns.iter().zip(texts.iter()) {
                let v = match t {
                    Some(a) if !a.is_null(row) => {
                        serde_json::Value::String(a.value(row).to_string())
                    }
                    _ => serde_json::Value::Null,
                };
                obj.insert(c.export.clone(), v);
            }
            let raw = serde_json::Value::Object(obj).to_string();
            let bytes = raw.len();
            let (raw, cut) = cap_chars(raw, cap);
            quarantine.push(QuarantineRecord {
                line: first_row + row as i64,
                reason: e.reason,
                column: e.column,
                message: e.message,
                raw,
                raw_bytes: bytes as i64,
                raw_truncated: cut,
            });
        }
    }
    (bb.finish(), quarantine, n as u64)
}
