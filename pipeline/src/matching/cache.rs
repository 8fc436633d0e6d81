//! The comparison cache behind `recon run --incremental`.
//!
//! With a fixed model, a pair's match weight depends only on its two records' matching
//! fields and on the term frequencies of their values. A full night compares every
//! candidate pair, yet keeps only the pairs at or above the review threshold (and, for
//! the chaining guard, the few weaker pairs inside one component of match edges). So a
//! night needs, for a pair of unchanged records, only to know that it stays below review
//! — not its comparison vector.
//!
//! The cache keeps, per entity, each record's content hash and the term frequencies
//! its pairs were last weighed with (its *baseline*), the keys of the capped blocks, and
//! every candidate pair whose weight at the baselines was at least the review weight
//! minus [`MARGIN`] bits, with its comparison vector. Any candidate pair left out was
//! weighed below that. The next night, a record is *settled* when its content is
//! unchanged and its term frequencies moved less than `MARGIN / 2` bits in all from its
//! baseline (a tf adjustment moves by at most the change in log2 of the larger of the two
//! frequencies, so a pair of settled records moved less than `MARGIN`). A candidate pair
//! of two settled records, in a block that is not capped tonight and was not capped
//! before (so it was a candidate then too), is therefore:
//! - in the cache: its comparison vector is reused and weighed with tonight's
//!   frequencies, exactly as a full run would;
//! - not in the cache: below the review weight tonight, certainly; it is not compared,
//!   unless the chaining guard asks for it (it is then compared like any pair).
//!
//! Every other pair is compared. The weights, clusters and every output are those of a
//! full run with the same model (`tests/incremental.rs` checks it over several nights),
//! and the cache holds about as many pairs as `match_pairs`, not every candidate pair.
//!
//! File `match_cache/<entity>.bin` in the run directory (internal state, not an analyst
//! output): magic, format version, fingerprint (settings, model, thresholds), the record
//! hashes, the baselines, the capped block keys, every record's blocking keys (reused by
//! blocking for unchanged records) and the pairs, then an xxh3 checksum of everything
//! before it. A missing, foreign or damaged cache is never an error: the run
//! says why in the log and compares every pair.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::fellegi_sunter::Model;
use super::records::Records;
use super::spec::EntityConfig;
use crate::error::{Error, Result};

/// Directory of the cache files inside a run directory.
pub const CACHE_DIR: &str = "match_cache";
const MAGIC: &[u8; 8] = b"RECONMC\0";
const VERSION: u32 = 3;

/// Bits below the review weight down to which pairs are kept, and twice the drift of
/// term frequencies a settled record may have.
pub const MARGIN: f64 = 2.0;

/// Bits kept clear of the margin, for rounding and for a model read back from JSON.
const SLACK: f64 = 1e-6;

/// Vector of a pair known to stay below the review weight (never a real vector: the
/// cache is used only with fewer than 16 comparisons, whose top 4 bits are zero).
pub const BELOW: u64 = u64::MAX;

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
    /// Unchanged records whose term frequencies moved too far for their pairs to be
    /// taken from the cache (their pairs are compared).
    #[serde(default)]
    pub records_frequency_moved: u64,
    /// Candidate pairs settled from the cache: their vector reused, or known to stay
    /// below the review weight.
    pub pairs_reused: u64,
    /// Candidate pairs compared in this run (before the chaining guard).
    pub pairs_compared: u64,
    /// Pairs kept in the cache for the next night.
    #[serde(default)]
    pub pairs_cached: u64,
}

