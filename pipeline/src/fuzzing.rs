//! Fuzz target bodies: the parsers recon runs on files produced by other systems, each
//! driven by arbitrary bytes and checking the invariants recon promises.
//!
//! Inputs of the CSV, NDJSON and coercion targets are a fixed-size block of option bytes
//! followed by the file or text ([`OPTION_BYTES`], [`COERCE_OPTION_BYTES`]);
//! `pipeline/fuzz/make_seeds.py` writes the seed corpus in that layout.
//!
//! The bodies live in the library so that they run in two places: the cargo-fuzz
//! targets in `pipeline/fuzz/` (libFuzzer, coverage-guided, long runs) and the smoke test
//! `pipeline/tests/fuzz_smoke.rs` (seed corpus plus deterministic pseudo-random inputs,
//! part of the default test command). Each body panics when an invariant breaks.
//!
//! | target | what the input drives | invariants |
//! |---|---|---|
//! | [`csv`] | dialect (delimiter, quote, header, encoding, BOM, line endings), columns and types, limits, then the file's bytes | extraction returns rows or a clear input/config error; rows read = accepted + quarantined; every row starts on its own line within the file; accepted rows survive a Parquet round trip unchanged; decimals fit their precision; quarantined raw text respects `max_raw_chars` |
//! | [`ndjson`] | encoding, BOM, columns (dotted paths) and types, then the lines | as for CSV |
//! | [`coerce`] | column type, formats, time zone, then the text | no panic; accepted values are in range and round-trip through their canonical text; the ISO fast path agrees with chrono; error messages never contain the value |
//! | [`config`] | `recon.toml` text | a validated config or an error naming keys; a validated config builds every source's row plan, column builders and SQL memory pool |
//! | [`rule_file`] | a rule file's text | a parsed rule or an error with a line inside the file; the query starts on the reported line; rendering and the read-only check never panic |

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};

use crate::config::{ColumnType, Config, Encoding};
use crate::error::Error;
use crate::extract::coerce::{self, Coercer, ColumnBuilder, Value};
use crate::extract::rows::{KEY_COL, LINE_COL, RowPlan, staged_schema};

/// The CSV and NDJSON inputs start with this many bytes of options (dialect, encoding,
/// columns); the rest is the file. A shorter input is all options, with zeros after it.
pub const OPTION_BYTES: usize = 64;
/// The coercion input starts with this many bytes of options (type, formats, time
/// zone); the rest is the text to parse.
pub const COERCE_OPTION_BYTES: usize = 40;

/// Reads decisions from a block of option bytes; zeros once it is used up.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// True for one byte value in four.
    fn one_in_four(&mut self) -> bool {
        self.byte().is_multiple_of(4)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        let v = u16::from_le_bytes([self.byte(), self.byte()]) as usize;
        v % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }

    /// A delimiter or quote byte: usually a common one, sometimes any byte the config
    /// accepts (a single ASCII character other than a line break).
    fn dialect_byte(&mut self, common: &[u8]) -> u8 {
        let b = self.byte();
        if b < 0xC0 {
            common[b as usize % common.len()]
        } else {
            match b & 0x7F {
                b'\n' | b'\r' => common[0],
                c => c,
            }
        }
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const TIME_ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
];

/// Date and timestamp formats exports use; the targets also try formats from the input.
const FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%d/%m/%y",
    "%j/%Y",
    "%m/%d/%Y %I:%M %p",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%s",
    "%e %B %Y",
];

