//! Rule files: a header of `-- key: value` lines, then one SQL query, possibly a
//! template over sources or references.
//!
//! ```sql
//! -- id: email_valid
//! -- description: Email addresses are syntactically valid
//! -- dimension: validity
//! -- severity: error
//! -- source: *
//! -- requires: email
//! SELECT '{{source}}' AS source, _record_key AS record_key, 'email is not valid' AS detail
//! FROM {{source}} WHERE email IS NOT NULL AND NOT is_valid_email(email)
//! ```
//!
//! `source` names one staged source, or `*` for every source that has the `requires`
//! columns (optionally only those of `entity`). `for_each: reference` instantiates the
//! rule once per declared `[[source.reference]]`. `{{name}}` placeholders are filled from
//! the instance (source, column, target …) and from parameters: `-- param.name: default`
//! in the header, overridden by `[rules.params.<rule id>]` in the config.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

/// Quality dimensions. The codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Completeness,
    Validity,
    Uniqueness,
    Timeliness,
    Consistency,
    Integrity,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Completeness,
        Dimension::Validity,
        Dimension::Uniqueness,
        Dimension::Timeliness,
        Dimension::Consistency,
        Dimension::Integrity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Completeness => "completeness",
            Dimension::Validity => "validity",
            Dimension::Uniqueness => "uniqueness",
            Dimension::Timeliness => "timeliness",
            Dimension::Consistency => "consistency",
            Dimension::Integrity => "integrity",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warn,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "error" => Some(Severity::Error),
            "warn" | "warning" => Some(Severity::Warn),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

/// What a rule runs over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One named source.
    Source(String),
    /// Every source (of `entity`, if given) that has the required columns.
    EachSource { entity: Option<String> },
    /// Every declared reference whose sources have the required columns.
    EachReference,
}

/// A parsed rule file.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub dimension: Dimension,
    pub severity: Severity,
    pub scope: Scope,
    /// Columns a source must have (`email`), target columns for references
    /// (`target.email`), or source settings (`@updated_at`, `@stale_after_days`).
    pub requires: Vec<String>,
    pub warn_below: Option<f64>,
    pub fail_below: Option<f64>,
    /// Parameter defaults from the header.
    pub params: IndexMap<String, String>,
    /// The query template.
    pub sql: String,
    /// 1-based line of the file where the query starts.
    pub sql_line: usize,
    pub path: PathBuf,
}

/// A rule file problem, with the file and line.
#[derive(Debug, Clone)]
pub struct RuleFileError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

const KEYS: &str = "id, description, dimension, severity, source, entity, for_each, requires, warn_below, fail_below, param.<name>";

/// Parses a rule file's text.
pub fn parse(path: &Path, text: &str) -> Result<Rule, RuleFileError> {
    let err = |line: Option<usize>, message: String| RuleFileError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut header: IndexMap<String, (String, usize)> = IndexMap::new();
    let mut sql_start = None;
    let lines: Vec<&str> = text.lines().collect();
    let mut in_header = true;
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if in_header {
            if let Some(rest) = line.strip_prefix("--") {
                let rest = rest.trim();
                if let Some((k, v)) = rest.split_once(':') {
                    let k = k.trim().to_ascii_lowercase();
                    if k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                        && !k.is_empty()
                    {
                        if header.contains_key(&k) {
                            return Err(err(
                                Some(i + 1),
                                format!("header key `{k}` appears twice"),
                            ));
                        }
                        header.insert(k, (v.trim().to_string(), i + 1));
                        continue;
                    }
                }
                in_header = false;
                continue;
            }
            if line.is_empty() {
                continue;
            }
            in_header = false;
        }
        if line.is_empty() || line.starts_with("--") {
            continue;
        }
        sql_start = Some(i);
        break;
    }
    let Some(start) = sql_start else {
        return Err(err(None, "no SQL query after the header".into()));
    };
    let sql = lines[start..]
        .join("\n")
        .trim_end()
        .trim_end_matches(';')
        .to_string();
    let get = |k: &str| header.get(k).map(|(v, l)| (v.as_str(), *l));
    let required = |k: &str| -> Result<(String, usize), RuleFileError> {
        match get(k) {
            Some((v, l)) if !v.is_empty() => Ok((v.to_string(), l)),
            _ => Err(err(
                None,
                format!("missing required header `-- {k}: …` (header keys: {KEYS})"),
            )),
        }
    };
    for (k, (_, l)) in &header {
        let known = matches!(
            k.as_str(),
            "id" | "description"
                | "dimension"
                | "severity"
                | "source"
                | "entity"
                | "for_each"
                | "requires"
                | "warn_below"
                | "fail_below"
        ) || k.starts_with("param.");
        if !known {
            return Err(err(
                Some(*l),
                format!("unknown header key `{k}`; expected one of: {KEYS}"),
            ));
        }
    }
    let (id, id_line) = required("id")?;
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(err(
            Some(id_line),
            format!("rule id {id:?} must be lower-case letters, digits and _"),
        ));
    }
    let (description, _) = required("description")?;
    let (dim, dim_line) = required("dimension")?;
    let dimension = Dimension::parse(&dim).ok_or_else(|| {
        err(
            Some(dim_line),
            format!("unknown dimension {dim:?}; expected one of: completeness, validity, uniqueness, timeliness, consistency, integrity"),
        )
    })?;
    let (sev, sev_line) = required("severity")?;
    let severity = Severity::parse(&sev).ok_or_else(|| {
        err(
            Some(sev_line),
            format!("unknown severity {sev:?}; expected one of: error, warn, info"),
        )
    })?;
    let entity = get("entity")
        .map(|(v, _)| v.to_string())
        .filter(|v| !v.is_empty());
    let scope = match (get("for_each"), get("source")) {
        (Some(("reference", _)), _) => Scope::EachReference,
        (Some(("source", _)), _) | (None, Some(("*", _))) => Scope::EachSource { entity },
        (Some((other, l)), _) => {
            return Err(err(
                Some(l),
                format!("unknown for_each {other:?}; expected source or reference"),
            ));
        }
        (None, Some((name, _))) if !name.is_empty() => Scope::Source(name.to_string()),
        (None, _) if entity.is_some() => Scope::EachSource { entity },
        (None, _) => {
            return Err(err(
                None,
                "missing `-- source: <name>` (or `*`), `-- entity: <entity>` or `-- for_each: reference`: the rule needs a population".into(),
            ));
        }
    };
    let requires = get("requires")
        .map(|(v, _)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let rate = |k: &str| -> Result<Option<f64>, RuleFileError> {
        match get(k) {
            None => Ok(None),
            Some((v, l)) => parse_rate(v).map(Some).ok_or_else(|| {
                err(
                    Some(l),
                    format!("{k} {v:?}: expected a pass rate such as 0.98 or 98%"),
                )
            }),
        }
    };
    let params = header
        .iter()
        .filter_map(|(k, (v, _))| k.strip_prefix("param.").map(|n| (n.to_string(), v.clone())))
        .collect();
    Ok(Rule {
        id,
        description,
        dimension,
        severity,
        scope,
        requires,
        warn_below: rate("warn_below")?,
        fail_below: rate("fail_below")?,
        params,
        sql,
        sql_line: start + 1,
        path: path.to_path_buf(),
    })
}

