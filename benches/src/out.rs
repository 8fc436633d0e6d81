//! Buffered output files and the truth/defect tables.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::fmt::push_csv;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A file written through a 1 MiB buffer, counting bytes.
pub struct Out {
    w: BufWriter<File>,
    pub bytes: u64,
}

impl Out {
    pub fn create(path: &Path) -> Res<Out> {
        let f = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Out {
            w: BufWriter::with_capacity(1 << 20, f),
            bytes: 0,
        })
    }

    #[inline]
    pub fn write(&mut self, b: &[u8]) -> Res<()> {
        self.bytes += b.len() as u64;
        self.w.write_all(b)?;
        Ok(())
    }

    pub fn finish(mut self) -> Res<u64> {
        self.w.flush()?;
        Ok(self.bytes)
    }
}

/// Rows of `defects.csv` (buffered) with counts per (source, defect).
#[derive(Default)]
pub struct Defects {
    pub buf: Vec<u8>,
    pub counts: BTreeMap<(&'static str, &'static str), u64>,
}

impl Defects {
    pub fn add(
        &mut self,
        source: &'static str,
        key: &str,
        defect: &'static str,
        related_source: &str,
        related_key: &str,
    ) {
        push_csv(&mut self.buf, source);
        self.buf.push(b',');
        push_csv(&mut self.buf, key);
        self.buf.push(b',');
        self.buf.extend_from_slice(defect.as_bytes());
        self.buf.push(b',');
        push_csv(&mut self.buf, related_source);
        self.buf.push(b',');
        push_csv(&mut self.buf, related_key);
        self.buf.push(b'\n');
        *self.counts.entry((source, defect)).or_default() += 1;
    }

    pub fn malformed(&mut self, source: &'static str, line: u64) {
        let key = format!("line:{line}");
        self.add(source, &key, "malformed", "", "");
    }

    /// Writes buffered rows to `out` once the buffer is large.
    pub fn spill(&mut self, out: &mut Out, force: bool) -> Res<()> {
        if force || self.buf.len() >= 1 << 20 {
            out.write(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn merge_counts(&mut self, other: &BTreeMap<(&'static str, &'static str), u64>) {
        for (k, v) in other {
            *self.counts.entry(*k).or_default() += v;
        }
    }
}

/// Rows of `truth.csv` (buffered).
#[derive(Default)]
pub struct Truth {
    pub buf: Vec<u8>,
    pub rows: BTreeMap<&'static str, u64>,
}

impl Truth {
    /// `prefix` is `C` (customer) or `P` (product); `entity` is 1-based.
    pub fn add(&mut self, source: &'static str, key: &str, prefix: u8, entity: u64) {
        self.buf.extend_from_slice(source.as_bytes());
        self.buf.push(b',');
        push_csv(&mut self.buf, key);
        self.buf.push(b',');
        self.buf.push(prefix);
        crate::fmt::push_padded(&mut self.buf, entity, 8);
        self.buf.push(b'\n');
        *self.rows.entry(source).or_default() += 1;
    }

    pub fn spill(&mut self, out: &mut Out, force: bool) -> Res<()> {
        if force || self.buf.len() >= 1 << 20 {
            out.write(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}
