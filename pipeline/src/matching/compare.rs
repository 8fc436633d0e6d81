//! Standardisation and comparison: each `[[entity.comparison]]` becomes a [`Comparison`]
//! holding the standardised value of every record (plus hashes, token lists, numbers and
//! term frequencies as the method needs), so comparing a pair is a few slice reads and a
//! kernel call, returning a small integer level.

use super::kernels;
use super::records::{Records, StrColumn};
use super::spec::{ComparisonSpec, Method, Standardize};
use crate::normalize;

/// Level of a pair where either value is missing (neutral in the model).
pub const NULL_LEVEL: u8 = 15;

#[inline]
pub fn hash_str(s: &str) -> u64 {
    hash_bytes(s.as_bytes())
}

/// [`hash_str`] of bytes.
pub fn hash_bytes(b: &[u8]) -> u64 {
    // Never 0, which marks "no value".
    xxhash_rust::xxh3::xxh3_64(b) | 1
}

/// One prepared comparison.
pub struct Comparison {
    pub spec: ComparisonSpec,
    pub method: Method,
    pub thresholds: Vec<f64>,
    /// Largest distance threshold (edit-distance methods): beyond it only "else" matters.
    max_distance: usize,
    /// Lowest similarity threshold (Jaro–Winkler): below it only "else" matters.
    min_similarity: f64,
    /// Number of non-null levels (exact … else).
    pub levels: usize,
    pub labels: Vec<String>,
    values: StrColumn,
    hash: Vec<u64>,
    tokens: Vec<u64>,
    token_offsets: Vec<u32>,
    numbers: Vec<f64>,
    aux: Vec<u64>,
    aux2: Vec<u64>,
    /// Relative frequency of each record's value among non-null values (tf_adjust).
    tf: Vec<f32>,
    /// Standardised values of the `swap_with` field.
    swap: Option<StrColumn>,
    /// Character-set signatures of `values` and `swap` (Jaro–Winkler, email and the
    /// edit-distance methods); a valid signature also marks an ASCII value of at most 64
    /// bytes, which the stack kernels take.
    sig: Vec<u64>,
    swap_sig: Vec<u64>,
}

/// Whether [`standardize`] of `kind` reads the record's country (only phone numbers
/// do): otherwise equal raw values standardise equally whatever the countries.
pub fn standardize_uses_country(kind: Standardize) -> bool {
    matches!(kind, Standardize::Phone)
}

/// Standardises one raw value.
pub fn standardize(
    kind: Standardize,
    raw: &str,
    country: Option<&str>,
    date_formats: &[String],
) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let out = match kind {
        Standardize::None => s.to_string(),
        Standardize::Text | Standardize::PersonName => normalize::fold(s),
        Standardize::CompanyName => normalize::company_name(s),
        Standardize::Address => normalize::address(s),
        Standardize::Email => s.to_lowercase(),
        Standardize::Phone => normalize::phone(s, country)?,
        Standardize::Postcode => normalize::postcode(s),
        Standardize::Sku => normalize::sku(s),
        Standardize::Digits => s.chars().filter(char::is_ascii_digit).collect(),
        Standardize::Country => normalize::country(s).unwrap_or_else(|| normalize::fold(s)),
        Standardize::Date => {
            let d = parse_date(s, date_formats)?;
            d.format("%Y-%m-%d").to_string()
        }
        Standardize::Number => {
            let x: f64 = s.replace(',', "").parse().ok()?;
            if !x.is_finite() {
                return None;
            }
            format!("{x}")
        }
    };
    if out.is_empty() { None } else { Some(out) }
}

fn parse_date(s: &str, formats: &[String]) -> Option<chrono::NaiveDate> {
    use chrono::NaiveDate;
    for f in formats {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d);
        }
    }
    let head = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%m/%d/%Y").ok())
}

