//! `[[entity]]`: what to match and how, as written in `recon.toml`, and its validation.

use serde::Deserialize;

/// Whether to find duplicates within sources, links across them, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    Dedupe,
    Link,
    #[default]
    Both,
}

/// `[[entity]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityConfig {
    /// The entity name (matches `[[source]] entity`).
    pub name: String,
    /// Sources taking part; default: every source of this entity.
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub link: LinkMode,
    /// Pairs at or above this probability are matches (clustered).
    #[serde(default = "default_match")]
    pub match_probability: f64,
    /// Pairs at or above this probability but below `match_probability` go to review.
    #[serde(default = "default_review")]
    pub review_probability: f64,
    /// Blocks with more records are compared only within a sliding window.
    #[serde(default = "default_max_block")]
    pub max_block_size: usize,
    /// Window used in oversized blocks (records sorted by the first comparison).
    #[serde(default = "default_window")]
    pub block_window: usize,
    /// No cluster grows beyond this many records.
    #[serde(default = "default_max_cluster")]
    pub max_cluster_size: usize,
    /// Random record pairs sampled to estimate u probabilities.
    #[serde(default = "default_u_sample")]
    pub u_sample_pairs: usize,
    #[serde(default = "default_em_iterations")]
    pub em_max_iterations: usize,
    /// Seed of every random choice (u sampling).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Column holding the country, used to place national phone numbers.
    #[serde(default = "default_country_field")]
    pub country_field: String,
    #[serde(default, rename = "blocking")]
    pub blocking: Vec<BlockingRule>,
    #[serde(default, rename = "comparison")]
    pub comparisons: Vec<ComparisonSpec>,
}

fn default_match() -> f64 {
    0.9
}
fn default_review() -> f64 {
    0.5
}
fn default_max_block() -> usize {
    2000
}
fn default_window() -> usize {
    50
}
fn default_max_cluster() -> usize {
    100
}
fn default_u_sample() -> usize {
    1_000_000
}
fn default_em_iterations() -> usize {
    100
}
fn default_seed() -> u64 {
    42
}
fn default_country_field() -> String {
    "country".into()
}

/// `[[entity.blocking]]`: records sharing every key are compared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    /// Name in reports; default: the keys joined.
    pub name: Option<String>,
    /// Key expressions: `field`, or `function(field)` / `function(field, n)`; see
    /// [`KeyFunction`].
    pub keys: Vec<String>,
}

/// Functions usable in blocking keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFunction {
    /// Folded text (case, accents, punctuation).
    Exact,
    /// Company-name form (legal suffixes removed).
    Company,
    /// First word of the company-name form.
    FirstToken,
    /// Last word of the folded text.
    LastToken,
    /// First `n` letters/digits of the folded text.
    Prefix(usize),
    /// Soundex code of the first word.
    Soundex,
    /// Normalised email.
    Email,
    /// Domain of the email.
    EmailDomain,
    /// Local part of the email.
    EmailLocal,
    /// Last 9 digits of the phone number.
    Phone,
    /// All digits.
    Digits,
    /// Canonical postcode.
    Postcode,
    /// Year of a date (or the first four digits).
    Year,
    /// Canonical SKU.
    Sku,
    /// Words of the folded text, sorted (order-insensitive).
    SortedTokens,
}

impl KeyFunction {
    pub const NAMES: &'static str = "exact, company, first_token, last_token, prefix(field, n), soundex, email, email_domain, email_local, phone, digits, postcode, year, sku, sorted_tokens";
}

/// A parsed blocking key: function and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExpr {
    pub function: KeyFunction,
    pub field: String,
}

