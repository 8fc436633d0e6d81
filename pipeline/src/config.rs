//! `recon.toml`: the declared sources, mappings and run settings.
//!
//! Parsing happens in two steps. serde turns the TOML into the `*Section` types below
//! (unknown keys are rejected there, with the key and the allowed keys in the message);
//! [`Config::load`] then validates what serde cannot see — cross references between keys,
//! date formats, file globs — and reports *every* problem it finds, each naming the key
//! path (`source.crm_accounts.columns.created_at.formats[0]`) and what is allowed.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// A validated configuration, with every relative path resolved against the directory of
/// the config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file as given on the command line.
    pub path: PathBuf,
    /// Directory that relative paths in the config are resolved against.
    pub base_dir: PathBuf,
    /// sha256 of the config file's bytes, recorded in the manifest.
    pub hash: String,
    pub run: RunSection,
    pub sources: Vec<SourceConfig>,
    pub rules: RulesSection,
    pub entities: Vec<crate::matching::spec::EntityConfig>,
    pub golden: crate::golden::spec::GoldenSection,
    pub scorecard: crate::scorecard::spec::ScorecardSection,
    pub gates: crate::scorecard::spec::GatesSection,
    pub report: crate::scorecard::spec::ReportSection,
}

/// The top level of `recon.toml`, as serde sees it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    run: RunSection,
    #[serde(rename = "source", default)]
    sources: Vec<SourceConfig>,
    #[serde(default)]
    rules: RulesSection,
    #[serde(rename = "entity", default)]
    entities: Vec<crate::matching::spec::EntityConfig>,
    #[serde(default)]
    golden: crate::golden::spec::GoldenSection,
    #[serde(default)]
    scorecard: crate::scorecard::spec::ScorecardSection,
    #[serde(default)]
    gates: crate::scorecard::spec::GatesSection,
    #[serde(default)]
    report: crate::scorecard::spec::ReportSection,
}

/// `[run]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Output directory; every run writes `<output>/run_date=YYYY-MM-DD/`.
    #[serde(default = "default_output")]
    pub output: PathBuf,
    /// The date the run is "as of"; defaults to today in `time_zone`.
    pub as_of: Option<NaiveDate>,
    /// IANA time zone used for `as_of` and for timestamps without an offset.
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// Upper bound for DataFusion's memory pool, in MiB (rules, queries).
    #[serde(default = "default_memory_limit")]
    pub memory_limit_mb: usize,
    /// Rows per Arrow batch while extracting.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn default_output() -> PathBuf {
    PathBuf::from("out")
}
fn default_tz() -> String {
    "UTC".to_string()
}
/// A quarter of the machine's memory, between 256 MiB and 4 GiB.
fn default_memory_limit() -> usize {
    match crate::util::physical_memory() {
        None => 4096,
        Some(bytes) => ((bytes / (1024 * 1024)) as usize / 4).clamp(256, 4096),
    }
}
fn default_batch_size() -> usize {
    8192
}

/// The system a source is exported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Crm,
    Billing,
    Inventory,
    Other,
}

impl System {
    pub fn as_str(self) -> &'static str {
        match self {
            System::Crm => "crm",
            System::Billing => "billing",
            System::Inventory => "inventory",
            System::Other => "other",
        }
    }
}

/// File format of a source's exports. Compression (`.gz`, `.zst`) is detected from the
/// file name, on top of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
        }
    }

    /// The format implied by a file name, looking through a compression suffix.
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        let stem = lower
            .strip_suffix(".gz")
            .or_else(|| lower.strip_suffix(".zst"))
            .unwrap_or(&lower);
        if stem.ends_with(".csv") || stem.ends_with(".tsv") || stem.ends_with(".txt") {
            Some(Format::Csv)
        } else if stem.ends_with(".ndjson") || stem.ends_with(".jsonl") || stem.ends_with(".json") {
            Some(Format::Ndjson)
        } else if stem.ends_with(".parquet") || stem.ends_with(".pq") {
            Some(Format::Parquet)
        } else {
            None
        }
    }
}

