//! String-similarity kernels for the hot loop: Jaro–Winkler, Levenshtein, Damerau–
//! Levenshtein and token-set Jaccard, on byte slices with stack buffers — no heap
//! allocation per pair for strings up to 64 bytes (longer or non-ASCII strings fall back
//! to `strsim`). Results are identical to `strsim` (tested), so the SQL UDFs and the
//! matcher agree.

const STACK: usize = 64;

/// Jaro–Winkler similarity, as `strsim::jaro_winkler` (prefix boost of up to 4
/// characters with factor 0.1, applied when the Jaro similarity exceeds 0.7).
#[inline]
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK {
        jaro_winkler_bytes(a.as_bytes(), b.as_bytes())
    } else {
        strsim::jaro_winkler(a, b)
    }
}

/// Jaro–Winkler on ASCII byte strings of at most 64 bytes.
#[inline]
pub fn jaro_winkler_bytes(a: &[u8], b: &[u8]) -> f64 {
    let sim = jaro_bytes(a, b);
    if sim > 0.7 {
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// Whether the Jaro–Winkler similarity of two ASCII strings is certainly below `t`,
/// judged from their lengths, shared characters and common prefix alone (no matching
/// window): Jaro ≤ (c/|a| + c/|b| + 1)/3 for c shared characters, and the Winkler boost
/// grows with Jaro. A cheap first test for blocked pairs with clearly different values;
/// `false` means "compute it".
#[inline]
pub fn jaro_winkler_below(a: &[u8], b: &[u8], t: f64) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la == 0 || lb == 0 || la > 127 || lb > 127 {
        return false;
    }
    let l1 = bag_l1(a, b);
    jaro_winkler_upper_below(a, b, (la + lb - l1) / 2, t)
}

/// Marks a [`signature`] as valid (ASCII, at most 64 bytes); the other 63 bits are the
/// character set.
pub const SIGNATURE_VALID: u64 = 1 << 63;

/// The bit of each ASCII byte in a [`signature`]: one per lowercase letter and digit,
/// the rest shared (a shared bit only makes the bound looser, never wrong).
const SIGNATURE_BIT: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        t[c] = match c as u8 {
            b'a'..=b'z' => c as u8 - b'a',
            b'A'..=b'Z' => c as u8 - b'A',
            b'0'..=b'9' => 26 + c as u8 - b'0',
            b' ' => 36,
            _ => 37 + (c % 26) as u8,
        };
        c += 1;
    }
    t
};

/// The set of characters of a string as bits (computed once per record), for
/// [`jaro_winkler_below_signature`]; 0 for strings the stack kernels do not take.
pub fn signature(s: &str) -> u64 {
    if !s.is_ascii() || s.len() > STACK {
        return 0;
    }
    s.bytes()
        .fold(SIGNATURE_VALID, |m, c| m | 1 << SIGNATURE_BIT[c as usize])
}

/// Whether the Jaro–Winkler similarity is certainly below `t`, from the lengths and the
/// precomputed [`signature`]s alone: a character of `a` that does not occur in `b` is
/// never shared, so `a` shares at most |a| − |chars of a not in b| characters. Two
/// popcounts per pair; settles most unrelated names before any pass over the bytes.
#[inline(always)]
pub fn jaro_winkler_below_signature(a: &[u8], b: &[u8], sa: u64, sb: u64, t: f64) -> bool {
    let (la, lb) = (a.len(), b.len());
    if sa & sb & SIGNATURE_VALID == 0 || la == 0 || lb == 0 {
        return false;
    }
    let only_a = (sa & !sb).count_ones() as usize;
    let only_b = (sb & !sa).count_ones() as usize;
    let common = la.saturating_sub(only_a).min(lb.saturating_sub(only_b));
    jaro_winkler_upper_below(a, b, common, t)
}