impl KeyExpr {
    pub fn parse(s: &str) -> Result<KeyExpr, String> {
        let s = s.trim();
        let Some(open) = s.find('(') else {
            return Ok(KeyExpr {
                function: KeyFunction::Exact,
                field: s.to_string(),
            });
        };
        let name = s[..open].trim();
        let inner = s[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("key {s:?}: missing closing parenthesis"))?;
        let mut args = inner.split(',').map(str::trim);
        let field = args.next().unwrap_or("").to_string();
        if field.is_empty() {
            return Err(format!("key {s:?}: no field inside the parentheses"));
        }
        let n = args.next();
        let function = match (name, n) {
            ("exact", None) => KeyFunction::Exact,
            ("company", None) => KeyFunction::Company,
            ("first_token", None) => KeyFunction::FirstToken,
            ("last_token", None) => KeyFunction::LastToken,
            ("prefix", Some(n)) => {
                KeyFunction::Prefix(n.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                    format!("key {s:?}: prefix length must be a positive integer")
                })?)
            }
            ("soundex", None) => KeyFunction::Soundex,
            ("email", None) => KeyFunction::Email,
            ("email_domain", None) => KeyFunction::EmailDomain,
            ("email_local", None) => KeyFunction::EmailLocal,
            ("phone", None) => KeyFunction::Phone,
            ("digits", None) => KeyFunction::Digits,
            ("postcode", None) => KeyFunction::Postcode,
            ("year", None) => KeyFunction::Year,
            ("sku", None) => KeyFunction::Sku,
            ("sorted_tokens", None) => KeyFunction::SortedTokens,
            _ => {
                return Err(format!(
                    "key {s:?}: unknown function or wrong arguments; expected one of: {}",
                    KeyFunction::NAMES
                ));
            }
        };
        Ok(KeyExpr { function, field })
    }
}

/// Comparison methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// exact, else.
    Exact,
    /// exact, then one level per similarity threshold (descending), else.
    JaroWinkler,
    /// exact, then one level per maximum edit distance (ascending), else.
    Levenshtein,
    DamerauLevenshtein,
    /// Token-set Jaccard similarity: exact, per threshold, else.
    Jaccard,
    /// Absolute numeric difference: exact, per maximum difference, else.
    Numeric,
    /// Difference in days: exact, per maximum number of days, else.
    Date,
    /// exact, same local part, similar (Jaro–Winkler ≥ first threshold, default 0.88),
    /// same domain, else.
    Email,
    /// exact (E.164), same last 7 digits, else.
    Phone,
}

/// Value standardisation before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standardize {
    None,
    Text,
    CompanyName,
    PersonName,
    /// Folded, street abbreviations spelt out.
    Address,
    Email,
    Phone,
    Postcode,
    Sku,
    Digits,
    Country,
    Date,
    Number,
}

/// `[[entity.comparison]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonSpec {
    pub name: String,
    /// One field, or several joined with a space after standardisation.
    pub field: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
    pub method: Method,
    /// Default depends on the method: email → email, phone → phone, date → date,
    /// numeric → number, others → text.
    pub standardize: Option<Standardize>,
    /// Level thresholds (see [`Method`]).
    #[serde(default)]
    pub thresholds: Vec<f64>,
    /// Term-frequency adjustment of the exact level: agreeing on a rare value says more
    /// than agreeing on a common one.
    #[serde(default)]
    pub tf_adjust: bool,
    /// Pinned m probabilities per level (best first, excluding null); not trained.
    pub m: Option<Vec<f64>>,
    /// Pinned u probabilities per level; not estimated from random pairs.
    pub u: Option<Vec<f64>>,
    /// Date formats for `standardize = "date"` on text (default ISO and `%Y%m%d`).
    #[serde(default)]
    pub date_formats: Vec<String>,
    /// Another field whose values may have been entered in this one (first name and
    /// surname swapped): adds a `swapped` level, just above `else`, for pairs where this
    /// field of one record is similar (the top threshold) to that field of the other.
    pub swap_with: Option<String>,
}

impl ComparisonSpec {
    pub fn fields(&self) -> Vec<String> {
        let mut f: Vec<String> = self.field.iter().cloned().collect();
        f.extend(self.fields.iter().cloned());
        f
    }

    pub fn standardize(&self) -> Standardize {
        self.standardize.unwrap_or(match self.method {
            Method::Email => Standardize::Email,
            Method::Phone => Standardize::Phone,
            Method::Date => Standardize::Date,
            Method::Numeric => Standardize::Number,
            _ => Standardize::Text,
        })
    }

    /// Thresholds with method defaults filled in.
    pub fn effective_thresholds(&self) -> Vec<f64> {
        if !self.thresholds.is_empty() {
            return self.thresholds.clone();
        }
        match self.method {
            Method::JaroWinkler => vec![0.92, 0.8],
            Method::Levenshtein | Method::DamerauLevenshtein => vec![1.0, 2.0],
            Method::Jaccard => vec![0.6, 0.3],
            Method::Numeric => vec![1.0],
            Method::Date => vec![31.0, 366.0],
            Method::Email => vec![0.88],
            Method::Exact | Method::Phone => vec![],
        }
    }

