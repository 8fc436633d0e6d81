//! NDJSON: one JSON object per line. Lines are found sequentially; parsing and
//! conversion happen per chunk, in parallel. Only the mapped keys are extracted (other
//! keys are skipped without building values); a dotted mapping (`address.city`) reads a
//! nested object.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::csv::{BadRecord, Chunk, Span};
use super::quarantine::Reason;
use super::rows::FieldText;
use crate::error::{Error, Result};

/// Splits a byte stream into lines, in chunks.
pub struct LineChunker<R> {
    reader: R,
    path: std::path::PathBuf,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    eof: bool,
    line: i64,
    max_record_bytes: usize,
    raw_keep: usize,
    started: bool,
}

impl<R: Read> LineChunker<R> {
    pub fn new(reader: R, path: &Path, max_record_bytes: usize, raw_keep_chars: usize) -> Self {
        LineChunker {
            reader,
            path: path.to_path_buf(),
            buf: vec![0; 1 << 20],
            pos: 0,
            filled: 0,
            eof: false,
            line: 1,
            max_record_bytes,
            raw_keep: raw_keep_chars.saturating_mul(4),
            started: false,
        }
    }

    fn fill(&mut self) -> Result<()> {
        if self.filled == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.filled, 0);
                self.filled -= self.pos;
                self.pos = 0;
            } else {
                let len = self.buf.len();
                self.buf.resize(len * 2, 0);
            }
        }
        loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => {
                    self.filled += k;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Input {
                        path: self.path.clone(),
                        message: format!(
                            "reading stopped near line {}: {e} (a truncated or corrupt compressed file?)",
                            self.line
                        ),
                    });
                }
            }
        }
        if !self.started {
            self.started = true;
            if self.buf[..self.filled].starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.pos = 3;
            }
        }
        Ok(())
    }

    pub fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>> {
        let mut records = Vec::new();
        let mut bad = Vec::new();
        if !self.started {
            self.fill()?;
        }
        while records.len() + bad.len() < max_records {
            if self.pos >= self.filled {
                if self.eof {
                    break;
                }
                if !records.is_empty() || !bad.is_empty() {
                    break;
                }
                self.pos = 0;
                self.filled = 0;
                self.fill()?;
                continue;
            }
            let region = &self.buf[self.pos..self.filled];
            let nl = memchr::memchr(b'\n', region);
            let (end, next) = match nl {
                Some(k) => (self.pos + k, self.pos + k + 1),
                None if self.eof => (self.filled, self.filled),
                None => {
                    // Hand out the lines found so far first: skipping refills the
                    // buffer they point into.
                    if !records.is_empty() || !bad.is_empty() {
                        break;
                    }
                    if self.filled - self.pos > self.max_record_bytes {
                        bad.push(self.skip_too_large()?);
                        continue;
                    }
                    self.fill()?;
                    continue;
                }
            };
            if end - self.pos > self.max_record_bytes {
                let keep = (self.pos + self.raw_keep).min(end);
                bad.push(BadRecord {
                    line: self.line,
                    reason: Reason::RecordTooLarge,
                    message: format!(
                        "line is longer than max_record_bytes ({} bytes)",
                        self.max_record_bytes
                    ),
                    raw: self.buf[self.pos..keep].to_vec(),
                    total_bytes: end - self.pos,
                });
            } else {
                let mut e = end;
                if e > self.pos && self.buf[e - 1] == b'\r' {
                    e -= 1;
                }
                if self.buf[self.pos..e]
                    .iter()
                    .any(|b| !b.is_ascii_whitespace())
                {
                    records.push(Span {
                        start: self.pos,
                        end: e,
                        line: self.line,
                    });
                }
            }
            self.pos = next;
            self.line += 1;
        }
        if records.is_empty() && bad.is_empty() {
            return Ok(None);
        }
        let tail_len = self.filled - self.pos;
        let mut fresh = vec![0u8; self.buf.len().max(1 << 20).max(tail_len * 2)];
        fresh[..tail_len].copy_from_slice(&self.buf[self.pos..self.filled]);
        let mut data = std::mem::replace(&mut self.buf, fresh);
        data.truncate(self.pos);
        self.filled = tail_len;
        self.pos = 0;
        Ok(Some(Chunk { data, records, bad }))
    }

    fn skip_too_large(&mut self) -> Result<BadRecord> {
        let line = self.line;
        let keep_end = (self.pos + self.raw_keep).min(self.filled);
        let raw = self.buf[self.pos..keep_end].to_vec();
        let mut total = 0usize;
        loop {
            let region = &self.buf[self.pos..self.filled];
            if let Some(k) = memchr::memchr(b'\n', region) {
                total += k;
                self.pos += k + 1;
                break;
            }
            total += region.len();
            self.pos = 0;
            self.filled = 0;
            if self.eof {
                break;
            }
            self.fill()?;
        }
        self.line += 1;
        Ok(BadRecord {
            line,
            reason: Reason::RecordTooLarge,
            message: format!(
                "line is longer than max_record_bytes ({} bytes); skipped to its end",
                self.max_record_bytes
            ),
            raw,
            total_bytes: total,
        })
    }
}

