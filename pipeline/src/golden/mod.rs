//! Golden records: one trusted record per entity by survivorship rules with lineage,
//! a crosswalk from every record to its golden id (stable across runs), the id changes
//! of the night, and findings stewards can fix at the source.
//!
//! Outputs: `golden_<entity>.parquet`, `crosswalk.parquet`, `id_changes.parquet`,
//! `id_registry.parquet`, `findings.parquet`.

pub mod decisions;
pub mod ids;
pub mod spec;

use crate::util::FastMap;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rayon::prelude::*;
use serde::Serialize;

use self::decisions::{Decision, Decisions, Kind};
use self::ids::{IdChange, RegistryEntry};
use self::spec::{Attribute, GoldenEntity, Rule, Validate};
use crate::config::{AliasRule, Config};
use crate::error::{Error, Result};
use crate::matching::cluster::Constraints;
use crate::matching::compare::{standardize, standardize_uses_country};
use crate::matching::records::{Records, StrColumn};
use crate::matching::{EntityMatch, MatchOutput};
use crate::normalize;
use crate::output::{ParquetSink, RunDir};

pub const CROSSWALK_FILE: &str = "crosswalk.parquet";
pub const ID_CHANGES_FILE: &str = "id_changes.parquet";
pub const REGISTRY_FILE: &str = "id_registry.parquet";
pub const FINDINGS_FILE: &str = "findings.parquet";

pub fn golden_file(entity: &str) -> String {
    format!("golden_{entity}.parquet")
}

/// Maps the decisions of an entity to record indices for clustering; decisions naming
/// records that do not exist are collected in `unknown`.
pub fn constraints(
    d: &Decisions,
    entity: &str,
    records: &Records,
    unknown: &Mutex<Vec<Decision>>,
) -> Constraints {
    // Only the records the decisions name are indexed (a night usually has few or none).
    let mut index: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
    for dec in d.for_entity(entity) {
        index.insert((dec.left.0.as_str(), dec.left.1.as_str()), Vec::new());
        if let Some(r) = &dec.right {
            index.insert((r.0.as_str(), r.1.as_str()), Vec::new());
        }
    }
    if !index.is_empty() {
        for i in 0..records.len() {
            if let Some(v) = index.get_mut(&(records.source_name(i), records.key(i))) {
                v.push(i as u32);
            }
        }
    }
    index.retain(|_, v| !v.is_empty());
    let mut c = Constraints::default();
    for dec in d.for_entity(entity) {
        let l = index.get(&(dec.left.0.as_str(), dec.left.1.as_str()));
        let r = dec
            .right
            .as_ref()
            .map(|r| index.get(&(r.0.as_str(), r.1.as_str())));
        match (dec.kind, l, r) {
            (Kind::KeepOut, Some(l), _) => c.keep_out.extend(l.iter().copied()),
            (Kind::MustLink, Some(l), Some(Some(r))) => c.must_link.push((l[0], r[0])),
            (Kind::CannotLink, Some(l), Some(Some(r))) => {
                for &a in l {
                    for &b in r.iter() {
                        c.cannot_link.push((a, b));
                    }
                }
            }
            _ => unknown.lock().expect("lock").push(dec.clone()),
        }
    }
    c
}

/// A finding row.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub finding_type: &'static str,
    pub kind: &'static str,
    pub entity: String,
    pub golden_id: Option<String>,
    pub source: String,
    pub record_key: String,
    pub related_source: Option<String>,
    pub related_key: Option<String>,
    pub severity: &'static str,
    pub detail: String,
    pub evidence: Option<String>,
}

/// What the golden stage produced (for the manifest and later stages).
#[derive(Debug, Clone, Serialize, Default)]
pub struct GoldenSummary {
    pub entities: Vec<EntityGolden>,
    pub findings_by_type: BTreeMap<String, u64>,
    pub decisions_applied: u64,
    pub decisions_unknown_records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityGolden {
    pub entity: String,
    pub golden_records: u64,
    pub ids_new: u64,
    pub ids_merged: u64,
    pub ids_split: u64,
    pub ids_retired: u64,
    pub previous_run: Option<NaiveDate>,
}

pub struct GoldenOutput {
    pub summary: GoldenSummary,
    pub findings: Vec<Finding>,
}

/// Per-record data the golden stage needs beyond matching's.
struct Extra {
    updated: Vec<Option<i64>>,
    cols: Records,
}

fn load_extra(run_dir: &Path, cfg: &Config, m: &EntityMatch, fields: &[String]) -> Result<Extra> {
    let cols = crate::matching::records::load(run_dir, &m.records.sources, fields)?;
    if cols.len() != m.records.len() || (0..cols.len()).any(|i| cols.key(i) != m.records.key(i)) {
        return Err(Error::Invariant(
            "golden: staged records changed under the run".into(),
        ));
    }
    let mut updated = Vec::with_capacity(cols.len());
    for s in &m.records.sources {
        let src = cfg.source(s).expect("member");
        let path = run_dir.join(crate::extract::staged_rel(s));
        let f = std::fs::File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
        let builder =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .map_err(|e| Error::parquet(format!("cannot read {}", path.display()), e))?;
        let rows = builder.metadata().file_metadata().num_rows() as usize;
        let col = src
            .updated_at
            .as_ref()
            .and_then(|u| builder.schema().index_of(u).ok());
        let Some(ci) = col else {
            updated.extend(std::iter::repeat_n(None, rows));
            continue;
        };
        for b in crate::matching::records::projected(builder, [ci], &path)? {
            let b = b.map_err(|e| Error::arrow(format!("cannot read {}", path.display()), e))?;
            let t = cast(
                b.column(0),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )
            .map_err(|e| Error::arrow("updated_at column", e))?;
            let t = t.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
            updated
                .extend((0..t.len()).map(|i| if t.is_null(i) { None } else { Some(t.value(i)) }));
        }
    }
    Ok(Extra { updated, cols })
}

fn date_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn is_valid(v: Validate, value: &str, country: Option<&str>) -> bool {
    match v {
        Validate::None => true,
        Validate::Email => normalize::is_valid_email(value),
        Validate::Phone => normalize::is_valid_phone(value, country),
        Validate::Country => normalize::is_iso_country(value),
    }
}

/// Clusters up to this size find a record's position by scanning their members; larger
/// ones (must-links can exceed `max_cluster_size`) by binary search.
const SCAN_MEMBERS_MAX: usize = 16;

/// One cluster's attribute values: validity per record and, in a cluster of two or
/// more, the standardised values compared within it — computed cluster by cluster
/// instead of held for every record of the entity. A value is standardised only when a
/// comparison needs it: records holding the same raw value (and, for phones, the same
/// country) are the same without it.
struct ClusterAttrs<'m, C> {
    members: &'m [usize],
    attrs: &'m [Attribute],
    cols: &'m [&'m StrColumn],
    cty: &'m C,
    /// (record, position) sorted by record, for clusters too large to scan `members`.
    positions: Vec<(usize, usize)>,
    /// `[attribute * members + position]`: the record has a value and it passes the
    /// attribute's validation.
    valid: Vec<bool>,
    /// `[attribute * members + position]`: the standardised value, once asked for
    /// (empty for a cluster of one).
    std: Vec<OnceCell<Option<String>>>,
}

