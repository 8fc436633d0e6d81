//! CSV: a streaming, quote-aware record scanner that knows physical line numbers and
//! recovers from malformed records, and the conversion of scanned records into rows.
//!
//! Scanning (sequential) only finds record boundaries and checks the structure; field
//! splitting, decoding and type coercion happen per chunk, in parallel.
//!
//! Recovery: a record that spans several physical lines (a quoted field with line
//! breaks) is accepted when it is well-formed. When it is not — the quote never closes,
//! it stays open for more than `max_lines_per_record` lines, or the record that results
//! has the wrong number of fields — only the physical line the record started on is
//! quarantined (`unbalanced_quote`) and scanning resumes on the next line, so one stray
//! quote never swallows the rest of the file.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use super::quarantine::{QuarantineRecord, Reason};
use crate::config::Encoding;
use crate::error::{Error, Result};

/// Dialect and limits for scanning.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub delimiter: u8,
    pub quote: u8,
    pub max_lines: usize,
    pub max_record_bytes: usize,
}

/// Outcome of scanning one record starting at a position.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// The buffer ends before the record does; read more (only when not at EOF).
    NeedMore,
    /// An empty line; `next` is where the following record starts.
    Blank { next: usize },
    /// A record `[start, end)` (without its line terminator).
    Record {
        end: usize,
        next: usize,
        lines: usize,
        fields: usize,
        /// Text after a closing quote.
        bad_quote: bool,
        /// End and next-start of the first physical line (for recovery).
        first_line_end: usize,
        first_line_next: usize,
    },
    /// A quote that never closes (EOF) or stays open too many lines.
    Unbalanced {
        first_line_end: usize,
        first_line_next: usize,
    },
}

/// Scans one record of `buf` starting at `start`. `eof` tells whether `buf` holds the
/// rest of the input.
pub fn scan(buf: &[u8], start: usize, eof: bool, o: &ScanOptions) -> Scan {
    let n = buf.len();
    let (d, q) = (o.delimiter, o.quote);
    let mut i = start;
    let mut fields = 1usize;
    let mut lines = 1usize;
    let mut in_q = false;
    let mut after_q = false;
    let mut field_start = true;
    let mut bad_quote = false;
    let mut first_line: Option<(usize, usize)> = None;
    loop {
        if i >= n {
            if !eof {
                return Scan::NeedMore;
            }
            if in_q {
                let (e, nx) = first_line.unwrap_or((n, n));
                return Scan::Unbalanced {
                    first_line_end: e,
                    first_line_next: nx,
                };
            }
            if i == start {
                return Scan::Blank { next: n };
            }
            let (fe, fnx) = first_line.unwrap_or((n, n));
            return Scan::Record {
                end: n,
                next: n,
                lines,
                fields,
                bad_quote,
                first_line_end: fe,
                first_line_next: fnx,
            };
        }
        let b = buf[i];
        if in_q {
            if b == q {
                if i + 1 >= n && !eof {
                    return Scan::NeedMore;
                }
                if i + 1 < n && buf[i + 1] == q {
                    i += 2;
                    continue;
                }
                in_q = false;
                after_q = true;
                i += 1;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                let (end, next) = if b == b'\r' {
                    if i + 1 >= n && !eof {
                        return Scan::NeedMore;
                    }
                    if i + 1 < n && buf[i + 1] == b'\n' {
                        (i, i + 2)
                    } else {
                        (i, i + 1)
                    }
                } else {
                    (i, i + 1)
                };
                if first_line.is_none() {
                    first_line = Some((end, next));
                }
                lines += 1;
                if lines > o.max_lines {
                    let (e, nx) = first_line.expect("set above");
                    return Scan::Unbalanced {
                        first_line_end: e,
                        first_line_next: nx,
                    };
                }
                i = next;
                continue;
            }
            i += 1;
            continue;
        }
        if b == d {
            fields += 1;
            field_start = true;
            after_q = false;
            i += 1;
            continue;
        }
        if b == b'\n' || b == b'\r' {
            let next = if b == b'\r' {
                if i + 1 >= n && !eof {
                    return Scan::NeedMore;
                }
                if i + 1 < n && buf[i + 1] == b'\n' {
                    i + 2
                } else {
                    i + 1
                }
            } else {
                i + 1
            };
            if i == start {
                return Scan::Blank { next };
            }
            let (fe, fnx) = first_line.unwrap_or((i, next));
            return Scan::Record {
                end: i,
                next,
                lines,
                fields,
                bad_quote,
                first_line_end: fe,
                first_line_next: fnx,
            };
        }
        if after_q {
            if b != b' ' && b != b'\t' {
                bad_quote = true;
            }
        } else if b == q && field_start {
            in_q = true;
        }
        field_start = false;
        i += 1;
    }
}