/// Fingerprint of everything the cache's pairs depend on besides the records: the
/// comparison and blocking settings, the country field (phone normalisation), the recon
/// version (normalisers change between versions), the model and the review threshold.
///
/// The model's numbers are taken to 12 significant digits: a model read back from
/// `model.json` may differ from the trained one in the last bit, and a difference that
/// small is far inside the slack [`Plan`] leaves below the margin.
pub fn fingerprint(e: &EntityConfig, model: &Model, review_weight: f64) -> u64 {
    let num = |x: f64| format!("{x:.12e}");
    let comparisons: Vec<String> = model
        .comparisons
        .iter()
        .map(|c| {
            let w: Vec<String> = c.weights.iter().map(|&x| num(x)).collect();
            let u0 = c.u.first().map(|&x| num(x)).unwrap_or_default();
            format!(
                "{}|{:?}|{}|{}|{}",
                c.name,
                c.levels,
                w.join(","),
                u0,
                c.tf_adjust
            )
        })
        .collect();
    let text = format!(
        "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}",
        env!("CARGO_PKG_VERSION"),
        e.country_field,
        e.comparisons,
        e.blocking,
        e.link,
        e.max_block_size,
        e.block_window,
        num(model.prior_weight),
        comparisons,
        num(review_weight),
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

/// A run's cache: what the next night reads back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairCache {
    pub hashes: Vec<u64>,
    /// Per comparison with term frequencies (in comparison order), per record: the
    /// baseline frequency.
    pub baselines: Vec<Vec<f32>>,
    /// Per blocking rule, the sorted keys of its capped blocks.
    pub capped: Vec<Vec<u64>>,
    /// Per blocking rule, per record: its key hash (reused for unchanged records).
    pub keys: Vec<Vec<u64>>,
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    pub gamma: Vec<u64>,
}

/// Writes an entity's cache.
pub fn write(path: &Path, fingerprint: u64, c: &PairCache) -> Result<()> {
    let f = crate::output::create_file(path)?;
    let mut w = Checked {
        inner: BufWriter::with_capacity(1 << 20, f),
        hash: Xxh3::new(),
    };
    let io = |e| Error::io("cannot write the match cache", path, e);
    let len = |n: usize| (n as u64).to_le_bytes();
    w.put(MAGIC).map_err(io)?;
    w.put(&VERSION.to_le_bytes()).map_err(io)?;
    w.put(&fingerprint.to_le_bytes()).map_err(io)?;
    w.put(&len(c.hashes.len())).map_err(io)?;
    w.put_le(&c.hashes, u64::to_le_bytes).map_err(io)?;
    w.put(&len(c.baselines.len())).map_err(io)?;
    for t in &c.baselines {
        debug_assert_eq!(t.len(), c.hashes.len());
        w.put_le(t, f32::to_le_bytes).map_err(io)?;
    }
    w.put(&len(c.capped.len())).map_err(io)?;
    for k in &c.capped {
        w.put(&len(k.len())).map_err(io)?;
        w.put_le(k, u64::to_le_bytes).map_err(io)?;
    }
    w.put(&len(c.keys.len())).map_err(io)?;
    for k in &c.keys {
        debug_assert_eq!(k.len(), c.hashes.len());
        w.put_le(k, u64::to_le_bytes).map_err(io)?;
    }
    w.put(&len(c.a.len())).map_err(io)?;
    w.put_le(&c.a, u32::to_le_bytes).map_err(io)?;
    w.put_le(&c.b, u32::to_le_bytes).map_err(io)?;
    w.put_le(&c.gamma, u64::to_le_bytes).map_err(io)?;
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

/// Reading a cache body: every size is checked against what is left before anything
/// is allocated.
struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, size: u64, what: &str) -> std::result::Result<&'a [u8], String> {
        let bytes = n
            .checked_mul(size)
            .filter(|&b| b <= (self.body.len() - self.at) as u64)
            .ok_or_else(|| format!("{what}: larger than the file"))? as usize;
        let out = &self.body[self.at..self.at + bytes];
        self.at += bytes;
        Ok(out)
    }
    fn count(&mut self, what: &str) -> std::result::Result<u64, String> {
        let b = self.take(1, 8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8")))
    }
}