/// Text encodings accepted for CSV and NDJSON sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(rename = "windows-1252", alias = "cp1252")]
    Windows1252,
    #[serde(rename = "latin-1", alias = "iso-8859-1", alias = "latin1")]
    Latin1,
    #[serde(rename = "utf-16", alias = "utf16")]
    Utf16,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
            Encoding::Latin1 => "latin-1",
            Encoding::Utf16 => "utf-16",
        }
    }
}

/// `[source.csv]`: the CSV dialect.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    #[serde(default = "default_delimiter", deserialize_with = "de_single_byte")]
    pub delimiter: u8,
    #[serde(default = "default_quote", deserialize_with = "de_single_byte")]
    pub quote: u8,
    /// Whether the first line names the columns.
    #[serde(default = "default_true")]
    pub header: bool,
    #[serde(default)]
    pub encoding: Encoding,
    /// A quoted field may span at most this many physical lines; a quote left open
    /// longer is treated as unbalanced and the line it started on is quarantined.
    #[serde(default = "default_max_lines")]
    pub max_lines_per_record: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            header: true,
            encoding: Encoding::Utf8,
            max_lines_per_record: default_max_lines(),
        }
    }
}

fn default_delimiter() -> u8 {
    b','
}
fn default_quote() -> u8 {
    b'"'
}
fn default_true() -> bool {
    true
}
fn default_max_lines() -> usize {
    50
}

fn de_single_byte<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u8, D::Error> {
    let s = String::deserialize(d)?;
    let s = match s.as_str() {
        "\\t" | "tab" => "\t",
        other => other,
    };
    let bytes = s.as_bytes();
    if bytes.len() == 1 && bytes[0].is_ascii() && bytes[0] != b'\n' && bytes[0] != b'\r' {
        Ok(bytes[0])
    } else {
        Err(serde::de::Error::custom(format!(
            "expected a single ASCII character other than a line break (e.g. \",\", \";\", \"|\", \"\\t\"), got {s:?}"
        )))
    }
}

/// A canonical column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Integer,
    /// Fixed-point decimal with precision and scale.
    Decimal(u8, i8),
    Boolean,
    Date,
    Timestamp,
}

impl ColumnType {
    pub const ALLOWED: &'static str =
        "string, integer, decimal, decimal(p,s), boolean, date, timestamp";

    pub fn parse(s: &str) -> Option<ColumnType> {
        let t = s.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "string" | "text" => ColumnType::String,
            "integer" | "int" => ColumnType::Integer,
            "decimal" => ColumnType::Decimal(38, 9),
            "boolean" | "bool" => ColumnType::Boolean,
            "date" => ColumnType::Date,
            "timestamp" | "datetime" => ColumnType::Timestamp,
            _ => {
                let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
                let (p, s) = inner.split_once(',')?;
                let p: u8 = p.trim().parse().ok()?;
                let s: i8 = s.trim().parse().ok()?;
                if !(1..=38).contains(&p) || s < 0 || s as u8 > p {
                    return None;
                }
                ColumnType::Decimal(p, s)
            }
        })
    }

    pub fn is_temporal(self) -> bool {
        matches!(self, ColumnType::Date | ColumnType::Timestamp)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String => f.write_str("string"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Timestamp => f.write_str("timestamp"),
        }
    }
}

/// One entry of `[source.columns]`: canonical name → where it comes from and its type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name in the export (CSV header, JSON key — dotted for nested objects —,
    /// Parquet column). Defaults to the canonical name.
    pub from: Option<String>,
    /// 1-based column position, for CSV files without a header.
    pub index: Option<usize>,
    #[serde(rename = "type", default = "default_type_name")]
    pub type_name: String,
    /// Accepted formats for date and timestamp columns (chrono strftime syntax), tried in
    /// order.
    #[serde(default)]
    pub formats: Vec<String>,
    /// A row without a value here is quarantined.
    #[serde(default)]
    pub required: bool,
    /// Resolved from `type_name` during validation.
    #[serde(skip, default = "default_column_type")]
    pub column_type: ColumnType,
}