impl<'m, 'c, C: Fn(usize) -> Option<&'c str>> ClusterAttrs<'m, C> {
    fn new(
        members: &'m [usize],
        attrs: &'m [Attribute],
        cols: &'m [&'m StrColumn],
        cty: &'m C,
    ) -> Self {
        let k = members.len();
        let mut valid = Vec::with_capacity(attrs.len() * k);
        for (a, col) in attrs.iter().zip(cols) {
            for &i in members {
                let v = col.get(i);
                valid.push(v.is_some_and(|v| is_valid(a.validate, v, cty(i))));
            }
        }
        let std = if k > 1 {
            (0..attrs.len() * k).map(|_| OnceCell::new()).collect()
        } else {
            Vec::new()
        };
        let mut positions = Vec::new();
        if k > SCAN_MEMBERS_MAX {
            positions = members.iter().enumerate().map(|(p, &i)| (i, p)).collect();
            positions.sort_unstable();
        }
        ClusterAttrs {
            members,
            attrs,
            cols,
            cty,
            positions,
            valid,
            std,
        }
    }

    fn at(&self, ai: usize, i: usize) -> usize {
        let p = if self.positions.is_empty() {
            self.members.iter().position(|&m| m == i)
        } else {
            self.positions
                .binary_search_by_key(&i, |&(r, _)| r)
                .ok()
                .map(|x| self.positions[x].1)
        };
        ai * self.members.len() + p.expect("a record of the cluster")
    }

    fn valid(&self, ai: usize, i: usize) -> bool {
        self.valid[self.at(ai, i)]
    }

    /// The standardised value of attribute `ai` of record `i`, computed on first use.
    fn std(&self, ai: usize, i: usize) -> Option<&str> {
        self.std[self.at(ai, i)]
            .get_or_init(|| {
                let a = &self.attrs[ai];
                self.cols[ai]
                    .get(i)
                    .and_then(|v| standardize(a.standardize, v, (self.cty)(i), &[]))
            })
            .as_deref()
    }

    /// Whether records `i` and `j` hold the same value of attribute `ai`.
    fn same(&self, ai: usize, a: &Attribute, i: usize, j: usize) -> bool {
        // Standardising is a function of the raw value and (for some kinds) the
        // record's country: equal inputs give equal standardised values, which are the
        // same whether present or not.
        let col = self.cols[ai];
        if col.get(i) == col.get(j)
            && (!standardize_uses_country(a.standardize) || (self.cty)(i) == (self.cty)(j))
        {
            return true;
        }
        match (self.std(ai, i), self.std(ai, j)) {
            (Some(p), Some(q)) => {
                p == q || (a.same_if < 1.0 && normalize::jaro_winkler(p, q) >= a.same_if)
            }
            (None, None) => true,
            _ => false,
        }
    }
}

/// Default golden attributes when none are configured: every compared field.
fn attributes_for(e: &EntityMatch, g: Option<&GoldenEntity>) -> Vec<Attribute> {
    if let Some(g) = g
        && !g.attributes.is_empty()
    {
        return g.attributes.clone();
    }
    let mut seen = std::collections::HashSet::new();
    e.config
        .comparisons
        .iter()
        .flat_map(|c| c.fields())
        .filter(|f| seen.insert(f.clone()))
        .map(|f| Attribute {
            name: f.clone(),
            column: None,
            rule: Rule::SourcePriority,
            tie_breakers: vec![Rule::MostRecent],
            validate: Validate::None,
            standardize: crate::matching::spec::Standardize::Text,
            same_if: 1.0,
            track: false,
        })
        .collect()
}

/// The previous committed run before `as_of`: its date, crosswalk (as read: the id
/// lookups borrow its strings) and registry.
type Previous = (Option<NaiveDate>, Vec<RecordBatch>, Vec<RegistryEntry>);

fn load_previous(root: &Path, as_of: NaiveDate) -> Result<Previous> {
    let dates = crate::output::list_run_dates(root)?;
    let Some(&d) = dates.iter().rev().find(|d| **d < as_of) else {
        return Ok((None, Vec::new(), Vec::new()));
    };
    let dir = root.join(crate::output::run_dir_name(d));
    let mut xw = Vec::new();
    let mut reg = Vec::new();
    if dir.join(CROSSWALK_FILE).is_file() {
        xw = crate::output::read_parquet(&dir.join(CROSSWALK_FILE))?.1;
    }
    if dir.join(REGISTRY_FILE).is_file() {
        let (_, batches) = crate::output::read_parquet(&dir.join(REGISTRY_FILE))?;
        for b in &batches {
            let s = |n: &str| {
                b.column_by_name(n)
                    .expect("schema")
                    .as_string::<i32>()
                    .clone()
            };
            let dcol = |n: &str| {
                b.column_by_name(n)
                    .expect("schema")
                    .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                    .clone()
            };
            let (e, g, st, mi) = (s("entity"), s("golden_id"), s("status"), s("merged_into"));
            let (iss, last) = (dcol("issued_on"), dcol("last_seen"));
            let mut entity: Option<Arc<str>> = None;
            for i in 0..b.num_rows() {
                // One shared name per entity, not a string per entry.
                let name = match &entity {
                    Some(n) if **n == *e.value(i) => n.clone(),
                    _ => {
                        let n: Arc<str> = e.value(i).into();
                        entity = Some(n.clone());
                        n
                    }
                };
                reg.push(RegistryEntry {
                    golden_id: g.value(i).to_string(),
                    entity: name,
                    issued_on: crate::util::days_to_date(iss.value(i)).unwrap_or(as_of),
                    status: match st.value(i) {
                        "active" => "active",
                        "merged" => "merged",
                        "retired" => "retired",
                        other => {
                            return Err(Error::Invariant(format!(
                                "{}: row {}: column status is {other:?}, expected one of \
                                 active, merged, retired",
                                dir.join(REGISTRY_FILE).display(),
                                i + 1
                            )));
                        }
                    },
                    merged_into: if mi.is_null(i) {
                        None
                    } else {
                        Some(mi.value(i).to_string())
                    },
                    last_seen: crate::util::days_to_date(last.value(i)).unwrap_or(as_of),
                });
            }
        }
    }
    Ok((Some(d), xw, reg))
}

