//! Property tests of row accounting through the real extract stage
//! (`recon::extract::extract`, as `recon run` calls it, writing the staged Parquet file
//! and the quarantine).
//!
//! For any generated CSV or NDJSON file — random columns and types, values with quotes,
//! delimiters, line breaks, padding, empty fields, NUL bytes, invalid numbers and dates,
//! rows with the wrong number of fields, broken quotes, invalid JSON — the test knows
//! what each record must become, and checks:
//! - rows read = accepted + quarantined, for the file report and for the rows actually
//!   written to `staged/<source>.parquet` and `quarantine.parquet`;
//! - every accepted row, read back from Parquet with the parquet crate, has exactly the
//!   values that were written (typed), its key and its line;
//! - every refused row is quarantined with the expected reason on its line.
//!
//! A third property mangles generated CSV files at random (stray quotes, line breaks,
//! delimiters) where no oracle is practical: accounting still holds, and the staged
//! Parquet rows equal the rows the in-memory reader accepts.

use std::path::Path;

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proptest::prelude::*;
use proptest::test_runner::Config as PtConfig;

/// Days from 0001-01-01 to 1970-01-01.
const EPOCH_CE: i32 = 719_163;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Str,
    Int,
    Dec(u8, i8),
    Bool,
    /// Index into DATE_FORMATS (0: the default ISO format, no `formats` key).
    Date(usize),
    Ts,
}

const DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"];

impl Ty {
    fn toml(self) -> String {
        match self {
            Ty::Str => "type = \"string\"".into(),
            Ty::Int => "type = \"integer\"".into(),
            Ty::Dec(p, s) => format!("type = \"decimal({p},{s})\""),
            Ty::Bool => "type = \"boolean\"".into(),
            Ty::Date(0) => "type = \"date\"".into(),
            Ty::Date(f) => format!("type = \"date\", formats = [{:?}]", DATE_FORMATS[f]),
            Ty::Ts => "type = \"timestamp\"".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Enc {
    Utf8,
    Cp1252,
    Latin1,
}

impl Enc {
    fn name(self) -> &'static str {
        match self {
            Enc::Utf8 => "utf-8",
            Enc::Cp1252 => "windows-1252",
            Enc::Latin1 => "latin-1",
        }
    }

    fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Enc::Utf8 => text.as_bytes().to_vec(),
            Enc::Cp1252 => {
                let (b, _, bad) = encoding_rs::WINDOWS_1252.encode(text);
                assert!(!bad, "generated text is windows-1252: {text:?}");
                b.into_owned()
            }
            Enc::Latin1 => text
                .chars()
                .map(|c| u8::try_from(c as u32).expect("generated text is latin-1"))
                .collect(),
        }
    }

    /// Pieces strings are made of: the dialect's special characters, line breaks,
    /// padding and letters of the encoding.
    fn pieces(self) -> Vec<&'static str> {
        let mut p = vec![
            "a", "b", "Z", "0", "7", " ", "  ", ",", ";", "|", "\t", "\"", "'", "\"\"", "\n",
            "\r\n", "-", ".", "@", "é", "ü", "ß", "Ø", "x y",
        ];
        match self {
            Enc::Utf8 => p.extend(["日本", "😀", "\u{a0}", "\u{feff}", "€"]),
            Enc::Cp1252 => p.extend(["€", "™", "Œ"]),
            Enc::Latin1 => p.extend(["¿", "ÿ"]),
        }
        p
    }
}

/// What a value must become.
#[derive(Debug, Clone, PartialEq)]
enum Exp {
    Null,
    Str(String),
    Int(i64),
    Dec(i128),
    Bool(bool),
    Date(i32),
    Ts(i64),
}

/// Reasons, as their quarantine codes.
const WRONG_FIELD_COUNT: &str = "wrong_field_count";
const UNBALANCED_QUOTE: &str = "unbalanced_quote";
const MALFORMED_QUOTE: &str = "malformed_quote";
const INVALID_ENCODING: &str = "invalid_encoding";
const TYPE_MISMATCH: &str = "type_mismatch";
const MISSING_KEY: &str = "missing_key";
const INVALID_JSON: &str = "invalid_json";
const NOT_AN_OBJECT: &str = "not_an_object";
const NESTED_VALUE: &str = "nested_value";