impl Comparison {
    /// Standardises the comparison's fields for every record.
    pub fn prepare(spec: &ComparisonSpec, records: &Records, country_field: &str) -> Comparison {
        let n = records.len();
        let kind = spec.standardize();
        let fields: Vec<&StrColumn> = spec
            .fields()
            .iter()
            .filter_map(|f| records.field(f))
            .collect();
        let country = records.field(country_field);
        let standardized = |fields: &[&StrColumn]| {
            let mut values = StrColumn::with_capacity(n);
            let mut parts: Vec<String> = Vec::new();
            for i in 0..n {
                parts.clear();
                let c = country.and_then(|c| c.get(i));
                for f in fields {
                    if let Some(raw) = f.get(i)
                        && let Some(v) = standardize(kind, raw, c, &spec.date_formats)
                    {
                        parts.push(v);
                    }
                }
                if parts.is_empty() {
                    values.push(None);
                } else {
                    values.push(Some(&parts.join(" ")));
                }
            }
            values
        };
        let mut c = Self::from_values(spec, standardized(&fields));
        if let Some(other) = spec.swap_with.as_deref().and_then(|f| records.field(f)) {
            c.set_swap(standardized(&[other]));
        }
        c
    }

    /// Sets the standardised values of the `swap_with` field.
    pub fn set_swap(&mut self, values: StrColumn) {
        if !self.sig.is_empty() {
            self.swap_sig = (0..values.len())
                .map(|i| values.get(i).map_or(0, kernels::signature))
                .collect();
        }
        self.swap = Some(values);
    }

    /// Whether this field of one record resembles the `swap_with` field of the other.
    fn swapped(&self, a: usize, b: usize) -> bool {
        let Some(sw) = &self.swap else { return false };
        let t = self.thresholds.first().copied();
        let sig = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        let similar = |x: Option<&str>, sx: u64, y: Option<&str>, sy: u64| match (x, y) {
            (Some(x), Some(y)) => match self.method {
                Method::JaroWinkler => {
                    kernels::jaro_winkler_at_least(x, y, sx, sy, t.unwrap_or(1.0))
                }
                Method::Levenshtein => {
                    let t = t.unwrap_or(0.0) as usize;
                    kernels::levenshtein_within(x, y, t) <= t
                }
                Method::DamerauLevenshtein => {
                    let t = t.unwrap_or(0.0) as usize;
                    kernels::damerau_levenshtein_within(x, y, t) <= t
                }
                _ => x == y,
            },
            _ => false,
        };
        similar(
            self.values.get(a),
            sig(&self.sig, a),
            sw.get(b),
            sig(&self.swap_sig, b),
        ) || similar(
            sw.get(a),
            sig(&self.swap_sig, a),
            self.values.get(b),
            sig(&self.sig, b),
        )
    }

