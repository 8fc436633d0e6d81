//! Steward decisions: a CSV that stewards edit by hand or export from a spreadsheet.
//!
//! ```csv
//! decision,source_l,record_key_l,source_r,record_key_r,note
//! must_link,crm_accounts,0015g00000AcMe1AAF,billing_customers,cus_Acme000001,same company
//! cannot_link,crm_accounts,0015g00000InTc4AAF,crm_accounts,0015g00000InTc5AAF,
//! keep_out,billing_customers,cus_Oldco000028,,,closed account
//! ```
//!
//! Decisions are applied before clustering, so they hold for as long as the file holds
//! them. Contradictions (a cannot-link inside a group that must-links join, a kept-out
//! record in a must-link) are configuration errors naming the lines. A decision naming a
//! record that no longer exists is reported, not fatal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::extract::csv::{ScanOptions, Scanner, field_bytes, split_fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MustLink,
    CannotLink,
    KeepOut,
}

/// One decision line.
#[derive(Debug, Clone)]
pub struct Decision {
    pub kind: Kind,
    pub left: (String, String),
    pub right: Option<(String, String)>,
    /// Line in the file (for messages).
    pub line: i64,
    pub entity: String,
}

/// The parsed decisions file.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    pub path: Option<PathBuf>,
    pub items: Vec<Decision>,
}

impl Decisions {
    /// Loads and checks the configured decisions file (none configured: empty).
    pub fn load(cfg: &Config) -> Result<Decisions> {
        let Some(rel) = &cfg.golden.decisions else {
            return Ok(Decisions::default());
        };
        let path = cfg.resolve(rel);
        if !path.exists() {
            // A decisions file that does not exist yet holds no decisions.
            tracing::info!(file = %path.display(), "no decisions file yet");
            return Ok(Decisions {
                path: Some(path),
                items: Vec::new(),
            });
        }
        let d = parse(&path, cfg)?;
        d.check()?;
        Ok(d)
    }