/// Whether the (Damerau-)Levenshtein distance of two strings is certainly above `max`,
/// from their valid [`signature`]s alone: every distinct character of `a` absent from `b`
/// needs its own substitution or deletion (an edit removes one occurrence; a
/// transposition removes none), and a bit set in `sa` but not in `sb` is such a
/// character (distinct bits, distinct characters), so the distance is at least either
/// popcount. Settles most unrelated dates and identifiers without building a bit table.
#[inline(always)]
pub fn edit_distance_above_signature(sa: u64, sb: u64, max: usize) -> bool {
    debug_assert!(sa & sb & SIGNATURE_VALID != 0);
    (sa & !sb).count_ones().max((sb & !sa).count_ones()) as usize > max
}

/// Whether Jaro–Winkler is certainly below `t` when `a` and `b` share at most `common`
/// characters: the Jaro similarity is then at most (c/|a| + c/|b| + 1)/3 (no
/// transpositions), raised by the Winkler prefix bonus. Compared as integer ratios,
/// without divisions (three dependent divisions were most of the cost of rejecting a
/// pair), with the same 1e-9 margin as the similarity itself.
#[inline(always)]
fn jaro_winkler_upper_below(a: &[u8], b: &[u8], common: usize, t: f64) -> bool {
    let t = t - 1e-9;
    if common == 0 {
        return 0.0 < t;
    }
    let (la, lb) = (a.len(), b.len());
    // Jaro bound = num / den.
    let num = common * (la + lb) + la * lb;
    let den = 3 * la * lb;
    if num >= den {
        return 1.0 < t;
    }
    if 10 * num <= 7 * den {
        // No prefix bonus at or below 0.7.
        return (num as f64) < t * den as f64;
    }
    let p = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    // j + 0.1·p·(1 − j) < t  ⇔  num·(10 − p) + p·den < 10·t·den
    ((num * (10 - p) + p * den) as f64) < 10.0 * t * den as f64
}

#[inline]
fn jaro_bytes(a: &[u8], b: &[u8]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    debug_assert!(la <= STACK && lb <= STACK);
    let range = (la.max(lb) / 2).saturating_sub(1);
    // Bit-parallel matching: for each character of `a`, the first unmatched position
    // of the same character of `b` within the window is the lowest set bit of
    // positions[c] & window & !matched_b — the same choice as the scan over the window.
    // Only the entries of characters that occur are initialised (clearing all 128 per
    // pair cost more than the matching itself on short names); only those are read.
    let mut positions = [std::mem::MaybeUninit::<u64>::uninit(); 128];
    for &c in a.iter().chain(b) {
        positions[(c & 127) as usize].write(0);
    }
    for (j, &c) in b.iter().enumerate() {
        // SAFETY: written just above for every character of `b`.
        unsafe { *positions[(c & 127) as usize].assume_init_mut() |= 1u64 << j };
    }
    let mut fa: u64 = 0;
    let mut fb: u64 = 0;
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(lb);
        if lo >= hi {
            continue;
        }
        let below_hi = if hi >= 64 { u64::MAX } else { (1u64 << hi) - 1 };
        let window = below_hi & !((1u64 << lo) - 1);
        // SAFETY: written above for every character of `a`.
        let free = unsafe { positions[(ca & 127) as usize].assume_init() } & window & !fb;
        if free != 0 {
            fa |= 1 << i;
            fb |= free & free.wrapping_neg();
            matches += 1;
        }
    }
    if matches == 0 {
        return 0.0;
    }
    // Transpositions: the k-th matched character of `a` against the k-th of `b`.
    let mut t = 0usize;
    let (mut x, mut y) = (fa, fb);
    while x != 0 {
        let (i, j) = (x.trailing_zeros() as usize, y.trailing_zeros() as usize);
        if a[i] != b[j] {
            t += 1;
        }
        x &= x - 1;
        y &= y - 1;
    }
    let t = t / 2;
    let m = matches as f64;
    (m / la as f64 + m / lb as f64 + (matches - t) as f64 / m) / 3.0
}