fn default_type_name() -> String {
    "string".into()
}
fn default_column_type() -> ColumnType {
    ColumnType::String
}

/// The team and person who own a source and are asked to fix what is wrong in it.
#[derive(Debug, Clone, Deserialize, Default, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub contact: String,
}

/// `[[source]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Table name of the source in rules and outputs: `[a-z][a-z0-9_]*`.
    pub name: String,
    pub system: System,
    /// The kind of thing a row describes: customer, product, invoice_line, …
    pub entity: String,
    /// File or glob, relative to the config file.
    pub path: String,
    /// Defaults to the format implied by the file extension.
    pub format: Option<Format>,
    #[serde(default)]
    pub csv: CsvOptions,
    /// IANA time zone of this source's timestamps without an offset (default:
    /// `[run].time_zone`); e.g. "UTC" for an export whose times are UTC.
    pub time_zone: Option<String>,
    /// Encoding of NDJSON files (CSV sources set it in `[source.csv]`).
    #[serde(default)]
    pub encoding: Encoding,
    /// Canonical columns that identify a record (joined with `|` into `_record_key`).
    pub key: KeyColumns,
    /// Canonical date/timestamp column of the record's last update.
    pub updated_at: Option<String>,
    /// Records not updated for more than this many days are stale.
    pub stale_after_days: Option<u32>,
    #[serde(default)]
    pub owner: Owner,
    /// Values read as "no value" (after trimming, if `trim`).
    #[serde(default = "default_null_values")]
    pub null_values: Vec<String>,
    /// Trim leading and trailing whitespace from every value.
    #[serde(default = "default_true")]
    pub trim: bool,
    /// Raw text kept in quarantine is cut to this many characters (the full length is
    /// recorded).
    #[serde(default = "default_raw_cap")]
    pub max_raw_chars: usize,
    /// A record (CSV record or JSON line) longer than this many bytes is quarantined
    /// without being held in memory.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
    /// Canonical column name → mapping.
    pub columns: IndexMap<String, ColumnSpec>,
    /// Declared references from this source to another source's key (ID integrity).
    #[serde(default, rename = "reference")]
    pub references: Vec<ReferenceConfig>,
}

fn default_null_values() -> Vec<String> {
    vec![String::new()]
}
fn default_raw_cap() -> usize {
    2000
}
fn default_max_record_bytes() -> usize {
    8 * 1024 * 1024
}

/// `key = "id"` or `key = ["a", "b"]`.
#[derive(Debug, Clone)]
pub struct KeyColumns(pub Vec<String>);

impl<'de> Deserialize<'de> for KeyColumns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => KeyColumns(vec![s]),
            OneOrMany::Many(v) => KeyColumns(v),
        })
    }
}

/// How reference values are matched to the target key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AliasRule {
    /// Values must be equal after trimming.
    #[default]
    Exact,
    /// Case-insensitive comparison.
    CaseInsensitive,
    /// Salesforce IDs: a 15-character ID and its 18-character form (15 + checksum) are
    /// the same record, compared case-sensitively on the first 15 characters.
    Salesforce,
    /// SKUs: equal after upper-casing and removing spaces, hyphens, underscores, dots.
    Sku,
}

/// `[[source.reference]]`: a column of this source that holds another source's key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConfig {
    /// Canonical column of this source holding the reference.
    pub column: String,
    /// Target source name.
    pub target: String,
    /// Canonical column of the target (defaults to the target's single key column).
    pub target_column: Option<String>,
    #[serde(default)]
    pub aliases: AliasRule,
}