/// The mapped keys of one JSON object, by column index.
pub struct KeyPlan {
    /// For each canonical column: the path of keys (one element for a top-level key).
    paths: Vec<Vec<String>>,
    /// The distinct top-level keys the columns read, each with its columns.
    tops: Vec<(String, Vec<usize>)>,
}

impl KeyPlan {
    pub fn new(export_names: &[String]) -> KeyPlan {
        let paths: Vec<Vec<String>> = export_names
            .iter()
            .map(|n| n.split('.').map(str::to_string).collect())
            .collect();
        let mut tops: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            match tops.iter_mut().find(|(k, _)| *k == p[0]) {
                Some((_, cols)) => cols.push(i),
                None => tops.push((p[0].clone(), vec![i])),
            }
        }
        KeyPlan { paths, tops }
    }

    /// The index in `tops` of a top-level key, if a column reads it.
    fn top(&self, key: &str) -> Option<usize> {
        self.tops.iter().position(|(k, _)| k == key)
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// Why a line could not be parsed as an object.
pub struct LineError {
    pub reason: Reason,
    pub message: String,
}

/// What the keys of the last object parsed resolved to, by position in the object:
/// lines of one export almost always list the same keys in the same order, so a key is
/// checked against the one seen at its position (one comparison) before the plan is
/// searched. Reused across the lines of a chunk.
#[derive(Default)]
pub struct KeyOrder {
    seen: Vec<(String, Option<usize>)>,
}

impl KeyOrder {
    #[inline]
    fn resolve(&mut self, pos: usize, key: &str, plan: &KeyPlan) -> Option<usize> {
        if let Some((k, top)) = self.seen.get(pos)
            && k == key
        {
            return *top;
        }
        let top = plan.top(key);
        if pos < self.seen.len() {
            let slot = &mut self.seen[pos];
            slot.0.clear();
            slot.0.push_str(key);
            slot.1 = top;
        } else if pos == self.seen.len() {
            self.seen.push((key.to_string(), top));
        }
        top
    }
}

/// Parses one line into raw values for each mapped column (`None`: key absent).
#[cfg(test)]
pub fn parse_line<'a>(
    line: &'a str,
    plan: &KeyPlan,
    out: &mut Vec<Option<&'a RawValue>>,
) -> std::result::Result<(), LineError> {
    parse_line_with(line, plan, out, &mut KeyOrder::default())
}