/// Reads a cache written with `fingerprint`; `Err(reason)` when it cannot be used.
/// The file is read whole, checked, and its arrays decoded on both cores.
pub fn read(path: &Path, fingerprint: u64) -> std::result::Result<PairCache, String> {
    const HEAD: usize = 8 + 4 + 8;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot open: {e}"))?;
    if bytes.len() < HEAD + 8 {
        return Err("truncated file".into());
    }
    if &bytes[..8] != MAGIC {
        return Err("not a recon match cache".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
    if version != VERSION {
        return Err(format!(
            "cache format {version}, this recon writes {VERSION}"
        ));
    }
    if u64::from_le_bytes(bytes[12..20].try_into().expect("8")) != fingerprint {
        return Err("comparison or blocking settings, the model or recon changed".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if u64::from_le_bytes(sum.try_into().expect("8")) != xxh3_64(body) {
        return Err("checksum mismatch (damaged file)".into());
    }
    let mut c = Cursor { body, at: HEAD };
    let n = c.count("record count")?;
    let hashes = from_le(c.take(n, 8, "record hashes")?, u64::from_le_bytes);
    let tfs = c.count("frequency count")?;
    let mut baselines = Vec::new();
    for _ in 0..tfs {
        baselines.push(from_le(c.take(n, 4, "baselines")?, f32::from_le_bytes));
    }
    let rules = c.count("rule count")?;
    let mut capped = Vec::new();
    for _ in 0..rules {
        let k = c.count("capped block count")?;
        capped.push(from_le(c.take(k, 8, "capped blocks")?, u64::from_le_bytes));
    }
    let key_rules = c.count("key rule count")?;
    let mut keys = Vec::new();
    for _ in 0..key_rules {
        keys.push(from_le(c.take(n, 8, "keys")?, u64::from_le_bytes));
    }
    let p = c.count("pair count")?;
    let a = from_le(c.take(p, 4, "pairs")?, u32::from_le_bytes);
    let b = from_le(c.take(p, 4, "pairs")?, u32::from_le_bytes);
    let gamma = from_le(c.take(p, 8, "pairs")?, u64::from_le_bytes);
    if c.at != body.len() {
        return Err("trailing bytes after the pairs".into());
    }
    if a.par_iter().chain(b.par_iter()).any(|&i| i as u64 >= n) {
        return Err("pair refers to a record outside the cache".into());
    }
    Ok(PairCache {
        hashes,
        baselines,
        capped,
        keys,
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

type Fast<K, V> = HashMap<K, V, BuildHasherDefault<PackedHasher>>;

/// Distance in log2 between two term frequencies of one record's value, as the tf
/// adjustment sees them (floored); infinite when one is null and the other not.
fn drift(now: f32, base: f32) -> f64 {
    match (now > 0.0, base > 0.0) {
        (false, false) => 0.0,
        (true, true) => {
            let f = |x: f32| (x as f64).max(super::fellegi_sunter::TF_FLOOR).log2();
            (f(now) - f(base)).abs()
        }
        _ => f64::INFINITY,
    }
}

/// This run's records paired with the previous run's by content hash.
pub struct Paired {
    /// Per record of this run: its index in the previous run, where its content is
    /// unchanged and seen exactly once in each run (a record exported twice is
    /// compared afresh); `u32::MAX` otherwise.
    pub before: Vec<u32>,
    /// Records whose content hash the previous run did not have.
    pub records_new_or_changed: u64,
}

/// Pairs this run's records with the previous run's: both runs' (hash, index) sorted,
/// then merged.
pub fn pair_records(hashes: &[u64], prev: &[u64]) -> Paired {
    let sorted = |h: &[u64]| {
        let mut v: Vec<(u64, u32)> = h.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect();
        v.par_sort_unstable();
        v
    };
    let (now_s, prev_s) = (sorted(hashes), sorted(prev));
    let mut before = vec![u32::MAX; hashes.len()];
    let mut changed = 0u64;
    let (mut i, mut j) = (0, 0);
    while i < now_s.len() {
        let h = now_s[i].0;
        let i_end = i + now_s[i..].iter().take_while(|x| x.0 == h).count();
        while j < prev_s.len() && prev_s[j].0 < h {
            j += 1;
        }
        let j_end = j + prev_s[j..].iter().take_while(|x| x.0 == h).count();
        match (i_end - i, j_end - j) {
            (n, 0) => changed += n as u64,
            (1, 1) => before[now_s[i].1 as usize] = prev_s[j].1,
            _ => {}
        }
        (i, j) = (i_end, j_end);
    }
    Paired {
        before,
        records_new_or_changed: changed,
    }
}

/// What the previous night's cache settles tonight.
pub struct Plan {
    /// Per record of this run: unchanged, with frequencies close to its baseline.
    settled: Vec<bool>,
    /// Cached pairs of two settled records by (smaller, larger) index: the vector, and
    /// whether the pair is in the same order as tonight (else it is compared).
    pairs: Fast<u64, (u64, bool)>,
    /// Per record: a 64-bit filter of its cached partners with a larger index (most
    /// pairs are answered without probing `pairs`).
    partners: Vec<u64>,
    /// Per rule, the sorted keys of the blocks capped in the previous run.
    capped_before: Vec<Vec<u64>>,
    /// Per rule, a bit per record: settled, and in a block capped neither tonight nor
    /// before ([`Plan::for_rules`]).
    eligible: Vec<Vec<u64>>,
    /// Per comparison with term frequencies, per record: the baseline to keep in
    /// tonight's cache (the previous one where settled, tonight's frequency otherwise).
    pub baselines: Vec<Vec<f32>>,
    pub records_new_or_changed: u64,
    pub records_frequency_moved: u64,
}

/// A pair's fate under a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Cached: the vector.
    Vector(u64),
    /// Known to stay below the review weight.
    Below,
    /// To compare.
    Compare,
}

#[inline]
fn pack(x: u32, y: u32) -> u64 {
    ((x.min(y) as u64) << 32) | x.max(y) as u64
}

impl Plan {
    /// `now[t][i]`: tonight's frequency of record `i` in the `t`-th comparison with
    /// term frequencies (the cache's order); `paired` from [`pair_records`].
    pub fn new(paired: &Paired, now: &[&[f32]], prev: &PairCache) -> Plan {
        assert_eq!(
            now.len(),
            prev.baselines.len(),
            "same comparisons (fingerprint)"
        );
        let before = &paired.before;
        let changed = paired.records_new_or_changed;
        let settled: Vec<bool> = before
            .par_iter()
            .enumerate()
            .with_min_len(4096)
            .map(|(i, &p)| {
                p != u32::MAX
                    && now
                        .iter()
                        .zip(&prev.baselines)
                        .map(|(t, b)| drift(t[i], b[p as usize]))
                        .sum::<f64>()
                        < MARGIN / 2.0 - SLACK
            })
            .collect();
        let frequency_moved = before
            .iter()
            .zip(&settled)
            .filter(|(p, s)| **p != u32::MAX && !**s)
            .count() as u64;
        let baselines: Vec<Vec<f32>> = now
            .iter()
            .zip(&prev.baselines)
            .map(|(t, b)| {
                (0..before.len())
                    .map(|i| {
                        if settled[i] {
                            b[before[i] as usize]
                        } else {
                            t[i]
                        }
                    })
                    .collect()
            })
            .collect();
        // Previous index → tonight's, for settled records only.
        let mut map = vec![u32::MAX; prev.hashes.len()];
        for (i, &p) in before.iter().enumerate() {
            if settled[i] {
                map[p as usize] = i as u32;
            }
        }
        let mut pairs: Fast<u64, (u64, bool)> =
            Fast::with_capacity_and_hasher(prev.a.len(), Default::default());
        let mut partners = vec![0u64; before.len()];
        for k in 0..prev.a.len() {
            let (x, y) = (map[prev.a[k] as usize], map[prev.b[k] as usize]);
            if x != u32::MAX && y != u32::MAX {
                pairs.insert(pack(x, y), (prev.gamma[k], x < y));
                partners[x.min(y) as usize] |= filter_bit(x.max(y));
            }
        }
        Plan {
            settled,
            pairs,
            partners,
            capped_before: prev.capped.clone(),
            eligible: Vec::new(),
            baselines,
            records_new_or_changed: changed,
            records_frequency_moved: frequency_moved,
        }
    }

    /// Marks, per blocking rule of tonight, the records whose pairs under it can be
    /// settled: settled records whose block (key `key(r, x)`) is not capped tonight
    /// (`capped_now(r, x)`) and was not capped in the previous run. A rule the previous
    /// run did not have settles nothing.
    pub fn for_rules(
        &mut self,
        rules: usize,
        key: &(dyn Fn(usize, u32) -> u64 + Sync),
        capped_now: &(dyn Fn(usize, u32) -> bool + Sync),
    ) {
        let n = self.settled.len();
        self.eligible = (0..rules)
            .map(|r| {
                let Some(before) = self.capped_before.get(r) else {
                    return vec![0u64; n.div_ceil(64)];
                };
                (0..n.div_ceil(64))
                    .into_par_iter()
                    .with_min_len(256)
                    .map(|w| {
                        let mut word = 0u64;
                        for x in w * 64..(w * 64 + 64).min(n) {
                            let ok = self.settled[x]
                                && !capped_now(r, x as u32)
                                && (before.is_empty()
                                    || before.binary_search(&key(r, x as u32)).is_err());
                            word |= (ok as u64) << (x % 64);
                        }
                        word
                    })
                    .collect()
            })
            .collect();
    }

    /// The fate of candidate pair `(x, y)` (`x < y`) of blocking rule `rule` (after
    /// [`Plan::for_rules`]).
    #[inline]
    pub fn settle(&self, x: u32, y: u32, rule: usize) -> Settled {
        let Some(e) = self.eligible.get(rule) else {
            return Settled::Compare;
        };
        let bit = |i: u32| (e[i as usize / 64] >> (i % 64)) & 1 == 1;
        if !(bit(x) && bit(y)) {
            return Settled::Compare;
        }
        if self.partners[x.min(y) as usize] & filter_bit(x.max(y)) == 0 {
            return Settled::Below;
        }
        match self.pairs.get(&pack(x, y)) {
            Some(&(g, true)) => Settled::Vector(g),
            Some(&(_, false)) => Settled::Compare,
            None => Settled::Below,
        }
    }
}

/// One of 64 bits for a partner record (a multiplicative hash of its index).
#[inline]
fn filter_bit(y: u32) -> u64 {
    1u64 << ((y as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
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
    fn the_plan_settles_exactly_the_cached_and_uncached_pairs_of_unchanged_records() {
        let mut s = 7u64;
        let n_prev = 400usize;
        // Previous run: records with distinct contents, one frequency each, pairs with
        // their vectors (x < y).
        let prev_hashes: Vec<u64> = (0..n_prev as u64).map(|i| i * 1000 + 1).collect();
        let prev_tf: Vec<f32> = (0..n_prev).map(|i| 0.001 * (1 + i % 7) as f32).collect();
        let (mut a, mut b, mut gamma) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3000 {
            let (x, y) = (next(&mut s) % n_prev as u64, next(&mut s) % n_prev as u64);
            if x < y && seen.insert((x, y)) {
                a.push(x as u32);
                b.push(y as u32);
                gamma.push(next(&mut s) >> 8);
            }
        }
        let prev = PairCache {
            hashes: prev_hashes.clone(),
            baselines: vec![prev_tf.clone()],
            capped: vec![vec![5, 9], vec![], vec![]],
            keys: vec![],
            a,
            b,
            gamma,
        };
        // This run: every 10th record changed, two new, one doubled, one whose value
        // became twice as frequent (unchanged content, frequency moved 1 bit), then
        // shuffled; the others' frequencies moved a little.
        let mut now: Vec<(u64, f32)> = prev_hashes
            .iter()
            .zip(&prev_tf)
            .enumerate()
            .map(|(i, (&h, &t))| match i {
                _ if i % 10 == 3 => (h + 7, t),
                11 => (h, t * 2.0),
                _ => (h, t * 1.01),
            })
            .collect();
        now.extend([(9_999_991, 0.5), (9_999_992, 0.5)]);
        now.push((prev_hashes[42], prev_tf[42]));
        for i in (1..now.len()).rev() {
            let j = (next(&mut s) % (i as u64 + 1)) as usize;
            now.swap(i, j);
        }
        let hashes: Vec<u64> = now.iter().map(|x| x.0).collect();
        let tf: Vec<f32> = now.iter().map(|x| x.1).collect();
        let mut plan = Plan::new(&pair_records(&hashes, &prev.hashes), &[&tf], &prev);
        // Rule 0: every block's key (9) was capped before; rule 1: key 77, never capped;
        // rule 2: every block capped tonight; rule 3 unknown to the previous run.
        plan.for_rules(4, &|r, _| if r == 0 { 9 } else { 77 }, &|r, _| r == 2);
        assert_eq!(plan.records_new_or_changed, 40 + 2);
        assert_eq!(plan.records_frequency_moved, 1);
        // Settled: unchanged, seen once in each run, frequency close to the baseline.
        let count = |v: &[u64], h: u64| v.iter().filter(|&&x| x == h).count();
        let prev_at = |h: u64| prev.hashes.iter().position(|&p| p == h);
        let settled = |i: usize| {
            let h = hashes[i];
            count(&hashes, h) == 1
                && count(&prev.hashes, h) == 1
                && (tf[i] / prev_tf[prev_at(h).unwrap()]).log2().abs() < 0.5
        };
        let mut by_contents = std::collections::HashMap::new();
        for k in 0..prev.a.len() {
            by_contents.insert(
                (
                    prev.hashes[prev.a[k] as usize],
                    prev.hashes[prev.b[k] as usize],
                ),
                prev.gamma[k],
            );
        }
        let (mut vectors, mut below, mut compare) = (0, 0, 0);
        for x in 0..hashes.len() as u32 {
            // The baseline kept: the previous one where settled, tonight's otherwise.
            let want = if settled(x as usize) {
                prev_tf[prev_at(hashes[x as usize]).unwrap()]
            } else {
                tf[x as usize]
            };
            assert_eq!(plan.baselines[0][x as usize], want);
            for y in x + 1..hashes.len() as u32 {
                let (hx, hy) = (hashes[x as usize], hashes[y as usize]);
                let expected = if !settled(x as usize) || !settled(y as usize) {
                    Settled::Compare
                } else if let Some(&g) = by_contents.get(&(hx, hy)) {
                    Settled::Vector(g)
                } else if by_contents.contains_key(&(hy, hx)) {
                    // Cached the other way round: no symmetry is assumed.
                    Settled::Compare
                } else {
                    Settled::Below
                };
                assert_eq!(plan.settle(x, y, 1), expected, "({x}, {y})");
                // Capped before or tonight, or a rule the previous run did not have.
                for r in [0, 2, 3, 4] {
                    assert_eq!(plan.settle(x, y, r), Settled::Compare);
                }
                match expected {
                    Settled::Vector(_) => vectors += 1,
                    Settled::Below => below += 1,
                    Settled::Compare => compare += 1,
                }
            }
        }
        assert!(
            vectors > 400 && below > 1000 && compare > 1000,
            "{vectors} {below} {compare}"
        );
    }

    #[test]
    fn a_cache_reads_back_as_written_and_a_damaged_or_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let c = PairCache {
            hashes: vec![11, 22, 33],
            baselines: vec![vec![0.5, 0.25, 0.0], vec![0.1, 0.2, 0.3]],
            capped: vec![vec![], vec![4, 8]],
            keys: vec![vec![1, 2, 3], vec![0, 0, 7]],
            a: vec![0, 1],
            b: vec![2, 2],
            gamma: vec![0x12, 0x345],
        };
        write(&path, 99, &c).unwrap();
        assert_eq!(read(&path, 99).unwrap(), c);
        assert!(read(&path, 98).unwrap_err().contains("changed"));
        let bytes = std::fs::read(&path).unwrap();
        let mut damaged = bytes.clone();
        damaged[30] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        assert!(read(&path, 99).unwrap_err().contains("checksum"));
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read(&path, 99).is_err());
    }
}
