//! From field texts to typed Arrow rows: null markers, required values, keys, type
//! coercion. Shared by every input format, so a value means the same thing whether it
//! came from CSV, NDJSON or Parquet.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Int64Builder, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::coerce::{Coercer, ColumnBuilder, Value, arrow_type};
use super::quarantine::Reason;
use crate::config::{ColumnType, SourceConfig};

/// System columns every staged table starts (`_source`, `_record_key`) or ends
/// (`_file`, `_line`) with.
pub const SOURCE_COL: &str = "_source";
pub const KEY_COL: &str = "_record_key";
pub const FILE_COL: &str = "_file";
pub const LINE_COL: &str = "_line";
/// Separator between the parts of a composite `_record_key`.
pub const KEY_SEPARATOR: char = '|';

/// The staged Arrow schema of a source.
pub fn staged_schema(src: &SourceConfig) -> SchemaRef {
    let mut fields = vec![
        Field::new(SOURCE_COL, DataType::Utf8, false),
        Field::new(KEY_COL, DataType::Utf8, false),
    ];
    for (name, spec) in &src.columns {
        let nullable = !(spec.required || src.key.0.contains(name));
        fields.push(Field::new(name, arrow_type(spec.column_type), nullable));
    }
    fields.push(Field::new(FILE_COL, DataType::Utf8, false));
    fields.push(Field::new(LINE_COL, DataType::Int64, false));
    Arc::new(Schema::new(fields))
}

/// What one canonical column needs to turn text into a value.
#[derive(Clone)]
pub struct ColumnPlan {
    pub name: String,
    /// The column's name in the export (for messages).
    pub export: String,
    pub required: bool,
    pub is_key: bool,
    pub coercer: Coercer,
}

/// Per-source settings for row conversion.
#[derive(Clone)]
pub struct RowPlan {
    pub source: Arc<str>,
    pub columns: Vec<ColumnPlan>,
    /// Indices into `columns` of the key parts, in key order.
    pub key_idx: Vec<usize>,
    pub trim: bool,
    pub null_values: Arc<NullValues>,
    pub schema: SchemaRef,
}

/// The texts a source writes for "no value", with their lengths as a bit set so most
/// fields are told apart without comparing bytes.
pub struct NullValues {
    values: Vec<String>,
    /// Bit `min(len, 63)` set for each value's byte length.
    lengths: u64,
}

impl NullValues {
    pub fn new(values: &[String]) -> NullValues {
        NullValues {
            lengths: values.iter().fold(0, |m, v| m | 1 << v.len().min(63)),
            values: values.to_vec(),
        }
    }

    #[inline]
    pub fn contains(&self, t: &str) -> bool {
        self.lengths & 1 << t.len().min(63) != 0 && self.values.iter().any(|n| n == t)
    }
}

impl RowPlan {
    pub fn new(src: &SourceConfig, tz: chrono_tz::Tz) -> RowPlan {
        let columns: Vec<ColumnPlan> = src
            .columns
            .iter()
            .map(|(name, spec)| ColumnPlan {
                name: name.clone(),
                export: spec.from.clone().unwrap_or_else(|| name.clone()),
                required: spec.required,
                is_key: src.key.0.contains(name),
                coercer: Coercer::new(spec.column_type, &spec.formats, tz),
            })
            .collect();
        let key_idx = src
            .key
            .0
            .iter()
            .map(|k| {
                columns
                    .iter()
                    .position(|c| &c.name == k)
                    .expect("key validated")
            })
            .collect();
        RowPlan {
            source: src.name.as_str().into(),
            columns,
            key_idx,
            trim: src.trim,
            null_values: Arc::new(NullValues::new(&src.null_values)),
            schema: staged_schema(src),
        }
    }
}

/// Why a row was refused, before it is turned into a quarantine record.
#[derive(Debug, Clone)]
pub struct RowError {
    pub reason: Reason,
    /// Canonical column the problem is in, if it is about one column.
    pub column: Option<String>,
    pub message: String,
}

/// A field as the reader found it.
pub enum FieldText<'a> {
    /// The field is absent (no such key in a JSON object; SQL NULL in Parquet).
    Missing,
    Text(Cow<'a, str>),
    /// The reader could not produce text (invalid bytes, nested JSON).
    Invalid(Reason, String),
}

/// Accumulates accepted rows of one file into a record batch.
pub struct BatchBuilder {
    plan: RowPlan,
    file: Arc<str>,
    cols: Vec<ColumnBuilder>,
    keys: StringBuilder,
    lines: Int64Builder,
    key_buf: String,
}

