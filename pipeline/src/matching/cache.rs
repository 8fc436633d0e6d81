//! The comparison cache behind `recon run --incremental`.
//!
//! A pair's comparison vector depends only on the two records' matching fields and the
//! entity's comparison settings, never on the rest of the data. So a run that keeps, per
//! entity, each record's content hash and every candidate pair's comparison vector lets the
//! next night reuse the vector of every pair whose two records did not change, and compare
//! only pairs that touch a new or changed record. Blocking still runs over all records
//! (so the candidate pairs, including capped blocks, are exactly a full run's), and scoring,
//! term frequencies and clustering are recomputed from the vectors: the outputs are those of
//! a full run with the same model.
//!
//! File `match_cache/<entity>.bin` in the run directory (internal state, not an analyst
//! output): magic, format version, settings fingerprint, the record hashes and the pairs,
//! then an xxh3 checksum of everything before it. A missing, foreign or damaged cache is
//! never an error: the run says why in the log and compares every pair.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::block::Candidates;
use super::compare::Comparison;
use super::fellegi_sunter;
use super::records::Records;
use super::spec::EntityConfig;
use crate::error::{Error, Result};

/// Directory of the cache files inside a run directory.
pub const CACHE_DIR: &str = "match_cache";
const MAGIC: &[u8; 8] = b"RECONMC\0";
const VERSION: u32 = 1;

/// Relative path of an entity's cache file (names that are not plain identifiers are
/// made safe and disambiguated by a hash).
pub fn file_name(entity: &str) -> String {
    let safe: String = entity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe == entity && !safe.is_empty() {
        format!("{CACHE_DIR}/{entity}.bin")
    } else {
        format!(
            "{CACHE_DIR}/{safe}-{:08x}.bin",
            xxh3_64(entity.as_bytes()) as u32
        )
    }
}

/// What the incremental comparison did, for the manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IncrementalSummary {
    /// Run date of the cache used (absent when none could be used).
    pub previous_run: Option<String>,
    /// Why the cache was not used, when it was not.
    pub cache_unused_reason: Option<String>,
    /// Records whose (source, key, matching fields) were not in the previous run.
    pub records_new_or_changed: u64,
    /// Candidate pairs whose comparison vector came from the cache.
    pub pairs_reused: u64,
    /// Candidate pairs compared in this run.
    pub pairs_compared: u64,
}

/// Fingerprint of everything a comparison vector depends on besides the records: the
/// comparison settings, the country field (phone normalisation) and the recon version
/// (normalisers change between versions).
pub fn fingerprint(e: &EntityConfig) -> u64 {
    let text = format!(
        "{}\u{1f}{}\u{1f}{:?}",
        env!("CARGO_PKG_VERSION"),
        e.country_field,
        e.comparisons
    );
    xxh3_64(text.as_bytes())
}

/// Content hash of each record: source, key and the raw text of every matching field
/// (a null differs from an empty string).
pub fn record_hashes(records: &Records) -> Vec<u64> {
    let cols: Vec<_> = records.fields.values().collect();
    (0..records.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let mut h = Xxh3::new();
            h.update(records.source_name(i).as_bytes());
            h.update(&[0x1f]);
            h.update(records.key(i).as_bytes());
            for c in &cols {
                match c.get(i) {
                    Some(v) => {
                        h.update(&[0x1e]);
                        h.update(v.as_bytes());
                    }
                    None => h.update(&[0x1d]),
                }
            }
            h.digest()
        })
        .collect()
}

/// A previous run's cache, read back.
pub struct PairCache {
    pub hashes: Vec<u64>,
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    pub gamma: Vec<u64>,
}

/// Writes an entity's cache (record hashes, candidate pairs and their vectors).
pub fn write(
    path: &Path,
    fingerprint: u64,
    hashes: &[u64],
    cands: &Candidates,
    gammas: &[u64],
) -> Result<()> {
    let f = crate::output::create_file(path)?;
    let mut w = Checked {
        inner: BufWriter::with_capacity(1 << 20, f),
        hash: Xxh3::new(),
    };
    let io = |e| Error::io("cannot write the match cache", path, e);
    w.put(MAGIC).map_err(io)?;
    w.put(&VERSION.to_le_bytes()).map_err(io)?;
    w.put(&fingerprint.to_le_bytes()).map_err(io)?;
    w.put(&(hashes.len() as u64).to_le_bytes()).map_err(io)?;
    w.put_le(hashes, u64::to_le_bytes).map_err(io)?;
    w.put(&(cands.len() as u64).to_le_bytes()).map_err(io)?;
    w.put_le(&cands.a, u32::to_le_bytes).map_err(io)?;
    w.put_le(&cands.b, u32::to_le_bytes).map_err(io)?;
    w.put_le(gammas, u64::to_le_bytes).map_err(io)?;
    let sum = w.hash.digest();
    w.inner.write_all(&sum.to_le_bytes()).map_err(io)?;
    let f = w.inner.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    Ok(())
}