    /// Labels of the non-null levels, best first.
    pub fn level_labels(&self) -> Vec<String> {
        let t = self.effective_thresholds();
        let mut l = vec!["exact".to_string()];
        match self.method {
            Method::Exact => {}
            Method::JaroWinkler => l.extend(t.iter().map(|x| format!("jaro_winkler>={x}"))),
            Method::Levenshtein => l.extend(t.iter().map(|x| format!("levenshtein<={x}"))),
            Method::DamerauLevenshtein => {
                l.extend(t.iter().map(|x| format!("damerau_levenshtein<={x}")))
            }
            Method::Jaccard => l.extend(t.iter().map(|x| format!("jaccard>={x}"))),
            Method::Numeric => l.extend(t.iter().map(|x| format!("difference<={x}"))),
            Method::Date => l.extend(t.iter().map(|x| format!("days<={x}"))),
            Method::Email => {
                l.push("same_local_part".into());
                l.push(format!("jaro_winkler>={}", t[0]));
                l.push("same_domain".into());
            }
            Method::Phone => l.push("same_last_7_digits".into()),
        }
        if let Some(f) = &self.swap_with {
            l.push(format!("swapped_with_{f}"));
        }
        l.push("else".into());
        l
    }

    /// Checks thresholds and pinned probabilities; returns problems.
    pub fn validate(&self, key: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.fields().is_empty() {
            p.push(format!("{key}: set field = \"…\" or fields = [\"…\", …]"));
        }
        let t = self.effective_thresholds();
        if self.swap_with.is_some()
            && !matches!(
                self.method,
                Method::Exact
                    | Method::JaroWinkler
                    | Method::Levenshtein
                    | Method::DamerauLevenshtein
            )
        {
            p.push(format!(
                "{key}.swap_with: only for the methods exact, jaro_winkler, levenshtein and damerau_levenshtein"
            ));
        }
        match self.method {
            Method::JaroWinkler | Method::Jaccard | Method::Email => {
                if t.iter().any(|x| !(0.0..=1.0).contains(x)) {
                    p.push(format!(
                        "{key}.thresholds: similarities must be between 0 and 1"
                    ));
                }
                if t.windows(2).any(|w| w[0] <= w[1]) && self.method != Method::Email {
                    p.push(format!(
                        "{key}.thresholds: list similarities from high to low, e.g. [0.92, 0.8]"
                    ));
                }
            }
            Method::Levenshtein | Method::DamerauLevenshtein | Method::Numeric | Method::Date => {
                if t.iter().any(|x| *x < 0.0) || t.windows(2).any(|w| w[0] >= w[1]) {
                    p.push(format!(
                        "{key}.thresholds: list distances from low to high, e.g. [1, 2]"
                    ));
                }
            }
            Method::Exact | Method::Phone => {
                if !self.thresholds.is_empty() {
                    p.push(format!(
                        "{key}.thresholds: the {:?} method takes no thresholds",
                        self.method
                    ));
                }
            }
        }
        let levels = self.level_labels().len();
        if levels > 14 {
            p.push(format!("{key}: at most 14 levels per comparison"));
        }
        for (what, v) in [("m", &self.m), ("u", &self.u)] {
            if let Some(v) = v {
                if v.len() != levels {
                    p.push(format!(
                        "{key}.{what}: {} probabilities given but the comparison has {levels} levels ({})",
                        v.len(),
                        self.level_labels().join(", ")
                    ));
                }
                if v.iter().any(|x| !(*x > 0.0 && *x <= 1.0)) {
                    p.push(format!("{key}.{what}: probabilities must be in (0, 1]"));
                }
            }
        }
        p
    }
}