/// A record found by the scanner: byte range in its chunk and the physical line it
/// starts on.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: i64,
}

/// A record the scanner refused, with the bytes to keep as raw text.
#[derive(Debug, Clone)]
pub struct BadRecord {
    pub line: i64,
    pub reason: Reason,
    pub message: String,
    pub raw: Vec<u8>,
    pub total_bytes: usize,
}

/// A run of consecutive records and the bytes they live in.
pub struct Chunk {
    pub data: Vec<u8>,
    pub records: Vec<Span>,
    pub bad: Vec<BadRecord>,
}

/// Streams chunks of records out of a reader.
pub struct Scanner<R> {
    reader: R,
    path: std::path::PathBuf,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    eof: bool,
    /// Physical line number of `buf[pos]`.
    line: i64,
    opts: ScanOptions,
    /// Bytes of raw text kept for a refused record.
    raw_keep: usize,
    /// Expected number of fields per record (from the header).
    pub expected_fields: Option<usize>,
    started: bool,
    encoding: Encoding,
}

const INITIAL_BUF: usize = 1 << 20;

impl<R: Read> Scanner<R> {
    pub fn new(
        reader: R,
        path: &Path,
        opts: ScanOptions,
        raw_keep_chars: usize,
        encoding: Encoding,
    ) -> Self {
        Scanner {
            reader,
            path: path.to_path_buf(),
            buf: vec![0; INITIAL_BUF],
            pos: 0,
            filled: 0,
            eof: false,
            line: 1,
            opts,
            raw_keep: raw_keep_chars.saturating_mul(4),
            expected_fields: None,
            started: false,
            encoding,
        }
    }