/// A column of a generated source: its TOML line, and whether its formats came from the
/// input (which the config may rightly reject).
fn gen_column(u: &mut Input, i: usize, ncols: usize, header: bool, csv: bool) -> (String, bool) {
    let ty = match u.byte() % 7 {
        0 | 1 => "string".to_string(),
        2 => "integer".to_string(),
        3 => {
            let p = 1 + u.byte() % 38;
            let s = u.byte() % (p + 1);
            if p == 38 && s == 9 && u.bool() {
                "decimal".to_string()
            } else {
                format!("decimal({p},{s})")
            }
        }
        4 => "boolean".to_string(),
        5 => "date".to_string(),
        _ => "timestamp".to_string(),
    };
    let mut line = format!("c{i} = {{ type = {}", toml_str(&ty));
    let mut custom = false;
    if ty == "date" || ty == "timestamp" {
        let n = u.byte() % 3;
        if n > 0 {
            let mut fs = Vec::new();
            for _ in 0..n {
                if u.byte() < 0xE0 {
                    fs.push(toml_str(u.pick(FORMATS)));
                } else {
                    let k = u.below(24);
                    fs.push(toml_str(&String::from_utf8_lossy(u.take(k))));
                    custom = true;
                }
            }
            let _ = write!(line, ", formats = [{}]", fs.join(", "));
        }
    }
    let from = if csv {
        match u.byte() % 8 {
            0 => format!("C{i}"),
            1 => "c0".to_string(),
            _ => format!("c{i}"),
        }
    } else {
        match u.byte() % 8 {
            0 => format!("n.c{i}"),
            1 => format!("n.m.c{i}"),
            2 => "c0".to_string(),
            _ => format!("c{i}"),
        }
    };
    let _ = write!(line, ", from = {}", toml_str(&from));
    if csv && !header {
        let _ = write!(line, ", index = {}", 1 + u.below(ncols + 2));
    }
    if u.one_in_four() {
        line.push_str(", required = true");
    }
    line.push_str(" }\n");
    (line, custom)
}

/// What one extraction target run did: `None` when the generated config or the file was
/// refused as a whole (with a clear error), else the rows accepted and quarantined.
pub type Extracted = Option<(u64, u64)>;

/// Invariants of one extraction of an in-memory file.
fn check_extraction(
    cfg: &Config,
    decoded: &[u8],
    csv: bool,
    batch_size: usize,
    file: &[u8],
) -> Extracted {
    let src = &cfg.sources[0];
    let tz = cfg.source_time_zone(src);
    let out = match crate::extract::extract_bytes(src, tz, file, batch_size) {
        Ok(o) => o,
        Err(e @ (Error::Input { .. } | Error::Config { .. })) => {
            assert!(!e.to_string().trim().is_empty(), "an empty error message");
            return None;
        }
        Err(e) => panic!("extraction failed with an unexpected error: {e}"),
    };
    let accepted = out.rows_accepted();
    assert_eq!(
        out.rows_read,
        accepted + out.quarantine.len() as u64,
        "rows read = accepted + quarantined"
    );
    // Every record starts on its own physical line, inside the file, in order.
    let physical_lines = if csv {
        let mut n = 1i64;
        let mut i = 0;
        while i < decoded.len() {
            match decoded[i] {
                b'\r' if decoded.get(i + 1) == Some(&b'\n') => {
                    n += 1;
                    i += 1;
                }
                b'\r' | b'\n' => n += 1,
                _ => {}
            }
            i += 1;
        }
        n
    } else {
        1 + decoded.iter().filter(|&&b| b == b'\n').count() as i64
    };
    let schema = staged_schema(src);
    let mut lines = Vec::new();
    let mut last = 0i64;
    for b in &out.batches {
        assert_eq!(b.schema(), schema, "accepted rows have the staged schema");
        let l = b
            .column_by_name(LINE_COL)
            .expect("_line")
            .as_primitive::<Int64Type>();
        for v in l.values().iter() {
            assert!(*v > last, "accepted lines increase: {v} after {last}");
            last = *v;
            lines.push(*v);
        }
        let keys = b.column_by_name(KEY_COL).expect("_record_key");
        assert_eq!(keys.null_count(), 0, "every accepted row has a key");
        for (f, c) in schema.fields().iter().zip(b.columns()) {
            if let DataType::Decimal128(p, _) = f.data_type() {
                c.as_primitive::<Decimal128Type>()
                    .validate_decimal_precision(*p)
                    .unwrap_or_else(|e| panic!("column {}: {e}", f.name()));
            }
        }
    }
    let mut last_q = 0i64;
    for q in &out.quarantine {
        assert!(q.line > last_q, "quarantined lines increase");
        last_q = q.line;
        lines.push(q.line);
        assert!(
            q.raw.chars().count() <= src.max_raw_chars,
            "raw text is cut to max_raw_chars"
        );
        assert!(!q.message.is_empty(), "a quarantined row says why");
    }
    lines.sort_unstable();
    for w in lines.windows(2) {
        assert!(w[0] < w[1], "two records start on line {}", w[0]);
    }
    if let (Some(first), Some(last)) = (lines.first(), lines.last()) {
        assert!(*first >= 1, "line numbers are 1-based");
        assert!(
            *last <= physical_lines,
            "a record starts on line {last} of a {physical_lines}-line file"
        );
    }
    // Accepted rows survive the staged Parquet format unchanged.
    if !out.batches.is_empty() {
        let all = concat_batches(&schema, &out.batches).expect("same schema");
        let back = parquet_round_trip(&all);
        assert_eq!(back.num_rows(), all.num_rows());
        for (i, f) in schema.fields().iter().enumerate() {
            assert_eq!(
                back.column(i).as_ref(),
                all.column(i).as_ref(),
                "column {} changed in the Parquet round trip",
                f.name()
            );
        }
    }
    Some((accepted, out.quarantine.len() as u64))
}