/// [`parse_line`] with the key order of earlier lines (`order`).
pub fn parse_line_with<'a>(
    line: &'a str,
    plan: &KeyPlan,
    out: &mut Vec<Option<&'a RawValue>>,
    order: &mut KeyOrder,
) -> std::result::Result<(), LineError> {
    out.clear();
    out.resize(plan.len(), None);
    let first = line.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        // Valid JSON of another kind, or not JSON at all?
        return Err(match serde_json::from_str::<IgnoredAny>(line) {
            Ok(_) => LineError {
                reason: Reason::NotAnObject,
                message: format!(
                    "the line is a JSON {}, not an object",
                    match first {
                        Some(b'[') => "array",
                        Some(b'"') => "string",
                        Some(b'n') => "null",
                        Some(b't' | b'f') => "boolean",
                        _ => "number",
                    }
                ),
            },
            Err(e) => json_error(&e),
        });
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let seed = TopSeed { plan, out, order };
    seed.deserialize(&mut de).map_err(|e| json_error(&e))?;
    de.end().map_err(|e| json_error(&e))?;
    Ok(())
}

fn json_error(e: &serde_json::Error) -> LineError {
    use serde_json::error::Category;
    let message = match e.classify() {
        Category::Eof => format!(
            "invalid JSON: the line ends inside a value at column {} (truncated?)",
            e.column()
        ),
        Category::Syntax => format!("invalid JSON: syntax error at column {}", e.column()),
        Category::Data => format!("invalid JSON value at column {}", e.column()),
        Category::Io => "invalid JSON: read error".to_string(),
    };
    LineError {
        reason: Reason::InvalidJson,
        message,
    }
}

struct TopSeed<'p, 'o, 'a> {
    plan: &'p KeyPlan,
    out: &'o mut Vec<Option<&'a RawValue>>,
    order: &'o mut KeyOrder,
}

impl<'de, 'p, 'o> DeserializeSeed<'de> for TopSeed<'p, 'o, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'p, 'o> Visitor<'de> for TopSeed<'p, 'o, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut pos = 0;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let top = self.order.resolve(pos, &key, self.plan);
            pos += 1;
            if let Some(t) = top {
                let raw: &'de RawValue = map.next_value()?;
                for &i in &self.plan.tops[t].1 {
                    let p = &self.plan.paths[i];
                    self.out[i] = if p.len() == 1 {
                        Some(raw)
                    } else {
                        nested(raw, &p[1..])
                    };
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

fn nested<'a>(raw: &'a RawValue, path: &[String]) -> Option<&'a RawValue> {
    let map: std::collections::HashMap<Cow<'a, str>, &'a RawValue> =
        serde_json::from_str(raw.get()).ok()?;
    let v = *map.get(path[0].as_str())?;
    if path.len() == 1 {
        Some(v)
    } else {
        nested(v, &path[1..])
    }
}

