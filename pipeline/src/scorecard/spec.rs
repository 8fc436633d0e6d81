//! `[scorecard]`, `[gates]` and `[report]` settings.

use indexmap::IndexMap;
use serde::Deserialize;

/// Score thresholds (0–100).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub warn_below: f64,
    pub fail_below: f64,
}

/// `[scorecard]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardSection {
    /// A score below this is `warn` (default for every dimension).
    #[serde(default = "d_warn")]
    pub warn_below: f64,
    /// A score below this is `fail`.
    #[serde(default = "d_fail")]
    pub fail_below: f64,
    /// Per-dimension thresholds (`[scorecard.thresholds.validity]`).
    #[serde(default)]
    pub thresholds: IndexMap<String, Thresholds>,
    /// A score falling by more than this many points against the previous run or the
    /// baseline raises a regression alert.
    #[serde(default = "d_drop")]
    pub max_drop_points: f64,
    /// The baseline is the mean of this many previous runs.
    #[serde(default = "d_baseline")]
    pub baseline_runs: usize,
    /// A quarantine or duplicate rate rising by more than this many percentage points
    /// against the previous run raises an alert.
    #[serde(default = "d_jump")]
    pub max_rate_jump_points: f64,
}

fn d_warn() -> f64 {
    95.0
}
fn d_fail() -> f64 {
    80.0
}
fn d_drop() -> f64 {
    5.0
}
fn d_baseline() -> usize {
    7
}
fn d_jump() -> f64 {
    2.0
}

impl Default for ScorecardSection {
    fn default() -> Self {
        ScorecardSection {
            warn_below: d_warn(),
            fail_below: d_fail(),
            thresholds: IndexMap::new(),
            max_drop_points: d_drop(),
            baseline_runs: d_baseline(),
            max_rate_jump_points: d_jump(),
        }
    }
}

impl ScorecardSection {
    pub fn thresholds_for(&self, dimension: &str) -> Thresholds {
        self.thresholds
            .get(dimension)
            .copied()
            .unwrap_or(Thresholds {
                warn_below: self.warn_below,
                fail_below: self.fail_below,
            })
    }

    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        let dims = [
            "completeness",
            "validity",
            "uniqueness",
            "timeliness",
            "consistency",
            "integrity",
            "overall",
        ];
        for (d, t) in self
            .thresholds
            .iter()
            .map(|(d, t)| (d.as_str(), *t))
            .chain([(
                "",
                Thresholds {
                    warn_below: self.warn_below,
                    fail_below: self.fail_below,
                },
            )])
        {
            if !d.is_empty() && !dims.contains(&d) {
                p.push(format!(
                    "scorecard.thresholds.{d}: unknown dimension; expected one of: {}",
                    dims.join(", ")
                ));
            }
            if !(0.0..=100.0).contains(&t.warn_below)
                || !(0.0..=100.0).contains(&t.fail_below)
                || t.fail_below > t.warn_below
            {
                p.push(format!(
                    "scorecard{}: need 0 <= fail_below <= warn_below <= 100",
                    if d.is_empty() {
                        String::new()
                    } else {
                        format!(".thresholds.{d}")
                    }
                ));
            }
        }
        if self.baseline_runs == 0 {
            p.push("scorecard.baseline_runs: at least 1".into());
        }
        p
    }
}

/// `[[gates.score]]`: a minimum score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreGate {
    /// A source name, or `*` for every source.
    #[serde(default = "d_star")]
    pub source: String,
    /// A dimension, or `overall`.
    #[serde(default = "d_overall")]
    pub dimension: String,
    pub min: f64,
}

fn d_star() -> String {
    "*".into()
}
fn d_overall() -> String {
    "overall".into()
}

/// `[gates]`: a run that breaks one exits with code 3.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GatesSection {
    /// Largest share of a source's rows that may be quarantined (0–1).
    pub max_quarantine_rate: Option<f64>,
    /// Largest share of a source's records that may be duplicates (0–1).
    pub max_duplicate_rate: Option<f64>,
    /// Rules whose every result must be `pass` or `warn`.
    #[serde(default)]
    pub rules_must_pass: Vec<String>,
    #[serde(default)]
    pub score: Vec<ScoreGate>,
}

impl GatesSection {
    pub fn validate(&self, sources: &[crate::config::SourceConfig]) -> Vec<String> {
        let mut p = Vec::new();
        for (k, v) in [
            ("max_quarantine_rate", self.max_quarantine_rate),
            ("max_duplicate_rate", self.max_duplicate_rate),
        ] {
            if let Some(x) = v
                && !(0.0..=1.0).contains(&x)
            {
                p.push(format!("gates.{k}: a share between 0 and 1 (0.05 = 5%)"));
            }
        }
        let dims = [
            "completeness",
            "validity",
            "uniqueness",
            "timeliness",
            "consistency",
            "integrity",
            "overall",
        ];
        for (i, g) in self.score.iter().enumerate() {
            if g.source != "*" && !sources.iter().any(|s| s.name == g.source) {
                p.push(format!(
                    "gates.score[{i}].source: {:?} is not a source; expected \"*\" or one of: {}",
                    g.source,
                    sources
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !dims.contains(&g.dimension.as_str()) {
                p.push(format!(
                    "gates.score[{i}].dimension: {:?}; expected one of: {}",
                    g.dimension,
                    dims.join(", ")
                ));
            }
            if !(0.0..=100.0).contains(&g.min) {
                p.push(format!("gates.score[{i}].min: a score between 0 and 100"));
            }
        }
        p
    }
}

/// `[report]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// Mask personal data (names, emails, phones, streets) in the report's samples.
    #[serde(default)]
    pub mask_personal_data: bool,
    /// Columns treated as personal data when masking.
    #[serde(default = "d_personal")]
    pub personal_fields: Vec<String>,
    /// Runs shown in the trend charts.
    #[serde(default = "d_history")]
    pub history_runs: usize,
    /// Rows shown per section (the page states the cap and the total).
    #[serde(default = "d_sample")]
    pub sample_rows: usize,
}

fn d_personal() -> Vec<String> {
    [
        "name",
        "email",
        "phone",
        "street",
        "first_name",
        "surname",
        "given_name",
        "address_1",
        "date_of_birth",
        "dob",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn d_history() -> usize {
    30
}
fn d_sample() -> usize {
    25
}

impl Default for ReportSection {
    fn default() -> Self {
        ReportSection {
            mask_personal_data: false,
            personal_fields: d_personal(),
            history_runs: d_history(),
            sample_rows: d_sample(),
        }
    }
}
