//! The records of one entity, loaded from the staged Parquet files of its sources: keys,
//! source, line and the raw text of every field the matcher needs, in flat arenas (one
//! allocation per column, not per value).

use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use indexmap::IndexMap;

use crate::error::{Error, Result};

/// A column of optional strings in one buffer.
#[derive(Debug, Clone, Default)]
pub struct StrColumn {
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    valid: Vec<bool>,
}

impl StrColumn {
    pub fn with_capacity(n: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        StrColumn {
            bytes: Vec::with_capacity(n * 12),
            offsets,
            valid: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, v: Option<&str>) {
        if let Some(s) = v {
            self.bytes.extend_from_slice(s.as_bytes());
        }
        self.offsets.push(self.bytes.len() as u32);
        self.valid.push(v.is_some());
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        if !self.valid[i] {
            return None;
        }
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        // SAFETY: only whole `&str`s are pushed, so every range is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(&self.bytes[s..e]) })
    }

    /// The value of row `i`, "" when null (a null row adds no bytes): one offset read,
    /// for callers that already know whether the row is null.
    #[inline]
    pub fn str_at(&self, i: usize) -> &str {
        let (s, e) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        // SAFETY: only whole `&str`s are pushed, so every range is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[s..e]) }
    }

    pub fn len(&self) -> usize {
        self.valid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.valid.is_empty()
    }

    /// Bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.offsets.capacity() * 4 + self.valid.capacity()
    }
}

/// The records of an entity across its sources.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Member source names; `source[i]` indexes this list.
    pub sources: Vec<String>,
    pub source: Vec<u16>,
    pub keys: StrColumn,
    pub lines: Vec<i64>,
    /// Raw text of each needed field (NULL where the source lacks the field).
    pub fields: IndexMap<String, StrColumn>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.source.len()
    }

    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    pub fn field(&self, name: &str) -> Option<&StrColumn> {
        self.fields.get(name)
    }

    pub fn key(&self, i: usize) -> &str {
        self.keys.get(i).unwrap_or("")
    }

    pub fn source_name(&self, i: usize) -> &str {
        &self.sources[self.source[i] as usize]
    }
}

/// Reads `fields` (canonical columns, as text) of each source's staged file.
pub fn load(run_dir: &Path, sources: &[String], fields: &[String]) -> Result<Records> {
    let mut rec = Records {
        sources: sources.to_vec(),
        fields: fields
            .iter()
            .map(|f| (f.clone(), StrColumn::with_capacity(0)))
            .collect(),
        keys: StrColumn::with_capacity(0),
        ..Default::default()
    };
    for (si, name) in sources.iter().enumerate() {
        let path = run_dir.join(crate::extract::staged_rel(name));
        let f = File::open(&path).map_err(|e| Error::io("cannot open staged file", &path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| Error::parquet(format!("cannot read {}", path.display()), e))?;
        let schema = builder.schema().clone();
        let mut want = vec![
            crate::extract::rows::KEY_COL.to_string(),
            crate::extract::rows::LINE_COL.to_string(),
        ];
        want.extend(
            fields
                .iter()
                .filter(|f| schema.column_with_name(f).is_some())
                .cloned(),
        );
        let roots: Vec<usize> = want
            .iter()
            .map(|c| schema.index_of(c).expect("present"))
            .collect();
        for b in projected(builder, roots, &path)? {
            let b = b.map_err(|e| Error::arrow(format!("cannot read {}", path.display()), e))?;
            let n = b.num_rows();
            let keys = b
                .column_by_name(crate::extract::rows::KEY_COL)
                .expect("projected");
            let keys = cast(keys, &DataType::Utf8).map_err(|e| Error::arrow("key column", e))?;
            let keys = keys.as_string::<i32>();
            let lines = b
                .column_by_name(crate::extract::rows::LINE_COL)
                .expect("projected");
            let lines = lines.as_primitive::<Int64Type>();
            for i in 0..n {
                rec.keys.push(Some(keys.value(i)));
                rec.lines.push(lines.value(i));
                rec.source.push(si as u16);
            }
            for (fname, col) in rec.fields.iter_mut() {
                match b.column_by_name(fname) {
                    None => {
                        for _ in 0..n {
                            col.push(None);
                        }
                    }
                    Some(a) => {
                        let s = cast(a, &DataType::Utf8)
                            .map_err(|e| Error::arrow("field column", e))?;
                        let s = s.as_string::<i32>();
                        for i in 0..n {
                            col.push(if s.is_null(i) { None } else { Some(s.value(i)) });
                        }
                    }
                }
            }
        }
    }
    Ok(rec)
}

/// Reads only the given top-level columns of a staged Parquet file, 64k rows a batch.
pub fn projected(
    builder: ParquetRecordBatchReaderBuilder<File>,
    roots: impl IntoIterator<Item = usize>,
    path: &Path,
) -> Result<datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| Error::parquet(format!("cannot read {}", path.display()), e))
}