impl BatchBuilder {
    pub fn new(plan: &RowPlan, file: Arc<str>, capacity: usize) -> BatchBuilder {
        BatchBuilder {
            cols: plan
                .columns
                .iter()
                .map(|c| ColumnBuilder::new(c.coercer.ty, capacity))
                .collect(),
            plan: plan.clone(),
            file,
            keys: StringBuilder::with_capacity(capacity, capacity * 12),
            lines: Int64Builder::with_capacity(capacity),
            key_buf: String::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts one row; `field(i)` gives the text of canonical column `i`. On success
    /// the row is appended; on failure nothing is appended.
    pub fn push<'a>(
        &mut self,
        line: i64,
        values: &mut Vec<Value<'a>>,
        mut field: impl FnMut(usize) -> FieldText<'a>,
    ) -> Result<(), RowError> {
        values.clear();
        for (i, col) in self.plan.columns.iter().enumerate() {
            let text = match field(i) {
                FieldText::Missing => None,
                FieldText::Text(t) => {
                    let t = if self.plan.trim { trim_cow(t) } else { t };
                    if self.plan.null_values.contains(&t) {
                        None
                    } else {
                        Some(t)
                    }
                }
                FieldText::Invalid(reason, message) => {
                    return Err(RowError {
                        reason,
                        column: Some(col.name.clone()),
                        message: format!("column {} ({:?}): {message}", col.name, col.export),
                    });
                }
            };
            let v = match text {
                None => {
                    if col.is_key {
                        return Err(RowError {
                            reason: Reason::MissingKey,
                            column: Some(col.name.clone()),
                            message: format!(
                                "key column {} ({:?}) has no value; every record needs its key",
                                col.name, col.export
                            ),
                        });
                    }
                    if col.required {
                        return Err(RowError {
                            reason: Reason::MissingRequired,
                            column: Some(col.name.clone()),
                            message: format!(
                                "required column {} ({:?}) has no value",
                                col.name, col.export
                            ),
                        });
                    }
                    Value::Null
                }
                Some(t) => col.coercer.parse(t).map_err(|m| RowError {
                    reason: Reason::TypeMismatch,
                    column: Some(col.name.clone()),
                    message: format!("column {} ({:?}): {m}", col.name, col.export),
                })?,
            };
            values.push(v);
        }
        self.key_buf.clear();
        for (n, &k) in self.plan.key_idx.iter().enumerate() {
            if n > 0 {
                self.key_buf.push(KEY_SEPARATOR);
            }
            let scale = match self.plan.columns[k].coercer.ty {
                ColumnType::Decimal(_, s) => s,
                _ => 0,
            };
            values[k].key_text(&mut self.key_buf, scale);
        }
        for (b, v) in self.cols.iter_mut().zip(values.iter()) {
            b.append(v);
        }
        self.keys.append_value(&self.key_buf);
        self.lines.append_value(line);
        Ok(())
    }

    /// Finishes the rows pushed so far into a batch with the staged schema.
    pub fn finish(&mut self) -> RecordBatch {
        let n = self.len();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len() + 4);
        arrays.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(self.plan.source.as_ref(), n),
        )));
        arrays.push(Arc::new(self.keys.finish()));
        for c in self.cols.iter_mut() {
            arrays.push(c.finish());
        }
        arrays.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(self.file.as_ref(), n),
        )));
        arrays.push(Arc::new(self.lines.finish()));
        RecordBatch::try_new(self.plan.schema.clone(), arrays)
            .expect("builders follow the staged schema")
    }
}

/// Trims whitespace and stray byte-order marks (U+FEFF) from both ends.
fn trim_value(s: &str) -> &str {
    // Most fields start and end with an ASCII character that is not white space: nothing
    // to trim, without decoding characters from both ends.
    let plain = |b: u8| b < 0x80 && b != b' ' && !(0x09..=0x0d).contains(&b);
    match s.as_bytes() {
        [first, .., last] if plain(*first) && plain(*last) => s,
        [only] if plain(*only) => s,
        _ => s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'),
    }
}

fn trim_cow(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(trim_value(s)),
        Cow::Owned(s) => {
            let t = trim_value(&s);
            if t.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(t.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_takes_the_fast_path_only_when_nothing_is_trimmed() {
        fn slow(s: &str) -> &str {
            s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        }
        let edges = [
            "", "a", " ", "\t", "\u{b}", "\u{c}", "\r", "\n", "\u{1c}", "\u{1f}", "\u{85}",
            "\u{a0}", "\u{feff}", "\u{3000}", "é", "x y", "\u{0}",
        ];
        let mut cases = Vec::new();
        for a in edges {
            for b in edges {
                for mid in ["", "q", "a b", "ü"] {
                    cases.push(format!("{a}{mid}{b}"));
                }
            }
        }
        for s in &cases {
            assert_eq!(trim_value(s), slow(s), "{s:?}");
        }
        assert_eq!(trim_value("\u{feff} 42\u{a0}"), "42");
    }

    #[test]
    fn null_values_compare_only_texts_of_their_lengths() {
        let long = "n".repeat(70);
        let n = NullValues::new(&["".into(), "N/A".into(), long.clone()]);
        assert!(n.contains("") && n.contains("N/A") && n.contains(&long));
        assert!(!n.contains("n/a") && !n.contains("NA") && !n.contains(&"n".repeat(71)));
        assert!(!NullValues::new(&[]).contains(""));
    }
}
