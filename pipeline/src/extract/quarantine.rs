//! Quarantine: rows that could not be read, with the reason, the place and the raw text.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Why a row was quarantined. The codes (`as_str`) are stable: stewards filter on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A CSV record with more or fewer fields than the header.
    WrongFieldCount,
    /// A quote that is never closed (or closes so late the record is malformed).
    UnbalancedQuote,
    /// Text after a closing quote, inside a field.
    MalformedQuote,
    /// Bytes that are not valid in the declared encoding.
    InvalidEncoding,
    /// A value that does not parse as its column's type or format.
    TypeMismatch,
    /// A required column without a value.
    MissingRequired,
    /// A key column without a value.
    MissingKey,
    /// An NDJSON line that is not valid JSON (e.g. truncated).
    InvalidJson,
    /// An NDJSON line that is valid JSON but not an object.
    NotAnObject,
    /// A JSON value that is an object or array where a scalar was expected.
    NestedValue,
    /// A record longer than `max_record_bytes`.
    RecordTooLarge,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::WrongFieldCount,
        Reason::UnbalancedQuote,
        Reason::MalformedQuote,
        Reason::InvalidEncoding,
        Reason::TypeMismatch,
        Reason::MissingRequired,
        Reason::MissingKey,
        Reason::InvalidJson,
        Reason::NotAnObject,
        Reason::NestedValue,
        Reason::RecordTooLarge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::WrongFieldCount => "wrong_field_count",
            Reason::UnbalancedQuote => "unbalanced_quote",
            Reason::MalformedQuote => "malformed_quote",
            Reason::InvalidEncoding => "invalid_encoding",
            Reason::TypeMismatch => "type_mismatch",
            Reason::MissingRequired => "missing_required",
            Reason::MissingKey => "missing_key",
            Reason::InvalidJson => "invalid_json",
            Reason::NotAnObject => "not_an_object",
            Reason::NestedValue => "nested_value",
            Reason::RecordTooLarge => "record_too_large",
        }
    }
}

/// One quarantined row.
#[derive(Debug, Clone)]
pub struct QuarantineRecord {
    /// Physical line number where the row starts (1-based); for Parquet, the 1-based
    /// row number within the file.
    pub line: i64,
    pub reason: Reason,
    pub column: Option<String>,
    pub message: String,
    /// The raw text, lossily decoded, cut to the source's `max_raw_chars`.
    pub raw: String,
    /// Length of the raw row in bytes (before cutting).
    pub raw_bytes: i64,
    pub raw_truncated: bool,
}

impl QuarantineRecord {
    /// Builds a record from raw bytes, cutting the text to `cap` characters.
    pub fn from_bytes(
        line: i64,
        problem: super::rows::RowError,
        raw: &[u8],
        total_bytes: usize,
        cap: usize,
        decode: impl Fn(&[u8]) -> String,
    ) -> QuarantineRecord {
        // Decode at most ~4 bytes per kept character.
        let slice = &raw[..raw.len().min(cap.saturating_mul(4))];
        let text = decode(slice);
        let (raw, cut) = cap_chars(text, cap);
        QuarantineRecord {
            line,
            reason: problem.reason,
            column: problem.column,
            message: problem.message,
            raw,
            raw_bytes: total_bytes as i64,
            raw_truncated: cut || total_bytes > slice.len(),
        }
    }
}

/// Cuts `s` to at most `cap` characters; reports whether anything was cut.
pub fn cap_chars(s: String, cap: usize) -> (String, bool) {
    match s.char_indices().nth(cap) {
        Some((i, _)) => (s[..i].to_string(), true),
        None => (s, false),
    }
}

/// Schema of `quarantine.parquet`.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("raw_bytes", DataType::Int64, false),
        Field::new("raw_truncated", DataType::Boolean, false),
    ]))
}

/// Quarantined rows of one file, as a batch of `quarantine.parquet`.
pub fn to_batch(
    run_date: i32,
    source: &str,
    file: &str,
    records: &[QuarantineRecord],
) -> RecordBatch {
    let n = records.len();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(vec![run_date; n])),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            source, n,
        ))),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(file, n))),
        Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.line))),
        Arc::new(StringArray::from_iter_values(
            records.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            records.iter().map(|r| r.column.as_deref()),
        )),
        Arc::new(StringArray::from_iter_values(
            records.iter().map(|r| r.message.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            records.iter().map(|r| r.raw.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            records.iter().map(|r| r.raw_bytes),
        )),
        Arc::new(BooleanArray::from_iter(
            records.iter().map(|r| Some(r.raw_truncated)),
        )),
    ];
    RecordBatch::try_new(schema(), cols).expect("quarantine batch follows its schema")
}