/// Turns a raw JSON value into field text: strings unescaped, numbers and booleans as
/// written, `null` as no value; objects and arrays are refused.
pub fn field_text(raw: Option<&RawValue>) -> FieldText<'_> {
    let Some(raw) = raw else {
        return FieldText::Missing;
    };
    let s = raw.get();
    match s.as_bytes().first() {
        // A string without escapes is its bytes between the quotes (the raw value is
        // valid JSON, so it has no control characters either).
        Some(b'"') if s.len() >= 2 && memchr::memchr(b'\\', s.as_bytes()).is_none() => {
            FieldText::Text(Cow::Borrowed(&s[1..s.len() - 1]))
        }
        Some(b'"') => match serde_json::from_str::<Cow<str>>(s) {
            Ok(t) => {
                if t.contains('\0') {
                    FieldText::Invalid(Reason::InvalidEncoding, "contains a NUL character".into())
                } else {
                    FieldText::Text(t)
                }
            }
            Err(_) => FieldText::Invalid(Reason::InvalidJson, "invalid JSON string".into()),
        },
        Some(b'n') => FieldText::Missing,
        Some(b'{') => FieldText::Invalid(
            Reason::NestedValue,
            "expected a single value, found a JSON object".into(),
        ),
        Some(b'[') => FieldText::Invalid(
            Reason::NestedValue,
            "expected a single value, found a JSON array".into(),
        ),
        _ => FieldText::Text(Cow::Borrowed(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(names: &[&str]) -> KeyPlan {
        KeyPlan::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn texts(line: &str, names: &[&str]) -> std::result::Result<Vec<Option<String>>, Reason> {
        let p = plan(names);
        let mut out = Vec::new();
        parse_line(line, &p, &mut out).map_err(|e| e.reason)?;
        Ok(out
            .iter()
            .map(|r| match field_text(*r) {
                FieldText::Text(t) => Some(t.into_owned()),
                FieldText::Missing => None,
                FieldText::Invalid(r, _) => Some(format!("<{}>", r.as_str())),
            })
            .collect())
    }

    #[test]
    fn extracts_mapped_keys() {
        let line = r#"{"id": 7, "name": "A \"q\"", "skip": {"deep": [1,2]}, "amt": 12.50, "ok": true, "n": null, "addr": {"city": "Köln"}}"#;
        let got = texts(
            line,
            &[
                "id",
                "name",
                "amt",
                "ok",
                "n",
                "missing",
                "addr.city",
                "addr",
            ],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Some("7".into()),
                Some("A \"q\"".into()),
                Some("12.50".into()),
                Some("true".into()),
                None,
                None,
                Some("Köln".into()),
                Some("<nested_value>".into()),
            ]
        );
    }

    #[test]
    fn key_order_of_earlier_lines_never_changes_a_result() {
        let p = plan(&["a", "b", "x.deep", "s"]);
        let lines = [
            r#"{"a": 1, "x": {"deep": 2}, "b": 3, "s": "plain"}"#,
            r#"{"a": 1, "x": {"deep": 2}, "b": 3, "s": "esc\"aped"}"#,
            r#"{"b": 4, "a": 5}"#,
            r#"{"z": 0, "b": 4, "a": 5, "q": 1, "x": {"deep": "y"}}"#,
            r#"{"a": 6, "a": 7, "s": null}"#,
            r#"{"A": 1, "b ": 2, "s": ""}"#,
            r#"{"a": 1, "x": {"deep": 2}, "b": 3, "s": "plain"}"#,
        ];
        let mut order = KeyOrder::default();
        let mut hinted = 0;
        for line in lines {
            let mut fresh = Vec::new();
            assert!(parse_line(line, &p, &mut fresh).is_ok());
            let mut with = Vec::new();
            let before = order.seen.clone();
            assert!(parse_line_with(line, &p, &mut with, &mut order).is_ok());
            let text = |v: &[Option<&RawValue>]| -> Vec<Option<String>> {
                v.iter()
                    .map(|r| match field_text(*r) {
                        FieldText::Text(t) => Some(t.into_owned()),
                        FieldText::Missing => None,
                        FieldText::Invalid(r, _) => Some(format!("<{}>", r.as_str())),
                    })
                    .collect()
            };
            assert_eq!(text(&with), text(&fresh), "{line}");
            hinted += usize::from(before == order.seen && !before.is_empty());
        }
        assert_eq!(hinted, 1, "the repeated layout is served from the order");
        assert_eq!(
            texts(lines[1], &["s", "a"]).unwrap(),
            vec![Some("esc\"aped".into()), Some("1".into())]
        );
        assert_eq!(texts(lines[5], &["s"]).unwrap(), vec![Some("".into())]);
    }

    #[test]
    fn classifies_bad_lines() {
        assert_eq!(texts(r#"{"id": 7, "na"#, &["id"]), Err(Reason::InvalidJson));
        assert_eq!(texts("[1,2]", &["id"]), Err(Reason::NotAnObject));
        assert_eq!(texts("42", &["id"]), Err(Reason::NotAnObject));
        assert_eq!(texts("hello", &["id"]), Err(Reason::InvalidJson));
        assert_eq!(texts(r#"{"id": 1} x"#, &["id"]), Err(Reason::InvalidJson));
    }
}