/// `[rules]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    /// Load the built-in rule pack (`rules/builtin`, embedded in the binary).
    #[serde(default = "default_true")]
    pub builtin: bool,
    /// Rule directories, relative to the config file. Each holds `<pack>/<rule>.sql`
    /// files or `.sql` files directly.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// Rule ids not to run.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Parameter overrides: rule id → (name → value).
    #[serde(default)]
    pub params: IndexMap<String, IndexMap<String, toml::Value>>,
    /// Rules producing more violations than this fail with an error (protects memory).
    #[serde(default = "default_max_violations")]
    pub max_violations_per_rule: usize,
    /// A rule taking longer than this many seconds fails with an error.
    #[serde(default = "default_rule_timeout")]
    pub timeout_secs: u64,
}

impl Default for RulesSection {
    fn default() -> Self {
        RulesSection {
            builtin: true,
            dirs: Vec::new(),
            disable: Vec::new(),
            params: IndexMap::new(),
            max_violations_per_rule: default_max_violations(),
            timeout_secs: default_rule_timeout(),
        }
    }
}

fn default_max_violations() -> usize {
    5_000_000
}
fn default_rule_timeout() -> u64 {
    600
}

impl SourceConfig {
    /// The canonical column names, in declaration order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(String::as_str)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.get(name)
    }

    /// The encoding of this source's text files.
    pub fn text_encoding(&self) -> Encoding {
        match self.format {
            Some(Format::Csv) => self.csv.encoding,
            _ => self.encoding,
        }
    }

    /// The export column name a canonical column comes from.
    pub fn export_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.columns
            .get(canonical)
            .and_then(|c| c.from.as_deref())
            .unwrap_or(canonical)
    }
}

/// Collects validation problems so that all of them are reported at once.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, key: impl fmt::Display, msg: impl fmt::Display) {
        self.0.push(format!("{key}: {msg}"));
    }
}