    fn fill(&mut self) -> Result<()> {
        if self.pos > 0 && self.pos == self.filled {
            self.pos = 0;
            self.filled = 0;
        }
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
            self.check_start()?;
        }
        Ok(())
    }

    /// Strips a UTF-8 byte-order mark; refuses a UTF-16 one on a byte encoding.
    fn check_start(&mut self) -> Result<()> {
        while self.filled < 3 && !self.eof {
            let k = self
                .reader
                .read(&mut self.buf[self.filled..])
                .map_err(|e| Error::Input {
                    path: self.path.clone(),
                    message: format!("reading stopped at the start of the file: {e}"),
                })?;
            if k == 0 {
                self.eof = true;
            }
            self.filled += k;
        }
        let head = &self.buf[..self.filled];
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.pos = 3;
        } else if (head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]))
            && self.encoding != Encoding::Utf16
        {
            return Err(Error::Input {
                path: self.path.clone(),
                message: format!(
                    "the file starts with a UTF-16 byte-order mark but the source declares encoding {}; set encoding = \"utf-16\"",
                    self.encoding.as_str()
                ),
            });
        }
        Ok(())
    }

    /// Reads the header record: its fields, decoded and trimmed.
    pub fn read_header(&mut self) -> Result<Option<Vec<String>>> {
        loop {
            if !self.started || (self.pos >= self.filled && !self.eof) {
                self.fill()?;
            }
            match scan(&self.buf[..self.filled], self.pos, self.eof, &self.opts) {
                Scan::NeedMore => {
                    if self.filled - self.pos > self.opts.max_record_bytes {
                        return Err(Error::Input {
                            path: self.path.clone(),
                            message: format!(
                                "the header on line {} is longer than max_record_bytes ({} bytes)",
                                self.line, self.opts.max_record_bytes
                            ),
                        });
                    }
                    self.fill()?;
                }
                Scan::Blank { next } => {
                    if self.eof && next >= self.filled && self.pos >= self.filled {
                        return Ok(None);
                    }
                    self.pos = next;
                    self.line += 1;
                }
                Scan::Unbalanced { .. } => {
                    return Err(Error::Input {
                        path: self.path.clone(),
                        message: format!("line {}: the header has an unbalanced quote", self.line),
                    });
                }
                Scan::Record {
                    end, next, lines, ..
                } => {
                    if end - self.pos > self.opts.max_record_bytes {
                        return Err(Error::Input {
                            path: self.path.clone(),
                            message: format!(
                                "the header on line {} is longer than max_record_bytes ({} bytes)",
                                self.line, self.opts.max_record_bytes
                            ),
                        });
                    }
                    let rec = &self.buf[self.pos..end];
                    let mut spans = Vec::new();
                    split_fields(rec, self.opts.delimiter, self.opts.quote, &mut spans);
                    let mut names = Vec::with_capacity(spans.len());
                    for s in &spans {
                        let bytes = field_bytes(rec, s, self.opts.quote);
                        let text = match decode(&bytes, self.encoding) {
                            Ok(t) => t.trim().trim_start_matches('\u{feff}').to_string(),
                            Err(m) => {
                                return Err(Error::Input {
                                    path: self.path.clone(),
                                    message: format!("line {}: header: {m}", self.line),
                                });
                            }
                        };
                        names.push(text);
                    }
                    self.pos = next;
                    self.line += lines as i64;
                    self.expected_fields = Some(names.len());
                    return Ok(Some(names));
                }
            }
        }
    }

    /// Returns the next chunk of at most `max_records` records (accepted by the
    /// scanner or refused), or `None` at the end of the input.
    pub fn next_chunk(&mut self, max_records: usize) -> Result<Option<Chunk>> {
        let mut records: Vec<Span> = Vec::new();
        let mut bad: Vec<BadRecord> = Vec::new();
        if !self.started {
            self.fill()?;
        }
        loop {
            if records.len() + bad.len() >= max_records {
                break;
            }
            if self.pos >= self.filled && self.eof {
                break;
            }
            match scan(&self.buf[..self.filled], self.pos, self.eof, &self.opts) {
                Scan::NeedMore => {
                    // Reading more may move or overwrite the buffer the records found so
                    // far point into: hand them out first.
                    if !records.is_empty() {
                        break;
                    }
                    if self.filled - self.pos > self.opts.max_record_bytes {
                        let b = self.skip_too_large()?;
                        bad.push(b);
                        continue;
                    }
                    self.fill()?;
                }
                Scan::Blank { next } => {
                    self.pos = next;
                    self.line += 1;
                }
                Scan::Unbalanced {
                    first_line_end,
                    first_line_next,
                } => {
                    bad.push(self.bad(
                        first_line_end,
                        Reason::UnbalancedQuote,
                        "a quoted field is not closed: the quote opened on this line never closes properly"
                            .into(),
                    ));
                    self.pos = first_line_next;
                    self.line += 1;
                }
                Scan::Record {
                    end,
                    next,
                    lines,
                    fields,
                    bad_quote,
                    first_line_end,
                    first_line_next,
                } => {
                    if end - self.pos > self.opts.max_record_bytes {
                        let mut b = self.bad(
                            end,
                            Reason::RecordTooLarge,
                            format!(
                                "record is longer than max_record_bytes ({} bytes)",
                                self.opts.max_record_bytes
                            ),
                        );
                        b.total_bytes = end - self.pos;
                        bad.push(b);
                        self.pos = next;
                        self.line += lines as i64;
                        continue;
                    }
                    let expected = *self.expected_fields.get_or_insert(fields);
                    if lines > 1 && (fields != expected || bad_quote) {
                        bad.push(self.bad(
                            first_line_end,
                            Reason::UnbalancedQuote,
                            format!(
                                "a quoted field opened on this line runs over {lines} lines and leaves a malformed record; only this line is quarantined"
                            ),
                        ));
                        self.pos = first_line_next;
                        self.line += 1;
                        continue;
                    }
                    if bad_quote {
                        bad.push(self.bad(
                            end,
                            Reason::MalformedQuote,
                            "text follows a closing quote inside a field".into(),
                        ));
                    } else if fields != expected {
                        bad.push(self.bad(
                            end,
                            Reason::WrongFieldCount,
                            format!(
                                "expected {expected} fields (as in the header), found {fields}"
                            ),
                        ));
                    } else {
                        records.push(Span {
                            start: self.pos,
                            end,
                            line: self.line,
                        });
                    }
                    self.pos = next;
                    self.line += lines as i64;
                }
            }
        }
        if records.is_empty() && bad.is_empty() {
            return Ok(None);
        }
        // Hand the buffer to the chunk; keep the unread tail.
        let tail_len = self.filled - self.pos;
        let mut fresh = vec![0u8; self.buf.len().max(INITIAL_BUF).max(tail_len * 2)];
        fresh[..tail_len].copy_from_slice(&self.buf[self.pos..self.filled]);
        let mut data = std::mem::replace(&mut self.buf, fresh);
        data.truncate(self.pos);
        self.filled = tail_len;
        self.pos = 0;
        Ok(Some(Chunk { data, records, bad }))
    }

    fn bad(&self, end: usize, reason: Reason, message: String) -> BadRecord {
        let keep_end = end.min(self.pos + self.raw_keep);
        BadRecord {
            line: self.line,
            reason,
            message,
            raw: self.buf[self.pos..keep_end].to_vec(),
            total_bytes: end - self.pos,
        }
    }

    /// Quarantines an over-long record without holding it: keeps its start, then
    /// discards bytes up to the end of the physical line.
    fn skip_too_large(&mut self) -> Result<BadRecord> {
        let line = self.line;
        let keep_end = (self.pos + self.raw_keep).min(self.filled);
        let raw = self.buf[self.pos..keep_end].to_vec();
        let mut total = 0usize;
        let mut skip_from = self.pos;
        loop {
            let region = &self.buf[skip_from..self.filled];
            if let Some(k) = region.iter().position(|&b| b == b'\n') {
                total += k;
                self.pos = skip_from + k + 1;
                break;
            }
            total += region.len();
            self.pos = self.filled;
            if self.eof {
                break;
            }
            self.fill()?;
            skip_from = self.pos;
        }
        self.line += 1;
        Ok(BadRecord {
            line,
            reason: Reason::RecordTooLarge,
            message: format!(
                "record is longer than max_record_bytes ({} bytes); skipped to the end of the line",
                self.opts.max_record_bytes
            ),
            raw,
            total_bytes: total,
        })
    }

    /// The physical line the scanner has reached (for messages).
    pub fn line(&self) -> i64 {
        self.line
    }
}

