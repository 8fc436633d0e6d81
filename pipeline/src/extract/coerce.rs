//! Type coercion: text from an export → a typed value of the column's declared type.
//!
//! Parsers never panic and never allocate on the success path for numbers, booleans
//! and the ISO date/timestamp fast paths. Errors are short, value-free descriptions of
//! what was expected (the raw text is kept in quarantine, never in messages or logs).

use std::sync::Arc;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};

use crate::config::ColumnType;

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A parsed value, ready to append to a column builder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(std::borrow::Cow<'a, str>),
    Int(i64),
    Dec(i128),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Ts(i64),
}

impl Value<'_> {
    /// The value as text for `_record_key` (ISO dates, plain numbers).
    pub fn key_text(&self, out: &mut String, scale: i8) {
        use std::fmt::Write;
        match self {
            Value::Null => {}
            Value::Str(s) => out.push_str(s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Dec(d) => out.push_str(&format_decimal(*d, scale)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Date(d) => {
                if let Some(date) =
                    NaiveDate::from_num_days_from_ce_opt(d + UNIX_EPOCH_DAYS_FROM_CE)
                {
                    let _ = write!(out, "{}", date.format("%Y-%m-%d"));
                }
            }
            Value::Ts(t) => {
                if let Some(ts) = chrono::DateTime::from_timestamp_micros(*t) {
                    let _ = write!(out, "{}", ts.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
                }
            }
        }
    }
}

/// Formats a scaled i128 as a decimal string.
pub fn format_decimal(v: i128, scale: i8) -> String {
    if scale <= 0 {
        return v.to_string();
    }
    let neg = v < 0;
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let (int, frac) = if digits.len() > scale {
        digits.split_at(digits.len() - scale)
    } else {
        ("0", digits.as_str())
    };
    let frac = format!("{frac:0>scale$}");
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

/// Checks a date/timestamp format string; returns a message naming what is wrong.
pub fn validate_format(fmt: &str, ty: ColumnType) -> Result<(), String> {
    let items: Vec<Item> = StrftimeItems::new(fmt).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "invalid format {fmt:?}: unknown % specifier; use chrono strftime syntax, e.g. \"%Y-%m-%d\", \"%m/%d/%Y\", \"%m/%d/%Y %I:%M %p\""
        ));
    }
    let has = |needle: &str| fmt.contains(needle);
    let has_year =
        has("%Y") || has("%y") || has("%G") || has("%F") || has("%D") || has("%x") || has("%s");
    let has_day =
        has("%d") || has("%e") || has("%j") || has("%F") || has("%D") || has("%x") || has("%s");
    if !has_year || !has_day {
        return Err(format!(
            "format {fmt:?} does not determine a {}: it needs a year (%Y or %y) and a day (%d, %e or %j)",
            if ty == ColumnType::Timestamp {
                "timestamp"
            } else {
                "date"
            }
        ));
    }
    Ok(())
}

/// Default formats when a column declares none.
pub const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d"];
/// ISO 8601 with `T` or a space, an optional fraction, and `Z`, `z`, `±HH:MM` or no
/// offset (local time); or a date alone. The fast path accepts a subset of these.
pub const DEFAULT_TIMESTAMP_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.fz",
    "%Y-%m-%d %H:%M:%S%.fz",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
];

/// A compiled parser for one column.
#[derive(Debug, Clone)]
pub struct Coercer {
    pub ty: ColumnType,
    formats: Arc<Vec<CompiledFormat>>,
    /// Formats as written, for messages.
    format_names: Arc<str>,
    /// True when the formats are exactly the defaults (enables the ISO fast path).
    iso_fast_path: bool,
    tz: chrono_tz::Tz,
}

#[derive(Debug)]
struct CompiledFormat {
    items: Vec<Item<'static>>,
    has_offset: bool,
    has_time: bool,
    /// The format ends with a literal `Z` (or `z`): the time is UTC.
    utc_literal: bool,
}