impl Config {
    /// Reads, parses and validates a config file. Input files are not opened.
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = std::fs::read(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read the config file: {e}"),
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("the config file is not valid UTF-8: {e}"),
        })?;
        let hash = crate::util::sha256_hex(&bytes);
        let base_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        Self::from_str_at(&text, path, base_dir, hash)
    }

    /// Parses and validates config text; `path` is used in messages only.
    pub fn from_str_at(text: &str, path: &Path, base_dir: PathBuf, hash: String) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut p = Problems::default();
        let mut sources = raw.sources;
        if sources.is_empty() {
            p.push("source", "at least one [[source]] is required");
        }
        if raw.run.time_zone.parse::<chrono_tz::Tz>().is_err() {
            p.push(
                "run.time_zone",
                format!(
                    "unknown time zone {:?}; expected an IANA name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\"",
                    raw.run.time_zone
                ),
            );
        }
        if raw.run.batch_size == 0 {
            p.push("run.batch_size", "must be at least 1");
        }
        let mem = &crate::sql::MEMORY_LIMIT_MB_RANGE;
        if !mem.contains(&raw.run.memory_limit_mb) {
            p.push(
                "run.memory_limit_mb",
                format!(
                    "{} is out of range; expected a number of MiB from {} to {}",
                    raw.run.memory_limit_mb,
                    mem.start(),
                    mem.end()
                ),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for s in sources.iter_mut() {
            validate_source(s, &mut p);
            if !seen.insert(s.name.clone()) {
                p.push(
                    format!("source.{}", s.name),
                    "duplicate source name; each [[source]] needs its own name",
                );
            }
        }
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        for s in &sources {
            for (i, r) in s.references.iter().enumerate() {
                let key = format!("source.{}.reference[{i}]", s.name);
                if !s.columns.contains_key(&r.column) {
                    p.push(
                        format!("{key}.column"),
                        format!(
                            "{:?} is not a column of this source; expected one of: {}",
                            r.column,
                            join_names(s.column_names())
                        ),
                    );
                }
                match sources.iter().find(|t| t.name == r.target) {
                    None => p.push(
                        format!("{key}.target"),
                        format!(
                            "{:?} is not a source; expected one of: {}",
                            r.target,
                            names.join(", ")
                        ),
                    ),
                    Some(t) => {
                        let tc = r
                            .target_column
                            .clone()
                            .unwrap_or_else(|| t.key.0.first().cloned().unwrap_or_default());
                        if !t.columns.contains_key(&tc) {
                            p.push(
                                format!("{key}.target_column"),
                                format!(
                                    "{tc:?} is not a column of source {}; expected one of: {}",
                                    t.name,
                                    join_names(t.column_names())
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (i, d) in raw.rules.dirs.iter().enumerate() {
            let abs = if d.is_absolute() {
                d.clone()
            } else {
                base_dir.join(d)
            };
            if !abs.is_dir() {
                p.push(
                    format!("rules.dirs[{i}]"),
                    format!(
                        "{} is not a directory (resolved to {})",
                        d.display(),
                        abs.display()
                    ),
                );
            }
        }
        let mut entity_names = std::collections::HashSet::new();
        for e in &raw.entities {
            if !entity_names.insert(e.name.clone()) {
                p.push(format!("entity.{}", e.name), "duplicate [[entity]] name");
            }
            for msg in e.validate(&sources) {
                p.0.push(msg);
            }
        }
        for g in &raw.golden.entities {
            for msg in g.validate(&raw.entities, &sources) {
                p.0.push(msg);
            }
        }
        if let Some(d) = &raw.golden.decisions {
            let abs = if d.is_absolute() {
                d.clone()
            } else {
                base_dir.join(d)
            };
            if abs.is_dir() {
                p.push("golden.decisions", "is a directory; expected a CSV file");
            }
        }
        p.0.extend(raw.scorecard.validate());
        p.0.extend(raw.gates.validate(&sources));
        if raw.report.sample_rows == 0 || raw.report.history_runs == 0 {
            p.push("report", "sample_rows and history_runs must be at least 1");
        }
        if raw.rules.max_violations_per_rule == 0 {
            p.push("rules.max_violations_per_rule", "must be at least 1");
        }
        if !p.0.is_empty() {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: p.0.join("\n"),
            });
        }
        Ok(Config {
            path: path.to_path_buf(),
            base_dir,
            hash,
            run: raw.run,
            sources,
            rules: raw.rules,
            entities: raw.entities,
            golden: raw.golden,
            scorecard: raw.scorecard,
            gates: raw.gates,
            report: raw.report,
        })
    }

    /// Resolves a path from the config against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The time zone of a source's timestamps.
    pub fn source_time_zone(&self, s: &SourceConfig) -> chrono_tz::Tz {
        s.time_zone
            .as_deref()
            .and_then(|t| t.parse::<chrono_tz::Tz>().ok())
            .unwrap_or_else(|| self.time_zone())
    }

    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.run
            .time_zone
            .parse::<chrono_tz::Tz>()
            .unwrap_or(chrono_tz::UTC)
    }

    /// The files a source's `path` (file or glob) names, sorted by path.
    pub fn source_files(&self, s: &SourceConfig) -> Result<Vec<PathBuf>> {
        let pattern = self.resolve(Path::new(&s.path));
        let pattern_str = pattern.to_string_lossy().to_string();
        let is_glob = s.path.contains(['*', '?', '[']);
        let mut files: Vec<PathBuf> = if is_glob {
            glob::glob(&pattern_str)
                .map_err(|e| Error::Config {
                    path: self.path.clone(),
                    message: format!("source.{}.path: invalid glob {:?}: {e}", s.name, s.path),
                })?
                .filter_map(|r| r.ok())
                .filter(|p| p.is_file())
                .collect()
        } else if pattern.is_file() {
            vec![pattern.clone()]
        } else {
            Vec::new()
        };
        files.sort();
        if files.is_empty() {
            return Err(Error::Config {
                path: self.path.clone(),
                message: format!(
                    "source.{}.path: no file matches {:?} (resolved to {})",
                    s.name,
                    s.path,
                    pattern.display()
                ),
            });
        }
        Ok(files)
    }
}

fn join_names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn validate_source(s: &mut SourceConfig, p: &mut Problems) {
    let key = format!("source.{}", s.name);
    if !is_identifier(&s.name) {
        p.push(
            format!("source.name {:?}", s.name),
            "expected a lower-case identifier ([a-z][a-z0-9_]*); it becomes a table name in rules",
        );
    }
    if let Some(tz) = &s.time_zone
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        p.push(
            format!("{key}.time_zone"),
            format!("unknown time zone {tz:?}; expected an IANA name such as \"UTC\" or \"Europe/Berlin\""),
        );
    }
    if s.format.is_none() {
        match Format::from_path(&s.path) {
            Some(f) => s.format = Some(f),
            None => p.push(
                format!("{key}.format"),
                format!(
                    "cannot tell the format from the path {:?}; set format to one of: csv, ndjson, parquet",
                    s.path
                ),
            ),
        }
    }
    if s.columns.is_empty() {
        p.push(
            format!("{key}.columns"),
            "at least one column mapping is required",
        );
    }
    if s.max_raw_chars == 0 {
        p.push(format!("{key}.max_raw_chars"), "must be at least 1");
    }
    if s.csv.delimiter == s.csv.quote {
        p.push(
            format!("{key}.csv.quote"),
            format!(
                "the quote character {:?} is also the delimiter; they must differ",
                s.csv.quote as char
            ),
        );
    }
    if s.max_record_bytes < 1024 {
        p.push(format!("{key}.max_record_bytes"), "must be at least 1024");
    }
    for (name, col) in s.columns.iter_mut() {
        let ck = format!("{key}.columns.{name}");
        if !is_identifier(name) {
            p.push(
                &ck,
                "canonical column names must be lower-case identifiers ([a-z][a-z0-9_]*)",
            );
        }
        match ColumnType::parse(&col.type_name) {
            Some(t) => col.column_type = t,
            None => p.push(
                format!("{ck}.type"),
                format!(
                    "unknown type {:?}; expected one of: {}",
                    col.type_name,
                    ColumnType::ALLOWED
                ),
            ),
        }
        if !col.formats.is_empty() && !col.column_type.is_temporal() {
            p.push(
                format!("{ck}.formats"),
                "formats apply to date and timestamp columns only",
            );
        }
        for (i, f) in col.formats.iter().enumerate() {
            if let Err(msg) = crate::extract::coerce::validate_format(f, col.column_type) {
                p.push(format!("{ck}.formats[{i}]"), msg);
            }
        }
        if let Some(idx) = col.index {
            if idx == 0 {
                p.push(format!("{ck}.index"), "column positions are 1-based");
            }
            if s.csv.header || s.format != Some(Format::Csv) {
                p.push(
                    format!("{ck}.index"),
                    "index is for CSV files without a header (csv.header = false); use from = \"<column name>\"",
                );
            }
        } else if s.format == Some(Format::Csv) && !s.csv.header {
            p.push(
                format!("{ck}.index"),
                "a CSV source without a header needs index = <1-based position> for every column",
            );
        }
    }
    if s.key.0.is_empty() {
        p.push(format!("{key}.key"), "at least one key column is required");
    }
    for k in &s.key.0 {
        if !s.columns.contains_key(k) {
            p.push(
                format!("{key}.key"),
                format!(
                    "{k:?} is not a mapped column; expected one of: {}",
                    join_names(s.column_names())
                ),
            );
        }
    }
    if let Some(u) = &s.updated_at {
        match s.columns.get(u) {
            None => p.push(
                format!("{key}.updated_at"),
                format!(
                    "{u:?} is not a mapped column; expected one of: {}",
                    join_names(s.column_names())
                ),
            ),
            Some(c) if !c.column_type.is_temporal() => p.push(
                format!("{key}.updated_at"),
                format!(
                    "column {u:?} has type {}; expected date or timestamp",
                    c.column_type
                ),
            ),
            _ => {}
        }
    }
    if s.stale_after_days.is_some() && s.updated_at.is_none() {
        p.push(
            format!("{key}.stale_after_days"),
            "needs updated_at to name the column of the last update",
        );
    }
    // Two canonical columns from one export column is allowed; the same canonical name
    // twice cannot happen (it is a map key, and TOML rejects duplicate keys).
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::from_str_at(
            text,
            Path::new("recon.toml"),
            PathBuf::from("."),
            String::new(),
        )
    }

    const MINIMAL: &str = r#"
[run]
output = "out"

[[source]]
name = "crm"
system = "crm"
entity = "customer"
path = "a.csv"
key = "id"
updated_at = "updated"
[source.columns]
id = { from = "Id", required = true }
updated = { type = "date", formats = ["%m/%d/%Y"] }
amount = { type = "decimal(12,2)" }
"#;

    #[test]
    fn minimal_config_parses() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.sources[0].format, Some(Format::Csv));
        assert_eq!(
            c.sources[0].columns["amount"].column_type,
            ColumnType::Decimal(12, 2)
        );
        assert_eq!(c.sources[0].export_name("id"), "Id");
        assert_eq!(c.sources[0].export_name("updated"), "updated");
    }

    #[test]
    fn misspelled_key_names_key_and_allowed() {
        let text = MINIMAL.replace("entity =", "entiy =");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(msg.contains("entiy"), "{msg}");
        assert!(msg.contains("entity"), "{msg}");
    }

    #[test]
    fn unknown_type_lists_allowed_types() {
        let text = MINIMAL.replace("decimal(12,2)", "money");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(msg.contains("source.crm.columns.amount.type"), "{msg}");
        assert!(msg.contains("\"money\""), "{msg}");
        assert!(msg.contains("boolean"), "{msg}");
    }

    #[test]
    fn invalid_date_format_is_reported() {
        let text = MINIMAL.replace("%m/%d/%Y", "%m/%Q/%Y");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(
            msg.contains("source.crm.columns.updated.formats[0]"),
            "{msg}"
        );
    }

    #[test]
    fn bad_enum_value_lists_variants() {
        let text = MINIMAL.replace("system = \"crm\"", "system = \"erp\"");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(msg.contains("erp") && msg.contains("billing"), "{msg}");
    }

    #[test]
    fn key_must_be_mapped() {
        let text = MINIMAL.replace("key = \"id\"", "key = [\"id\", \"nope\"]");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(
            msg.contains("source.crm.key") && msg.contains("\"nope\""),
            "{msg}"
        );
    }

    #[test]
    fn quote_must_differ_from_delimiter() {
        let text = format!("{MINIMAL}[source.csv]\ndelimiter = \"|\"\nquote = \"|\"\n");
        let msg = parse(&text).unwrap_err().to_string();
        assert!(
            msg.contains("source.crm.csv.quote") && msg.contains("delimiter"),
            "{msg}"
        );
    }

    #[test]
    fn memory_limit_is_bounded_and_defaults_to_a_share_of_memory() {
        for bad in ["0", "15", "99999999"] {
            let text = MINIMAL.replace("output = \"out\"", &format!("memory_limit_mb = {bad}"));
            let msg = parse(&text).unwrap_err().to_string();
            assert!(
                msg.contains("run.memory_limit_mb") && msg.contains("16"),
                "{bad}: {msg}"
            );
        }
        let c = parse(&MINIMAL.replace("output = \"out\"", "memory_limit_mb = 32")).unwrap();
        assert_eq!(c.run.memory_limit_mb, 32);
        let d = parse(MINIMAL).unwrap().run.memory_limit_mb;
        assert!((256..=4096).contains(&d), "{d}");
    }

    #[test]
    fn decimal_bounds() {
        assert_eq!(
            ColumnType::parse("decimal(38,0)"),
            Some(ColumnType::Decimal(38, 0))
        );
        assert_eq!(ColumnType::parse("decimal(39,0)"), None);
        assert_eq!(ColumnType::parse("decimal(5,6)"), None);
    }
}
