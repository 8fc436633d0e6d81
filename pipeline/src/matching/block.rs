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
//! Rules run one after another; the blocks of a rule are compared in parallel. The
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
    let exprs: Vec<KeyExpr> = rule
        .keys
        .iter()
        .map(|k| KeyExpr::parse(k).expect("validated"))
        .collect();
    let cols: Vec<_> = exprs.iter().map(|e| records.field(&e.field)).collect();
    (0..records.len())
        .into_par_iter()
        .map(|i| {
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

/// Generates the candidate pairs of all rules.
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
    let n = records.len();
    let mut keys: Vec<Vec<u64>> = Vec::with_capacity(rules.len());
    // Position within a capped block (u32::MAX when the record's block is not capped).
    let mut positions: Vec<Vec<u32>> = Vec::with_capacity(rules.len());
    let mut out = Candidates::default();
    let mut reports = Vec::new();
    let src = &records.source;
    for (r, rule) in rules.iter().enumerate() {
        let k = key_hashes(rule, records);
        let mut order: Vec<u32> = (0..n as u32).filter(|&i| k[i as usize] != 0).collect();
        order.par_sort_unstable_by_key(|&i| (k[i as usize], i));
        let mut bounds = Vec::new();
        let mut start = 0;
        for i in 1..=order.len() {
            if i == order.len() || k[order[i] as usize] != k[order[start] as usize] {
                if i - start >= 2 {
                    bounds.push((start, i));
                }
                start = i;
            }
        }
        // Capped blocks: sorted-neighbourhood order.
        let mut pos = vec![u32::MAX; n];
        let capped: Vec<(usize, Vec<u32>)> = bounds
            .par_iter()
            .enumerate()
            .filter(|(_, (s, e))| e - s > max_block)
            .map(|(bi, (s, e))| {
                let mut m: Vec<u32> = order[*s..*e].to_vec();
                m.sort_by(|&x, &y| {
                    sort_key(x as usize)
                        .cmp(sort_key(y as usize))
                        .then(x.cmp(&y))
                });
                (bi, m)
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
        let mut capped_members: std::collections::HashMap<usize, Vec<u32>> =
            std::collections::HashMap::new();
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
        keys.push(k);
        positions.push(pos);
        let keys_ref = &keys;
        let pos_ref = &positions;
        let covered_earlier = |x: u32, y: u32| -> bool {
            for e in 0..r {
                let kx = keys_ref[e][x as usize];
                if kx != 0 && kx == keys_ref[e][y as usize] {
                    let (px, py) = (pos_ref[e][x as usize], pos_ref[e][y as usize]);
                    if px == u32::MAX || px.abs_diff(py) as usize <= window {
                        return true;
                    }
                }
            }
            false
        };
        let wanted = |x: u32, y: u32| -> bool {
            match mode {
                LinkMode::Both => true,
                LinkMode::Dedupe => src[x as usize] == src[y as usize],
                LinkMode::Link => src[x as usize] != src[y as usize],
            }
        };
        let chunks: Vec<Vec<(u32, u32)>> = bounds
            .par_chunks(256)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut local = Vec::new();
                for (off, (s, e)) in chunk.iter().enumerate() {
                    let bi = ci * 256 + off;
                    let push = |x: u32, y: u32, local: &mut Vec<(u32, u32)>| {
                        let (x, y) = if x < y { (x, y) } else { (y, x) };
                        if wanted(x, y) && !covered_earlier(x, y) {
                            local.push((x, y));
                        }
                    };
                    if let Some(m) = capped_members.get(&bi) {
                        for i in 0..m.len() {
                            for j in i + 1..(i + 1 + window).min(m.len()) {
                                push(m[i], m[j], &mut local);
                            }
                        }
                    } else {
                        let m = &order[*s..*e];
                        for i in 0..m.len() {
                            for j in i + 1..m.len() {
                                push(m[i], m[j], &mut local);
                            }
                        }
                    }
                }
                local
            })
            .collect();
        for c in chunks {
            report.pairs += c.len() as u64;
            for (x, y) in c {
                out.a.push(x);
                out.b.push(y);
                out.rule.push(r as u8);
            }
        }
        tracing::info!(rule = %names[r], pairs = report.pairs, blocks = report.blocks, "blocking rule");
        reports.push(report);
    }
    (out, reports, keys)
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
}