/// Writes a batch as recon writes staged files and reads it back.
pub fn parquet_round_trip(batch: &RecordBatch) -> RecordBatch {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(
        &mut buf,
        batch.schema(),
        Some(crate::output::parquet_props()),
    )
    .expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(buf))
        .expect("footer")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    concat_batches(&batch.schema(), &batches).expect("same schema")
}

fn parse_config(text: &str) -> crate::Result<Config> {
    Config::from_str_at(
        text,
        Path::new("recon.toml"),
        PathBuf::from("/nonexistent/recon-fuzz"),
        String::new(),
    )
}

/// The CSV reader with every dialect option, encoding and column type.
pub fn csv(data: &[u8]) -> Extracted {
    let (opts, rest) = data.split_at(data.len().min(OPTION_BYTES));
    let mut u = Input::new(opts);
    let delimiter = u.dialect_byte(b",;\t| ");
    let quote = u.dialect_byte(b"\"'");
    let header = !u.one_in_four();
    let encoding = u.pick(&[
        Encoding::Utf8,
        Encoding::Utf8,
        Encoding::Windows1252,
        Encoding::Latin1,
        Encoding::Utf16,
    ]);
    let bom = u.byte() % 6;
    let gen_header = header && !u.one_in_four();
    let eol: &[u8] = u.pick(&[b"\n".as_slice(), b"\r\n", b"\r"]);
    let ncols = 1 + u.below(6);
    let tz = u.pick(TIME_ZONES);
    let batch_size = 1 + u.below(64);
    let max_lines = 1 + u.below(60);
    let max_record_bytes = if u.one_in_four() { 1024 } else { 8 << 20 };
    let max_raw_chars = 1 + u.below(300);
    let trim = !u.one_in_four();
    let null_values = u.pick(&["[\"\"]", "[\"\", \"NULL\", \"n/a\"]", "[]"]);
    let mut columns = String::new();
    let mut custom = false;
    for i in 0..ncols {
        let (line, c) = gen_column(&mut u, i, ncols, header, true);
        columns.push_str(&line);
        custom |= c;
    }
    let key = if ncols > 1 && u.bool() {
        "[\"c0\", \"c1\"]"
    } else {
        "\"c0\""
    };
    let text = format!(
        "[run]\ntime_zone = {tz:?}\nbatch_size = {batch_size}\n\n[[source]]\nname = \"fz\"\nsystem = \"other\"\nentity = \"thing\"\npath = \"fz.csv\"\nkey = {key}\ntrim = {trim}\nnull_values = {null_values}\nmax_raw_chars = {max_raw_chars}\nmax_record_bytes = {max_record_bytes}\n[source.csv]\ndelimiter = {}\nquote = {}\nheader = {header}\nencoding = {:?}\nmax_lines_per_record = {max_lines}\n[source.columns]\n{columns}",
        toml_str(&(delimiter as char).to_string()),
        toml_str(&(quote as char).to_string()),
        encoding.as_str(),
    );
    let cfg = match parse_config(&text) {
        Ok(c) => c,
        Err(e) => {
            assert!(
                custom || delimiter == quote,
                "a generated config was rejected: {e}\n{text}"
            );
            return None;
        }
    };
    // The file: optional byte-order mark, optional generated header, then the input.
    let mut body = Vec::new();
    if gen_header {
        for i in 0..ncols {
            if i > 0 {
                body.push(delimiter);
            }
            body.extend_from_slice(format!("c{i}").as_bytes());
        }
        body.extend_from_slice(eol);
    }
    body.extend_from_slice(rest);
    let file = encode_file(&body, encoding, bom);
    let decoded = decoded_stream(&file, encoding);
    check_utf16(&body, encoding, bom, &decoded);
    check_extraction(&cfg, &decoded, true, batch_size, &file)
}