/// One generated field.
#[derive(Debug, Clone)]
enum Cell {
    Str(String),
    Int(i64, bool),
    /// Unscaled value, extra trailing zeros, leading `+`, leading zero.
    Dec(i128, u8, bool, bool),
    Bool(usize, bool),
    Date(i32),
    /// UTC microseconds, offset in minutes (None: `Z`), with a fraction.
    Ts(i64, Option<i32>, bool),
    /// Empty, or only spaces.
    Empty(bool),
    /// A text its column's type refuses (index into the type's bad texts).
    Bad(usize),
    /// Text with a NUL byte.
    Nul,
}

const BOOLS: &[(&str, bool)] = &[
    ("true", true),
    ("false", false),
    ("yes", true),
    ("no", false),
    ("y", true),
    ("n", false),
    ("t", true),
    ("f", false),
    ("1", true),
    ("0", false),
];

fn bad_texts(ty: Ty) -> Vec<String> {
    match ty {
        Ty::Str => vec![],
        Ty::Int => [
            "1.5",
            "abc",
            "99999999999999999999",
            "1e3",
            "--1",
            "0x10",
            "1 000",
        ]
        .map(String::from)
        .to_vec(),
        Ty::Dec(p, s) => {
            let mut v: Vec<String> = ["1e5", "1.2.3", "abc", ".", "-", "1,5"]
                .map(String::from)
                .to_vec();
            v.push(format!("1{}", "0".repeat((p as i32 - s as i32) as usize)));
            if s < 38 {
                v.push(format!("0.{}", "1".repeat(s as usize + 1)));
            }
            v
        }
        Ty::Bool => ["maybe", "2", "tru", "yess"].map(String::from).to_vec(),
        Ty::Date(_) => ["not a date", "2023-02-30", "31/31/2024", "32.13.2024"]
            .map(String::from)
            .to_vec(),
        Ty::Ts => [
            "2024-01-01T25:00:00Z",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-02-30 10:00:00",
        ]
        .map(String::from)
        .to_vec(),
    }
}

fn string_strategy(enc: Enc) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(enc.pieces()), 0..10).prop_map(|v| {
        // At most three line breaks per value, so a record stays within
        // max_lines_per_record.
        let mut breaks = 0;
        let mut s = String::new();
        for piece in v {
            if piece.contains('\n') {
                breaks += 1;
                if breaks > 3 {
                    s.push(' ');
                    continue;
                }
            }
            s.push_str(piece);
        }
        s
    })
}

fn cell_strategy(ty: Ty, enc: Enc) -> BoxedStrategy<Cell> {
    let min_day = NaiveDate::from_ymd_opt(2, 1, 1).unwrap();
    let max_day = NaiveDate::from_ymd_opt(9998, 12, 31).unwrap();
    let days = |d: NaiveDate| chrono::Datelike::num_days_from_ce(&d) - EPOCH_CE;
    let (lo, hi) = (days(min_day), days(max_day));
    let nbad = bad_texts(ty).len();
    let valid: BoxedStrategy<Cell> = match ty {
        Ty::Str => string_strategy(enc).prop_map(Cell::Str).boxed(),
        Ty::Int => (any::<i64>(), any::<bool>())
            .prop_map(|(v, p)| Cell::Int(v, p))
            .boxed(),
        Ty::Dec(p, _) => {
            let lim = 10i128.pow(p as u32) - 1;
            (-lim..=lim, 0u8..3, any::<bool>(), any::<bool>())
                .prop_map(|(v, z, plus, lead)| Cell::Dec(v, z, plus, lead))
                .boxed()
        }
        Ty::Bool => (0..BOOLS.len(), any::<bool>())
            .prop_map(|(i, up)| Cell::Bool(i, up))
            .boxed(),
        Ty::Date(_) => (lo..=hi).prop_map(Cell::Date).boxed(),
        Ty::Ts => (
            (lo as i64 * 86_400_000_000)..(hi as i64 * 86_400_000_000),
            prop::option::of(-14 * 60..=14 * 60i32),
            any::<bool>(),
        )
            .prop_map(|(us, off, frac)| {
                let us = if frac {
                    us
                } else {
                    us - us.rem_euclid(1_000_000)
                };
                Cell::Ts(us, off, frac)
            })
            .boxed(),
    };
    if nbad == 0 {
        prop_oneof![
            10 => valid,
            1 => any::<bool>().prop_map(Cell::Empty),
            1 => Just(Cell::Nul),
        ]
        .boxed()
    } else {
        prop_oneof![
            8 => valid,
            1 => any::<bool>().prop_map(Cell::Empty),
            2 => (0..nbad).prop_map(Cell::Bad),
            1 => Just(Cell::Nul),
        ]
        .boxed()
    }
}