/// Runs the golden stage.
pub fn run(
    cfg: &Config,
    run: &mut RunDir,
    root: &Path,
    matched: &MatchOutput,
    as_of: NaiveDate,
    unknown_decisions: &[Decision],
    decisions_total: u64,
) -> Result<GoldenOutput> {
    let (prev_date, previous, mut registry) = load_previous(root, as_of)?;
    let run_days = crate::util::date_to_days(as_of);
    let tol_us = cfg.golden.stale_tolerance_days as i64 * 86_400_000_000;
    let mut findings: Vec<Finding> = Vec::new();
    let mut summary = GoldenSummary {
        decisions_applied: decisions_total - unknown_decisions.len() as u64,
        decisions_unknown_records: unknown_decisions.len() as u64,
        ..Default::default()
    };
    for d in unknown_decisions {
        findings.push(Finding {
            finding_type: "decision",
            kind: "unknown_record",
            entity: d.entity.clone(),
            golden_id: None,
            source: d.left.0.clone(),
            record_key: d.left.1.clone(),
            related_source: d.right.as_ref().map(|r| r.0.clone()),
            related_key: d.right.as_ref().map(|r| r.1.clone()),
            severity: "warn",
            detail: format!(
                "decisions file line {}: a record it names no longer exists; the decision was not applied",
                d.line
            ),
            evidence: None,
        });
        tracing::warn!(line = d.line, entity = %d.entity, "a decision names a record that does not exist");
    }
    let mut xw_parts: Vec<CrosswalkPart> = Vec::new();
    // Id changes are written entity by entity (their records are the clusters').
    let mut changes_sink = run.parquet_writer(ID_CHANGES_FILE, changes_schema())?;
    let mut all_registry: Vec<RegistryEntry> = Vec::new();
    for m in &matched.entities {
        let e = &m.config;
        let mut phase = crate::util::Phases::new("golden", &e.name);
        let g = cfg.golden.entities.iter().find(|g| g.name == e.name);
        let attrs = attributes_for(m, g);
        let priority: Vec<String> = match g {
            Some(g) if !g.source_priority.is_empty() => g.source_priority.clone(),
            _ => m.records.sources.clone(),
        };
        let rank = |s: u16| -> usize {
            priority
                .iter()
                .position(|p| p == &m.records.sources[s as usize])
                .unwrap_or(priority.len() + s as usize)
        };
        // Columns: attributes, the country (phone validation), references.
        let mut fields: Vec<String> = attrs.iter().map(|a| a.column().to_string()).collect();
        fields.push(e.country_field.clone());
        let refs: Vec<(usize, String, usize, String, AliasRule)> = m
            .records
            .sources
            .iter()
            .enumerate()
            .flat_map(|(si, s)| {
                let src = cfg.source(s).expect("member");
                src.references
                    .iter()
                    .filter_map(|r| {
                        let ti = m.records.sources.iter().position(|x| x == &r.target)?;
                        let tc = r.target_column.clone().unwrap_or_else(|| {
                            cfg.source(&r.target).expect("validated").key.0[0].clone()
                        });
                        Some((si, r.column.clone(), ti, tc, r.aliases))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (_, c, _, tc, _) in &refs {
            fields.push(c.clone());
            fields.push(tc.clone());
        }
        let mut seen = std::collections::HashSet::new();
        fields.retain(|f| seen.insert(f.clone()));
        let extra = load_extra(run.path(), cfg, m, &fields)?;
        phase.lap("load_extra");
        let n = m.records.len();
        let country = extra.cols.field(&e.country_field);
        let cty = |i: usize| country.and_then(|c| c.get(i));
        let attr_col: Vec<&StrColumn> = attrs
            .iter()
            .map(|a| extra.cols.field(a.column()).expect("loaded"))
            .collect();
        // Records in (source, key, line) order (index last: deterministic), once; the
        // clusters follow from it in order of their smallest (source, key), each listing
        // its members in that order — integer work instead of string sorts per cluster.
        // Sources ranked by name: one integer comparison instead of two string ones.
        let name_rank: Vec<u16> = {
            let mut by_name: Vec<u16> = (0..m.records.sources.len() as u16).collect();
            by_name.sort_by_key(|&s| &m.records.sources[s as usize]);
            let mut rank = vec![0u16; by_name.len()];
            for (r, &s) in by_name.iter().enumerate() {
                rank[s as usize] = r as u16;
            }
            rank
        };
        // Matching's order is (source, key, line, index): a stable sort by the source's
        // name rank alone gives (name rank, key, line, index) without comparing keys.
        let mut order: Vec<u32> = m.record_order.clone();
        order.par_sort_by_key(|&x| name_rank[m.records.source[x as usize] as usize]);
        let (clusters, golden_of) = Clusters::in_order(&order, &m.cluster_of, m.clusters());
        // golden_of: matching's cluster index → golden cluster index (same clusters).
        phase.lap("clusters");
        // The previous night's ids of this entity's records (a key seen twice: the
        // later row), matched to tonight's records by one merge: both lists are in
        // (source, key) order. The rows are counted first: growing a vector of
        // millions by doubling costs more than filling it (every doubling copies it
        // into freshly zeroed pages).
        let entity_rows: usize = previous
            .iter()
            .map(|b| {
                let en = b
                    .column_by_name("entity")
                    .expect("schema")
                    .as_string::<i32>();
                (0..b.num_rows()).filter(|&i| en.value(i) == e.name).count()
            })
            .sum();
        let mut prev_rows: Vec<(ids::Member, &str)> = Vec::with_capacity(entity_rows);
        for b in &previous {
            let col = |n: &str| b.column_by_name(n).expect("schema").as_string::<i32>();
            let (en, src, key, gid) = (
                col("entity"),
                col("source"),
                col("record_key"),
                col("golden_id"),
            );
            prev_rows.extend(
                (0..b.num_rows())
                    .filter(|&i| en.value(i) == e.name)
                    .map(|i| ((src.value(i), key.value(i)), gid.value(i))),
            );
        }
        let prev_e = ids::PreviousIds::new(prev_rows);
        phase.lap("ids_previous_rows");
        // A first night has no previous ids: nothing to match, nothing to hold.
        let mut prev_of_record: Vec<Option<&str>> = Vec::new();
        if !prev_e.is_empty() {
            let prev_in_order = prev_e.of_sorted(
                order
                    .iter()
                    .map(|&i| (m.records.source_name(i as usize), m.records.key(i as usize))),
            );
            prev_of_record = vec![None; n];
            for (&i, p) in order.iter().zip(prev_in_order) {
                prev_of_record[i as usize] = p;
            }
        }
        phase.lap("ids_previous_merge");
        // Each cluster's records as (source, key), a record listed twice once, and
        // (after a previous run) their previous ids.
        let members_of = |c: usize| {
            let mut v: Vec<(ids::Member, Option<&str>)> = clusters
                .get(c)
                .iter()
                .map(|&i| {
                    (
                        (m.records.source_name(i), m.records.key(i)),
                        prev_of_record.get(i).copied().flatten(),
                    )
                })
                .collect();
            v.dedup_by(|x, y| x.0 == y.0);
            v
        };
        let clusters_par = (0..clusters.len()).into_par_iter().with_min_len(4096);
        let (member_keys, previous_of): (Vec<Vec<ids::Member>>, Vec<Vec<Option<&str>>>) =
            if prev_e.is_empty() {
                let keys = clusters_par
                    .map(|c| members_of(c).into_iter().map(|x| x.0).collect())
                    .collect();
                (keys, Vec::new())
            } else {
                clusters_par
                    .map(|c| members_of(c).into_iter().unzip())
                    .unzip()
            };
        drop(prev_of_record);
        phase.lap("ids_previous_index");
        let prefix = g
            .map(|g| g.prefix().to_string())
            .unwrap_or_else(|| e.name.clone());
        // This entity's part of the previous registry, moved (not copied) into the
        // assignment; what no matched entity takes is carried over below.
        let (registry_e, rest): (Vec<RegistryEntry>, Vec<RegistryEntry>) =
            std::mem::take(&mut registry)
                .into_iter()
                .partition(|r| *r.entity == *e.name);
        registry = rest;
        let mut asg = ids::assign(
            &e.name,
            &prefix,
            &member_keys,
            &prev_e,
            &previous_of,
            registry_e,
            as_of,
        );
        drop(previous_of);
        phase.lap("ids");
        let gid = |i: usize| -> &str { &asg.ids[golden_of[m.cluster_of[i] as usize] as usize] };
        let count = |t: &str| asg.changes.iter().filter(|c| c.change_type == t).count() as u64;
        summary.entities.push(EntityGolden {
            entity: e.name.clone(),
            golden_records: clusters.len() as u64,
            ids_new: count("new"),
            ids_merged: count("merged"),
            ids_split: count("split"),
            ids_retired: count("retired"),
            previous_run: prev_date,
        });
        write_changes(
            &mut changes_sink,
            &e.name,
            &std::mem::take(&mut asg.changes),
            &member_keys,
            run_days,
        )?;
        drop(member_keys);
        drop(prev_e);
        all_registry.append(&mut asg.registry);
        // The entity's crosswalk part (completed with the ids at the end of the loop).
        let xw_golden_ids: Vec<u32> = m
            .cluster_of
            .iter()
            .map(|&c| golden_of[c as usize])
            .collect();
        phase.lap("crosswalk_rows");
        // Pair probabilities, for evidence: sorted by pair, looked up by binary search
        // (16 bytes a pair instead of a hash map's 32 or more).
        let mut prob: Vec<((u32, u32), f64)> = m
            .pairs
            .iter()
            .map(|p| ((p.a, p.b), p.probability))
            .collect();
        prob.par_sort_unstable_by_key(|x| x.0);
        let pair_p = |a: usize, b: usize| {
            let k = ((a.min(b)) as u32, (a.max(b)) as u32);
            prob.binary_search_by_key(&k, |x| x.0)
                .ok()
                .map(|at| prob[at].1)
        };
        let completeness: Vec<u16> = (0..n)
            .map(|i| attr_col.iter().filter(|c| c.get(i).is_some()).count() as u16)
            .collect();

        phase.lap("pair_index");
        // Findings.
        let owner = |i: usize| m.records.source_name(i).to_string();
        let record_finding = |ft: &'static str,
                              kind: &'static str,
                              i: usize,
                              rel: Option<usize>,
                              sev: &'static str,
                              detail: String,
                              evidence: Option<String>| Finding {
            finding_type: ft,
            kind,
            entity: e.name.clone(),
            golden_id: Some(gid(i).to_string()),
            source: owner(i),
            record_key: m.records.key(i).to_string(),
            related_source: rel.map(|r| m.records.source_name(r).to_string()),
            related_key: rel.map(|r| m.records.key(r).to_string()),
            severity: sev,
            detail,
            evidence,
        };
        // Survivorship.
        // Clusters are independent: survivorship runs on both cores, in cluster order.
        // Each attribute's winning record (`None`: no valid value in the cluster).
        // Flat: `winners[c * attributes + a]`, `u32::MAX` for none.
        let na = attrs.len();
        let width = na.max(1);
        let mut winners = vec![NO_WINNER; clusters.len() * width];
        // With each cluster's attribute values at hand (validated and, in clusters of
        // two or more, standardised — cluster by cluster, not held for every record),
        // the same pass finds the cluster's duplicates, stale values and conflicts.
        let cluster_findings: Vec<Vec<Finding>> = winners
            .par_chunks_mut(width)
            .enumerate()
            .with_min_len(1024)
            .map(|(c, row)| {
                let members = clusters.get(c);
                let ca = ClusterAttrs::new(members, &attrs, &attr_col, &cty);
                if let [i] = members[..] {
                    // A cluster of one: its record wins wherever its value is usable;
                    // duplicates, stale values and conflicts all need a second record.
                    for (ai, w) in row.iter_mut().enumerate().take(na) {
                        if ca.valid(ai, i) {
                            *w = i as u32;
                        }
                    }
                    return Vec::new();
                }
                for (ai, a) in attrs.iter().enumerate() {
                    let col = attr_col[ai];
                    // Present and (where validated) valid.
                    let mut cands: Vec<usize> =
                        members.iter().copied().filter(|&i| ca.valid(ai, i)).collect();
                    let mut order: Vec<Rule> = vec![a.rule];
                    order.extend(a.tie_breakers.iter().copied());
                    let freqs: HashMap<usize, usize> = if order.contains(&Rule::MostFrequent) {
                        cands
                            .iter()
                            .map(|&i| (i, cands.iter().filter(|&&j| ca.same(ai, a, i, j)).count()))
                            .collect()
                    } else {
                        HashMap::new()
                    };
                    let freq = |i: usize| freqs.get(&i).copied().unwrap_or(0);
                    let key_of = |r: Rule, i: usize| -> i64 {
                        match r {
                            Rule::SourcePriority => rank(m.records.source[i]) as i64,
                            Rule::MostRecent => -extra.updated[i].unwrap_or(i64::MIN / 2),
                            Rule::MostComplete => -(completeness[i] as i64),
                            Rule::MostFrequent => -(freq(i) as i64),
                            Rule::Longest => {
                                -(col.get(i).map(|v| v.chars().count()).unwrap_or(0) as i64)
                            }
                        }
                    };
                    cands.sort_by(|&x, &y| {
                        for r in &order {
                            let o = key_of(*r, x).cmp(&key_of(*r, y));
                            if o != std::cmp::Ordering::Equal {
                                return o;
                            }
                        }
                        (
                            rank(m.records.source[x]),
                            m.records.key(x),
                            m.records.lines[x],
                        )
                            .cmp(&(
                                rank(m.records.source[y]),
                                m.records.key(y),
                                m.records.lines[y],
                            ))
                    });
                    if let Some(&w) = cands.first() {
                        row[ai] = w as u32;
                    }
                }
            let mut findings: Vec<Finding> = Vec::new();
            // Duplicates: several records of one source in one cluster.
            let mut per_source: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
            for &i in members {
                per_source.entry(m.records.source[i]).or_default().push(i);
            }
            for recs in per_source.values() {
                if recs.len() < 2 {
                    continue;
                }
                let mut sorted = recs.clone();
                sorted.sort_by(|&x, &y| {
                    extra.updated[y]
                        .cmp(&extra.updated[x])
                        .then(m.records.key(x).cmp(m.records.key(y)))
                        .then(m.records.lines[x].cmp(&m.records.lines[y]))
                });
                let keep = sorted[0];
                for &d in &sorted[1..] {
                    let same_key = m.records.key(d) == m.records.key(keep);
                    findings.push(record_finding(
                        "duplicate",
                        if same_key { "same_key" } else { "matched" },
                        d,
                        Some(keep),
                        "warn",
                        if same_key {
                            format!("the same key appears twice in {} (lines {} and {})", owner(d), m.records.lines[d], m.records.lines[keep])
                        } else {
                            format!("duplicate of {} in the same source (the more recently updated record)", m.records.key(keep))
                        },
                        pair_p(d, keep).map(|p| format!("match_probability={p:.4}")),
                    ));
                }
            }
            // Stale attributes and conflicts, across sources.
            for (ai, a) in attrs.iter().enumerate() {
                if !a.track {
                    continue;
                }
                // Invalid values are the validity rules' business, not a disagreement.
                let with: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| ca.valid(ai, i))
                    .collect();
                // Dated records, newest first (ties: record order).
                let mut dated: Vec<(i64, usize)> = with
                    .iter()
                    .filter_map(|&y| extra.updated[y].map(|t| (t, y)))
                    .collect();
                dated.sort_unstable_by(|p, q| q.0.cmp(&p.0).then(p.1.cmp(&q.1)));
                for &x in &with {
                    let Some(tx) = extra.updated[x] else { continue };
                    // The newest record of another source whose value differs; one
                    // more than the tolerance older than x can make no finding, so the
                    // (costly) value comparison stops there.
                    let newer = dated
                        .iter()
                        .copied()
                        .filter(|&(_, y)| m.records.source[y] != m.records.source[x])
                        .take_while(|&(ty, _)| ty >= tx - tol_us)
                        .find(|&(_, y)| !ca.same(ai, a, x, y));
                    let Some((ty, y)) = newer else { continue };
                    if ty > tx + tol_us {
                        findings.push(record_finding(
                            "stale",
                            "attribute",
                            x,
                            Some(y),
                            "warn",
                            format!(
                                "{} differs from {} {}, which is newer ({} vs {})",
                                a.name,
                                owner(y),
                                m.records.key(y),
                                date_of(ty),
                                date_of(tx)
                            ),
                            Some(format!(
                                "updated_at={} related_updated_at={}",
                                date_of(tx),
                                date_of(ty)
                            )),
                        ));
                    } else if (ty - tx).abs() <= tol_us
                        && (m.records.source[x], m.records.key(x))
                            < (m.records.source[y], m.records.key(y))
                    {
                        findings.push(record_finding(
                            "conflict",
                            "attribute",
                            x,
                            Some(y),
                            "warn",
                            format!(
                                "{} differs from {} {} and neither is clearly newer ({} and {})",
                                a.name,
                                owner(y),
                                m.records.key(y),
                                date_of(tx),
                                date_of(ty)
                            ),
                            Some(format!(
                                "updated_at={} related_updated_at={}",
                                date_of(tx),
                                date_of(ty)
                            )),
                        ));
                    }
                }
            }
                findings
            })
            .collect();
        findings.extend(cluster_findings.into_iter().flatten());
        phase.lap("survivorship_findings");
        let gschema = golden_schema(&attrs);
        let mut sink = run.parquet_writer(&golden_file(&e.name), gschema.clone())?;
        sink.write_ranges(clusters.len(), 64 * 1024, |range| {
            golden_batch(
                &gschema,
                e.name.as_str(),
                &attr_col,
                &clusters,
                &winners,
                &asg,
                m,
                run_days,
                range,
            )
        })?;
        let rows = sink.finish()?;
        run.record(&golden_file(&e.name), Some(rows))?;
        drop(winners);
        phase.lap("golden_write");
        // Stale by SLA.
        for i in 0..n {
            let src = cfg.source(m.records.source_name(i)).expect("member");
            if let (Some(days), Some(t)) = (src.stale_after_days, extra.updated[i]) {
                let limit = crate::util::date_to_days(as_of) as i64 - days as i64;
                let d = t.div_euclid(86_400_000_000);
                if d < limit {
                    findings.push(record_finding(
                        "stale",
                        "sla",
                        i,
                        None,
                        "warn",
                        format!(
                            "not updated since {}, more than {days} days before {as_of}",
                            date_of(t)
                        ),
                        Some(format!("updated_at={} stale_after_days={days}", date_of(t))),
                    ));
                }
            }
        }
        phase.lap("sla");
        // ID mismatches of declared references between sources of this entity.
        for (si, column, ti, tcol, alias) in &refs {
            let rule = match alias {
                AliasRule::Exact => "exact",
                AliasRule::CaseInsensitive => "case_insensitive",
                AliasRule::Salesforce => "salesforce",
                AliasRule::Sku => "sku",
            };
            let tvals = extra.cols.field(tcol).expect("loaded");
            // Canonical ids on both cores; inserted in record order (the first record
            // of an id is its target).
            let canonical: Vec<(String, usize)> = (0..n)
                .into_par_iter()
                .with_min_len(4096)
                .filter(|&j| m.records.source[j] as usize == *ti)
                .filter_map(|j| tvals.get(j).map(|v| (normalize::canonical_id(v, rule), j)))
                .collect();
            let mut target: FastMap<String, usize> =
                FastMap::with_capacity_and_hasher(canonical.len(), Default::default());
            for (id, j) in canonical {
                target.entry(id).or_insert(j);
            }
            let vals = extra.cols.field(column).expect("loaded");
            let cluster_members =
                |i: usize| clusters.get(golden_of[m.cluster_of[i] as usize] as usize);
            // The finding of one referencing record, if any.
            let reference_finding = |i: usize| -> Option<Finding> {
                // The target record the matcher puts with this one (best evidence first).
                let should: Option<usize> = cluster_members(i)
                    .iter()
                    .copied()
                    .filter(|&j| m.records.source[j] as usize == *ti)
                    .max_by(|&x, &y| {
                        pair_p(i, x)
                            .unwrap_or(0.0)
                            .partial_cmp(&pair_p(i, y).unwrap_or(0.0))
                            .unwrap_or(std::cmp::Ordering::Equal)
                            .then(m.records.key(y).cmp(m.records.key(x)))
                    });
                let tname = &m.records.sources[*ti];
                let evidence = |j: usize| {
                    pair_p(i, j)
                        .map(|p| format!("match_probability={p:.4}"))
                        .or(Some("same cluster".into()))
                };
                match vals.get(i) {
                    None => should.map(|s| {
                        record_finding(
                            "id_mismatch",
                            "missing_reference",
                            i,
                            Some(s),
                            "warn",
                            format!(
                                "{column} is empty but the record matches {tname} {}",
                                m.records.key(s)
                            ),
                            evidence(s),
                        )
                    }),
                    Some(v) => match target.get(&normalize::canonical_id(v, rule)) {
                        None => Some(record_finding(
                            "id_mismatch",
                            "dangling_reference",
                            i,
                            should,
                            "error",
                            match should {
                                Some(s) => format!(
                                    "{column} {v} is no {tname} record; the record matches {}",
                                    m.records.key(s)
                                ),
                                None => format!("{column} {v} is no {tname} record"),
                            },
                            should.and_then(evidence),
                        )),
                        Some(&t) => should.filter(|_| m.cluster_of[t] != m.cluster_of[i]).map(
                            |s| {
                                record_finding(
                                    "id_mismatch",
                                    "wrong_reference",
                                    i,
                                    Some(s),
                                    "error",
                                    format!(
                                        "{column} points at {tname} {} but the record matches {}",
                                        m.records.key(t),
                                        m.records.key(s)
                                    ),
                                    evidence(s),
                                )
                            },
                        ),
                    },
                }
            };
            // Record by record on both cores; collected in record order.
            let found: Vec<Finding> = (0..n)
                .into_par_iter()
                .with_min_len(4096)
                .filter(|&i| m.records.source[i] as usize == *si)
                .filter_map(reference_finding)
                .collect();
            findings.extend(found);
        }
        phase.lap("references");
        xw_parts.push(CrosswalkPart {
            m,
            order,
            golden_ids: xw_golden_ids,
            ids: asg.ids,
        });
    }
    findings.par_sort_by(|a, b| {
        (
            a.finding_type,
            a.kind,
            &a.entity,
            &a.source,
            &a.record_key,
            &a.related_source,
            &a.related_key,
            &a.detail,
        )
            .cmp(&(
                b.finding_type,
                b.kind,
                &b.entity,
                &b.source,
                &b.record_key,
                &b.related_source,
                &b.related_key,
                &b.detail,
            ))
    });
    findings.dedup_by(|a, b| {
        a.finding_type == b.finding_type
            && a.kind == b.kind
            && a.source == b.source
            && a.record_key == b.record_key
            && a.related_key == b.related_key
            && a.detail == b.detail
    });
    let mut by_type: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for f in &findings {
        *by_type.entry((f.finding_type, f.kind)).or_default() += 1;
    }
    for ((t, k), n) in by_type {
        *summary
            .findings_by_type
            .entry(format!("{t}/{k}"))
            .or_default() += n;
    }
    // Entries of entities no longer matched stay as they were.
    all_registry.append(&mut registry);
    // The three files are independent: written side by side (each writer's column
    // encoding was mostly one core's work), recorded in a fixed order.
    let shared: &RunDir = run;
    let (crosswalk, (changes, registry)) = rayon::join(
        || write_crosswalk(shared, xw_parts, run_days),
        || {
            rayon::join(
                || changes_sink.finish(),
                || {
                    all_registry.par_sort_by(|a, b| {
                        (&a.entity, &a.golden_id).cmp(&(&b.entity, &b.golden_id))
                    });
                    write_registry(shared, &all_registry)
                },
            )
        },
    );
    run.record(CROSSWALK_FILE, Some(crosswalk?))?;
    run.record(ID_CHANGES_FILE, Some(changes?))?;
    run.record(REGISTRY_FILE, Some(registry?))?;
    tracing::info!(
        findings = findings.len(),
        golden_records = summary
            .entities
            .iter()
            .map(|e| e.golden_records)
            .sum::<u64>(),
        "golden records built"
    );
    Ok(GoldenOutput { summary, findings })
}

/// Marks an attribute without a winning record (no valid value in the cluster).
const NO_WINNER: u32 = u32::MAX;

/// The members of each golden cluster (record indices) in one buffer, clusters in order
/// of their first record and members in record order.
struct Clusters {
    offsets: Vec<u32>,
    members: Vec<usize>,
}

impl Clusters {
    /// Groups the records `order` lists by matching's cluster (`cluster_of`, `clusters`
    /// of them); returns the clusters and matching's cluster index → golden index.
    fn in_order(order: &[u32], cluster_of: &[u32], clusters: usize) -> (Clusters, Vec<u32>) {
        let mut golden_of = vec![u32::MAX; clusters];
        let mut sizes: Vec<u32> = Vec::with_capacity(clusters);
        for &i in order {
            let c = cluster_of[i as usize] as usize;
            if golden_of[c] == u32::MAX {
                golden_of[c] = sizes.len() as u32;
                sizes.push(0);
            }
            sizes[golden_of[c] as usize] += 1;
        }
        let mut offsets = Vec::with_capacity(sizes.len() + 1);
        offsets.push(0u32);
        for s in &sizes {
            offsets.push(offsets.last().expect("non-empty") + s);
        }
        let mut fill: Vec<u32> = offsets[..sizes.len()].to_vec();
        let mut members = vec![0usize; order.len()];
        for &i in order {
            let g = golden_of[cluster_of[i as usize] as usize] as usize;
            members[fill[g] as usize] = i as usize;
            fill[g] += 1;
        }
        (Clusters { offsets, members }, golden_of)
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn get(&self, c: usize) -> &[usize] {
        &self.members[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }
}

/// The columns of `golden_<entity>.parquet`.
fn golden_schema(attrs: &[Attribute]) -> SchemaRef {
    let mut fields = vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("golden_id", DataType::Utf8, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("issued_on", DataType::Date32, false),
        Field::new("record_count", DataType::Int64, false),
        Field::new("source_count", DataType::Int64, false),
        Field::new("sources", DataType::Utf8, false),
    ];
    for a in attrs {
        fields.push(Field::new(&a.name, DataType::Utf8, true));
        fields.push(Field::new(
            format!("{}_from_source", a.name),
            DataType::Utf8,
            true,
        ));
        fields.push(Field::new(
            format!("{}_from_key", a.name),
            DataType::Utf8,
            true,
        ));
    }
    Arc::new(Schema::new(fields))
}

/// The golden records of the clusters in `range`.
#[allow(clippy::too_many_arguments)]
fn golden_batch(
    schema: &SchemaRef,
    entity: &str,
    attr_col: &[&StrColumn],
    clusters: &Clusters,
    winners: &[u32],
    asg: &ids::Assignment,
    m: &EntityMatch,
    run_days: i32,
    range: std::ops::Range<usize>,
) -> Result<RecordBatch> {
    let n = range.len();
    let cl = || range.clone().map(|c| clusters.get(c));
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(vec![run_days; n])),
        Arc::new(StringArray::from_iter_values(asg.ids[range.clone()].iter())),
        Arc::new(StringArray::from(vec![entity; n])),
        Arc::new(Date32Array::from_iter_values(
            asg.issued[range.clone()]
                .iter()
                .map(|d| crate::util::date_to_days(*d)),
        )),
        Arc::new(Int64Array::from_iter_values(cl().map(|c| c.len() as i64))),
        Arc::new(Int64Array::from_iter_values(cl().map(|c| {
            let mut s: Vec<u16> = c.iter().map(|&i| m.records.source[i]).collect();
            s.dedup();
            s.sort();
            s.dedup();
            s.len() as i64
        }))),
        Arc::new(StringArray::from_iter_values(cl().map(|c| {
            let mut s: Vec<&str> = c.iter().map(|&i| m.records.source_name(i)).collect();
            s.sort();
            s.dedup();
            s.join(",")
        }))),
    ];
    // Each attribute's value, source and key columns.
    let width = attr_col.len().max(1);
    for (ai, col) in attr_col.iter().enumerate() {
        let winner = || {
            range.clone().map(move |c| {
                let w = winners[c * width + ai];
                (w != NO_WINNER).then_some(w as usize)
            })
        };
        cols.push(sized_str_array(
            winner().map(|w| w.and_then(|i| col.get(i))),
        ));
        cols.push(sized_str_array(
            winner().map(|w| w.map(|i| m.records.source_name(i))),
        ));
        cols.push(sized_str_array(
            winner().map(|w| w.map(|i| m.records.key(i))),
        ));
    }
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::arrow("golden batch", e))
}

/// A string array built with its value buffer sized up front (one pass to measure,
/// one to copy) instead of grown by doubling.
fn sized_str_array<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> ArrayRef {
    let (rows, bytes) = values.clone().fold((0usize, 0usize), |(n, b), v| {
        (n + 1, b + v.map_or(0, str::len))
    });
    let mut b = datafusion::arrow::array::StringBuilder::with_capacity(rows, bytes);
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

pub fn crosswalk_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_key", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("golden_id", DataType::Utf8, false),
        Field::new("cluster_id", DataType::Utf8, false),
    ]))
}

