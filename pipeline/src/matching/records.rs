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

    /// The record indices in (source, key, line, index) order.
    ///
    /// Keys of one source often share a long prefix (`001…` of Salesforce ids, `cus_…`):
    /// comparing them whole is a `memcmp` call per comparison, which made this sort a
    /// second of two cores' time at 1M customers. Each record carries the 8 bytes of its
    /// key after its source's common prefix as a big-endian integer, zero-padded; the sort
    /// compares those and the whole keys only where they are equal. That is the same
    /// order: a smaller integer is a smaller key (the bytes before are equal, and a key
    /// that ends sooner pads with 0, the smallest byte, as a prefix sorts first).
    pub fn key_order(&self) -> Vec<u32> {
        use rayon::prelude::*;
        let n = self.len();
        // Per source: the length of the prefix all its keys share.
        let mut common: Vec<Option<&[u8]>> = vec![None; self.sources.len()];
        for i in 0..n {
            let k = self.key(i).as_bytes();
            let c = &mut common[self.source[i] as usize];
            *c = Some(match *c {
                None => k,
                Some(p) => &p[..p.iter().zip(k).take_while(|(a, b)| a == b).count()],
            });
        }
        let skip: Vec<usize> = common.iter().map(|c| c.map_or(0, <[u8]>::len)).collect();
        let word = |i: usize| -> u64 {
            let k = &self.key(i).as_bytes()[skip[self.source[i] as usize]..];
            let mut b = [0u8; 8];
            let m = k.len().min(8);
            b[..m].copy_from_slice(&k[..m]);
            u64::from_be_bytes(b)
        };
        let mut v: Vec<(u64, u32, u16)> = (0..n)
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| (word(i), i as u32, self.source[i]))
            .collect();
        v.par_sort_unstable_by(|x, y| {
            (x.2, x.0).cmp(&(y.2, y.0)).then_with(|| {
                let (a, b) = (x.1 as usize, y.1 as usize);
                (self.key(a), self.lines[a], a).cmp(&(self.key(b), self.lines[b], b))
            })
        });
        v.into_iter().map(|x| x.1).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The order `key_order` must give, by comparing whole keys.
    fn by_whole_keys(r: &Records) -> Vec<u32> {
        let mut v: Vec<u32> = (0..r.len() as u32).collect();
        v.sort_by(|&x, &y| {
            let (x, y) = (x as usize, y as usize);
            (r.source[x], r.key(x), r.lines[x], x).cmp(&(r.source[y], r.key(y), r.lines[y], y))
        });
        v
    }

    fn records(rows: &[(u16, Option<&str>, i64)]) -> Records {
        let mut r = Records {
            sources: vec!["a".into(), "b".into(), "c".into()],
            keys: StrColumn::with_capacity(rows.len()),
            ..Default::default()
        };
        for &(s, k, line) in rows {
            r.source.push(s);
            r.keys.push(k);
            r.lines.push(line);
        }
        r
    }

    #[test]
    fn key_order_is_the_order_of_whole_keys() {
        // Shared prefixes longer and shorter than the 8 compared bytes, keys that are
        // prefixes of others, NUL bytes (equal to the padding), an empty and a missing
        // key, multi-byte characters, a key twice on different lines.
        let keys = [
            "0018a000OWM0KwxAYF",
            "0018a000OWM0KwxAYE",
            "0018a000OWM0Kw",
            "0018a000OWM0Kw\0",
            "0018a000OWM0Kw\0\0x",
            "0018a000",
            "0015g000eFDBpO7AQL",
            "001",
            "",
            "cus_SUF0zbgYNNJBKJ",
            "cus_SUF0zbgYNNJBKI",
            "cus_",
            "cüs_é",
            "cus_SUF0zbgYNNJBKJ",
        ];
        let mut rows: Vec<(u16, Option<&str>, i64)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            // Every key in two sources, and the third source with one distinct key
            // (its common prefix is the whole key).
            rows.push((0, Some(k), 100 - i as i64));
            rows.push((1, Some(k), i as i64));
        }
        rows.push((2, Some("only"), 1));
        rows.push((2, Some("only"), 0));
        rows.push((1, None, 7));
        rows.push((0, Some("0018a000OWM0KwxAYF"), 5));
        let r = records(&rows);
        assert_eq!(r.key_order(), by_whole_keys(&r));
        // Reversed input: the same keys in the opposite positions.
        rows.reverse();
        let r = records(&rows);
        assert_eq!(r.key_order(), by_whole_keys(&r));
    }

    #[test]
    fn key_order_of_generated_keys_matches_whole_keys() {
        // Pseudo-random keys of a few shapes (a fixed seed), thousands of them.
        let mut rng = crate::matching::fellegi_sunter::Rng::new(11);
        let alphabet = b"0Aa\0z9";
        let mut owned: Vec<(u16, String, i64)> = Vec::new();
        for i in 0..5000 {
            let x = rng.next_u64();
            let len = (x % 20) as usize;
            let prefix = ["001", "001Dn000", "cus_", ""][(x >> 8) as usize % 4];
            let mut k = prefix.to_string();
            for j in 0..len {
                k.push(alphabet[((x >> (16 + 2 * j)) % 6) as usize] as char);
            }
            owned.push(((x >> 60) as u16 % 3, k, (i % 7) as i64));
        }
        let rows: Vec<(u16, Option<&str>, i64)> = owned
            .iter()
            .map(|(s, k, l)| (*s, Some(k.as_str()), *l))
            .collect();
        let r = records(&rows);
        assert_eq!(r.key_order(), by_whole_keys(&r));
    }
}