/// The text of a cell and what it must become (`Err`: the quarantine reason).
fn render(cell: &Cell, ty: Ty, key: bool) -> (String, Result<Exp, &'static str>) {
    let trimmed = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .to_string()
    };
    let null = if key { Err(MISSING_KEY) } else { Ok(Exp::Null) };
    match cell {
        Cell::Str(s) => {
            let t = trimmed(s);
            (s.clone(), if t.is_empty() { null } else { Ok(Exp::Str(t)) })
        }
        Cell::Int(v, plus) => (
            if *plus && *v >= 0 {
                format!("+{v}")
            } else {
                v.to_string()
            },
            Ok(Exp::Int(*v)),
        ),
        Cell::Dec(v, zeros, plus, lead) => {
            let Ty::Dec(_, s) = ty else { unreachable!() };
            let digits = v.unsigned_abs().to_string();
            let s = s as usize;
            let digits = format!("{digits:0>width$}", width = s + 1);
            let (int, frac) = digits.split_at(digits.len() - s);
            let mut t = String::new();
            if *v < 0 {
                t.push('-');
            } else if *plus {
                t.push('+');
            }
            if *lead {
                t.push('0');
            }
            t.push_str(int);
            if s > 0 || *zeros > 0 {
                t.push('.');
                t.push_str(frac);
                t.push_str(&"0".repeat(*zeros as usize));
            }
            (t, Ok(Exp::Dec(*v)))
        }
        Cell::Bool(i, up) => {
            let (t, b) = BOOLS[*i];
            (
                if *up { t.to_uppercase() } else { t.to_string() },
                Ok(Exp::Bool(b)),
            )
        }
        Cell::Date(d) => {
            let Ty::Date(f) = ty else { unreachable!() };
            let date = NaiveDate::from_num_days_from_ce_opt(d + EPOCH_CE).unwrap();
            (date.format(DATE_FORMATS[f]).to_string(), Ok(Exp::Date(*d)))
        }
        Cell::Ts(us, off, frac) => {
            let utc = DateTime::from_timestamp_micros(*us).unwrap();
            let local = utc.naive_utc() + chrono::Duration::minutes(off.unwrap_or(0) as i64);
            let mut t = local.format("%Y-%m-%dT%H:%M:%S").to_string();
            if *frac {
                t.push_str(&format!(".{:06}", us.rem_euclid(1_000_000)));
            }
            match off {
                None => t.push('Z'),
                Some(m) => t.push_str(&format!(
                    "{}{:02}:{:02}",
                    if *m < 0 { '-' } else { '+' },
                    m.abs() / 60,
                    m.abs() % 60
                )),
            }
            (t, Ok(Exp::Ts(*us)))
        }
        Cell::Empty(spaces) => (if *spaces { "  ".into() } else { String::new() }, null),
        Cell::Bad(i) => (bad_texts(ty)[*i].clone(), Err(TYPE_MISMATCH)),
        Cell::Nul => ("a\0b".into(), Err(INVALID_ENCODING)),
    }
}