/// The NDJSON reader with every encoding and nested mappings.
pub fn ndjson(data: &[u8]) -> Extracted {
    let (opts, rest) = data.split_at(data.len().min(OPTION_BYTES));
    let mut u = Input::new(opts);
    let encoding = u.pick(&[
        Encoding::Utf8,
        Encoding::Utf8,
        Encoding::Windows1252,
        Encoding::Latin1,
        Encoding::Utf16,
    ]);
    let bom = u.byte() % 6;
    let ncols = 1 + u.below(6);
    let tz = u.pick(TIME_ZONES);
    let batch_size = 1 + u.below(64);
    let max_record_bytes = if u.one_in_four() { 1024 } else { 8 << 20 };
    let max_raw_chars = 1 + u.below(300);
    let trim = !u.one_in_four();
    let null_values = u.pick(&["[\"\"]", "[\"\", \"NULL\"]", "[]"]);
    let mut columns = String::new();
    let mut custom = false;
    for i in 0..ncols {
        let (line, c) = gen_column(&mut u, i, ncols, true, false);
        columns.push_str(&line);
        custom |= c;
    }
    let text = format!(
        "[run]\ntime_zone = {tz:?}\nbatch_size = {batch_size}\n\n[[source]]\nname = \"fz\"\nsystem = \"other\"\nentity = \"thing\"\npath = \"fz.ndjson\"\nkey = \"c0\"\ntrim = {trim}\nnull_values = {null_values}\nmax_raw_chars = {max_raw_chars}\nmax_record_bytes = {max_record_bytes}\nencoding = {:?}\n[source.columns]\n{columns}",
        encoding.as_str(),
    );
    let cfg = match parse_config(&text) {
        Ok(c) => c,
        Err(e) => {
            assert!(custom, "a generated config was rejected: {e}\n{text}");
            return None;
        }
    };
    let file = encode_file(rest, encoding, bom);
    let decoded = decoded_stream(&file, encoding);
    check_utf16(rest, encoding, bom, &decoded);
    check_extraction(&cfg, &decoded, false, batch_size, &file)
}

/// The file's bytes: a byte-order mark (none, UTF-8, UTF-16 LE or BE), then the body —
/// for UTF-16 the body's text re-encoded in the BOM's byte order (or as given).
fn encode_file(body: &[u8], encoding: Encoding, bom: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 2 + 3);
    match bom {
        1 => out.extend_from_slice(&[0xEF, 0xBB, 0xBF]),
        2 => out.extend_from_slice(&[0xFF, 0xFE]),
        3 => out.extend_from_slice(&[0xFE, 0xFF]),
        _ => {}
    }
    if encoding == Encoding::Utf16 && bom != 5 {
        let text = String::from_utf8_lossy(body);
        for unit in text.encode_utf16() {
            if bom == 3 {
                out.extend_from_slice(&unit.to_be_bytes());
            } else {
                out.extend_from_slice(&unit.to_le_bytes());
            }
        }
    } else {
        out.extend_from_slice(body);
    }
    out
}