/// `0.98`, `98%` or `98` → 0.98.
pub fn parse_rate(v: &str) -> Option<f64> {
    let t = v.trim();
    let (num, pct) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let x: f64 = num.parse().ok()?;
    let x = if pct || x > 1.0 { x / 100.0 } else { x };
    (0.0..=1.0).contains(&x).then_some(x)
}

/// Fills `{{name}}` placeholders; an unknown name is an error naming it and the line.
pub fn render(template: &str, vars: &IndexMap<String, String>) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut line = 1;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        line += rest[..i].matches('\n').count();
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err((line, "unclosed `{{`".into()));
        };
        let name = after[..j].trim();
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                let mut known: Vec<&str> = vars.keys().map(String::as_str).collect();
                known.sort();
                return Err((
                    line,
                    format!(
                        "unknown placeholder {{{{{name}}}}}; available here: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "-- id: email_valid\n-- description: Emails are valid\n-- dimension: validity\n-- severity: error\n-- source: *\n-- requires: email, @updated_at\n-- warn_below: 99%\n-- param.max_age: 30\n\n-- a comment\nSELECT 1\nFROM t;\n";

    #[test]
    fn parses_header_and_query() {
        let r = parse(Path::new("r.sql"), OK).unwrap();
        assert_eq!(r.id, "email_valid");
        assert_eq!(r.dimension, Dimension::Validity);
        assert_eq!(r.scope, Scope::EachSource { entity: None });
        assert_eq!(r.requires, ["email", "@updated_at"]);
        assert_eq!(r.warn_below, Some(0.99));
        assert_eq!(r.params["max_age"], "30");
        assert_eq!(r.sql, "SELECT 1\nFROM t");
        assert_eq!(r.sql_line, 11);
    }

    #[test]
    fn missing_key_is_named() {
        let e = parse(Path::new("r.sql"), &OK.replace("-- severity: error\n", "")).unwrap_err();
        assert!(
            e.message.contains("missing required header `-- severity"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_and_bad_values() {
        let e = parse(
            Path::new("r.sql"),
            &OK.replace("-- severity:", "-- severty:"),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("unknown header key `severty`"), "{e}");
        let e = parse(Path::new("r.sql"), &OK.replace("validity", "accuracy")).unwrap_err();
        assert!(e.message.contains("completeness, validity"), "{e}");
        let e = parse(Path::new("r.sql"), &OK.replace("99%", "lots")).unwrap_err();
        assert!(e.message.contains("warn_below"), "{e}");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0.5"), Some(0.5));
        assert_eq!(parse_rate("50%"), Some(0.5));
        assert_eq!(parse_rate("95"), Some(0.95));
        assert_eq!(parse_rate("150"), None);
    }

    #[test]
    fn renders_placeholders() {
        let mut v = IndexMap::new();
        v.insert("source".to_string(), "crm".to_string());
        assert_eq!(
            render("SELECT * FROM {{ source }}", &v).unwrap(),
            "SELECT * FROM crm"
        );
        let e = render("SELECT\n{{nope}}", &v).unwrap_err();
        assert_eq!(e.0, 2);
        assert!(
            e.1.contains("{{nope}}") && e.1.contains("source"),
            "{}",
            e.1
        );
    }
}