/// A generated record, or a blank line.
#[derive(Debug, Clone)]
enum Row {
    /// Cells, and per cell whether to quote it even when not needed (CSV).
    Cells(Vec<(Cell, bool)>),
    /// A CSV record with one field too many (no line breaks in it).
    ExtraField(Vec<(Cell, bool)>),
    /// A CSV record whose first field has text after its closing quote.
    MalformedQuote(Vec<(Cell, bool)>),
    Blank,
}

#[derive(Debug, Clone)]
struct CsvCase {
    cols: Vec<Ty>,
    enc: Enc,
    delimiter: char,
    quote: char,
    header: bool,
    bom: bool,
    crlf: bool,
    rows: Vec<Row>,
    /// A last line whose quote never closes.
    unbalanced_tail: bool,
}

fn cols_strategy() -> impl Strategy<Value = Vec<Ty>> {
    let ty = prop_oneof![
        2 => Just(Ty::Str),
        1 => Just(Ty::Int),
        1 => (1u8..=38)
            .prop_flat_map(|p| (Just(p), 0..=p as i8))
            .prop_map(|(p, s)| Ty::Dec(p, s)),
        1 => Just(Ty::Bool),
        1 => (0..DATE_FORMATS.len()).prop_map(Ty::Date),
        1 => Just(Ty::Ts),
    ];
    prop::collection::vec(ty, 1..=4).prop_map(|mut v| {
        v.insert(0, Ty::Str); // c0: the key
        v
    })
}

fn row_strategy(cols: &[Ty], enc: Enc, csv: bool) -> BoxedStrategy<Row> {
    let cells: Vec<BoxedStrategy<(Cell, bool)>> = cols
        .iter()
        .map(|&t| (cell_strategy(t, enc), any::<bool>()).boxed())
        .collect();
    if csv {
        prop_oneof![
            12 => cells.clone().prop_map(Row::Cells),
            1 => cells.clone().prop_map(Row::ExtraField),
            1 => cells.prop_map(Row::MalformedQuote),
            1 => Just(Row::Blank),
        ]
        .boxed()
    } else {
        prop_oneof![
            12 => cells.prop_map(Row::Cells),
            1 => Just(Row::Blank),
        ]
        .boxed()
    }
}