struct Checked<W: Write> {
    inner: W,
    hash: Xxh3,
}

impl<W: Write> Checked<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hash.update(b);
        self.inner.write_all(b)
    }
    /// Writes numbers little-endian, in chunks through the checksum.
    fn put_le<T: Copy, const N: usize>(
        &mut self,
        xs: &[T],
        bytes: fn(T) -> [u8; N],
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(8 * 1024 * N);
        for c in xs.chunks(8 * 1024) {
            buf.clear();
            for &x in c {
                buf.extend_from_slice(&bytes(x));
            }
            self.put(&buf)?;
        }
        Ok(())
    }
}

/// Reads a cache written with `fingerprint`; `Err(reason)` when it cannot be used.
/// The file is read whole, checked, and its arrays decoded on both cores.
pub fn read(path: &Path, fingerprint: u64) -> std::result::Result<PairCache, String> {
    const HEAD: usize = 8 + 4 + 8 + 8;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot open: {e}"))?;
    if bytes.len() < HEAD + 8 + 8 {
        return Err("truncated file".into());
    }
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
    if &bytes[..8] != MAGIC {
        return Err("not a recon match cache".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
    if version != VERSION {
        return Err(format!(
            "cache format {version}, this recon writes {VERSION}"
        ));
    }
    if u64_at(12) != fingerprint {
        return Err("comparison settings or recon version changed".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if u64::from_le_bytes(sum.try_into().expect("8")) != xxh3_64(body) {
        return Err("checksum mismatch (damaged file)".into());
    }
    // Sizes must fit the file before anything is allocated.
    let n = u64_at(20) as usize;
    let hashes_end = (n as u64)
        .checked_mul(8)
        .and_then(|b| b.checked_add(HEAD as u64))
        .filter(|&e| e + 8 <= body.len() as u64)
        .ok_or("record count larger than the file")? as usize;
    let p = u64_at(hashes_end) as usize;
    let pairs_at = hashes_end + 8;
    if (p as u64).checked_mul(16) != Some((body.len() - pairs_at) as u64) {
        return Err("pair count does not match the file size".into());
    }
    let (a_end, b_end) = (pairs_at + p * 4, pairs_at + p * 8);
    let hashes = from_le(&body[HEAD..hashes_end], u64::from_le_bytes);
    let a = from_le(&body[pairs_at..a_end], u32::from_le_bytes);
    let b = from_le(&body[a_end..b_end], u32::from_le_bytes);
    let gamma = from_le(&body[b_end..], u64::from_le_bytes);
    if a.par_iter().chain(b.par_iter()).any(|&i| i as usize >= n) {
        return Err("pair refers to a record outside the cache".into());
    }
    Ok(PairCache {
        hashes,
        a,
        b,
        gamma,
    })
}

/// Little-endian numbers back from bytes, on both cores.
fn from_le<T: Send, const N: usize>(b: &[u8], num: fn([u8; N]) -> T) -> Vec<T> {
    b.par_chunks_exact(N)
        .with_min_len(1 << 16)
        .map(|c| num(c.try_into().expect("N bytes")))
        .collect()
}

/// Multiplicative hasher for `u64` keys (packed record indices, comparison vectors):
/// a fraction of SipHash's cost, and the keys are not attacker-chosen.
#[derive(Default)]
pub(crate) struct PackedHasher(u64);

impl Hasher for PackedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What a previous run's cache offers this run: the comparison vector of every pair
/// whose two records are unchanged and that was a candidate before, indexed by this
/// run's first record (compressed rows: each record's partners sorted, then their
/// vectors), so a lookup is a short binary search in memory already close by.
pub struct Reuse {
    /// `offsets[x]..offsets[x + 1]` indexes `partner` and `gamma` for record `x`.
    offsets: Vec<u64>,
    partner: Vec<u32>,
    gamma: Vec<u64>,
    /// Records whose (source, key, matching fields) were not in the previous run.
    pub records_new_or_changed: u64,
}

impl Reuse {
    pub fn new(hashes: &[u64], prev: &PairCache) -> Reuse {
        type Fast<K, V> = HashMap<K, V, BuildHasherDefault<PackedHasher>>;
        // Previous record index → this run's, for record contents seen exactly once in
        // each (a record exported twice is compared afresh).
        let mut now: Fast<u64, u32> =
            Fast::with_capacity_and_hasher(hashes.len(), Default::default());
        let mut dup_now: Fast<u64, ()> = Fast::default();
        for (i, &h) in hashes.iter().enumerate() {
            if now.insert(h, i as u32).is_some() {
                dup_now.insert(h, ());
            }
        }
        let mut seen_prev: Fast<u64, u32> =
            Fast::with_capacity_and_hasher(prev.hashes.len(), Default::default());
        for &h in &prev.hashes {
            *seen_prev.entry(h).or_default() += 1;
        }
        let map: Vec<u32> = prev
            .hashes
            .iter()
            .map(|h| match now.get(h) {
                Some(&i) if !dup_now.contains_key(h) && seen_prev[h] == 1 => i,
                _ => u32::MAX,
            })
            .collect();
        let changed = hashes.iter().filter(|h| !seen_prev.contains_key(h)).count() as u64;
        drop(now);
        drop(seen_prev);
        // Record order is kept (x < y as in the candidates): a pair whose records swapped
        // places is compared afresh, so no comparison's symmetry is assumed.
        let mapped = |i: usize| -> Option<(u32, u32)> {
            let (x, y) = (map[prev.a[i] as usize], map[prev.b[i] as usize]);
            (x != u32::MAX && y != u32::MAX && x < y).then_some((x, y))
        };
        let mut offsets = vec![0u64; hashes.len() + 1];
        for i in 0..prev.a.len() {
            if let Some((x, _)) = mapped(i) {
                offsets[x as usize + 1] += 1;
            }
        }
        for x in 0..hashes.len() {
            offsets[x + 1] += offsets[x];
        }
        let total = offsets[hashes.len()] as usize;
        let mut partner = vec![0u32; total];
        let mut gamma = vec![0u64; total];
        let mut fill: Vec<u64> = offsets[..hashes.len()].to_vec();
        for i in 0..prev.a.len() {
            if let Some((x, y)) = mapped(i) {
                let at = fill[x as usize] as usize;
                partner[at] = y;
                gamma[at] = prev.gamma[i];
                fill[x as usize] += 1;
            }
        }
        drop(fill);
        // Sort each record's partners (with their vectors), records in parallel.
        let mut rows: Vec<(&mut [u32], &mut [u64])> = Vec::with_capacity(hashes.len());
        let (mut ps, mut gs) = (partner.as_mut_slice(), gamma.as_mut_slice());
        for x in 0..hashes.len() {
            let len = (offsets[x + 1] - offsets[x]) as usize;
            let (p, rest_p) = std::mem::take(&mut ps).split_at_mut(len);
            let (g, rest_g) = std::mem::take(&mut gs).split_at_mut(len);
            ps = rest_p;
            gs = rest_g;
            if len > 1 {
                rows.push((p, g));
            }
        }
        rows.par_iter_mut().with_min_len(1024).for_each(|(p, g)| {
            if p.len() <= 32 {
                // Most records have a handful of partners: insertion sort in place.
                for k in 1..p.len() {
                    let (y, v) = (p[k], g[k]);
                    let mut j = k;
                    while j > 0 && p[j - 1] > y {
                        p[j] = p[j - 1];
                        g[j] = g[j - 1];
                        j -= 1;
                    }
                    p[j] = y;
                    g[j] = v;
                }
                return;
            }
            let mut both: Vec<(u32, u64)> = p.iter().copied().zip(g.iter().copied()).collect();
            both.sort_unstable_by_key(|&(y, _)| y);
            for (k, (y, v)) in both.into_iter().enumerate() {
                p[k] = y;
                g[k] = v;
            }
        });
        drop(rows);
        Reuse {
            offsets,
            partner,
            gamma,
            records_new_or_changed: changed,
        }
    }

    /// The cached comparison vector of the pair (`x < y`), if any.
    #[inline]
    pub fn get(&self, x: u32, y: u32) -> Option<u64> {
        let (lo, hi) = (
            self.offsets[x as usize] as usize,
            self.offsets[x as usize + 1] as usize,
        );
        let row = &self.partner[lo..hi];
        row.binary_search(&y).ok().map(|k| self.gamma[lo + k])
    }
}

/// Comparison vectors of all candidate pairs: from the cache where both records are
/// unchanged and the pair was a candidate before, computed otherwise.
pub fn gammas(
    comps: &[Comparison],
    cands: &Candidates,
    hashes: &[u64],
    prev: &PairCache,
) -> (Vec<u64>, IncrementalSummary) {
    let reuse = Reuse::new(hashes, prev);
    let (gammas, from_cache): (Vec<u64>, Vec<bool>) = cands
        .a
        .par_iter()
        .zip(cands.b.par_iter())
        .with_min_len(4096)
        .map(|(&x, &y)| match reuse.get(x, y) {
            Some(g) => (g, true),
            None => (
                fellegi_sunter::gamma_of(comps, x as usize, y as usize),
                false,
            ),
        })
        .unzip();
    let reused = from_cache.par_iter().filter(|&&x| x).count() as u64;
    let summary = IncrementalSummary {
        previous_run: None,
        cache_unused_reason: None,
        records_new_or_changed: reuse.records_new_or_changed,
        pairs_reused: reused,
        pairs_compared: gammas.len() as u64 - reused,
    };
    (gammas, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers (splitmix64).
    fn next(s: &mut u64) -> u64 {
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn reuse_finds_exactly_the_pairs_of_unchanged_records_in_this_runs_order() {
        let mut s = 7u64;
        let n_prev = 500usize;
        // Previous run: records with distinct contents, pairs with their vectors.
        let prev_hashes: Vec<u64> = (0..n_prev as u64).map(|i| i * 1000 + 1).collect();
        let (mut a, mut b, mut gamma) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5000 {
            let (x, y) = (next(&mut s) % n_prev as u64, next(&mut s) % n_prev as u64);
            // Unique pairs, as a cache holds (record 7's are added below).
            if x < y
                && x != 7
                && y != 7
                && !a
                    .iter()
                    .zip(&b)
                    .any(|(&p, &q)| (p, q) == (x as u32, y as u32))
            {
                a.push(x as u32);
                b.push(y as u32);
                gamma.push(next(&mut s));
            }
        }
        // One record with hundreds of partners (a capped block's), sorted another way.
        for y in 0..n_prev as u32 {
            if y != 7 && y % 10 != 3 {
                a.push(y.min(7));
                b.push(y.max(7));
                gamma.push(next(&mut s));
            }
        }
        let prev = PairCache {
            hashes: prev_hashes.clone(),
            a,
            b,
            gamma,
        };
        // This run: the records shuffled, every 10th changed, a few new, one doubled.
        let mut now: Vec<u64> = prev_hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| if i % 10 == 3 { h + 7 } else { h })
            .collect();
        now.extend([9_999_991, 9_999_992]);
        now.push(prev_hashes[42]);
        for i in (1..now.len()).rev() {
            let j = (next(&mut s) % (i as u64 + 1)) as usize;
            now.swap(i, j);
        }
        // What the cache must offer: for unchanged records seen once in each run, the
        // previous vector of the pair with the same contents in the same order.
        let count = |v: &[u64], h: u64| v.iter().filter(|&&x| x == h).count();
        let mut expected: HashMap<(u32, u32), u64> = HashMap::new();
        for i in 0..prev.a.len() {
            let (ha, hb) = (
                prev.hashes[prev.a[i] as usize],
                prev.hashes[prev.b[i] as usize],
            );
            if count(&now, ha) != 1 || count(&now, hb) != 1 {
                continue;
            }
            let x = now.iter().position(|&h| h == ha).unwrap() as u32;
            let y = now.iter().position(|&h| h == hb).unwrap() as u32;
            if x < y {
                expected.insert((x, y), prev.gamma[i]);
            }
        }
        assert!(
            expected.len() > 500,
            "the test reuses many pairs: {}",
            expected.len()
        );
        let reuse = Reuse::new(&now, &prev);
        assert_eq!(reuse.records_new_or_changed, 50 + 2);
        let n = now.len() as u32;
        let mut found = 0;
        for x in 0..n {
            for y in x + 1..n {
                assert_eq!(
                    reuse.get(x, y),
                    expected.get(&(x, y)).copied(),
                    "({x}, {y})"
                );
                found += reuse.get(x, y).is_some() as usize;
            }
        }
        assert_eq!(found, expected.len());
    }
}