/// UTF-16 in either byte order (told by the byte-order mark; little-endian without one)
/// reaches the scanners as the text that was encoded.
fn check_utf16(body: &[u8], encoding: Encoding, bom: u8, decoded: &[u8]) {
    if encoding == Encoding::Utf16 && matches!(bom, 0 | 2 | 3 | 4) {
        assert_eq!(
            String::from_utf8_lossy(decoded),
            String::from_utf8_lossy(body),
            "UTF-16 transcoding changed the text"
        );
    }
}

/// The byte stream the record scanners see (UTF-16 transcoded).
fn decoded_stream(file: &[u8], encoding: Encoding) -> Vec<u8> {
    let mut r = crate::extract::input::decoding_reader(file, encoding);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).expect("in-memory read");
    out
}

/// Type coercion: dates and timestamps with formats and time zones, decimals, integers,
/// booleans.
pub fn coerce(data: &[u8]) {
    let (opts, rest) = data.split_at(data.len().min(COERCE_OPTION_BYTES));
    let mut u = Input::new(opts);
    let ty = match u.byte() % 6 {
        0 => ColumnType::String,
        1 => ColumnType::Integer,
        2 => {
            let p = 1 + u.byte() % 38;
            ColumnType::Decimal(p, (u.byte() % (p + 1)) as i8)
        }
        3 => ColumnType::Boolean,
        4 => ColumnType::Date,
        _ => ColumnType::Timestamp,
    };
    let tz: chrono_tz::Tz = u.pick(TIME_ZONES).parse().expect("known zone");
    let mut formats = Vec::new();
    if ty.is_temporal() {
        for _ in 0..u.byte() % 3 {
            if u.byte() < 0xC0 {
                formats.push(u.pick(FORMATS).to_string());
            } else {
                let k = u.below(24);
                formats.push(String::from_utf8_lossy(u.take(k)).into_owned());
            }
        }
    }
    // As the config does: every declared format must validate.
    if formats
        .iter()
        .any(|f| coerce::validate_format(f, ty).is_err())
    {
        return;
    }
    let text = String::from_utf8_lossy(rest).into_owned();
    let c = Coercer::new(ty, &formats, tz);
    let res = c.parse(Cow::Borrowed(text.as_str()));
    match &res {
        Err(m) => check_message_has_no_value(&c, ty, m),
        Ok(v) => check_value(ty, &text, v, tz),
    }
    // Default formats: the ISO fast path must agree with chrono's parser.
    if ty.is_temporal() && formats.is_empty() {
        let defaults: Vec<String> = match ty {
            ColumnType::Date => coerce::DEFAULT_DATE_FORMATS,
            _ => coerce::DEFAULT_TIMESTAMP_FORMATS,
        }
        .iter()
        .map(|s| s.to_string())
        .collect();
        let slow = Coercer::new(ty, &defaults, tz).parse(Cow::Borrowed(text.as_str()));
        if let Ok(fast) = &res {
            assert_eq!(
                slow.as_ref().ok(),
                Some(fast),
                "the ISO fast path and chrono disagree on {text:?}"
            );
        }
    }
    // The value goes into its Arrow column.
    let mut b = ColumnBuilder::new(ty, 1);
    b.append(res.as_ref().unwrap_or(&Value::Null));
    let arr = b.finish();
    assert_eq!(arr.len(), 1);
    if let ColumnType::Decimal(p, _) = ty {
        arr.as_primitive::<Decimal128Type>()
            .validate_decimal_precision(p)
            .expect("an accepted decimal fits its precision");
    }
}

/// Error messages come from a closed set that does not depend on the value, so they
/// can never carry personal data.
fn check_message_has_no_value(c: &Coercer, ty: ColumnType, m: &str) {
    let probes = [
        "\u{1}",
        "99999999999999999999999999999999999999999",
        "1.1111111111111111111111111111111111111111",
    ];
    let known: Vec<String> = probes
        .iter()
        .filter_map(|p| c.parse(Cow::Borrowed(p)).err())
        .collect();
    let dst = ty == ColumnType::Timestamp && m.starts_with("local time does not exist");
    assert!(
        dst || known.iter().any(|k| k == m),
        "error message {m:?} is not one of {known:?}"
    );
}