/// Where one field lies within a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpan {
    pub start: usize,
    pub end: usize,
    /// The field was quoted and contains doubled quotes to unescape.
    pub escaped: bool,
}

/// Splits a well-formed record into fields (quotes removed, escapes marked).
pub fn split_fields(rec: &[u8], d: u8, q: u8, out: &mut Vec<FieldSpan>) {
    out.clear();
    let n = rec.len();
    let mut i = 0;
    loop {
        if i < n && rec[i] == q {
            // Quoted field.
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            let mut end = n;
            while j < n {
                if rec[j] == q {
                    if j + 1 < n && rec[j + 1] == q {
                        escaped = true;
                        j += 2;
                        continue;
                    }
                    end = j;
                    j += 1;
                    break;
                }
                j += 1;
            }
            out.push(FieldSpan {
                start,
                end,
                escaped,
            });
            // Skip to the delimiter (whitespace after the closing quote).
            while j < n && rec[j] != d {
                j += 1;
            }
            if j >= n {
                return;
            }
            i = j + 1;
        } else {
            let start = i;
            let end = rec[i..]
                .iter()
                .position(|&b| b == d)
                .map(|k| i + k)
                .unwrap_or(n);
            out.push(FieldSpan {
                start,
                end,
                escaped: false,
            });
            if end >= n {
                return;
            }
            i = end + 1;
        }
    }
}

