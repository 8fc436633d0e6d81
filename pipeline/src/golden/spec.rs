//! `[golden]` and `[[golden.entity]]`: survivorship rules, decisions, findings settings.

use std::path::PathBuf;

use serde::Deserialize;

use crate::matching::spec::Standardize;

/// `[golden]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenSection {
    /// Steward decisions (CSV), relative to the config file.
    pub decisions: Option<PathBuf>,
    /// Two values are "clearly" of different age when their records' update times are
    /// more than this many days apart; closer, a disagreement is a conflict.
    #[serde(default = "default_tolerance")]
    pub stale_tolerance_days: u32,
    #[serde(default, rename = "entity")]
    pub entities: Vec<GoldenEntity>,
}

impl Default for GoldenSection {
    fn default() -> Self {
        GoldenSection {
            decisions: None,
            stale_tolerance_days: default_tolerance(),
            entities: Vec::new(),
        }
    }
}

fn default_tolerance() -> u32 {
    7
}

/// How a golden value is chosen among a cluster's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// From the first source in `source_priority` that has a value.
    SourcePriority,
    /// From the most recently updated record.
    MostRecent,
    /// From the record with the most golden attributes filled in.
    MostComplete,
    /// The value (after standardisation) held by most records.
    MostFrequent,
    /// The longest value.
    Longest,
}

/// Validity check applied before survivorship: an invalid value never wins over a valid
/// one, and is dropped when no valid value exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Validate {
    #[default]
    None,
    Email,
    Phone,
    Country,
}

/// `[[golden.entity.attribute]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// Output column name (and, by default, the canonical source column).
    pub name: String,
    /// Canonical source column (default: `name`).
    pub column: Option<String>,
    #[serde(default = "default_rule")]
    pub rule: Rule,
    /// Applied in order when the rule ties; source order and record key come last.
    #[serde(default = "default_ties")]
    pub tie_breakers: Vec<Rule>,
    #[serde(default)]
    pub validate: Validate,
    /// How values are compared (for most_frequent, stale and conflict findings).
    #[serde(default = "default_std")]
    pub standardize: Standardize,
    /// Values at least this similar (Jaro–Winkler, after standardisation) count as the
    /// same value; 1.0 means equal only.
    #[serde(default = "default_same")]
    pub same_if: f64,
    /// Report stale and conflicting values of this attribute across sources.
    #[serde(default = "default_true")]
    pub track: bool,
}

fn default_rule() -> Rule {
    Rule::SourcePriority
}
fn default_ties() -> Vec<Rule> {
    vec![Rule::MostRecent]
}
fn default_std() -> Standardize {
    Standardize::Text
}
fn default_same() -> f64 {
    1.0
}
fn default_true() -> bool {
    true
}

impl Attribute {
    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }
}

/// `[[golden.entity]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenEntity {
    pub name: String,
    /// Source order for `source_priority` and the final tie-break.
    #[serde(default)]
    pub source_priority: Vec<String>,
    /// Golden ids look like `<prefix>-<12 hex digits>` (default: the entity name).
    pub id_prefix: Option<String>,
    #[serde(default, rename = "attribute")]
    pub attributes: Vec<Attribute>,
}

impl GoldenEntity {
    pub fn prefix(&self) -> &str {
        self.id_prefix.as_deref().unwrap_or(&self.name)
    }

    pub fn validate(
        &self,
        entities: &[crate::matching::spec::EntityConfig],
        sources: &[crate::config::SourceConfig],
    ) -> Vec<String> {
        let key = format!("golden.entity.{}", self.name);
        let mut p = Vec::new();
        let Some(e) = entities.iter().find(|e| e.name == self.name) else {
            p.push(format!(
                "{key}: no [[entity]] named {:?}; golden records are built from matched entities ({})",
                self.name,
                entities.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
            return p;
        };
        let members = e.member_sources(sources);
        for s in &self.source_priority {
            if !members.iter().any(|m| &m.name == s) {
                p.push(format!(
                    "{key}.source_priority: {s:?} is not a source of entity {}; expected one of: {}",
                    self.name,
                    members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, a) in self.attributes.iter().enumerate() {
            let ak = format!("{key}.attribute[{i}] ({})", a.name);
            if !names.insert(a.name.clone()) {
                p.push(format!("{ak}: duplicate attribute name"));
            }
            if !members.iter().any(|m| m.columns.contains_key(a.column())) {
                p.push(format!(
                    "{ak}: column {:?} is in none of the entity's sources",
                    a.column()
                ));
            }
            if !(0.0..=1.0).contains(&a.same_if) {
                p.push(format!("{ak}.same_if: a similarity between 0 and 1"));
            }
            if matches!(
                a.name.as_str(),
                "golden_id"
                    | "entity"
                    | "record_count"
                    | "source_count"
                    | "sources"
                    | "issued_on"
                    | "run_date"
            ) {
                p.push(format!(
                    "{ak}: {:?} is a reserved column name of golden records",
                    a.name
                ));
            }
        }
        p
    }
}