/// One entity's crosswalk rows: its records in (source, key, line) order and each
/// record's golden id.
struct CrosswalkPart<'a> {
    m: &'a EntityMatch,
    order: Vec<u32>,
    /// Golden cluster index per record (into `ids`).
    golden_ids: Vec<u32>,
    ids: Vec<String>,
}

/// Writes crosswalk.parquet (not yet recorded in the run); returns its rows.
fn write_crosswalk(run: &RunDir, mut parts: Vec<CrosswalkPart>, run_days: i32) -> Result<u64> {
    // Sorted by (entity, source, record_key, line): entities by name, records in order.
    parts.sort_by(|a, b| a.m.config.name.cmp(&b.m.config.name));
    let mut sink = run.parquet_writer(CROSSWALK_FILE, crosswalk_schema())?;
    for p in &parts {
        let (m, r) = (p.m, &p.m.records);
        for chunk in p.order.chunks(64 * 1024) {
            let n = chunk.len();
            let b = RecordBatch::try_new(
                crosswalk_schema(),
                vec![
                    Arc::new(Date32Array::from(vec![run_days; n])),
                    Arc::new(StringArray::from(vec![m.config.name.as_str(); n])),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|&i| r.source_name(i as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|&i| r.key(i as usize)),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        chunk.iter().map(|&i| r.lines[i as usize]),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk
                            .iter()
                            .map(|&i| p.ids[p.golden_ids[i as usize] as usize].as_str()),
                    )),
                    m.cluster_id_array(chunk),
                ],
            )
            .map_err(|e| Error::arrow("crosswalk batch", e))?;
            sink.write(&b)?;
        }
    }
    sink.finish()
}