/// Levenshtein distance, as `strsim::levenshtein` (on characters).
#[inline]
pub fn levenshtein(a: &str, b: &str) -> usize {
    if a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK {
        bit_parallel_distance(a.as_bytes(), b.as_bytes(), false)
    } else {
        strsim::levenshtein(a, b)
    }
}

/// Levenshtein distance (`transpositions == false`, Myers 1999) or optimal string
/// alignment distance (`true`, Hyyrö 2003: Levenshtein plus transpositions of adjacent
/// characters, each substring edited once) of two ASCII strings of at most 64 bytes.
/// Bit i of the column state is row i of the matrix, so each byte of `b` costs a dozen
/// word operations instead of a row of cells.
#[inline]
fn bit_parallel_distance(a: &[u8], b: &[u8], transpositions: bool) -> usize {
    let m = a.len();
    debug_assert!(m <= STACK && b.len() <= STACK);
    if m == 0 {
        return b.len();
    }
    // Where each byte occurs in `a`; only the entries of bytes of `a` and `b` are
    // initialised, and only those are read (as in `jaro_bytes`).
    let mut peq = [std::mem::MaybeUninit::<u64>::uninit(); 128];
    for &c in a.iter().chain(b) {
        peq[(c & 127) as usize].write(0);
    }
    for (i, &c) in a.iter().enumerate() {
        // SAFETY: written just above for every byte of `a`.
        unsafe { *peq[(c & 127) as usize].assume_init_mut() |= 1u64 << i };
    }
    let last = 1u64 << (m - 1);
    let (mut vp, mut vn, mut d0, mut pm_prev) = (u64::MAX, 0u64, 0u64, 0u64);
    let mut dist = m as isize;
    for &c in b {
        // SAFETY: written above for every byte of `b`.
        let pm = unsafe { peq[(c & 127) as usize].assume_init() };
        let mut d = (((pm & vp).wrapping_add(vp)) ^ vp) | pm | vn;
        if transpositions {
            d |= ((!d0 & pm) << 1) & pm_prev;
        }
        let hp = vn | !(d | vp);
        let hn = d & vp;
        dist += isize::from(hp & last != 0) - isize::from(hn & last != 0);
        let (hp, hn) = ((hp << 1) | 1, hn << 1);
        vp = hn | !(d | hp);
        vn = hp & d;
        d0 = d;
        pm_prev = pm;
    }
    dist as usize
}

/// Damerau–Levenshtein distance (unrestricted: transpositions of non-adjacent edits
/// allowed), as `strsim::damerau_levenshtein`.
#[inline]
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    if a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK {
        damerau_bytes(a.as_bytes(), b.as_bytes(), usize::MAX)
    } else {
        strsim::damerau_levenshtein(a, b)
    }
}

/// Damerau–Levenshtein of ASCII strings; stops with `limit + 1` as soon as a whole row
/// of the matrix exceeds `limit` (a row's minimum never decreases: every cell is at least
/// the minimum of an earlier row plus the rows skipped since).
fn damerau_bytes(a: &[u8], b: &[u8], limit: usize) -> usize {
    let (la, lb) = (a.len(), b.len());
    if la == 0 {
        return lb;
    }
    if lb == 0 {
        return la;
    }
    // One scratch matrix per thread, reused: no allocation and no zeroing per pair.
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u16>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| -> usize {
        let mut d = cell.borrow_mut();
        let w = lb + 2;
        let need = (la + 2) * w;
        if d.len() < need {
            d.resize(need, 0);
        }
        let max = (la + lb) as u16;
        let mut last_row = [0u8; 128];
        d[0] = max;
        for i in 0..=la {
            d[(i + 1) * w] = max;
            d[(i + 1) * w + 1] = i as u16;
        }
        for j in 0..=lb {
            d[j + 1] = max;
            d[w + j + 1] = j as u16;
        }
        for i in 1..=la {
            let mut db = 0usize;
            let mut row_min = i as u16;
            for j in 1..=lb {
                let k = last_row[b[j - 1] as usize & 127] as usize;
                let l = db;
                let cost = if a[i - 1] == b[j - 1] {
                    db = j;
                    0
                } else {
                    1
                };
                let v = (d[i * w + j] + cost)
                    .min(d[(i + 1) * w + j] + 1)
                    .min(d[i * w + j + 1] + 1)
                    .min(d[k * w + l] + (i - k - 1) as u16 + 1 + (j - l - 1) as u16);
                d[(i + 1) * w + j + 1] = v;
                row_min = row_min.min(v);
            }
            if row_min as usize > limit {
                return limit + 1;
            }
            last_row[a[i - 1] as usize & 127] = i as u8;
        }
        d[(la + 1) * w + lb + 1] as usize
    })
}