impl Coercer {
    pub fn new(ty: ColumnType, formats: &[String], tz: chrono_tz::Tz) -> Coercer {
        let (list, defaults): (Vec<String>, bool) = if formats.is_empty() {
            let d = match ty {
                ColumnType::Timestamp => DEFAULT_TIMESTAMP_FORMATS,
                _ => DEFAULT_DATE_FORMATS,
            };
            (d.iter().map(|s| s.to_string()).collect(), true)
        } else {
            (formats.to_vec(), false)
        };
        let compiled = if ty.is_temporal() {
            list.iter()
                .map(|f| {
                    let items = StrftimeItems::new(f).parse_to_owned().unwrap_or_default();
                    let last = items
                        .iter()
                        .rev()
                        .find(|i| !matches!(i, Item::Space(_) | Item::OwnedSpace(_)));
                    let utc_literal = match last {
                        Some(Item::Literal(l)) => l.ends_with(['Z', 'z']),
                        Some(Item::OwnedLiteral(l)) => l.ends_with(['Z', 'z']),
                        _ => false,
                    };
                    CompiledFormat {
                        utc_literal,
                        has_offset: f.contains("%z")
                            || f.contains("%:z")
                            || f.contains("%#z")
                            || f.contains("%::z")
                            || f.contains("%+")
                            || f.contains("%s")
                            || f.ends_with('Z'),
                        has_time: f.contains("%H")
                            || f.contains("%I")
                            || f.contains("%T")
                            || f.contains("%R")
                            || f.contains("%r")
                            || f.contains("%X")
                            || f.contains("%+")
                            || f.contains("%s")
                            || f.contains("%k")
                            || f.contains("%l"),
                        items,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Coercer {
            ty,
            formats: Arc::new(compiled),
            format_names: list.join(" or ").into(),
            iso_fast_path: defaults,
            tz,
        }
    }

    /// Parses `s` (already trimmed and known not to be a null marker).
    pub fn parse<'a>(&self, s: std::borrow::Cow<'a, str>) -> Result<Value<'a>, String> {
        match self.ty {
            ColumnType::String => Ok(Value::Str(s)),
            ColumnType::Integer => parse_integer(&s).map(Value::Int),
            ColumnType::Decimal(p, sc) => parse_decimal(&s, p, sc).map(Value::Dec),
            ColumnType::Boolean => parse_bool(&s)
                .map(Value::Bool)
                .ok_or_else(|| "expected a boolean (true/false, yes/no, y/n, t/f, 1/0)".into()),
            ColumnType::Date => self.parse_date(&s).map(Value::Date),
            ColumnType::Timestamp => self.parse_timestamp(&s).map(Value::Ts),
        }
    }

    fn parse_date(&self, s: &str) -> Result<i32, String> {
        if self.iso_fast_path
            && let Some(d) = iso_date(s.as_bytes())
        {
            return Ok(d);
        }
        for f in self.formats.iter() {
            let mut parsed = Parsed::new();
            if chrono::format::parse(&mut parsed, s, f.items.iter()).is_ok()
                && let Ok(d) = parsed.to_naive_date()
            {
                return Ok(d.num_days_from_ce_i32() - UNIX_EPOCH_DAYS_FROM_CE);
            }
        }
        Err(format!("expected a date in format {}", self.format_names))
    }

    fn parse_timestamp(&self, s: &str) -> Result<i64, String> {
        if self.iso_fast_path
            && let Some(v) = iso_timestamp(s.as_bytes(), self.tz)
        {
            return Ok(v);
        }
        for f in self.formats.iter() {
            let mut parsed = Parsed::new();
            if chrono::format::parse(&mut parsed, s, f.items.iter()).is_err() {
                continue;
            }
            if f.utc_literal && parsed.offset().is_none() {
                let _ = parsed.set_offset(0);
            }
            if (f.has_offset || f.utc_literal)
                && let Ok(dt) = parsed.to_datetime()
            {
                return Ok(dt.timestamp_micros());
            }
            let naive = if f.has_time {
                parsed.to_naive_datetime_with_offset(0).ok()
            } else {
                parsed
                    .to_naive_date()
                    .ok()
                    .map(|d| NaiveDateTime::new(d, NaiveTime::MIN))
            };
            if let Some(n) = naive {
                if f.utc_literal {
                    return Ok(n.and_utc().timestamp_micros());
                }
                return match self.tz.from_local_datetime(&n).earliest() {
                    Some(dt) => Ok(dt.timestamp_micros()),
                    None => Err(format!(
                        "local time does not exist in time zone {} (skipped by a daylight-saving change)",
                        self.tz.name()
                    )),
                };
            }
        }
        Err(format!(
            "expected a timestamp in format {}",
            self.format_names
        ))
    }
}

trait CeDays {
    fn num_days_from_ce_i32(&self) -> i32;
}
impl CeDays for NaiveDate {
    fn num_days_from_ce_i32(&self) -> i32 {
        chrono::Datelike::num_days_from_ce(self)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `YYYY-MM-DD` → days since the epoch.
fn iso_date(b: &[u8]) -> Option<i32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])? as i32;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    Some(date.num_days_from_ce_i32() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH:MM]`; a missing offset means local time in `tz`.
fn iso_timestamp(b: &[u8], tz: chrono_tz::Tz) -> Option<i64> {
    if b.len() < 19 || (b[10] != b'T' && b[10] != b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = iso_date(&b[0..10])? as i64;
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let sec = digits(&b[17..19])?;
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut micros: i64 = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        for k in 0..6 {
            micros = micros * 10 + frac.get(k).map(|c| (c - b'0') as i64).unwrap_or(0);
        }
    }
    let local = days * 86_400_000_000
        + (h as i64 * 3600 + mi as i64 * 60 + sec as i64) * 1_000_000
        + micros;
    let rest = &b[i..];
    match rest {
        [] => {
            let naive = chrono::DateTime::from_timestamp_micros(local)?.naive_utc();
            Some(
                tz.from_local_datetime(&naive)
                    .earliest()?
                    .timestamp_micros(),
            )
        }
        [b'Z'] | [b'z'] => Some(local),
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let oh = digits(&[*hh1, *hh2])? as i64;
            let om = digits(&[*mm1, *mm2])? as i64;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = (oh * 3600 + om * 60) * 1_000_000;
            Some(if *sign == b'+' {
                local - off
            } else {
                local + off
            })
        }
        _ => None,
    }
}

pub fn parse_integer(s: &str) -> Result<i64, String> {
    let t = s.strip_prefix('+').unwrap_or(s);
    t.parse::<i64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            "integer out of range (must fit in a signed 64-bit integer)".to_string()
        }
        _ => "expected an integer (digits with an optional sign)".to_string(),
    })
}

/// Parses a plain decimal (`-12.30`, `+5`, `.5`) into an i128 scaled by `scale`,
/// checking the precision.
pub fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let b = s.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &body[..0]),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return Err(format!(
            "expected a decimal number (digits, optional sign and '.'), for decimal({precision},{scale})"
        ));
    }
    let scale_u = scale.max(0) as usize;
    let frac_sig = {
        let mut f = frac;
        while f.len() > scale_u && f.last() == Some(&b'0') {
            f = &f[..f.len() - 1];
        }
        f
    };
    if frac_sig.len() > scale_u {
        return Err(format!(
            "more than {scale} decimal places for decimal({precision},{scale})"
        ));
    }
    let int_trim = {
        let mut i = int;
        while i.len() > 1 && i[0] == b'0' {
            i = &i[1..];
        }
        i
    };
    let int_digits = if int_trim == b"0" || int_trim.is_empty() {
        0
    } else {
        int_trim.len()
    };
    if int_digits + scale_u > precision as usize {
        return Err(format!(
            "number out of range for decimal({precision},{scale})"
        ));
    }
    let mut v: i128 = 0;
    for &c in int_trim {
        v = v * 10 + (c - b'0') as i128;
    }
    for k in 0..scale_u {
        v = v * 10 + frac_sig.get(k).map(|c| (c - b'0') as i128).unwrap_or(0);
    }
    Ok(if neg { -v } else { v })
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.len() {
        1..=5 => {
            let mut buf = [0u8; 5];
            for (i, c) in s.bytes().enumerate() {
                buf[i] = c.to_ascii_lowercase();
            }
            match &buf[..s.len()] {
                b"true" | b"t" | b"yes" | b"y" | b"1" => Some(true),
                b"false" | b"f" | b"no" | b"n" | b"0" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The Arrow type a column of `ty` is staged as.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Decimal(p, s) => DataType::Decimal128(p, s),
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// A growable column of one declared type.
pub enum ColumnBuilder {
    Str(StringBuilder),
    Int(Int64Builder),
    Dec(Decimal128Builder, u8, i8),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    pub fn new(ty: ColumnType, capacity: usize) -> ColumnBuilder {
        match ty {
            ColumnType::String => {
                ColumnBuilder::Str(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Integer => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            ColumnType::Decimal(p, s) => {
                ColumnBuilder::Dec(Decimal128Builder::with_capacity(capacity), p, s)
            }
            ColumnType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Timestamp => {
                ColumnBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
        }
    }

    /// Appends a value produced by the coercer of the same column type.
    pub fn append(&mut self, v: &Value) {
        match (self, v) {
            (ColumnBuilder::Str(b), Value::Str(s)) => b.append_value(s),
            (ColumnBuilder::Int(b), Value::Int(i)) => b.append_value(*i),
            (ColumnBuilder::Dec(b, ..), Value::Dec(d)) => b.append_value(*d),
            (ColumnBuilder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (ColumnBuilder::Date(b), Value::Date(d)) => b.append_value(*d),
            (ColumnBuilder::Ts(b), Value::Ts(t)) => b.append_value(*t),
            (b, _) => b.append_null(),
        }
    }

    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Str(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Dec(b, ..) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Ts(b) => b.append_null(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnBuilder::Str(b) => b.len(),
            ColumnBuilder::Int(b) => b.len(),
            ColumnBuilder::Dec(b, ..) => b.len(),
            ColumnBuilder::Bool(b) => b.len(),
            ColumnBuilder::Date(b) => b.len(),
            ColumnBuilder::Ts(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Dec(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("precision and scale validated in config"),
            ),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Ts(b) => Arc::new(b.finish().with_timezone("UTC")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn c(ty: ColumnType, formats: &[&str]) -> Coercer {
        let f: Vec<String> = formats.iter().map(|s| s.to_string()).collect();
        Coercer::new(ty, &f, chrono_tz::UTC)
    }

    fn days(y: i32, m: u32, d: u32) -> i32 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .num_days_from_ce_i32()
            - UNIX_EPOCH_DAYS_FROM_CE
    }

    #[test]
    fn dates_in_declared_formats() {
        let us = c(ColumnType::Date, &["%m/%d/%Y", "%Y-%m-%d"]);
        assert_eq!(
            us.parse(Cow::from("03/07/2024")),
            Ok(Value::Date(days(2024, 3, 7)))
        );
        assert_eq!(
            us.parse(Cow::from("2024-03-07")),
            Ok(Value::Date(days(2024, 3, 7)))
        );
        assert!(us.parse(Cow::from("13/45/2024")).is_err());
        let iso = c(ColumnType::Date, &[]);
        assert_eq!(iso.parse(Cow::from("1970-01-01")), Ok(Value::Date(0)));
        assert_eq!(
            iso.parse(Cow::from("0000-01-01")),
            Ok(Value::Date(days(0, 1, 1)))
        );
        assert_eq!(
            iso.parse(Cow::from("9999-12-31")),
            Ok(Value::Date(days(9999, 12, 31)))
        );
        assert!(iso.parse(Cow::from("2023-02-29")).is_err());
    }

    #[test]
    fn timestamps_with_and_without_offsets() {
        let ts = c(ColumnType::Timestamp, &[]);
        assert_eq!(
            ts.parse(Cow::from("1970-01-01T00:00:01Z")),
            Ok(Value::Ts(1_000_000))
        );
        assert_eq!(
            ts.parse(Cow::from("1970-01-01 00:00:01.5")),
            Ok(Value::Ts(1_500_000))
        );
        assert_eq!(
            ts.parse(Cow::from("1970-01-01T01:00:00+01:00")),
            Ok(Value::Ts(0))
        );
        let us = c(ColumnType::Timestamp, &["%m/%d/%Y %I:%M %p"]);
        assert_eq!(
            us.parse(Cow::from("01/01/1970 01:30 PM")),
            Ok(Value::Ts((13 * 3600 + 30 * 60) * 1_000_000))
        );
        let ny = Coercer::new(ColumnType::Timestamp, &[], chrono_tz::America::New_York);
        assert_eq!(
            ny.parse(Cow::from("1970-01-01 00:00:00")),
            Ok(Value::Ts(5 * 3600 * 1_000_000))
        );
    }

    /// Regressions (coerce fuzz target): a literal `Z` in a declared format means UTC,
    /// not the source's time zone; and whatever the ISO fast path accepts, the default
    /// formats accept with the same value (lower-case `z`, a space before `Z`).
    #[test]
    fn a_literal_z_is_utc_and_the_fast_path_agrees_with_the_formats() {
        let ny = chrono_tz::America::New_York;
        for f in [
            "%Y-%m-%dT%H:%M:%SZ",
            "%Y-%m-%dT%H:%M:%S%.fz",
            "%d.%m.%Y %H:%M Z",
        ] {
            let c = Coercer::new(ColumnType::Timestamp, &[f.to_string()], ny);
            let text = chrono::DateTime::from_timestamp(3600, 0)
                .unwrap()
                .format(f)
                .to_string();
            assert_eq!(
                c.parse(Cow::from(text.as_str())),
                Ok(Value::Ts(3_600_000_000)),
                "{f}"
            );
        }
        let defaults: Vec<String> = DEFAULT_TIMESTAMP_FORMATS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for tz in [chrono_tz::UTC, ny] {
            let fast = Coercer::new(ColumnType::Timestamp, &[], tz);
            let slow = Coercer::new(ColumnType::Timestamp, &defaults, tz);
            for text in [
                "3024-03-31T02:30:00.1248z",
                "2024-01-01 10:00:00Z",
                "2024-01-01 10:00:00.5z",
                "2024-01-01T10:00:00Z",
                "2024-01-01T10:00:00+05:30",
                "2024-01-01 10:00:00",
                "2024-07-01T10:00:00.123456789",
            ] {
                let f = fast.parse(Cow::from(text));
                assert!(f.is_ok(), "{text}");
                assert_eq!(slow.parse(Cow::from(text)), f, "{text} in {tz}");
            }
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12.30", 10, 2), Ok(1230));
        assert_eq!(parse_decimal("-0.5", 10, 2), Ok(-50));
        assert_eq!(parse_decimal("+7", 10, 2), Ok(700));
        assert_eq!(parse_decimal("1.2300", 10, 2), Ok(123));
        assert!(parse_decimal("1.234", 10, 2).is_err());
        assert!(parse_decimal("123456789", 10, 2).is_err());
        assert!(parse_decimal("1e5", 10, 2).is_err());
        assert!(parse_decimal("", 10, 2).is_err());
        assert!(parse_decimal(".", 10, 2).is_err());
        assert_eq!(format_decimal(-50, 2), "-0.50");
        assert_eq!(format_decimal(1230, 2), "12.30");
    }

    #[test]
    fn integers_and_bools() {
        assert_eq!(parse_integer("+42"), Ok(42));
        assert!(
            parse_integer("99999999999999999999")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_integer("4.2").is_err());
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn format_validation() {
        assert!(validate_format("%m/%d/%Y", ColumnType::Date).is_ok());
        assert!(validate_format("%m/%d", ColumnType::Date).is_err());
        assert!(validate_format("%Q-%d-%Y", ColumnType::Date).is_err());
    }
}
