//! Blocking: which record pairs are compared at all.
//!
//! Each rule maps a record to a key (all its key expressions present, else no key);
//! records sharing a key form a block and every pair in it is a candidate. A pair is
//! generated once, by the first rule that produces it: a later rule skips pairs whose
//! records already share an earlier rule's key (no global set of pairs is needed).
//! Blocks larger than `max_block_size` are capped: their records are sorted by the first
//! comparison's standardised value and each is compared with the next `block_window`
//! records only (sorted neighbourhood), with a warning and counts in the manifest.
//!
//! The pairs are enumerated in chunks of blocks (of every rule), compared in parallel
//! and in the same order on every pass, so that no list of all pairs is held. The
//! block key is the natural partition for scaling out: blocks are independent.

use rayon::prelude::*;
use serde::Serialize;

use super::compare::hash_str;
use super::records::Records;
use super::spec::{BlockingRule, KeyExpr, KeyFunction, LinkMode};
use crate::normalize;

/// Candidate pairs (record indices, `a < b`) and the rule that produced each.
#[derive(Debug, Default, Clone)]
pub struct Candidates {
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    pub rule: Vec<u8>,
}

impl Candidates {
    pub fn len(&self) -> usize {
        self.a.len()
    }

    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }
}

/// What one blocking rule did (for the manifest and model.json).
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub rule: String,
    /// Records that had a key under this rule.
    pub records_with_key: u64,
    pub blocks: u64,
    pub largest_block: u64,
    /// Pairs this rule generated that no earlier rule had.
    pub pairs: u64,
    pub capped_blocks: u64,
    pub records_in_capped_blocks: u64,
    /// Pairs of capped blocks that were not compared.
    pub pairs_skipped_by_cap: u64,
}

/// Soundex code (letter + 3 digits) of the first word of `s`.
pub fn soundex(s: &str) -> Option<String> {
    let folded = normalize::fold(s);
    let word = folded.split(' ').next()?;
    let mut letters = word.chars().filter(|c| c.is_ascii_alphabetic());
    let first = letters.next()?;
    let code = |c: char| match c {
        'b' | 'f' | 'p' | 'v' => Some('1'),
        'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'x' | 'z' => Some('2'),
        'd' | 't' => Some('3'),
        'l' => Some('4'),
        'm' | 'n' => Some('5'),
        'r' => Some('6'),
        _ => None,
    };
    let mut out = String::with_capacity(4);
    out.push(first.to_ascii_uppercase());
    let mut last = code(first);
    for c in letters {
        if out.len() == 4 {
            break;
        }
        let k = code(c);
        match k {
            Some(d) if k != last => out.push(d),
            _ => {}
        }
        // h and w do not separate equal codes; vowels do.
        if !matches!(c, 'h' | 'w') {
            last = k;
        }
    }
    while out.len() < 4 {
        out.push('0');
    }
    Some(out)
}

/// The value of one key expression for a raw field value.
pub fn key_part(f: KeyFunction, raw: &str) -> Option<String> {
    let v = match f {
        KeyFunction::Exact => normalize::fold(raw),
        KeyFunction::Company => normalize::company_name(raw),
        KeyFunction::FirstToken => normalize::company_name(raw)
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string(),
        KeyFunction::LastToken => normalize::fold(raw)
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .to_string(),
        KeyFunction::Prefix(n) => normalize::fold(raw)
            .chars()
            .filter(|c| *c != ' ')
            .take(n)
            .collect(),
        KeyFunction::Soundex => soundex(raw)?,
        KeyFunction::Email => normalize::email(raw)?,
        KeyFunction::EmailDomain => normalize::email(raw)?.rsplit_once('@')?.1.to_string(),
        KeyFunction::EmailLocal => normalize::email(raw)?.rsplit_once('@')?.0.to_string(),
        KeyFunction::Phone => {
            let d: String = raw.chars().filter(char::is_ascii_digit).collect();
            if d.len() < 7 {
                return None;
            }
            d[d.len().saturating_sub(9)..].to_string()
        }
        KeyFunction::Digits => raw.chars().filter(char::is_ascii_digit).collect(),
        KeyFunction::Postcode => normalize::postcode(raw),
        KeyFunction::Year => raw
            .trim()
            .chars()
            .take(4)
            .filter(char::is_ascii_digit)
            .collect::<String>(),
        KeyFunction::Sku => normalize::sku(raw),
        KeyFunction::SortedTokens => {
            let f = normalize::fold(raw);
            let mut t: Vec<&str> = f.split(' ').filter(|x| !x.is_empty()).collect();
            t.sort_unstable();
            t.join(" ")
        }
    };
    if v.is_empty() || (f == KeyFunction::Year && v.len() != 4) {
        None
    } else {
        Some(v)
    }
}