/// Damerau–Levenshtein distance when it is at most `max`; otherwise some value above
/// `max` (strings whose lengths differ by more than `max` are not compared at all).
#[inline]
pub fn damerau_levenshtein_within(a: &str, b: &str, max: usize) -> usize {
    if a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK {
        return damerau_levenshtein_within_ascii(a.as_bytes(), b.as_bytes(), max);
    }
    if a.len().abs_diff(b.len()) > max * 4 || a.chars().count().abs_diff(b.chars().count()) > max {
        return max + 1;
    }
    strsim::damerau_levenshtein(a, b)
}

/// [`damerau_levenshtein_within`] of two ASCII strings of at most 64 bytes (the caller
/// knows; the comparison precomputes it per record).
#[inline]
pub fn damerau_levenshtein_within_ascii(a: &[u8], b: &[u8], max: usize) -> usize {
    debug_assert!(a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK);
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    // The optimal string alignment distance (OSA) settles almost every pair without
    // the matrix. DL ≤ OSA, and they agree up to 2 (DL is 0 or 1 exactly when OSA is).
    // Beyond, a DL script is adjacent-character operations, which OSA also has, plus
    // transpositions with g ≥ 1 characters inserted or deleted between the pair (DL
    // cost g + 1, Lowrance–Wagner), which OSA does in g + 2 (two substitutions around
    // the gap): so OSA ≤ DL + ⌊DL / 2⌋, and OSA > max + ⌊max / 2⌋ means DL > max.
    let osa = bit_parallel_distance(a, b, true);
    if osa <= 2 || osa > max + max / 2 || osa_settles_within(a.len(), b.len(), max) {
        return osa;
    }
    damerau_bytes(a, b, max)
}

/// Whether OSA > 2 already means DL > `max` for strings of these lengths: a DL script
/// of cost at most 2 that OSA cannot match is one gapped transposition (cost 1 plus one
/// insertion or deletion between the pair, Lowrance–Wagner) and nothing else, which
/// changes the length by exactly one. So for `max` ≤ 2 and lengths that differ by
/// anything but one (dates, identifiers, codes of a fixed width) the matrix is never
/// needed.
#[inline(always)]
fn osa_settles_within(la: usize, lb: usize, max: usize) -> bool {
    max <= 2 && la.abs_diff(lb) != 1
}

/// L1 distance of the byte counts of two strings of at most 127 bytes.
#[inline]
fn bag_l1(a: &[u8], b: &[u8]) -> usize {
    let mut counts = [0i8; 128];
    for &c in a {
        counts[(c & 127) as usize] += 1;
    }
    for &c in b {
        counts[(c & 127) as usize] -= 1;
    }
    // Sum over the characters that occur (each once: its count is cleared when read)
    // rather than over all 128 entries: names are much shorter than the alphabet.
    let mut l1 = 0usize;
    for &c in a.iter().chain(b) {
        let x = &mut counts[(c & 127) as usize];
        l1 += x.unsigned_abs() as usize;
        *x = 0;
    }
    l1
}