    pub fn for_entity<'a>(&'a self, entity: &'a str) -> impl Iterator<Item = &'a Decision> + 'a {
        self.items.iter().filter(move |d| d.entity == entity)
    }

    /// Contradictions: a cannot-link between records that must-links join (directly or
    /// through others), or a kept-out record in a must-link.
    fn check(&self) -> Result<()> {
        let mut ids: HashMap<(String, String), usize> = HashMap::new();
        let mut parent: Vec<usize> = Vec::new();
        let mut id = |k: &(String, String), parent: &mut Vec<usize>| -> usize {
            *ids.entry(k.clone()).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            })
        };
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        let path = self.path.clone().unwrap_or_default();
        let err = |msg: String| Error::Config {
            path: path.clone(),
            message: msg,
        };
        let mut kept: HashMap<(String, String), i64> = HashMap::new();
        for d in &self.items {
            if d.kind == Kind::KeepOut {
                kept.insert(d.left.clone(), d.line);
            }
        }
        for d in self.items.iter().filter(|d| d.kind == Kind::MustLink) {
            let r = d.right.as_ref().expect("checked at parse");
            for side in [&d.left, r] {
                if let Some(l) = kept.get(side) {
                    return Err(err(format!(
                        "line {}: must_link names {}:{} which line {l} keeps out of every cluster; remove one of the two",
                        d.line, side.0, side.1
                    )));
                }
            }
            let (a, b) = (id(&d.left, &mut parent), id(r, &mut parent));
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            parent[ra] = rb;
        }
        for d in self.items.iter().filter(|d| d.kind == Kind::CannotLink) {
            let r = d.right.as_ref().expect("checked at parse");
            if let (Some(&a), Some(&b)) = (ids.get(&d.left), ids.get(r))
                && find(&mut parent, a) == find(&mut parent, b)
            {
                let lines: Vec<String> = self
                    .items
                    .iter()
                    .filter(|m| m.kind == Kind::MustLink)
                    .filter(|m| {
                        let x = ids[&m.left];
                        find(&mut parent.clone(), x) == find(&mut parent.clone(), a)
                    })
                    .map(|m| m.line.to_string())
                    .collect();
                return Err(err(format!(
                    "line {}: cannot_link between {}:{} and {}:{} contradicts the must_link decisions on lines {} that join them",
                    d.line,
                    d.left.0,
                    d.left.1,
                    r.0,
                    r.1,
                    lines.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn parse(path: &Path, cfg: &Config) -> Result<Decisions> {
    let file =
        std::fs::File::open(path).map_err(|e| Error::io("cannot open decisions file", path, e))?;
    let opts = ScanOptions {
        delimiter: b',',
        quote: b'"',
        max_lines: 20,
        max_record_bytes: 1 << 20,
    };
    let mut sc = Scanner::new(
        std::io::BufReader::new(file),
        path,
        opts,
        200,
        crate::config::Encoding::Utf8,
    );
    let header = sc.read_header()?.unwrap_or_default();
    let want = [
        "decision",
        "source_l",
        "record_key_l",
        "source_r",
        "record_key_r",
    ];
    let pos: Vec<usize> = want
        .iter()
        .map(|w| {
            header
                .iter()
                .position(|h| h.eq_ignore_ascii_case(w))
                .ok_or_else(|| Error::Config {
                    path: path.to_path_buf(),
                    message: format!(
                        "line 1: the header needs columns {} (and optionally note); it has: {}",
                        want.join(", "),
                        header.join(", ")
                    ),
                })
        })
        .collect::<Result<_>>()?;
    let entity_of: HashMap<&str, &str> = cfg
        .entities
        .iter()
        .flat_map(|e| {
            e.member_sources(&cfg.sources)
                .into_iter()
                .map(move |s| (s.name.as_str(), e.name.as_str()))
        })
        .collect();
    let mut items = Vec::new();
    let mut spans = Vec::new();
    while let Some(chunk) = sc.next_chunk(1024)? {
        if let Some(b) = chunk.bad.first() {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!("line {}: {}", b.line, b.message),
            });
        }
        for r in &chunk.records {
            let rec = &chunk.data[r.start..r.end];
            split_fields(rec, b',', b'"', &mut spans);
            let get = |i: usize| -> String {
                spans
                    .get(pos[i])
                    .map(|s| {
                        String::from_utf8_lossy(&field_bytes(rec, s, b'"'))
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default()
            };
            let bad = |msg: String| Error::Config {
                path: path.to_path_buf(),
                message: format!("line {}: {msg}", r.line),
            };
            let kind = match get(0).to_ascii_lowercase().as_str() {
                "must_link" => Kind::MustLink,
                "cannot_link" => Kind::CannotLink,
                "keep_out" => Kind::KeepOut,
                other => {
                    return Err(bad(format!(
                        "decision {other:?}: expected one of must_link, cannot_link, keep_out"
                    )));
                }
            };
            let left = (get(1), get(2));
            let right = (get(3), get(4));
            let entity_for = |s: &str| -> Result<String> {
                entity_of.get(s).map(|e| e.to_string()).ok_or_else(|| {
                    bad(format!(
                        "source {s:?} takes part in no [[entity]]; expected one of: {}",
                        {
                            let mut v: Vec<&&str> = entity_of.keys().collect();
                            v.sort();
                            v.iter()
                                .map(|s| s.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ))
                })
            };
            if left.1.is_empty() {
                return Err(bad("record_key_l is empty".into()));
            }
            let entity = entity_for(&left.0)?;
            let right = if kind == Kind::KeepOut {
                None
            } else {
                if right.1.is_empty() {
                    return Err(bad(format!("{} needs source_r and record_key_r", get(0))));
                }
                let e2 = entity_for(&right.0)?;
                if e2 != entity {
                    return Err(bad(format!(
                        "{}:{} is a {entity} and {}:{} a {e2}; decisions link records of one entity",
                        left.0, left.1, right.0, right.1
                    )));
                }
                Some(right)
            };
            items.push(Decision {
                kind,
                left,
                right,
                line: r.line,
                entity,
            });
        }
    }
    Ok(Decisions {
        path: Some(path.to_path_buf()),
        items,
    })
}