pub fn changes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("change_type", DataType::Utf8, false),
        Field::new("golden_id", DataType::Utf8, false),
        Field::new("related_golden_id", DataType::Utf8, true),
        Field::new("record_count", DataType::Int64, false),
        Field::new(
            "records",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
            false,
        ),
    ]))
}

/// Appends one entity's id changes to id_changes.parquet; `clusters` are the member
/// keys the ids were assigned to.
fn write_changes(
    sink: &mut ParquetSink,
    entity: &str,
    changes: &[IdChange],
    clusters: &[Vec<ids::Member>],
    run_days: i32,
) -> Result<()> {
    sink.write_ranges(changes.len(), 64 * 1024, |range| {
        let chunk = &changes[range];
        let n = chunk.len();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0i32);
        let mut values = datafusion::arrow::array::StringBuilder::new();
        for c in chunk {
            c.for_each_record(clusters, |s, k| {
                use std::fmt::Write;
                let _ = write!(values, "{s}|{k}");
                values.append_value("");
            });
            offsets.push(datafusion::arrow::array::ArrayBuilder::len(&values) as i32);
        }
        let list = ListArray::new(
            Arc::new(Field::new("item", DataType::Utf8, false)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(values.finish()),
            None,
        );
        RecordBatch::try_new(
            changes_schema(),
            vec![
                Arc::new(Date32Array::from(vec![run_days; n])),
                Arc::new(StringArray::from(vec![entity; n])),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|c| c.change_type),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|c| c.golden_id.as_str()),
                )),
                Arc::new(StringArray::from_iter(
                    chunk.iter().map(|c| c.related_golden_id.as_deref()),
                )),
                Arc::new(Int64Array::from_iter_values(
                    chunk.iter().map(|c| c.record_count(clusters) as i64),
                )),
                Arc::new(list),
            ],
        )
        .map_err(|e| Error::arrow("id changes batch", e))
    })
}