/// Levenshtein distance when it is at most `max`; otherwise some value above `max`.
#[inline]
pub fn levenshtein_within(a: &str, b: &str, max: usize) -> usize {
    if a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK {
        return levenshtein_within_ascii(a.as_bytes(), b.as_bytes(), max);
    }
    if a.len().abs_diff(b.len()) > max * 4 || a.chars().count().abs_diff(b.chars().count()) > max {
        return max + 1;
    }
    strsim::levenshtein(a, b)
}

/// [`levenshtein_within`] of two ASCII strings of at most 64 bytes.
#[inline]
pub fn levenshtein_within_ascii(a: &[u8], b: &[u8], max: usize) -> usize {
    debug_assert!(a.is_ascii() && b.is_ascii() && a.len() <= STACK && b.len() <= STACK);
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    bit_parallel_distance(a, b, false)
}

/// Whether the Jaro–Winkler similarity of two strings is at least `t`, with the cheap
/// upper bounds first for short ASCII strings (`sa`, `sb`: their [`signature`]s).
#[inline]
pub fn jaro_winkler_at_least(a: &str, b: &str, sa: u64, sb: u64, t: f64) -> bool {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if sa & sb & SIGNATURE_VALID != 0 {
        !jaro_winkler_below_signature(x, y, sa, sb, t)
            && !jaro_winkler_below(x, y, t)
            && jaro_winkler_bytes(x, y) >= t
    } else {
        jaro_winkler(a, b) >= t
    }
}