fn csv_case() -> impl Strategy<Value = CsvCase> {
    (
        cols_strategy(),
        prop_oneof![Just(Enc::Utf8), Just(Enc::Cp1252), Just(Enc::Latin1)],
        prop::sample::select(vec![',', ';', '\t', '|']),
        prop::sample::select(vec!['"', '\'']),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_flat_map(|(cols, enc, delimiter, quote, (header, bom, crlf, tail))| {
            let rows = prop::collection::vec(row_strategy(&cols, enc, true), 0..25);
            (rows, Just(cols)).prop_map(move |(rows, cols)| CsvCase {
                cols,
                enc,
                delimiter,
                quote,
                header,
                bom: bom && enc == Enc::Utf8,
                crlf,
                rows,
                unbalanced_tail: tail,
            })
        })
}

/// Line breaks as the CSV scanner counts them (`\r\n`, `\r`, `\n`).
fn line_breaks(s: &str) -> i64 {
    s.replace("\r\n", "\n").matches(['\n', '\r']).count() as i64
}

/// What the extract stage must produce for a file.
#[derive(Debug, Default)]
struct Expected {
    /// (line, key, values)
    accepted: Vec<(i64, String, Vec<Exp>)>,
    /// (line, reason)
    quarantined: Vec<(i64, &'static str)>,
    records: u64,
}

fn record_outcome(
    cols: &[Ty],
    cells: &[(Cell, bool)],
) -> (Vec<String>, Result<Vec<Exp>, &'static str>) {
    let mut texts = Vec::new();
    let mut values = Ok(Vec::new());
    for (i, ((cell, _), ty)) in cells.iter().zip(cols).enumerate() {
        let (t, e) = render(cell, *ty, i == 0);
        texts.push(t);
        match (&mut values, e) {
            (Ok(v), Ok(x)) => v.push(x),
            (Ok(_), Err(r)) => values = Err(r),
            (Err(_), _) => {}
        }
    }
    (texts, values)
}

impl CsvCase {
    fn field(&self, text: &str, force: bool) -> String {
        let q = self.quote;
        let needs = text.contains([self.delimiter, q, '\r', '\n']);
        if needs || force {
            let inner = text.replace(q, &format!("{q}{q}"));
            format!("{q}{inner}{q}")
        } else {
            text.to_string()
        }
    }

    /// The file's text and what each record must become.
    fn render(&self) -> (String, Expected) {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let d = self.delimiter.to_string();
        let mut text = String::new();
        let mut exp = Expected::default();
        let mut line = 1i64;
        if self.header {
            let names: Vec<String> = (0..self.cols.len()).map(|i| format!("c{i}")).collect();
            text.push_str(&names.join(&d));
            text.push_str(eol);
            line += 1;
        }
        for row in &self.rows {
            let (cells, kind) = match row {
                Row::Blank => {
                    text.push_str(eol);
                    line += 1;
                    continue;
                }
                Row::Cells(c) => (c.clone(), 0),
                // Without a header the first record sets the number of fields.
                Row::ExtraField(c) if !self.header && exp.records == 0 => (c.clone(), 0),
                Row::ExtraField(c) => (single_line(c), 1),
                Row::MalformedQuote(c) => (single_line(c), 2),
            };
            let (texts, outcome) = record_outcome(&self.cols, &cells);
            let mut fields: Vec<String> = texts
                .iter()
                .zip(&cells)
                .map(|(t, (_, force))| self.field(t, *force))
                .collect();
            let outcome = match kind {
                1 => {
                    fields.push("extra".into());
                    Err(WRONG_FIELD_COUNT)
                }
                2 => {
                    fields[0] = format!("{q}k{q}x", q = self.quote);
                    Err(MALFORMED_QUOTE)
                }
                _ => outcome,
            };
            let rec = fields.join(&d);
            match outcome {
                Ok(values) => {
                    let Exp::Str(key) = &values[0] else {
                        panic!("the key is a string")
                    };
                    exp.accepted.push((line, key.clone(), values.clone()));
                }
                Err(r) => exp.quarantined.push((line, r)),
            }
            exp.records += 1;
            line += 1 + line_breaks(&rec);
            text.push_str(&rec);
            text.push_str(eol);
        }
        if self.unbalanced_tail {
            text.push_str(&format!("{q}never closed{d}x", q = self.quote));
            exp.quarantined.push((line, UNBALANCED_QUOTE));
            exp.records += 1;
        }
        (text, exp)
    }

    fn config(&self) -> String {
        let mut cols = String::new();
        for (i, t) in self.cols.iter().enumerate() {
            let index = if self.header {
                String::new()
            } else {
                format!(", index = {}", i + 1)
            };
            cols.push_str(&format!("c{i} = {{ {}{index} }}\n", t.toml()));
        }
        format!(
            "[run]\noutput = \"out\"\nbatch_size = 7\n\n[[source]]\nname = \"gen\"\nsystem = \"other\"\nentity = \"thing\"\npath = \"data.csv\"\nkey = \"c0\"\n[source.csv]\ndelimiter = {:?}\nquote = {:?}\nheader = {}\nencoding = \"{}\"\n[source.columns]\n{cols}",
            self.delimiter.to_string(),
            self.quote.to_string(),
            self.header,
            self.enc.name()
        )
    }
}

/// The same cells with line breaks in strings replaced by spaces.
fn single_line(cells: &[(Cell, bool)]) -> Vec<(Cell, bool)> {
    cells
        .iter()
        .map(|(c, f)| match c {
            Cell::Str(s) => (Cell::Str(s.replace(['\r', '\n'], " ")), *f),
            other => (other.clone(), *f),
        })
        .collect()
}

/// Runs the extract stage on one file, as `recon run` does; returns the file report's
/// rows read, the staged rows and the quarantined (line, reason) pairs, all read back
/// from the Parquet files.
type Extracted = (u64, Vec<RecordBatch>, Vec<(i64, String)>);

fn extract(config: &str, file_name: &str, bytes: &[u8]) -> Extracted {
    try_extract(config, file_name, bytes).unwrap_or_else(|e| panic!("extract failed: {e}"))
}

fn try_extract(config: &str, file_name: &str, bytes: &[u8]) -> recon::Result<Extracted> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file_name), bytes).unwrap();
    let cfg_path = dir.path().join("recon.toml");
    std::fs::write(&cfg_path, config).unwrap();
    let cfg = recon::Config::load(&cfg_path).unwrap_or_else(|e| panic!("{e}\n{config}"));
    let out = recon::output::OutputDir::lock(&dir.path().join("out")).unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
    let mut run = out.begin_run(date, "prop").unwrap();
    let report = recon::extract::extract(
        &cfg,
        &mut run,
        date,
        &recon::progress::Progress::hidden(),
        None,
    )?;
    let file = &report.sources[0].files[0];
    let staged = read(&run.path().join("staged/gen.parquet"));
    let q = read(&run.path().join("quarantine.parquet"));
    let mut quarantined = Vec::new();
    for b in &q {
        let lines = b
            .column_by_name("line")
            .unwrap()
            .as_primitive::<Int64Type>();
        let reasons = b.column_by_name("reason").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            quarantined.push((lines.value(i), reasons.value(i).to_string()));
        }
    }
    let accepted: u64 = staged.iter().map(|b| b.num_rows() as u64).sum();
    assert_eq!(file.rows_accepted, accepted, "file report vs staged rows");
    assert_eq!(
        file.rows_quarantined,
        quarantined.len() as u64,
        "file report vs quarantine rows"
    );
    assert_eq!(
        file.rows_read,
        accepted + quarantined.len() as u64,
        "rows read = accepted + quarantined"
    );
    Ok((file.rows_read, staged, quarantined))
}