/// Key hash of every record under a rule (0: no key).
pub fn key_hashes(rule: &BlockingRule, records: &Records) -> Vec<u64> {
    key_hashes_reusing(rule, records, None)
}

/// Keys reused from an earlier run: `before[i]` is record `i`'s index in that run
/// (`u32::MAX`: none, or changed) and `keys[j]` the key of that run's record `j`.
#[derive(Clone, Copy)]
pub struct KnownKeys<'k> {
    pub before: &'k [u32],
    pub keys: &'k [u64],
}

/// [`key_hashes`], taking the key of a record whose content is unchanged from `known`.
pub fn key_hashes_reusing(
    rule: &BlockingRule,
    records: &Records,
    known: Option<KnownKeys>,
) -> Vec<u64> {
    let exprs: Vec<KeyExpr> = rule
        .keys
        .iter()
        .map(|k| KeyExpr::parse(k).expect("validated"))
        .collect();
    let cols: Vec<_> = exprs.iter().map(|e| records.field(&e.field)).collect();
    (0..records.len())
        .into_par_iter()
        .map(|i| {
            if let Some(k) = known
                && let Some(&j) = k.before.get(i)
                && j != u32::MAX
            {
                return k.keys[j as usize];
            }
            let mut key = String::new();
            for (e, col) in exprs.iter().zip(&cols) {
                let Some(raw) = col.and_then(|c| c.get(i)) else {
                    return 0;
                };
                let Some(part) = key_part(e.function, raw) else {
                    return 0;
                };
                key.push_str(&part);
                key.push('\u{1f}');
            }
            hash_str(&key)
        })
        .collect()
}

/// The blocks of one rule.
struct RuleBlocks {
    /// Key hash per record (0: no key).
    keys: Vec<u64>,
    /// Position within a capped block (`u32::MAX` elsewhere); empty when no block of the
    /// rule is capped.
    pos: Vec<u32>,
    /// Records with a key, sorted by (key, index).
    order: Vec<u32>,
    /// Blocks of two or more records: `[start, end)` in `order`.
    bounds: Vec<(u32, u32)>,
    /// Members of each capped block (by block index) in sorted-neighbourhood order.
    capped: crate::util::FastMap<u32, Vec<u32>>,
}

/// Potential pairs per unit of work: blocks are grouped into chunks of about this many,
/// and a block with more is split into chunks by ranges of its records.
const CHUNK_PAIRS: u64 = 1 << 16;

/// A unit of work: blocks `first..end` of one rule; of a block's records in their block
/// order, only those at positions `lo..hi` pair with the records after them (a split
/// block; `0..u32::MAX` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunk {
    rule: u8,
    first: u32,
    end: u32,
    lo: u32,
    hi: u32,
}

/// The blocks of every rule, and the candidate pairs they define — enumerated on demand,
/// chunk by chunk, never held as one list.
///
/// A chunk is a run of consecutive blocks of one rule, or part of one large block;
/// enumerating it gives its pairs in
/// one fixed order, so a pass over the chunks can be repeated (score, then the chaining
/// guard) and per-chunk results (comparison vectors) line up with the pairs. Chunks are
/// independent: the unit of parallel work now, and of distributed work later.
pub struct Blocking<'r> {
    rules: Vec<RuleBlocks>,
    src: &'r [u16],
    mode: LinkMode,
    window: usize,
    /// Rule by rule, blocks in order.
    chunks: Vec<Chunk>,
    /// Per rule, before the pair counts are known (`pairs` is 0 until
    /// [`Blocking::reports`]).
    reports: Vec<RuleReport>,
}