/// Jaccard similarity of two sorted, de-duplicated token-hash lists.
#[inline]
pub fn jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random strings of `lens.0..lens.1` bytes over `alphabet`.
    fn random_strings(
        seed: u64,
        alphabet: &[u8],
        count: usize,
        lens: (usize, usize),
    ) -> Vec<String> {
        let mut state = seed;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count)
            .map(|_| {
                let len = lens.0 + (next() % (lens.1 - lens.0) as u64) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                    .collect()
            })
            .collect()
    }

    /// Strings over a small alphabet (many near matches).
    fn strings() -> Vec<String> {
        random_strings(0x9E3779B97F4A7C15, b"abcde fgh", 300, (0, 14))
    }

    #[test]
    fn kernels_agree_with_strsim() {
        let s = strings();
        for a in &s {
            for b in s.iter().take(60) {
                assert!(
                    (jaro_winkler(a, b) - strsim::jaro_winkler(a, b)).abs() < 1e-12,
                    "{a:?} {b:?}"
                );
                assert_eq!(levenshtein(a, b), strsim::levenshtein(a, b), "{a:?} {b:?}");
                assert_eq!(
                    damerau_levenshtein(a, b),
                    strsim::damerau_levenshtein(a, b),
                    "{a:?} {b:?}"
                );
            }
        }
        // The bounded forms: exact up to `max`, above `max` beyond it.
        for a in &s {
            for b in s.iter().take(60) {
                let (dl, lev) = (strsim::damerau_levenshtein(a, b), strsim::levenshtein(a, b));
                let jw = strsim::jaro_winkler(a, b);
                for t in [0.5, 0.7, 0.8, 0.88, 0.9, 0.95, 1.0] {
                    if jaro_winkler_below(a.as_bytes(), b.as_bytes(), t) {
                        assert!(jw < t, "{a:?} {b:?} {jw} {t}");
                    }
                    let (sa, sb) = (signature(a), signature(b));
                    if jaro_winkler_below_signature(a.as_bytes(), b.as_bytes(), sa, sb, t) {
                        assert!(jw < t, "{a:?} {b:?} {jw} {t}");
                    }
                    assert_eq!(
                        jaro_winkler_at_least(a, b, sa, sb, t),
                        jw >= t,
                        "{a:?} {b:?} {t}"
                    );
                    assert_eq!(
                        jaro_winkler_at_least(a, b, 0, sb, t),
                        jw >= t,
                        "{a:?} {b:?} {t}"
                    );
                }
                for max in 0..5 {
                    let got = damerau_levenshtein_within(a, b, max);
                    assert_eq!(got.min(max + 1), dl.min(max + 1), "{a:?} {b:?} {max}");
                    let got = levenshtein_within(a, b, max);
                    assert_eq!(got.min(max + 1), lev.min(max + 1), "{a:?} {b:?} {max}");
                }
            }
        }
        for (a, b) in [
            ("ca", "abc"),
            ("martha", "marhta"),
            ("", "x"),
            ("dixon", "dicksonx"),
            ("a", "a"),
        ] {
            assert!((jaro_winkler(a, b) - strsim::jaro_winkler(a, b)).abs() < 1e-12);
            assert_eq!(damerau_levenshtein(a, b), strsim::damerau_levenshtein(a, b));
        }
        // Non-ASCII and long strings take the fallback and still agree.
        for (a, b) in [("acme", "acme corp"), ("abc", "abd"), ("", "")] {
            assert_eq!(
                damerau_levenshtein_within(a, b, 2).min(3),
                strsim::damerau_levenshtein(a, b).min(3)
            );
            assert_eq!(
                levenshtein_within(a, b, 2).min(3),
                strsim::levenshtein(a, b).min(3)
            );
        }
        // The stack kernels' limit (64 bytes) on both sides.
        let (x64, y64) = (
            "x".repeat(64),
            format!("{}{}", "y".repeat(32), "x".repeat(32)),
        );
        assert_eq!(levenshtein(&x64, &y64), strsim::levenshtein(&x64, &y64));
        assert_eq!(levenshtein(&x64, ""), 64);
        let z64: String = (0..64)
            .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
            .collect();
        let z63: String = z64.chars().rev().skip(1).collect();
        for (a, b) in [(&x64, &y64), (&z64, &z63), (&z64, &x64), (&z63, &z64)] {
            assert!((jaro_winkler(a, b) - strsim::jaro_winkler(a, b)).abs() < 1e-12);
        }
        assert_eq!(
            damerau_levenshtein(&x64, &y64),
            strsim::damerau_levenshtein(&x64, &y64)
        );
        let long = "x".repeat(100);
        assert_eq!(levenshtein(&long, "xx"), 98);
        // The bounded forms on both sides of the limit (65 bytes takes strsim).
        let (x65, x63) = ("x".repeat(65), "x".repeat(63));
        for (a, b) in [(&x64, &x63), (&x65, &x64), (&x65, &x63), (&z64, &z63)] {
            for max in [1, 2] {
                let dl = strsim::damerau_levenshtein(a, b).min(max + 1);
                assert_eq!(damerau_levenshtein_within(a, b, max).min(max + 1), dl);
                let lev = strsim::levenshtein(a, b).min(max + 1);
                assert_eq!(levenshtein_within(a, b, max).min(max + 1), lev);
            }
            let jw = strsim::jaro_winkler(a, b);
            let (sa, sb) = (signature(a), signature(b));
            assert_eq!(
                jaro_winkler_at_least(a, b, sa, sb, 0.9),
                jw >= 0.9,
                "{a:?} {b:?}"
            );
        }
        assert!(
            (jaro_winkler("müller", "muller") - strsim::jaro_winkler("müller", "muller")).abs()
                < 1e-12
        );
    }

    /// Every string of up to `max_len` bytes over `alphabet`.
    fn all_strings(alphabet: &[u8], max_len: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max_len {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |&c| format!("{s}{}", c as char)))
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    #[test]
    fn bit_parallel_distances_agree_with_strsim_on_every_short_string() {
        // Three letters make transpositions, repeats and transpositions across a gap
        // ("ca" → "abc": DL 2, OSA 3) common: every pair up to 5 letters, every limit
        // where the OSA shortcut and the matrix hand over.
        let s = all_strings(b"abc", 5);
        let mut matrix_needed = 0;
        for a in &s {
            for b in &s {
                let (x, y) = (a.as_bytes(), b.as_bytes());
                let lev = strsim::levenshtein(a, b);
                assert_eq!(bit_parallel_distance(x, y, false), lev, "{a:?} {b:?}");
                assert_eq!(levenshtein(a, b), lev, "{a:?} {b:?}");
                let osa = strsim::osa_distance(a, b);
                assert_eq!(bit_parallel_distance(x, y, true), osa, "{a:?} {b:?}");
                let dl = strsim::damerau_levenshtein(a, b);
                for max in 0..5 {
                    let got = damerau_levenshtein_within_ascii(x, y, max);
                    assert_eq!(got.min(max + 1), dl.min(max + 1), "{a:?} {b:?} {max}");
                    let got = levenshtein_within_ascii(x, y, max);
                    assert_eq!(got.min(max + 1), lev.min(max + 1), "{a:?} {b:?} {max}");
                    if osa > 2 && osa <= max + max / 2 && !osa_settles_within(x.len(), y.len(), max)
                    {
                        matrix_needed += 1;
                    }
                }
            }
        }
        assert!(
            matrix_needed > 1000,
            "the matrix path is exercised: {matrix_needed}"
        );
    }

    #[test]
    fn signature_bound_is_an_upper_bound() {
        // A wide alphabet where signature bits are shared ('A'/'a', punctuation).
        let s = random_strings(0x2545F4914F6CDD1D, b"aAbBcdeEmnrstz019 -.'&", 400, (1, 13));
        let mut rejected = 0;
        for a in &s {
            for b in s.iter().take(100) {
                let jw = strsim::jaro_winkler(a, b);
                let (sa, sb) = (signature(a), signature(b));
                for t in [0.6, 0.8, 0.9] {
                    if jaro_winkler_below_signature(a.as_bytes(), b.as_bytes(), sa, sb, t) {
                        assert!(jw < t, "{a:?} {b:?} {jw} {t}");
                        rejected += 1;
                    }
                    assert_eq!(jaro_winkler_at_least(a, b, sa, sb, t), jw >= t);
                }
            }
        }
        assert!(
            rejected > 10_000,
            "the bound settles most unrelated pairs: {rejected}"
        );
        assert_eq!(signature("müller"), 0, "non-ASCII: no signature");
        assert_eq!(signature(&"x".repeat(65)), 0);
        assert_ne!(signature(&"x".repeat(64)), 0);
    }

    #[test]
    fn signature_bound_on_edit_distance_is_a_lower_bound() {
        // Digits (dates, identifiers) and a wide alphabet where signature bits collide.
        let mut s = random_strings(0x9E3779B97F4A7C15, b"0123456789", 300, (6, 9));
        s.extend(random_strings(
            0x2545F4914F6CDD1D,
            b"aAbBcdeEmnrstz019 -.'&",
            300,
            (1, 13),
        ));
        let mut rejected = 0;
        for a in &s {
            for b in s.iter().step_by(3) {
                let (sa, sb) = (signature(a), signature(b));
                let lev = strsim::levenshtein(a, b);
                let dl = strsim::damerau_levenshtein(a, b);
                for max in 0..4 {
                    if edit_distance_above_signature(sa, sb, max) {
                        assert!(dl > max && lev > max, "{a:?} {b:?} {dl} {max}");
                        rejected += 1;
                    }
                }
            }
        }
        assert!(
            rejected > 50_000,
            "the bound settles unrelated pairs: {rejected}"
        );
    }

    #[test]
    fn jaccard() {
        assert_eq!(jaccard_sorted(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard_sorted(&[], &[]), 1.0);
        assert_eq!(jaccard_sorted(&[1], &[]), 0.0);
    }
}