fn read(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// The staged rows as (line, key, typed values).
fn staged_rows(batches: &[RecordBatch], ncols: usize) -> Vec<(i64, String, Vec<Exp>)> {
    let mut out = Vec::new();
    for b in batches {
        let lines = b
            .column_by_name("_line")
            .unwrap()
            .as_primitive::<Int64Type>();
        let keys = b.column_by_name("_record_key").unwrap().as_string::<i32>();
        let source = b.column_by_name("_source").unwrap().as_string::<i32>();
        for r in 0..b.num_rows() {
            assert_eq!(source.value(r), "gen");
            let mut values = Vec::new();
            for i in 0..ncols {
                let a = b.column_by_name(&format!("c{i}")).unwrap();
                values.push(if a.is_null(r) {
                    Exp::Null
                } else {
                    match a.data_type() {
                        DataType::Utf8 => Exp::Str(a.as_string::<i32>().value(r).to_string()),
                        DataType::Int64 => Exp::Int(a.as_primitive::<Int64Type>().value(r)),
                        DataType::Decimal128(..) => {
                            Exp::Dec(a.as_primitive::<Decimal128Type>().value(r))
                        }
                        DataType::Boolean => Exp::Bool(a.as_boolean().value(r)),
                        DataType::Date32 => Exp::Date(a.as_primitive::<Date32Type>().value(r)),
                        DataType::Timestamp(..) => {
                            Exp::Ts(a.as_primitive::<TimestampMicrosecondType>().value(r))
                        }
                        other => panic!("unexpected staged type {other}"),
                    }
                });
            }
            out.push((lines.value(r), keys.value(r).to_string(), values));
        }
    }
    out
}

fn check(
    exp: &Expected,
    rows_read: u64,
    staged: &[RecordBatch],
    q: &[(i64, String)],
    ncols: usize,
) {
    assert_eq!(rows_read, exp.records, "records read");
    let got = staged_rows(staged, ncols);
    assert_eq!(got.len(), exp.accepted.len(), "accepted rows");
    for (g, e) in got.iter().zip(&exp.accepted) {
        assert_eq!(g, e, "an accepted row changed on its way through Parquet");
    }
    let want: Vec<(i64, String)> = exp
        .quarantined
        .iter()
        .map(|(l, r)| (*l, r.to_string()))
        .collect();
    assert_eq!(q, want.as_slice(), "quarantined (line, reason)");
}

fn cases() -> u32 {
    std::env::var("RECON_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    // Failures are not written into the source tree; a real bug found here becomes an
    // explicit regression test.
    #![proptest_config(PtConfig { cases: cases(), failure_persistence: None, ..PtConfig::default() })]

    #[test]
    fn csv_rows_are_accounted_for_and_round_trip_through_parquet(case in csv_case()) {
        let (text, exp) = case.render();
        let mut bytes = if case.bom { vec![0xEF, 0xBB, 0xBF] } else { Vec::new() };
        bytes.extend(case.enc.encode(&text));
        let (read, staged, q) = extract(&case.config(), "data.csv", &bytes);
        check(&exp, read, &staged, &q, case.cols.len());
    }

    #[test]
    fn ndjson_rows_are_accounted_for_and_round_trip_through_parquet(case in ndjson_case()) {
        let (text, exp) = case.render();
        let (read, staged, q) = extract(&case.config(), "data.ndjson", &case.enc.encode(&text));
        check(&exp, read, &staged, &q, case.cols.len());
    }

    #[test]
    fn mangled_csv_is_accounted_for_and_staged_as_read(
        case in csv_case(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec!["\"", "'", "\n", "\r", ",", ";", "\t", "|", "\"\"", "\0", "\u{e9}"])), 1..8),
    ) {
        let (mut text, _) = case.render();
        for (at, piece) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            text.insert_str(i, piece);
        }
        let bytes = case.enc.encode(&text);
        let cfg_text = case.config();
        let on_disk = try_extract(&cfg_text, "data.csv", &bytes);
        // The same bytes through the in-memory reader: the staged Parquet rows are
        // exactly the rows it accepts, and it refuses the same lines.
        let cfg = recon::config::Config::from_str_at(
            &cfg_text,
            Path::new("recon.toml"),
            std::path::PathBuf::from("."),
            String::new(),
        )
        .unwrap();
        let src = &cfg.sources[0];
        let in_memory = recon::extract::extract_bytes(src, cfg.source_time_zone(src), &bytes, 7);
        let (mem, (read, staged, q)) = match (in_memory, on_disk) {
            (Ok(m), Ok(d)) => (m, d),
            // A mangled header: both refuse the file, in the same way.
            (Err(a), Err(b)) => {
                prop_assert!(matches!(a, recon::Error::Config { .. } | recon::Error::Input { .. }), "{}", a);
                prop_assert_eq!(a.exit_code(), b.exit_code(), "{} / {}", a, b);
                return Ok(());
            }
            (a, b) => panic!("in memory: {:?}\non disk: {:?}", a.map(|m| m.rows_read), b.map(|d| d.0)),
        };
        prop_assert_eq!(mem.rows_read, read);
        let n = case.cols.len();
        prop_assert_eq!(staged_rows(&staged, n), staged_rows(&mem.batches, n));
        let mem_q: Vec<(i64, String)> = mem
            .quarantine
            .iter()
            .map(|r| (r.line, r.reason.as_str().to_string()))
            .collect();
        prop_assert_eq!(q, mem_q);
    }
}