/// The bytes of a field, with doubled quotes unescaped.
pub fn field_bytes<'a>(rec: &'a [u8], s: &FieldSpan, q: u8) -> Cow<'a, [u8]> {
    let raw = &rec[s.start..s.end];
    if !s.escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        out.push(raw[i]);
        if raw[i] == q && i + 1 < raw.len() && raw[i + 1] == q {
            i += 2;
        } else {
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Decodes field bytes in the declared encoding. UTF-16 input has already been
/// transcoded to UTF-8 by the reader.
pub fn decode<'a>(
    bytes: &Cow<'a, [u8]>,
    enc: Encoding,
) -> std::result::Result<Cow<'a, str>, String> {
    if memchr_nul(bytes) {
        return Err(
            "contains a NUL byte (0x00); the file may be binary or in another encoding".into(),
        );
    }
    match enc {
        Encoding::Utf8 | Encoding::Utf16 => match bytes {
            Cow::Borrowed(b) => std::str::from_utf8(b)
                .map(Cow::Borrowed)
                .map_err(|e| utf8_msg(&e)),
            Cow::Owned(b) => std::str::from_utf8(b)
                .map(|s| Cow::Owned(s.to_string()))
                .map_err(|e| utf8_msg(&e)),
        },
        Encoding::Windows1252 => Ok(match bytes {
            Cow::Borrowed(b) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(b).0,
            Cow::Owned(b) => Cow::Owned(
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(b)
                    .0
                    .into_owned(),
            ),
        }),
        Encoding::Latin1 => {
            if bytes.is_ascii() {
                Ok(match bytes {
                    Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).expect("ASCII")),
                    Cow::Owned(b) => Cow::Owned(String::from_utf8(b.clone()).expect("ASCII")),
                })
            } else {
                Ok(Cow::Owned(bytes.iter().map(|&b| b as char).collect()))
            }
        }
    }
}

fn memchr_nul(b: &[u8]) -> bool {
    b.contains(&0)
}

fn utf8_msg(e: &std::str::Utf8Error) -> String {
    format!(
        "invalid UTF-8 at byte {} of the field; the source declares encoding utf-8 (set csv.encoding if the export is windows-1252 or latin-1)",
        e.valid_up_to() + 1
    )
}