pub fn registry_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("entity", DataType::Utf8, false),
        Field::new("golden_id", DataType::Utf8, false),
        Field::new("issued_on", DataType::Date32, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("merged_into", DataType::Utf8, true),
        Field::new("last_seen", DataType::Date32, false),
    ]))
}

/// Writes id_registry.parquet (not yet recorded in the run); returns its rows.
fn write_registry(run: &RunDir, reg: &[RegistryEntry]) -> Result<u64> {
    let mut sink = run.parquet_writer(REGISTRY_FILE, registry_schema())?;
    sink.write_parallel(reg, 64 * 1024, |reg| {
        RecordBatch::try_new(
            registry_schema(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    reg.iter().map(|r| &*r.entity),
                )),
                Arc::new(StringArray::from_iter_values(
                    reg.iter().map(|r| r.golden_id.as_str()),
                )),
                Arc::new(Date32Array::from_iter_values(
                    reg.iter().map(|r| crate::util::date_to_days(r.issued_on)),
                )),
                Arc::new(StringArray::from_iter_values(reg.iter().map(|r| r.status))),
                Arc::new(StringArray::from_iter(
                    reg.iter().map(|r| r.merged_into.as_deref()),
                )),
                Arc::new(Date32Array::from_iter_values(
                    reg.iter().map(|r| crate::util::date_to_days(r.last_seen)),
                )),
            ],
        )
        .map_err(|e| Error::arrow("registry batch", e))
    })?;
    sink.finish()
}