#[derive(Debug, Clone)]
struct NdjsonCase {
    cols: Vec<Ty>,
    enc: Enc,
    crlf: bool,
    /// Per row: how to write each cell (0: as a JSON string, 1: as a JSON number,
    /// boolean or null where possible, 2: leave an empty value's key out), and a
    /// line-level fault (0: none, 1: truncated JSON, 2: not an object, 3: a nested
    /// value in the first non-key column).
    rows: Vec<(Row, Vec<u8>, u8)>,
}

fn ndjson_case() -> impl Strategy<Value = NdjsonCase> {
    (
        cols_strategy(),
        prop_oneof![Just(Enc::Utf8), Just(Enc::Cp1252), Just(Enc::Latin1)],
        any::<bool>(),
    )
        .prop_flat_map(|(cols, enc, crlf)| {
            let n = cols.len();
            let row = (
                row_strategy(&cols, enc, false),
                prop::collection::vec(0u8..3, n),
                prop_oneof![9 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
            );
            (Just(cols), prop::collection::vec(row, 0..25)).prop_map(move |(cols, rows)| {
                NdjsonCase {
                    cols,
                    enc,
                    crlf,
                    rows,
                }
            })
        })
}

impl NdjsonCase {
    fn render(&self) -> (String, Expected) {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        let mut exp = Expected::default();
        for (line, (row, how, fault)) in self.rows.iter().enumerate() {
            let line = line as i64 + 1;
            let Row::Cells(cells) = row else {
                text.push_str("  ");
                text.push_str(eol);
                continue;
            };
            exp.records += 1;
            let (texts, mut outcome) = record_outcome(&self.cols, cells);
            let mut obj = String::from("{");
            for (i, (t, (cell, _))) in texts.iter().zip(cells).enumerate() {
                let ty = self.cols[i];
                let value = match (how[i], cell) {
                    (2, Cell::Empty(_)) => continue,
                    (1, Cell::Empty(_)) => "null".to_string(),
                    (1, Cell::Int(..) | Cell::Bool(..)) if json_literal(t, ty) => t.clone(),
                    (1, Cell::Dec(..)) if json_literal(t, ty) => t.clone(),
                    _ => serde_json::to_string(t).unwrap(),
                };
                if obj.len() > 1 {
                    obj.push_str(", ");
                }
                obj.push_str(&format!("\"c{i}\": {value}"));
            }
            if obj.len() > 1 {
                obj.push_str(", ");
            }
            obj.push_str("\"skip\": {\"deep\": [1, {\"x\": null}]}}");
            match fault {
                1 => {
                    obj.pop();
                    outcome = Err(INVALID_JSON);
                }
                2 => {
                    obj = format!("[{obj}]");
                    outcome = Err(NOT_AN_OBJECT);
                }
                3 if self.cols.len() > 1 => {
                    // A nested value for c1, last (of duplicate keys the last wins);
                    // the first problem in column order decides the reason.
                    obj.pop();
                    obj.push_str(", \"c1\": [\"nested\"]}");
                    let key = render(&cells[0].0, self.cols[0], true).1;
                    outcome = Err(key.err().unwrap_or(NESTED_VALUE));
                }
                _ => {}
            }
            match outcome {
                Ok(values) => {
                    let Exp::Str(key) = &values[0] else {
                        panic!("the key is a string")
                    };
                    exp.accepted.push((line, key.clone(), values.clone()));
                }
                Err(r) => exp.quarantined.push((line, r)),
            }
            text.push_str(&obj);
            text.push_str(eol);
        }
        (text, exp)
    }

    fn config(&self) -> String {
        let mut cols = String::new();
        for (i, t) in self.cols.iter().enumerate() {
            cols.push_str(&format!("c{i} = {{ {} }}\n", t.toml()));
        }
        format!(
            "[run]\noutput = \"out\"\nbatch_size = 5\n\n[[source]]\nname = \"gen\"\nsystem = \"other\"\nentity = \"thing\"\npath = \"data.ndjson\"\nkey = \"c0\"\nencoding = \"{}\"\n[source.columns]\n{cols}",
            self.enc.name()
        )
    }
}

/// Whether a value's text can be written as a bare JSON literal (number or boolean)
/// that reads back as the same text.
fn json_literal(t: &str, ty: Ty) -> bool {
    match ty {
        Ty::Bool => t == "true" || t == "false",
        Ty::Int | Ty::Dec(..) => {
            serde_json::from_str::<serde_json::Value>(t).is_ok_and(|v| v.is_number())
                && serde_json::from_str::<&serde_json::value::RawValue>(t)
                    .is_ok_and(|r| r.get() == t)
        }
        _ => false,
    }
}