impl EntityConfig {
    /// Problems with this entity's settings, each naming its key.
    pub fn validate(&self, sources: &[crate::config::SourceConfig]) -> Vec<String> {
        let key = format!("entity.{}", self.name);
        let mut p = Vec::new();
        let members: Vec<&crate::config::SourceConfig> = self.member_sources(sources);
        for s in &self.sources {
            match sources.iter().find(|x| &x.name == s) {
                None => p.push(format!(
                    "{key}.sources: {s:?} is not a source; expected one of: {}",
                    sources
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Some(x) if x.entity != self.name => p.push(format!(
                    "{key}.sources: source {s} holds entity {:?}, not {:?}",
                    x.entity, self.name
                )),
                _ => {}
            }
        }
        if members.is_empty() {
            p.push(format!("{key}: no source holds entity {:?}", self.name));
        }
        if self.link == LinkMode::Link && members.len() < 2 {
            p.push(format!(
                "{key}.link: \"link\" needs at least two sources; use \"dedupe\""
            ));
        }
        if !(0.0 < self.review_probability
            && self.review_probability <= self.match_probability
            && self.match_probability < 1.0)
        {
            p.push(format!(
                "{key}: need 0 < review_probability <= match_probability < 1 (got {} and {})",
                self.review_probability, self.match_probability
            ));
        }
        if self.comparisons.is_empty() {
            p.push(format!(
                "{key}: at least one [[entity.comparison]] is required"
            ));
        }
        if self.comparisons.len() > 16 {
            p.push(format!("{key}: at most 16 comparisons"));
        }
        if self.blocking.is_empty() {
            p.push(format!(
                "{key}: at least one [[entity.blocking]] rule is required"
            ));
        }
        if self.blocking.len() > 32 {
            p.push(format!("{key}: at most 32 blocking rules"));
        }
        if self.max_block_size < 2 || self.block_window < 1 || self.max_cluster_size < 2 {
            p.push(format!("{key}: max_block_size and max_cluster_size must be at least 2, block_window at least 1"));
        }
        let has_field = |f: &str| members.iter().any(|s| s.columns.contains_key(f));
        let mut names = std::collections::HashSet::new();
        for (i, c) in self.comparisons.iter().enumerate() {
            let ck = format!("{key}.comparison[{i}] ({})", c.name);
            if !names.insert(c.name.clone()) {
                p.push(format!("{ck}: duplicate comparison name"));
            }
            p.extend(c.validate(&ck));
            for f in c.fields().into_iter().chain(c.swap_with.clone()) {
                if !has_field(&f) {
                    p.push(format!(
                        "{ck}: field {f:?} is in none of the sources {}",
                        self.source_names(sources).join(", ")
                    ));
                }
            }
        }
        for (i, b) in self.blocking.iter().enumerate() {
            let bk = format!("{key}.blocking[{i}]");
            if b.keys.is_empty() {
                p.push(format!("{bk}.keys: at least one key"));
            }
            for k in &b.keys {
                match KeyExpr::parse(k) {
                    Err(e) => p.push(format!("{bk}.keys: {e}")),
                    Ok(e) if !has_field(&e.field) => p.push(format!(
                        "{bk}.keys: field {:?} is in none of the sources",
                        e.field
                    )),
                    Ok(_) => {}
                }
            }
        }
        p
    }

    /// The sources taking part, in config order.
    pub fn member_sources<'a>(
        &self,
        sources: &'a [crate::config::SourceConfig],
    ) -> Vec<&'a crate::config::SourceConfig> {
        sources
            .iter()
            .filter(|s| {
                if self.sources.is_empty() {
                    s.entity == self.name
                } else {
                    self.sources.contains(&s.name)
                }
            })
            .collect()
    }

    pub fn source_names(&self, sources: &[crate::config::SourceConfig]) -> Vec<String> {
        self.member_sources(sources)
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_expressions() {
        assert_eq!(
            KeyExpr::parse("prefix(name, 4)").unwrap(),
            KeyExpr {
                function: KeyFunction::Prefix(4),
                field: "name".into()
            }
        );
        assert_eq!(
            KeyExpr::parse("email").unwrap().function,
            KeyFunction::Exact
        );
        assert_eq!(
            KeyExpr::parse("soundex(surname)").unwrap().function,
            KeyFunction::Soundex
        );
        assert!(
            KeyExpr::parse("soundx(name)")
                .unwrap_err()
                .contains("expected one of")
        );
        assert!(KeyExpr::parse("prefix(name)").is_err());
        assert!(KeyExpr::parse("prefix(name, 0)").is_err());
    }
}