impl<'r> Blocking<'r> {
    /// Keys, blocks and capped blocks of every rule. `sort_key(i)` orders the records of
    /// a capped block (the first comparison's value).
    pub fn build<'a>(
        rules: &[BlockingRule],
        names: &[String],
        records: &'r Records,
        mode: LinkMode,
        max_block: usize,
        window: usize,
        sort_key: &(dyn Fn(usize) -> &'a str + Sync),
    ) -> Blocking<'r> {
        Self::build_reusing(
            rules, names, records, mode, max_block, window, sort_key, None,
        )
    }

    /// [`Blocking::build`], with the keys of unchanged records taken from an earlier
    /// run: `known` gives the record mapping and that run's keys per rule.
    #[allow(clippy::too_many_arguments)]
    pub fn build_reusing<'a>(
        rules: &[BlockingRule],
        names: &[String],
        records: &'r Records,
        mode: LinkMode,
        max_block: usize,
        window: usize,
        sort_key: &(dyn Fn(usize) -> &'a str + Sync),
        known: Option<(&[u32], &[Vec<u64>])>,
    ) -> Blocking<'r> {
        let n = records.len();
        assert!(rules.len() <= 32, "at most 32 blocking rules (validated)");
        let mut out = Blocking {
            rules: Vec::with_capacity(rules.len()),
            src: &records.source,
            mode,
            window,
            chunks: Vec::new(),
            reports: Vec::new(),
        };
        for (r, rule) in rules.iter().enumerate() {
            let reuse =
                known.and_then(|(before, keys)| keys.get(r).map(|keys| KnownKeys { before, keys }));
            let keys = key_hashes_reusing(rule, records, reuse);
            let mut order: Vec<u32> = (0..n as u32).filter(|&i| keys[i as usize] != 0).collect();
            order.par_sort_unstable_by_key(|&i| (keys[i as usize], i));
            let mut bounds = Vec::new();
            let mut start = 0;
            for i in 1..=order.len() {
                if i == order.len() || keys[order[i] as usize] != keys[order[start] as usize] {
                    if i - start >= 2 {
                        bounds.push((start as u32, i as u32));
                    }
                    start = i;
                }
            }
            // Capped blocks: sorted-neighbourhood order.
            let capped: Vec<(u32, Vec<u32>)> = bounds
                .par_iter()
                .enumerate()
                .filter(|(_, (s, e))| (e - s) as usize > max_block)
                .map(|(bi, (s, e))| {
                    let mut m: Vec<u32> = order[*s as usize..*e as usize].to_vec();
                    m.sort_by(|&x, &y| {
                        sort_key(x as usize)
                            .cmp(sort_key(y as usize))
                            .then(x.cmp(&y))
                    });
                    (bi as u32, m)
                })
                .collect();
            let mut report = RuleReport {
                rule: names[r].clone(),
                records_with_key: order.len() as u64,
                blocks: bounds.len() as u64,
                largest_block: bounds
                    .iter()
                    .map(|(s, e)| (e - s) as u64)
                    .max()
                    .unwrap_or(0),
                pairs: 0,
                capped_blocks: capped.len() as u64,
                records_in_capped_blocks: 0,
                pairs_skipped_by_cap: 0,
            };
            let mut pos = Vec::new();
            if !capped.is_empty() {
                pos = vec![u32::MAX; n];
            }
            let mut capped_members = crate::util::FastMap::default();
            for (bi, m) in capped {
                let len = m.len() as u64;
                report.records_in_capped_blocks += len;
                let w = (window as u64).min(len - 1);
                let compared = w * len - w * (w + 1) / 2;
                report.pairs_skipped_by_cap += len * (len - 1) / 2 - compared;
                for (p, &i) in m.iter().enumerate() {
                    pos[i as usize] = p as u32;
                }
                capped_members.insert(bi, m);
            }
            if report.capped_blocks > 0 {
                tracing::warn!(
                    rule = %names[r],
                    capped_blocks = report.capped_blocks,
                    records = report.records_in_capped_blocks,
                    largest_block = report.largest_block,
                    pairs_skipped = report.pairs_skipped_by_cap,
                    "oversized blocks capped to a sliding window"
                );
            }
            // Chunks of about CHUNK_PAIRS potential pairs.
            let chunk = |first: u32, end: u32, lo: u32, hi: u32| Chunk {
                rule: r as u8,
                first,
                end,
                lo,
                hi,
            };
            let (mut first, mut acc) = (0u32, 0u64);
            for (bi, (s, e)) in bounds.iter().enumerate() {
                let bi = bi as u32;
                let len = (e - s) as u64;
                let capped = capped_members.contains_key(&bi);
                // Pairs of the record at position i with the records after it.
                let after = |i: u64| {
                    if capped {
                        (window as u64).min(len - 1 - i)
                    } else {
                        len - 1 - i
                    }
                };
                let pairs = if capped {
                    len * (window as u64).min(len - 1)
                } else {
                    len * (len - 1) / 2
                };
                if pairs > CHUNK_PAIRS {
                    if first < bi {
                        out.chunks.push(chunk(first, bi, 0, u32::MAX));
                    }
                    let (mut lo, mut part) = (0u64, 0u64);
                    for i in 0..len {
                        part += after(i);
                        if part >= CHUNK_PAIRS {
                            out.chunks.push(chunk(bi, bi + 1, lo as u32, i as u32 + 1));
                            (lo, part) = (i + 1, 0);
                        }
                    }
                    if lo < len {
                        out.chunks.push(chunk(bi, bi + 1, lo as u32, len as u32));
                    }
                    (first, acc) = (bi + 1, 0);
                    continue;
                }
                acc += pairs;
                if acc >= CHUNK_PAIRS {
                    out.chunks.push(chunk(first, bi + 1, 0, u32::MAX));
                    (first, acc) = (bi + 1, 0);
                }
            }
            if (first as usize) < bounds.len() {
                out.chunks
                    .push(chunk(first, bounds.len() as u32, 0, u32::MAX));
            }
            out.rules.push(RuleBlocks {
                keys,
                pos,
                order,
                bounds,
                capped: capped_members,
            });
            out.reports.push(report);
        }
        out
    }

    /// Number of chunks.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The blocking rule of a chunk's pairs.
    pub fn chunk_rule(&self, chunk: usize) -> u8 {
        self.chunks[chunk].rule
    }

    /// Whether an earlier rule than `r` already generates the pair.
    #[inline]
    fn covered_earlier(&self, r: usize, x: u32, y: u32) -> bool {
        for e in &self.rules[..r] {
            let kx = e.keys[x as usize];
            if kx != 0 && kx == e.keys[y as usize] {
                if e.pos.is_empty() {
                    return true;
                }
                let (px, py) = (e.pos[x as usize], e.pos[y as usize]);
                if px == u32::MAX || px.abs_diff(py) as usize <= self.window {
                    return true;
                }
            }
        }
        false
    }

    /// Calls `f(a, b)` (`a < b`) for every candidate pair of a chunk, in a fixed order.
    pub fn for_each_pair(&self, chunk: usize, mut f: impl FnMut(u32, u32)) {
        let Chunk {
            rule,
            first,
            end,
            lo,
            hi,
        } = self.chunks[chunk];
        let r = rule as usize;
        let rb = &self.rules[r];
        let src = self.src;
        let mut push = |x: u32, y: u32| {
            let (x, y) = if x < y { (x, y) } else { (y, x) };
            let wanted = match self.mode {
                LinkMode::Both => true,
                LinkMode::Dedupe => src[x as usize] == src[y as usize],
                LinkMode::Link => src[x as usize] != src[y as usize],
            };
            if wanted && !self.covered_earlier(r, x, y) {
                f(x, y);
            }
        };
        for bi in first..end {
            if let Some(m) = rb.capped.get(&bi) {
                for i in lo as usize..m.len().min(hi as usize) {
                    for j in i + 1..(i + 1 + self.window).min(m.len()) {
                        push(m[i], m[j]);
                    }
                }
            } else {
                let (s, e) = rb.bounds[bi as usize];
                let m = &rb.order[s as usize..e as usize];
                for i in lo as usize..m.len().min(hi as usize) {
                    for j in i + 1..m.len() {
                        push(m[i], m[j]);
                    }
                }
            }
        }
    }

    /// Record `x`'s key hash under rule `r` (0: no key).
    #[inline]
    pub fn key(&self, r: usize, x: u32) -> u64 {
        self.rules[r].keys[x as usize]
    }

    /// Every record's key hash under rule `r`.
    pub fn keys(&self, r: usize) -> &[u64] {
        &self.rules[r].keys
    }

    /// Whether record `x`'s block under rule `r` is capped.
    #[inline]
    pub fn in_capped_block(&self, r: usize, x: u32) -> bool {
        let pos = &self.rules[r].pos;
        !pos.is_empty() && pos[x as usize] != u32::MAX
    }

    /// The sorted key hashes of rule `r`'s capped blocks.
    pub fn capped_keys(&self, r: usize) -> Vec<u64> {
        let rb = &self.rules[r];
        let mut keys: Vec<u64> = rb
            .capped
            .keys()
            .map(|&bi| rb.keys[rb.order[rb.bounds[bi as usize].0 as usize] as usize])
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Number of rules.
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    /// The rules whose key the two records share (bit r for rule r), whichever rule
    /// generated the pair: EM's session of a rule is every pair sharing its key.
    #[inline]
    pub fn shared_keys(&self, x: u32, y: u32) -> u32 {
        let mut mask = 0;
        for (r, rb) in self.rules.iter().enumerate() {
            let k = rb.keys[x as usize];
            if k != 0 && k == rb.keys[y as usize] {
                mask |= 1 << r;
            }
        }
        mask
    }

    /// The reports per rule, given the number of pairs of each chunk; logs each rule.
    pub fn reports(&self, chunk_pairs: &[u64]) -> Vec<RuleReport> {
        let mut reports = self.reports.clone();
        for (c, ch) in self.chunks.iter().enumerate() {
            reports[ch.rule as usize].pairs += chunk_pairs[c];
        }
        for r in &reports {
            tracing::info!(rule = %r.rule, pairs = r.pairs, blocks = r.blocks, "blocking rule");
        }
        reports
    }

    /// Every candidate pair as lists, in chunk order (tests and benchmarks).
    pub fn materialize(&self) -> (Candidates, Vec<u64>) {
        let per: Vec<Vec<(u32, u32)>> = (0..self.chunks())
            .into_par_iter()
            .map(|c| {
                let mut v = Vec::new();
                self.for_each_pair(c, |x, y| v.push((x, y)));
                v
            })
            .collect();
        let total: usize = per.iter().map(Vec::len).sum();
        let mut out = Candidates {
            a: Vec::with_capacity(total),
            b: Vec::with_capacity(total),
            rule: Vec::with_capacity(total),
        };
        let mut counts = Vec::with_capacity(per.len());
        for (c, v) in per.into_iter().enumerate() {
            counts.push(v.len() as u64);
            let r = self.chunk_rule(c);
            for (x, y) in v {
                out.a.push(x);
                out.b.push(y);
                out.rule.push(r);
            }
        }
        (out, counts)
    }
}

