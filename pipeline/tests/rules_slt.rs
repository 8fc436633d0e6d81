//! sqllogictest for rules: every `rules/builtin/<id>.sql` has a `<id>.slt` beside it that
//! pins its behaviour on small tables. In an `.slt` file, `{{rule key=value …}}` expands to
//! the sibling rule's query rendered with those placeholders (source, column, target,
//! target_column, aliases, updated_at, stale_after_days, or parameters), so the test runs
//! exactly the SQL that `recon run` runs.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use indexmap::IndexMap;
use sqllogictest::{DBOutput, DefaultColumnType, Runner};

struct Db {
    ctx: SessionContext,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DbError {}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let df = self
            .ctx
            .sql(sql)
            .await
            .map_err(|e| DbError(e.to_string()))?;
        let is_query = sql.trim_start().to_ascii_lowercase().starts_with("select")
            || sql.trim_start().to_ascii_lowercase().starts_with("with");
        let batches = df.collect().await.map_err(|e| DbError(e.to_string()))?;
        if !is_query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let mut rows = Vec::new();
        let mut ncols = 0;
        let opts = FormatOptions::default();
        for b in &batches {
            ncols = b.num_columns();
            let fmts: Vec<ArrayFormatter> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
                .collect();
            for r in 0..b.num_rows() {
                rows.push(
                    (0..b.num_columns())
                        .map(|c| {
                            if b.column(c).is_null(r) {
                                "NULL".to_string()
                            } else {
                                let v = fmts[c].value(r).to_string();
                                if v.is_empty() {
                                    "(empty)".to_string()
                                } else {
                                    v
                                }
                            }
                        })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; ncols],
            rows,
        })
    }

    async fn shutdown(&mut self) {}
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Replaces `{{rule k=v …}}` markers with the rendered query of the sibling rule.
fn expand(slt: &str, rule_path: &Path) -> String {
    let text = std::fs::read_to_string(rule_path).unwrap();
    let rule = recon::rules::file::parse(rule_path, &text).unwrap();
    let mut out = String::new();
    for line in slt.lines() {
        let t = line.trim();
        if let Some(inner) = t.strip_prefix("{{rule").and_then(|r| r.strip_suffix("}}")) {
            let mut vars: IndexMap<String, String> = IndexMap::new();
            vars.insert("entity".into(), "customer".into());
            vars.insert("system".into(), "crm".into());
            vars.insert("as_of".into(), "DATE '2026-11-20'".into());
            for (k, v) in &rule.params {
                vars.insert(k.clone(), v.clone());
            }
            for kv in inner.split_whitespace() {
                let (k, v) = kv
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad marker {t}"));
                vars.insert(k.to_string(), v.to_string());
            }
            let sql = recon::rules::file::render(&rule.sql, &vars)
                .unwrap_or_else(|e| panic!("{}: {}", rule_path.display(), e.1));
            recon::rules::check_read_only(&sql).unwrap();
            for l in sql.lines() {
                let l = l.trim_end();
                if !l.trim().is_empty() && !l.trim_start().starts_with("--") {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn run_dir(dir: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let mut slts: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    slts.sort();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for slt in slts {
        let rule = slt.with_extension("sql");
        assert!(
            rule.exists(),
            "{} has no rule file beside it",
            slt.display()
        );
        let script = expand(&std::fs::read_to_string(&slt).unwrap(), &rule);
        let res = rt.block_on(async {
            let mut runner = Runner::new(|| async {
                Ok(Db {
                    ctx: recon::sql::context(256, None).unwrap(),
                })
            });
            runner
                .run_script_with_name_async(&script, slt.display().to_string())
                .await
        });
        if let Err(e) = res {
            failures.push(format!("{}:\n{}", slt.display(), e.display(false)));
        }
    }
    failures
}

#[test]
fn every_builtin_rule_has_an_slt_file() {
    let dir = repo().join("rules/builtin");
    let mut missing = Vec::new();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sql") {
            n += 1;
            if !p.with_extension("slt").exists() {
                missing.push(p.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert!(n >= 15, "the built-in pack has {n} rules");
    assert!(missing.is_empty(), "rules without an .slt: {missing:?}");
}

#[test]
fn builtin_rules_behave_as_pinned() {
    let failures = run_dir(&repo().join("rules/builtin"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_builtin_rule_is_documented_in_the_readme() {
    let readme = std::fs::read_to_string(repo().join("rules/README.md")).unwrap();
    for e in std::fs::read_dir(repo().join("rules/builtin")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sql") {
            let id = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                readme.contains(&format!("`{id}`")),
                "rules/README.md does not document {id}"
            );
        }
    }
}