    /// Builds the comparison over already standardised values.
    pub fn from_values(spec: &ComparisonSpec, values: StrColumn) -> Comparison {
        let n = values.len();
        let labels = spec.level_labels();
        let mut c = Comparison {
            spec: spec.clone(),
            method: spec.method,
            thresholds: spec.effective_thresholds(),
            max_distance: spec
                .effective_thresholds()
                .iter()
                .fold(0.0f64, |a, b| a.max(*b))
                .ceil() as usize,
            min_similarity: spec.effective_thresholds().into_iter().fold(1.0, f64::min),
            levels: labels.len(),
            labels,
            hash: Vec::with_capacity(n),
            tokens: Vec::new(),
            token_offsets: Vec::new(),
            numbers: Vec::new(),
            aux: Vec::new(),
            aux2: Vec::new(),
            tf: Vec::new(),
            swap: None,
            sig: Vec::new(),
            swap_sig: Vec::new(),
            values,
        };
        for i in 0..n {
            let v = c.values.get(i);
            c.hash.push(v.map(hash_str).unwrap_or(0));
        }
        if matches!(
            c.method,
            Method::JaroWinkler | Method::Email | Method::Levenshtein | Method::DamerauLevenshtein
        ) {
            c.sig = (0..n)
                .map(|i| c.values.get(i).map_or(0, kernels::signature))
                .collect();
        }
        match c.method {
            Method::Jaccard => {
                c.token_offsets.push(0);
                let mut buf: Vec<u64> = Vec::new();
                for i in 0..n {
                    buf.clear();
                    if let Some(v) = c.values.get(i) {
                        buf.extend(v.split_whitespace().map(hash_str));
                        buf.sort_unstable();
                        buf.dedup();
                    }
                    c.tokens.extend_from_slice(&buf);
                    c.token_offsets.push(c.tokens.len() as u32);
                }
            }
            Method::Numeric => {
                c.numbers = (0..n)
                    .map(|i| {
                        c.values
                            .get(i)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
            }
            Method::Date => {
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
                c.numbers = (0..n)
                    .map(|i| {
                        c.values
                            .get(i)
                            .and_then(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
                            .map(|d| (d - epoch).num_days() as f64)
                            .unwrap_or(f64::NAN)
                    })
                    .collect();
            }
            Method::Email => {
                for i in 0..n {
                    let (l, d) = match c.values.get(i).and_then(|v| v.rsplit_once('@')) {
                        Some((l, d)) if !l.is_empty() && !d.is_empty() => {
                            (hash_str(l), hash_str(d))
                        }
                        _ => (0, 0),
                    };
                    c.aux.push(l);
                    c.aux2.push(d);
                }
            }
            Method::Phone => {
                for i in 0..n {
                    let h = c.values.get(i).map(|v| {
                        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
                        let tail = &digits[digits.len().saturating_sub(7)..];
                        if tail.len() == 7 { hash_str(tail) } else { 0 }
                    });
                    c.aux.push(h.unwrap_or(0));
                }
            }
            _ => {}
        }
        if spec.tf_adjust {
            let mut counts: crate::util::FastMap<u64, u32> = Default::default();
            let mut total = 0u32;
            for &h in &c.hash {
                if h != 0 {
                    *counts.entry(h).or_default() += 1;
                    total += 1;
                }
            }
            c.tf = c
                .hash
                .iter()
                .map(|h| {
                    if *h == 0 || total == 0 {
                        0.0
                    } else {
                        counts[h] as f32 / total as f32
                    }
                })
                .collect();
        }
        c
    }

    /// The standardised value of record `i`.
    #[inline]
    pub fn value(&self, i: usize) -> Option<&str> {
        self.values.get(i)
    }

    #[inline]
    pub fn has_value(&self, i: usize) -> bool {
        self.hash[i] != 0
    }

    #[inline]
    pub fn value_hash(&self, i: usize) -> u64 {
        self.hash[i]
    }

    /// Term frequency of record `i`'s value (0 without tf_adjust).
    #[inline]
    pub fn tf(&self, i: usize) -> f32 {
        self.tf.get(i).copied().unwrap_or(0.0)
    }

    /// The comparison level of a pair: 0 = exact, then the method's levels, last = else;
    /// [`NULL_LEVEL`] when either value is missing.
    #[inline]
    pub fn level(&self, a: usize, b: usize) -> u8 {
        let l = self.method_level(a, b);
        // With `swap_with` the level above "else" is "swapped".
        if self.swap.is_some() && l as usize == self.levels - 1 && self.swapped(a, b) {
            return (self.levels - 2) as u8;
        }
        l
    }

    /// The level by the method alone (never "swapped").
    #[inline]
    fn method_level(&self, a: usize, b: usize) -> u8 {
        let (ha, hb) = (self.hash[a], self.hash[b]);
        if ha == 0 || hb == 0 {
            return NULL_LEVEL;
        }
        let (va, vb) = (self.values.str_at(a), self.values.str_at(b));
        if ha == hb && va == vb {
            return 0;
        }
        let last = (self.levels - 1) as u8;
        match self.method {
            Method::Exact => last,
            Method::JaroWinkler => {
                let lowest = self.min_similarity;
                let (sa, sb) = (self.sig[a], self.sig[b]);
                // Valid signatures mark ASCII values of at most 64 bytes, as `ascii`.
                let s = if sa & sb & kernels::SIGNATURE_VALID != 0 {
                    let (x, y) = (va.as_bytes(), vb.as_bytes());
                    if kernels::jaro_winkler_below_signature(x, y, sa, sb, lowest)
                        || kernels::jaro_winkler_below(x, y, lowest)
                    {
                        return last;
                    }
                    kernels::jaro_winkler_bytes(va.as_bytes(), vb.as_bytes())
                } else {
                    kernels::jaro_winkler(va, vb)
                };
                self.first_at_least(s)
            }
            Method::Levenshtein | Method::DamerauLevenshtein => {
                let (sa, sb) = (self.sig[a], self.sig[b]);
                let max = self.max_distance;
                let d = if sa & sb & kernels::SIGNATURE_VALID != 0 {
                    let (x, y) = (va.as_bytes(), vb.as_bytes());
                    if kernels::edit_distance_above_signature(sa, sb, max) {
                        return last;
                    }
                    if self.method == Method::Levenshtein {
                        kernels::levenshtein_within_ascii(x, y, max)
                    } else {
                        kernels::damerau_levenshtein_within_ascii(x, y, max)
                    }
                } else if self.method == Method::Levenshtein {
                    kernels::levenshtein_within(va, vb, max)
                } else {
                    kernels::damerau_levenshtein_within(va, vb, max)
                };
                self.first_at_most(d as f64)
            }
            Method::Jaccard => {
                let ta = &self.tokens
                    [self.token_offsets[a] as usize..self.token_offsets[a + 1] as usize];
                let tb = &self.tokens
                    [self.token_offsets[b] as usize..self.token_offsets[b + 1] as usize];
                self.first_at_least(kernels::jaccard_sorted(ta, tb))
            }
            Method::Numeric | Method::Date => {
                let (x, y) = (self.numbers[a], self.numbers[b]);
                if x.is_nan() || y.is_nan() {
                    return NULL_LEVEL;
                }
                let d = (x - y).abs();
                if d == 0.0 { 0 } else { self.first_at_most(d) }
            }
            Method::Email => {
                if self.aux[a] != 0 && self.aux[a] == self.aux[b] {
                    return 1;
                }
                let t = self.thresholds[0];
                let similar = kernels::jaro_winkler_at_least(va, vb, self.sig[a], self.sig[b], t);
                if similar {
                    return 2;
                }
                if self.aux2[a] != 0 && self.aux2[a] == self.aux2[b] {
                    return 3;
                }
                4
            }
            Method::Phone => {
                if self.aux[a] != 0 && self.aux[a] == self.aux[b] {
                    1
                } else {
                    2
                }
            }
        }
    }

    #[inline]
    fn first_at_least(&self, s: f64) -> u8 {
        for (k, t) in self.thresholds.iter().enumerate() {
            if s >= *t {
                return (k + 1) as u8;
            }
        }
        (self.levels - 1) as u8
    }

    #[inline]
    fn first_at_most(&self, d: f64) -> u8 {
        for (k, t) in self.thresholds.iter().enumerate() {
            if d <= *t {
                return (k + 1) as u8;
            }
        }
        (self.levels - 1) as u8
    }

    pub fn label(&self, level: u8) -> &str {
        if level == NULL_LEVEL {
            "null"
        } else {
            &self.labels[level as usize]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `standardize_uses_country` is what golden records rely on to compare equal raw
    /// values without standardising them: every other kind gives the same value in
    /// every country.
    #[test]
    fn only_the_kinds_said_to_read_the_country_depend_on_it() {
        use Standardize::*;
        // Every kind, in an exhaustive match: adding a kind without listing it here
        // stops this test from compiling, so the check cannot silently skip it.
        fn after(k: Standardize) -> Option<Standardize> {
            Some(match k {
                None => Text,
                Text => CompanyName,
                CompanyName => PersonName,
                PersonName => Address,
                Address => Email,
                Email => Phone,
                Phone => Postcode,
                Postcode => Sku,
                Sku => Digits,
                Digits => Country,
                Country => Date,
                Date => Number,
                Number => return Option::None,
            })
        }
        let kinds: Vec<Standardize> = std::iter::successors(Some(None), |&k| after(k)).collect();
        assert_eq!(kinds.len(), 13);
        let values = [
            "020 7946 0000",
            "(555) 010-9999 ext 4",
            "+49 30 1234567",
            "Acme Widgets GmbH",
            "12 High St, Apt 4",
            "Ann.Lee@Example.COM",
            "sw1a 1aa",
            "2024-03-05",
            "1,234.50",
            "uk",
        ];
        let countries = [Option::None, Some("US"), Some("GB"), Some("DE"), Some("xx")];
        let dates = ["%Y-%m-%d".to_string()];
        for kind in kinds {
            let depends = values.iter().any(|v| {
                let first = standardize(kind, v, countries[0], &dates);
                countries[1..]
                    .iter()
                    .any(|&c| standardize(kind, v, c, &dates) != first)
            });
            assert_eq!(depends, standardize_uses_country(kind), "{kind:?}");
        }
    }

    fn spec(method: &str, thresholds: &[f64]) -> ComparisonSpec {
        let t: Vec<String> = thresholds.iter().map(|x| x.to_string()).collect();
        toml::from_str(&format!(
            "name = \"x\"\nfield = \"x\"\nmethod = \"{method}\"\nthresholds = [{}]",
            t.join(", ")
        ))
        .unwrap()
    }

    fn cmp(method: &str, thresholds: &[f64], values: &[Option<&str>]) -> Comparison {
        let mut col = StrColumn::with_capacity(values.len());
        for v in values {
            col.push(*v);
        }
        Comparison::from_values(&spec(method, thresholds), col)
    }

    #[test]
    fn jaro_winkler_levels_and_boundaries() {
        // jw("martha","marhta") = 0.9611
        let c = cmp(
            "jaro_winkler",
            &[0.9611, 0.8],
            &[
                Some("martha"),
                Some("marhta"),
                Some("xyz"),
                None,
                Some("martha"),
            ],
        );
        assert_eq!(
            c.labels,
            ["exact", "jaro_winkler>=0.9611", "jaro_winkler>=0.8", "else"]
        );
        assert_eq!(c.level(0, 4), 0);
        assert_eq!(c.level(0, 1), 1, "0.96111 >= 0.9611");
        assert_eq!(c.level(0, 2), 3);
        assert_eq!(c.level(0, 3), NULL_LEVEL);
    }

    #[test]
    fn boundary_is_inclusive() {
        let s = kernels::jaro_winkler("martha", "marhta");
        let c = cmp("jaro_winkler", &[s, 0.5], &[Some("martha"), Some("marhta")]);
        assert_eq!(
            c.level(0, 1),
            1,
            "a similarity equal to the threshold reaches the level"
        );
        let c = cmp(
            "jaro_winkler",
            &[s + 1e-9, 0.5],
            &[Some("martha"), Some("marhta")],
        );
        assert_eq!(c.level(0, 1), 2);
    }

    #[test]
    fn swapped_fields_get_their_own_level() {
        let mut first = StrColumn::with_capacity(3);
        let mut last = StrColumn::with_capacity(3);
        for (f, l) in [("oscar", "moore"), ("moore", "oscra"), ("ann", "lee")] {
            first.push(Some(f));
            last.push(Some(l));
        }
        let mut s = spec("jaro_winkler", &[0.92, 0.8]);
        s.swap_with = Some("last".into());
        let mut c = Comparison::from_values(&s, first);
        c.set_swap(last);
        assert_eq!(
            c.labels,
            [
                "exact",
                "jaro_winkler>=0.92",
                "jaro_winkler>=0.8",
                "swapped_with_last",
                "else"
            ]
        );
        assert_eq!(c.level(0, 1), 3, "oscar/moore vs moore/oscra");
        assert_eq!(c.level(1, 0), 3);
        assert_eq!(c.level(0, 2), 4, "no resemblance either way");
        assert_eq!(c.level(0, 0), 0);
    }

    #[test]
    fn null_is_its_own_level() {
        let c = cmp("exact", &[], &[Some("a"), None, Some("b")]);
        assert_eq!(c.level(0, 1), NULL_LEVEL);
        assert_eq!(c.level(1, 1), NULL_LEVEL);
        assert_eq!(c.level(0, 2), 1);
        assert_eq!(c.label(NULL_LEVEL), "null");
    }

    #[test]
    fn edit_distance_levels() {
        let c = cmp(
            "damerau_levenshtein",
            &[1.0, 2.0],
            &[Some("acme"), Some("amce"), Some("acmxy"), Some("zzzz")],
        );
        assert_eq!(c.level(0, 1), 1, "a transposition is one edit");
        assert_eq!(c.level(0, 2), 2);
        assert_eq!(c.level(0, 3), 3);
        let c = cmp("levenshtein", &[1.0, 2.0], &[Some("acme"), Some("amce")]);
        assert_eq!(
            c.level(0, 1),
            2,
            "plain Levenshtein counts a transposition as two"
        );
    }

    #[test]
    fn jaccard_levels() {
        let c = cmp(
            "jaccard",
            &[0.6, 0.3],
            &[
                Some("dunder mifflin paper"),
                Some("mifflin dunder paper"),
                Some("dunder mifflin"),
                Some("paper co"),
            ],
        );
        assert_eq!(c.level(0, 1), 1, "token order does not matter");
        assert_eq!(c.level(0, 2), 1, "2 of 3 tokens = 0.67");
        assert_eq!(c.level(0, 3), 3, "1 of 4 tokens = 0.25 < 0.3 is else");
    }

    #[test]
    fn numeric_and_date_levels() {
        let c = cmp(
            "numeric",
            &[1.0, 10.0],
            &[
                Some("100"),
                Some("100.5"),
                Some("109"),
                Some("200"),
                Some("x"),
            ],
        );
        assert_eq!(c.level(0, 1), 1);
        assert_eq!(c.level(0, 2), 2);
        assert_eq!(c.level(0, 3), 3);
        assert_eq!(c.level(0, 4), NULL_LEVEL, "unparseable numbers are missing");
        let mut col = StrColumn::with_capacity(3);
        for v in ["1956-04-09", "1956-04-19", "1957-04-09"] {
            col.push(Some(v));
        }
        let c = Comparison::from_values(&spec("date", &[31.0, 366.0]), col);
        assert_eq!(c.level(0, 1), 1);
        assert_eq!(c.level(0, 2), 2);
    }

    #[test]
    fn email_levels() {
        let c = cmp(
            "email",
            &[],
            &[
                Some("ap@acme.com"),
                Some("ap@acme.co"),
                Some("ap@acme.con"),
                Some("finance@acme.com"),
                Some("zz@other.org"),
                Some("ap@x.org"),
            ],
        );
        assert_eq!(
            c.labels,
            [
                "exact",
                "same_local_part",
                "jaro_winkler>=0.88",
                "same_domain",
                "else"
            ]
        );
        assert_eq!(c.level(0, 1), 1);
        assert_eq!(c.level(0, 3), 3);
        assert_eq!(c.level(0, 4), 4);
        assert_eq!(c.level(1, 2), 1);
    }

    #[test]
    fn phone_levels_and_standardisation() {
        let us = standardize(Standardize::Phone, "(217) 555-0100", Some("US"), &[]).unwrap();
        let intl = standardize(Standardize::Phone, "+1 217 555 0100", None, &[]).unwrap();
        let other_area = standardize(Standardize::Phone, "+1 312 555 0100", None, &[]).unwrap();
        let c = cmp(
            "phone",
            &[],
            &[
                Some(&us),
                Some(&intl),
                Some(&other_area),
                Some("+12125550199"),
            ],
        );
        assert_eq!(c.level(0, 1), 0);
        assert_eq!(c.level(0, 2), 1);
        assert_eq!(c.level(0, 3), 2);
    }

    #[test]
    fn standardisers() {
        assert_eq!(
            standardize(Standardize::CompanyName, " ACME Corp. ", None, &[]).as_deref(),
            Some("acme")
        );
        assert_eq!(
            standardize(Standardize::Date, "19560409", None, &[]).as_deref(),
            Some("1956-04-09")
        );
        assert_eq!(
            standardize(Standardize::Date, "2020-01-02T03:04:05Z", None, &[]).as_deref(),
            Some("2020-01-02")
        );
        assert_eq!(
            standardize(Standardize::Number, "1,000.50", None, &[]).as_deref(),
            Some("1000.5")
        );
        assert_eq!(standardize(Standardize::Text, "   ", None, &[]), None);
        assert_eq!(
            standardize(Standardize::Country, "USA", None, &[]).as_deref(),
            Some("US")
        );
    }

    #[test]
    fn term_frequencies() {
        let mut s = spec("exact", &[]);
        s.tf_adjust = true;
        let mut col = StrColumn::with_capacity(5);
        for v in [
            Some("smith"),
            Some("smith"),
            Some("smith"),
            Some("zed"),
            None,
        ] {
            col.push(v);
        }
        let c = Comparison::from_values(&s, col);
        assert!((c.tf(0) - 0.75).abs() < 1e-6);
        assert!((c.tf(3) - 0.25).abs() < 1e-6);
        assert_eq!(c.tf(4), 0.0);
    }
}