/// Generates the candidate pairs of all rules as one list, with the reports and each
/// rule's key hashes (tests and benchmarks; the matcher enumerates [`Blocking`]).
///
/// `sort_key(i)` orders the records of a capped block (the first comparison's value).
pub fn candidates<'a>(
    rules: &[BlockingRule],
    names: &[String],
    records: &Records,
    mode: LinkMode,
    max_block: usize,
    window: usize,
    sort_key: &(dyn Fn(usize) -> &'a str + Sync),
) -> (Candidates, Vec<RuleReport>, Vec<Vec<u64>>) {
    let b = Blocking::build(rules, names, records, mode, max_block, window, sort_key);
    let (c, counts) = b.materialize();
    let reports = b.reports(&counts);
    let keys = b.rules.into_iter().map(|r| r.keys).collect();
    (c, reports, keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::records::StrColumn;

    fn records(names: &[(&str, u16)]) -> Records {
        let mut r = Records {
            sources: vec!["s0".into(), "s1".into()],
            keys: StrColumn::with_capacity(names.len()),
            ..Default::default()
        };
        let mut col = StrColumn::with_capacity(names.len());
        for (i, (n, s)) in names.iter().enumerate() {
            col.push(if n.is_empty() { None } else { Some(n) });
            r.keys.push(Some(&i.to_string()));
            r.source.push(*s);
            r.lines.push(i as i64);
        }
        r.fields.insert("name".into(), col);
        r
    }

    fn rule(keys: &[&str]) -> BlockingRule {
        BlockingRule {
            name: None,
            keys: keys.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn pairs(c: &Candidates) -> Vec<(u32, u32, u8)> {
        (0..c.len()).map(|i| (c.a[i], c.b[i], c.rule[i])).collect()
    }

    #[test]
    fn soundex_codes() {
        assert_eq!(soundex("Robert").as_deref(), Some("R163"));
        assert_eq!(soundex("Rupert").as_deref(), Some("R163"));
        assert_eq!(soundex("Ashcraft").as_deref(), Some("A261"));
        assert_eq!(soundex("Tymczak").as_deref(), Some("T522"));
        assert_eq!(soundex("Pfister").as_deref(), Some("P236"));
        assert_eq!(soundex("Lee").as_deref(), Some("L000"));
        assert_eq!(soundex("123"), None);
    }

    #[test]
    fn each_pair_is_generated_once_across_rules() {
        let rec = records(&[
            ("acme one", 0),
            ("acme one", 1),
            ("acme two", 0),
            ("zeta", 1),
            ("", 0),
        ]);
        let rules = [rule(&["exact(name)"]), rule(&["first_token(name)"])];
        let names = vec!["exact".to_string(), "first".to_string()];
        let sk = |i: usize| rec.field("name").unwrap().get(i).unwrap_or("");
        let (c, rep, _) = candidates(&rules, &names, &rec, LinkMode::Both, 100, 10, &sk);
        // (0,1) by rule 0; rule 1 adds (0,2) and (1,2) but not (0,1) again.
        assert_eq!(pairs(&c), vec![(0, 1, 0), (0, 2, 1), (1, 2, 1)]);
        assert_eq!(rep[0].pairs, 1);
        assert_eq!(rep[1].pairs, 2);
        assert_eq!(rep[1].records_with_key, 4, "the empty name has no key");
    }

    #[test]
    fn known_keys_are_taken_for_paired_records_and_computed_for_the_rest() {
        let rec = records(&[
            ("acme", 0),
            ("acme", 1),
            ("beta", 0),
            ("beta", 1),
            ("gamma", 0),
        ]);
        let rules = [rule(&["exact(name)"]), rule(&["prefix(name, 1)"])];
        let names = vec!["exact".to_string(), "prefix".to_string()];
        let sk = |i: usize| rec.field("name").unwrap().get(i).unwrap_or("");
        let fresh = Blocking::build(&rules, &names, &rec, LinkMode::Both, 100, 10, &sk);
        let all = |b: &Blocking| {
            let (c, counts) = b.materialize();
            (pairs(&c), counts)
        };
        // The earlier run's keys, for every record: the same blocking.
        let keys: Vec<Vec<u64>> = (0..2).map(|r| fresh.keys(r).to_vec()).collect();
        let identity: Vec<u32> = (0..5).collect();
        let reused = Blocking::build_reusing(
            &rules,
            &names,
            &rec,
            LinkMode::Both,
            100,
            10,
            &sk,
            Some((&identity, &keys)),
        );
        assert_eq!(all(&reused), all(&fresh));
        // Records 0 and 2 paired with an earlier run whose keys put them together; the
        // others unpaired, their keys computed.
        let before = vec![1, u32::MAX, 0, u32::MAX, u32::MAX];
        let earlier = vec![vec![77, 77], vec![88, 88]];
        let b = Blocking::build_reusing(
            &rules,
            &names,
            &rec,
            LinkMode::Both,
            100,
            10,
            &sk,
            Some((&before, &earlier)),
        );
        for (r, keys) in earlier.iter().enumerate() {
            assert_eq!(b.key(r, 0), keys[1]);
            assert_eq!(b.key(r, 2), keys[0]);
            for i in [1, 3, 4] {
                assert_eq!(b.key(r, i), fresh.key(r, i));
            }
        }
        assert_eq!(all(&b).0, vec![(0, 2, 0)]);
    }

    #[test]
    fn link_modes_filter_pairs() {
        let rec = records(&[("a", 0), ("a", 0), ("a", 1)]);
        let rules = [rule(&["name"])];
        let names = vec!["n".to_string()];
        let sk = |i: usize| rec.field("name").unwrap().get(i).unwrap_or("");
        let (c, _, _) = candidates(&rules, &names, &rec, LinkMode::Dedupe, 100, 10, &sk);
        assert_eq!(pairs(&c), vec![(0, 1, 0)]);
        let (c, _, _) = candidates(&rules, &names, &rec, LinkMode::Link, 100, 10, &sk);
        assert_eq!(pairs(&c), vec![(0, 2, 0), (1, 2, 0)]);
    }

    #[test]
    fn oversized_blocks_are_capped_to_a_window() {
        let names_list: Vec<(String, u16)> =
            (0..10).map(|i| (format!("smith {i:02}"), 0)).collect();
        let refs: Vec<(&str, u16)> = names_list.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        let rec = records(&refs);
        let rules = [rule(&["first_token(name)"]), rule(&["exact(name)"])];
        let names = vec!["first".to_string(), "exact".to_string()];
        let sk = |i: usize| rec.field("name").unwrap().get(i).unwrap_or("");
        let (c, rep, _) = candidates(&rules, &names, &rec, LinkMode::Both, 4, 2, &sk);
        // 10 records, window 2: 9 + 8 = 17 pairs instead of 45.
        assert_eq!(c.len(), 17);
        assert_eq!(rep[0].capped_blocks, 1);
        assert_eq!(rep[0].pairs_skipped_by_cap, 45 - 17);
        assert!(pairs(&c).iter().all(|(a, b, _)| b - a <= 2));
    }

    #[test]
    fn large_blocks_are_split_into_chunks_without_losing_or_repeating_pairs() {
        // One block of 400 records (79,800 pairs), and one of 3,000 capped to a window
        // of 30 (89,535 pairs): both above a chunk's pairs, so each is split.
        for (n, max_block, window) in [(400usize, 1000, 10), (3000, 100, 30)] {
            let rec = records(&vec![("smith", 0); n]);
            let rules = [rule(&["exact(name)"])];
            let names = vec!["exact".to_string()];
            let sk = |i: usize| rec.field("name").unwrap().get(i).unwrap_or("");
            let b = Blocking::build(&rules, &names, &rec, LinkMode::Both, max_block, window, &sk);
            assert!(b.chunks() > 1, "{n} records: one chunk");
            let mut got = Vec::new();
            let mut per_chunk = Vec::new();
            for c in 0..b.chunks() {
                let before = got.len();
                b.for_each_pair(c, |x, y| got.push((x, y)));
                per_chunk.push((got.len() - before) as u64);
            }
            let span = if n > max_block { window } else { n };
            let want: Vec<(u32, u32)> = (0..n as u32)
                .flat_map(|i| (i + 1..(i + 1 + span as u32).min(n as u32)).map(move |j| (i, j)))
                .collect();
            assert_eq!(got, want, "{n} records: the pairs of the split block");
            assert!(per_chunk.iter().all(|&p| p <= 2 * CHUNK_PAIRS));
            assert_eq!(b.reports(&per_chunk)[0].pairs, want.len() as u64);
        }
    }
}