pub fn findings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("finding_type", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("golden_id", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_key", DataType::Utf8, false),
        Field::new("related_source", DataType::Utf8, true),
        Field::new("related_key", DataType::Utf8, true),
        Field::new("severity", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, true),
        Field::new("owner_team", DataType::Utf8, true),
        Field::new("owner_contact", DataType::Utf8, true),
    ]))
}

/// Writes findings (extra rows may be appended by later stages through `more`).
pub fn findings_batch(cfg: &Config, findings: &[Finding], run_days: i32) -> Result<RecordBatch> {
    let n = findings.len();
    let owner = |f: &Finding, contact: bool| -> Option<&str> {
        cfg.source(&f.source)
            .map(|s| {
                if contact {
                    s.owner.contact.as_str()
                } else {
                    s.owner.team.as_str()
                }
            })
            .filter(|s| !s.is_empty())
    };
    RecordBatch::try_new(
        findings_schema(),
        vec![
            Arc::new(Date32Array::from(vec![run_days; n])),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.finding_type),
            )),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.kind),
            )),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.entity.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                findings.iter().map(|f| f.golden_id.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.source.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.record_key.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                findings.iter().map(|f| f.related_source.as_deref()),
            )),
            Arc::new(StringArray::from_iter(
                findings.iter().map(|f| f.related_key.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.severity),
            )),
            Arc::new(StringArray::from_iter_values(
                findings.iter().map(|f| f.detail.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                findings.iter().map(|f| f.evidence.as_deref()),
            )),
            Arc::new(StringArray::from_iter(
                findings.iter().map(|f| owner(f, false)),
            )),
            Arc::new(StringArray::from_iter(
                findings.iter().map(|f| owner(f, true)),
            )),
        ],
    )
    .map_err(|e| Error::arrow("findings batch", e))
}