/// Lossy decoding of raw bytes for quarantine.
pub fn decode_lossy(bytes: &[u8], enc: Encoding) -> String {
    match enc {
        Encoding::Utf8 | Encoding::Utf16 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
        Encoding::Latin1 => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Turns a refused record into a quarantine record.
pub fn quarantine_bad(b: BadRecord, cap: usize, enc: Encoding) -> QuarantineRecord {
    QuarantineRecord::from_bytes(
        b.line,
        super::rows::RowError {
            reason: b.reason,
            column: None,
            message: b.message,
        },
        &b.raw,
        b.total_bytes,
        cap,
        |x| decode_lossy(x, enc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: ScanOptions = ScanOptions {
        delimiter: b',',
        quote: b'"',
        max_lines: 5,
        max_record_bytes: 1 << 20,
    };

    fn fields_of(rec: &str) -> Vec<String> {
        let mut spans = Vec::new();
        split_fields(rec.as_bytes(), b',', b'"', &mut spans);
        spans
            .iter()
            .map(|s| String::from_utf8(field_bytes(rec.as_bytes(), s, b'"').into_owned()).unwrap())
            .collect()
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            fields_of("a,\"b,c\",\"d\"\"e\",,f"),
            ["a", "b,c", "d\"e", "", "f"]
        );
        assert_eq!(fields_of(""), [""]);
        assert_eq!(fields_of("a,"), ["a", ""]);
        assert_eq!(fields_of("\"x\nY\",1"), ["x\nY", "1"]);
    }

    #[test]
    fn scans_records_and_line_endings() {
        let buf = b"a,b\r\nc,\"d\ne\"\rf,g";
        let r1 = scan(buf, 0, true, &O);
        assert!(matches!(
            r1,
            Scan::Record {
                end: 3,
                next: 5,
                lines: 1,
                fields: 2,
                ..
            }
        ));
        let r2 = scan(buf, 5, true, &O);
        assert!(
            matches!(
                r2,
                Scan::Record {
                    end: 12,
                    next: 13,
                    lines: 2,
                    fields: 2,
                    ..
                }
            ),
            "{r2:?}"
        );
        let r3 = scan(buf, 13, true, &O);
        assert!(
            matches!(
                r3,
                Scan::Record {
                    end: 16,
                    next: 16,
                    lines: 1,
                    fields: 2,
                    ..
                }
            ),
            "{r3:?}"
        );
    }

    #[test]
    fn needs_more_at_buffer_end() {
        assert_eq!(scan(b"a,\"b", 0, false, &O), Scan::NeedMore);
        assert_eq!(scan(b"a,b\r", 0, false, &O), Scan::NeedMore);
        assert!(matches!(
            scan(b"a,\"b", 0, true, &O),
            Scan::Unbalanced { .. }
        ));
    }

    #[test]
    fn text_after_closing_quote_is_flagged() {
        assert!(matches!(
            scan(b"\"a\"b,c\n", 0, true, &O),
            Scan::Record {
                bad_quote: true,
                ..
            }
        ));
        assert!(matches!(
            scan(b"\"a\" ,c\n", 0, true, &O),
            Scan::Record {
                bad_quote: false,
                ..
            }
        ));
    }

    #[test]
    fn quote_open_too_long_is_unbalanced() {
        let buf = b"1,\"x\n2,y\n3,z\n4,w\n5,v\n6,u\n7,t\n";
        assert!(matches!(
            scan(buf, 0, true, &O),
            Scan::Unbalanced {
                first_line_end: 4,
                first_line_next: 5
            }
        ));
    }

    fn scan_all(data: &[u8]) -> (Vec<i64>, Vec<(i64, Reason)>) {
        let mut s = Scanner::new(data, Path::new("t.csv"), O, 100, Encoding::Utf8);
        s.read_header().unwrap();
        let mut ok = vec![];
        let mut bad = vec![];
        while let Some(c) = s.next_chunk(2).unwrap() {
            ok.extend(c.records.iter().map(|r| r.line));
            bad.extend(c.bad.iter().map(|b| (b.line, b.reason)));
        }
        (ok, bad)
    }

    #[test]
    fn recovers_after_unbalanced_quote() {
        let data = b"\xEF\xBB\xBFid,name\n1,\"ok\nmulti\"\n2,\"broken\n3,fine\n\n4,x,extra\n5,\"a\"b\n6,last";
        let (ok, bad) = scan_all(data);
        assert_eq!(ok, vec![2, 5, 9]);
        assert_eq!(
            bad,
            vec![
                (4, Reason::UnbalancedQuote),
                (7, Reason::WrongFieldCount),
                (8, Reason::MalformedQuote)
            ]
        );
    }

    #[test]
    fn record_too_large_is_skipped_to_line_end() {
        let mut data = b"id,name\n1,a\n2,".to_vec();
        data.extend(std::iter::repeat_n(b'x', 3000));
        data.extend(b"\n3,b\n");
        let o = ScanOptions {
            max_record_bytes: 1024,
            ..O
        };
        let mut s = Scanner::new(&data[..], Path::new("t.csv"), o, 10, Encoding::Utf8);
        s.buf = vec![0; 512];
        s.read_header().unwrap();
        let mut ok = vec![];
        let mut bad = vec![];
        while let Some(c) = s.next_chunk(100).unwrap() {
            ok.extend(c.records.iter().map(|r| r.line));
            bad.extend(
                c.bad
                    .into_iter()
                    .map(|b| (b.line, b.reason, b.total_bytes, b.raw.len())),
            );
        }
        assert_eq!(ok, vec![2, 4]);
        assert_eq!(bad, vec![(3, Reason::RecordTooLarge, 3002, 40)]);
    }

    /// A reader that hands out its parts one `read` at a time.
    struct Parts(Vec<Vec<u8>>);

    impl Read for Parts {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let part = &mut self.0[0];
            let n = part.len().min(buf.len());
            buf[..n].copy_from_slice(&part[..n]);
            part.drain(..n);
            if part.is_empty() {
                self.0.remove(0);
            }
            Ok(n)
        }
    }

    /// Regression (csv fuzz target): skipping an over-long record read more input into
    /// the buffer that records already found in the chunk pointed into — a panic at the
    /// end of the file, and rows with other rows' bytes in the middle of it.
    #[test]
    fn records_survive_skipping_a_too_large_record_after_them() {
        let o = ScanOptions {
            max_record_bytes: 1024,
            ..O
        };
        let long = "y".repeat(1500);
        for parts in [
            vec![format!("id,name\n1,a\n2,{long}")],
            vec![format!("id,name\n1,a\n2,{long}"), format!("{long}\n3,c\n")],
        ] {
            let reader = Parts(parts.into_iter().map(String::into_bytes).collect());
            let mut s = Scanner::new(reader, Path::new("t.csv"), o, 10, Encoding::Utf8);
            s.read_header().unwrap();
            let mut rows = vec![];
            let mut bad = vec![];
            while let Some(c) = s.next_chunk(100).unwrap() {
                for r in &c.records {
                    rows.push((
                        r.line,
                        fields_of(std::str::from_utf8(&c.data[r.start..r.end]).unwrap()),
                    ));
                }
                bad.extend(c.bad.iter().map(|b| (b.line, b.reason)));
            }
            assert_eq!(rows[0], (2, vec!["1".to_string(), "a".to_string()]));
            assert_eq!(bad, vec![(3, Reason::RecordTooLarge)]);
            if rows.len() > 1 {
                assert_eq!(rows[1], (4, vec!["3".to_string(), "c".to_string()]));
            }
        }
    }

    #[test]
    fn decodes_encodings() {
        let b: Cow<[u8]> = Cow::Borrowed(b"Caf\xe9");
        assert_eq!(decode(&b, Encoding::Windows1252).unwrap(), "Café");
        assert_eq!(decode(&b, Encoding::Latin1).unwrap(), "Café");
        assert!(decode(&b, Encoding::Utf8).unwrap_err().contains("byte 4"));
        let n: Cow<[u8]> = Cow::Borrowed(b"a\0b");
        assert!(decode(&n, Encoding::Utf8).unwrap_err().contains("NUL"));
        let w: Cow<[u8]> = Cow::Borrowed(b"\x80");
        assert_eq!(decode(&w, Encoding::Windows1252).unwrap(), "€");
    }
}