fn check_value(ty: ColumnType, text: &str, v: &Value, tz: chrono_tz::Tz) {
    match (ty, v) {
        (ColumnType::String, Value::Str(s)) => assert_eq!(s, text),
        (ColumnType::Integer, Value::Int(i)) => {
            assert_eq!(coerce::parse_integer(&i.to_string()), Ok(*i));
        }
        (ColumnType::Decimal(p, s), Value::Dec(d)) => {
            let limit = 10i128.pow(p as u32);
            assert!(d.abs() < limit, "{d} exceeds decimal({p},{s})");
            let canonical = coerce::format_decimal(*d, s);
            assert_eq!(
                coerce::parse_decimal(&canonical, p, s),
                Ok(*d),
                "{canonical}"
            );
        }
        (ColumnType::Boolean, Value::Bool(b)) => {
            let t = text.to_ascii_lowercase();
            let want = matches!(t.as_str(), "true" | "t" | "yes" | "y" | "1");
            assert_eq!(*b, want, "{text:?}");
        }
        (ColumnType::Date, Value::Date(_)) | (ColumnType::Timestamp, Value::Ts(_)) => {
            let mut key = String::new();
            v.key_text(&mut key, 0);
            assert!(!key.is_empty(), "a parsed date has a canonical text");
            let year: Option<i32> = key.get(..4).and_then(|y| y.parse().ok());
            // Years 0–9999 print as ISO 8601, which the default formats read back.
            if year.is_some() && !key.starts_with(['+', '-']) {
                let back = Coercer::new(ty, &[], tz).parse(Cow::Borrowed(key.as_str()));
                assert_eq!(back.as_ref(), Ok(v), "{key}");
            }
        }
        (ty, v) => panic!("a {ty} column produced {v:?}"),
    }
}

/// The configuration parser and validation.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let cfg = match parse_config(&text) {
        Ok(c) => c,
        Err(Error::Config { message, .. }) => {
            assert!(!message.trim().is_empty(), "an empty config error");
            return;
        }
        Err(e) => panic!("config parsing failed with an unexpected error: {e}"),
    };
    assert!(!cfg.sources.is_empty());
    crate::sql::pool_bytes(cfg.run.memory_limit_mb).expect("a validated memory limit");
    for s in &cfg.sources {
        let plan = RowPlan::new(s, cfg.source_time_zone(s));
        assert_eq!(plan.schema.fields().len(), s.columns.len() + 4);
        for c in &plan.columns {
            let mut b = ColumnBuilder::new(c.coercer.ty, 0);
            b.append_null();
            b.finish();
        }
        assert!(s.format.is_some(), "validation settles the format");
    }
}

/// The rule-file header parser, placeholder rendering and the read-only check.
pub fn rule_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("rules/fuzz.sql");
    let lines: Vec<&str> = text.lines().collect();
    let rule = match crate::rules::file::parse(path, &text) {
        Ok(r) => r,
        Err(e) => {
            if let Some(l) = e.line {
                assert!(
                    l >= 1 && l <= lines.len(),
                    "error line {l} outside the file"
                );
            }
            assert!(e.to_string().starts_with("rules/fuzz.sql"), "{e}");
            return;
        }
    };
    assert!(rule.sql_line >= 1 && rule.sql_line <= lines.len());
    let first = rule.sql.lines().next().unwrap_or("");
    assert!(
        lines[rule.sql_line - 1].starts_with(first),
        "the query starts on the reported line"
    );
    assert!(!rule.id.is_empty());
    for r in [rule.warn_below, rule.fail_below].into_iter().flatten() {
        assert!((0.0..=1.0).contains(&r), "rate {r}");
    }
    let mut vars = rule.params.clone();
    vars.insert("source".into(), "crm_accounts".into());
    vars.insert("as_of".into(), "DATE '2026-01-01'".into());
    let sql = match crate::rules::file::render(&rule.sql, &vars) {
        Ok(s) => s,
        Err((line, _)) => {
            assert!(line >= 1 && line <= rule.sql.lines().count().max(1));
            return;
        }
    };
    if let Err(m) = crate::rules::check_read_only(&sql) {
        let _ = crate::rules::file_line(&m, rule.sql_line);
    }
}