/// Writes `findings.parquet`.
pub fn write_findings(
    run: &mut RunDir,
    cfg: &Config,
    findings: &[Finding],
    run_days: i32,
) -> Result<()> {
    let b = findings_batch(cfg, findings, run_days)?;
    run.write_parquet(FINDINGS_FILE, findings_schema(), &[b])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::spec::Standardize;

    fn attribute(name: &str, standardize: Standardize, same_if: f64) -> Attribute {
        Attribute {
            name: name.to_string(),
            column: None,
            rule: Rule::MostRecent,
            tie_breakers: vec![],
            validate: Validate::None,
            standardize,
            same_if,
            track: true,
        }
    }

    /// The lazily standardised, raw-value-first comparison agrees with standardising
    /// every value up front, for every pair — including equal raw phone numbers of
    /// records in different countries, which standardise differently.
    #[test]
    fn lazy_same_agrees_with_standardising_everything() {
        let phones = [
            Some("020 7946 0000"),
            Some("020 7946 0000"),
            Some("+44 20 7946 0000"),
            Some("(020) 7946-0000 EXT 12"),
            Some("  "),
            None,
            Some("020 7946 0000"),
        ];
        let names = [
            Some("Acme Ltd"),
            Some("ACME Limited"),
            Some("Acme Ltd"),
            Some("Acne Ltd"),
            Some(" "),
            None,
            Some("Zenith GmbH"),
        ];
        let countries = [
            Some("GB"),
            Some("GB"),
            Some("GB"),
            Some("gb"),
            Some("US"),
            None,
            Some("DE"),
        ];
        let column = |vals: &[Option<&str>]| {
            let mut c = StrColumn::with_capacity(vals.len());
            for v in vals {
                c.push(*v);
            }
            c
        };
        let (p, n, c) = (column(&phones), column(&names), column(&countries));
        let cty = |i: usize| c.get(i);
        let attrs = vec![
            attribute("phone", Standardize::Phone, 1.0),
            attribute("name", Standardize::CompanyName, 0.9),
        ];
        let cols = vec![&p, &n];
        let members: Vec<usize> = (0..phones.len()).collect();
        let ca = ClusterAttrs::new(&members, &attrs, &cols, &cty);
        let mut differing = 0;
        for (ai, a) in attrs.iter().enumerate() {
            let eager: Vec<Option<String>> = members
                .iter()
                .map(|&i| {
                    cols[ai]
                        .get(i)
                        .and_then(|v| standardize(a.standardize, v, cty(i), &[]))
                })
                .collect();
            for &i in &members {
                for &j in &members {
                    let expected = match (&eager[i], &eager[j]) {
                        (Some(x), Some(y)) => {
                            x == y
                                || (a.same_if < 1.0 && normalize::jaro_winkler(x, y) >= a.same_if)
                        }
                        (None, None) => true,
                        _ => false,
                    };
                    differing += usize::from(!expected);
                    assert_eq!(ca.same(ai, a, i, j), expected, "{} of {i} and {j}", a.name);
                }
            }
        }
        // The case the shortcut must not take: the same raw phone in GB and DE.
        assert!(!ca.same(0, &attrs[0], 0, 6));
        assert!(differing > 0);
    }
}
