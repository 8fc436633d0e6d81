//! Matching: fuzzy entity resolution within and across sources.
//!
//! Per `[[entity]]`: load the records of its sources → standardise the compared fields
//! → block (candidate pairs) → compare (a level per comparison) → score with an
//! unsupervised Fellegi–Sunter model (u from random pairs, m and λ by EM) → cluster
//! (with steward constraints and a chaining guard). Writes `match_pairs.parquet`,
//! `clusters.parquet`, `review_queue.parquet` and `model.json`.

pub mod block;
pub mod cache;
pub mod cluster;
pub mod compare;
pub mod evaluate;
pub mod fellegi_sunter;
pub mod kernels;
pub mod records;
pub mod spec;

use crate::util::FastMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int8Array, Int64Array, ListArray,
    RecordBatch, StringArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::block::RuleReport;
use self::cluster::{ClusterStats, Constraints, Scored};
use self::compare::{Comparison, NULL_LEVEL};
use self::fellegi_sunter::{Model, WeightTable};
use self::records::Records;
use self::spec::EntityConfig;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::RunDir;

pub const PAIRS_FILE: &str = "match_pairs.parquet";
pub const CLUSTERS_FILE: &str = "clusters.parquet";
pub const REVIEW_FILE: &str = "review_queue.parquet";
pub const MODEL_FILE: &str = "model.json";

/// Summary of one entity's matching, for the manifest and model.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntitySummary {
    pub entity: String,
    pub sources: Vec<String>,
    pub records: u64,
    pub candidate_pairs: u64,
    pub match_pairs: u64,
    pub review_pairs: u64,
    pub clusters: u64,
    /// Clusters with more than one record.
    pub multi_record_clusters: u64,
    pub largest_cluster: u64,
    pub blocking: Vec<BlockingSummary>,
    pub clustering: ClusteringSummary,
    pub timings_ms: HashMap<String, u64>,
    /// `recon run --incremental`: what came from the previous run's comparison cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<cache::IncrementalSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockingSummary {
    pub rule: String,
    pub records_with_key: u64,
    pub blocks: u64,
    pub largest_block: u64,
    pub pairs: u64,
    pub capped_blocks: u64,
    pub records_in_capped_blocks: u64,
    pub pairs_skipped_by_cap: u64,
}

impl From<&RuleReport> for BlockingSummary {
    fn from(r: &RuleReport) -> Self {
        BlockingSummary {
            rule: r.rule.clone(),
            records_with_key: r.records_with_key,
            blocks: r.blocks,
            largest_block: r.largest_block,
            pairs: r.pairs,
            capped_blocks: r.capped_blocks,
            records_in_capped_blocks: r.records_in_capped_blocks,
            pairs_skipped_by_cap: r.pairs_skipped_by_cap,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ClusteringSummary {
    pub match_edges: u64,
    pub merges: u64,
    pub must_links: u64,
    pub refused_cannot_link: u64,
    pub refused_keep_out: u64,
    pub refused_max_size: u64,
    pub refused_chaining_guard: u64,
}

impl From<&ClusterStats> for ClusteringSummary {
    fn from(s: &ClusterStats) -> Self {
        ClusteringSummary {
            match_edges: s.match_edges,
            merges: s.merges,
            must_links: s.must_links,
            refused_cannot_link: s.refused_cannot_link,
            refused_keep_out: s.refused_keep_out,
            refused_max_size: s.refused_max_size,
            refused_chaining_guard: s.refused_chaining_guard,
        }
    }
}

/// `model.json`: the trained models, thresholds and blocking reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    pub recon_version: String,
    pub entities: Vec<EntityModel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityModel {
    pub model: Model,
    pub match_probability: f64,
    pub review_probability: f64,
    pub summary: EntitySummary,
}

/// One record's place after clustering.
#[derive(Debug, Clone)]
pub struct ClusteredRecord {
    pub source: String,
    pub record_key: String,
    pub line: i64,
    pub cluster_id: String,
    pub cluster_size: u64,
}

/// A scored pair kept for outputs and later stages.
#[derive(Debug, Clone)]
pub struct PairOut {
    pub a: u32,
    pub b: u32,
    pub weight: f64,
    pub probability: f64,
    pub rule: u8,
    pub gamma: u64,
}

/// Everything matching produced for one entity (used by the golden stage).
pub struct EntityMatch {
    pub config: EntityConfig,
    pub records: Records,
    /// Cluster of each record: an index into `cluster_hashes` (clusters numbered in
    /// order of their smallest record index).
    pub cluster_of: Vec<u32>,
    /// The 48-bit hash of each cluster's smallest (source, key) that its id spells
    /// (`<entity>-<12 hex digits>`): 8 bytes per cluster instead of a string.
    pub cluster_hashes: Vec<u64>,
    /// Size of each record's cluster.
    pub cluster_sizes: Vec<u32>,
    /// Record indices in (source, key, line, index) order: the rows of clusters.parquet,
    /// and golden's record order after a stable regrouping of the sources by name.
    pub record_order: Vec<u32>,
    /// Pairs at or above the review threshold.
    pub pairs: Vec<PairOut>,
    pub summary: EntitySummary,
    pub model: Model,
    /// The prepared comparisons (standardised values), for explaining pairs.
    pub comparisons: Vec<Comparison>,
}

impl EntityMatch {
    /// Number of clusters.
    pub fn clusters(&self) -> usize {
        self.cluster_hashes.len()
    }

    /// The cluster ids of `records`, as an Arrow column: `entity-` and the cluster's
    /// 48-bit hash in 12 lower-case hex digits (written by hand: `write!` with a format
    /// string cost a second of two cores' time for a crosswalk and clusters table of 2M
    /// records).
    pub fn cluster_id_array(&self, records: &[u32]) -> ArrayRef {
        let mut b = datafusion::arrow::array::StringBuilder::with_capacity(
            records.len(),
            records.len() * (self.config.name.len() + 13),
        );
        let mut id = self.config.name.as_bytes().to_vec();
        id.push(b'-');
        let at = id.len();
        id.resize(at + 12, b'0');
        for &i in records {
            let h = self.cluster_hashes[self.cluster_of[i as usize] as usize];
            cluster_hex(h, &mut id[at..]);
            b.append_value(std::str::from_utf8(&id).expect("a name and ASCII"));
        }
        Arc::new(b.finish())
    }
}

/// Writes the low 48 bits of `h` as 12 lower-case hex digits (`{:012x}` of a 48-bit
/// cluster hash).
fn cluster_hex(h: u64, out: &mut [u8]) {
    debug_assert!(h >> 48 == 0, "cluster hashes have 48 bits");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (k, o) in out[..12].iter_mut().enumerate() {
        *o = HEX[((h >> (4 * (11 - k))) & 0xf) as usize];
    }
}

/// The matching stage's result.
pub struct MatchOutput {
    pub entities: Vec<EntityMatch>,
}

impl MatchOutput {
    /// Per source: (records whose cluster also holds a record of another source, records).
    pub fn link_rates(&self) -> HashMap<String, (u64, u64)> {
        let mut out: HashMap<String, (u64, u64)> = HashMap::new();
        for m in &self.entities {
            // First source seen per cluster, and whether a second one appeared.
            const NONE: u16 = u16::MAX;
            let mut first = vec![NONE; m.clusters()];
            let mut mixed = vec![false; m.clusters()];
            for (i, &c) in m.cluster_of.iter().enumerate() {
                let s = m.records.source[i];
                match first[c as usize] {
                    NONE => first[c as usize] = s,
                    f if f != s => mixed[c as usize] = true,
                    _ => {}
                }
            }
            let mut per_source = vec![(0u64, 0u64); m.records.sources.len()];
            for (i, &c) in m.cluster_of.iter().enumerate() {
                let e = &mut per_source[m.records.source[i] as usize];
                e.1 += 1;
                if mixed[c as usize] {
                    e.0 += 1;
                }
            }
            for (si, (linked, total)) in per_source.into_iter().enumerate() {
                if total > 0 {
                    let e = out.entry(m.records.sources[si].clone()).or_default();
                    e.0 += linked;
                    e.1 += total;
                }
            }
        }
        out
    }
}

/// Where matching's model comes from.
#[derive(Debug, Clone, Copy)]
pub enum ModelSource<'a> {
    /// Train a model on this run's data.
    Train,
    /// `--model FILE`: score with it; a file that does not fit the config is an error.
    File(&'a Path),
    /// The previous run's model (`--incremental`): used per entity where it fits the
    /// config, otherwise that entity is trained (with a warning).
    Previous(&'a Path),
}

/// `--incremental`: the previous committed run (directory and date), if any. Every
/// entity's comparison cache is written to this run either way.
#[derive(Debug, Clone, Default)]
pub struct Incremental {
    pub previous: Option<(std::path::PathBuf, String)>,
}

/// Runs matching for every configured entity.
pub fn run(
    cfg: &Config,
    run: &mut RunDir,
    as_of: chrono::NaiveDate,
    model_in: ModelSource,
    incremental: Option<&Incremental>,
    decisions: &dyn Fn(&str, &Records) -> Constraints,
    progress: &crate::progress::Progress,
) -> Result<MatchOutput> {
    let (model_path, strict) = match model_in {
        ModelSource::Train => (None, true),
        ModelSource::File(p) => (Some(p), true),
        ModelSource::Previous(p) => (Some(p), false),
    };
    let loaded: Option<ModelFile> = match model_path {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::io("cannot read model file", p, e))?;
            Some(serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!(
                    "--model {}: not a recon model.json: {e}",
                    p.display()
                ))
            })?)
        }
    };
    let mut entities = Vec::new();
    let counter = progress.counter("match", "entities");
    for e in &cfg.entities {
        let t = Instant::now();
        let prior = loaded.as_ref().map(|m| {
            m.entities
                .iter()
                .find(|x| x.model.entity == e.name)
                .map(|x| x.model.clone())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--model: the model file has no entity {:?}",
                        e.name
                    ))
                })
        });
        let prior = match prior {
            Some(Ok(m)) => Some(m),
            Some(Err(err)) if strict => return Err(err),
            Some(Err(_)) => {
                tracing::warn!(entity = %e.name, "incremental: the previous model has no such entity; training one");
                None
            }
            None => None,
        };
        let m = match_entity(cfg, e, run.path(), prior, strict, incremental, decisions)?;
        if let Some(inc) = &m.summary.incremental {
            run.record(&cache::file_name(&e.name), Some(inc.pairs_cached))?;
        }
        tracing::info!(
            entity = %e.name,
            records = m.summary.records,
            candidate_pairs = m.summary.candidate_pairs,
            matches = m.summary.match_pairs,
            review = m.summary.review_pairs,
            clusters = m.summary.clusters,
            duration_ms = t.elapsed().as_millis() as u64,
            "matched entity"
        );
        counter.inc(1);
        entities.push(m);
    }
    counter.finish();
    let out = MatchOutput { entities };
    write_outputs(run, &out, as_of)?;
    Ok(out)
}

fn match_entity(
    cfg: &Config,
    e: &EntityConfig,
    run_dir: &Path,
    prior: Option<Model>,
    strict_model: bool,
    incremental: Option<&Incremental>,
    decisions: &dyn Fn(&str, &Records) -> Constraints,
) -> Result<EntityMatch> {
    let mut timings = HashMap::new();
    let mut t = Instant::now();
    let mut lap = |name: &str, t: &mut Instant| {
        timings.insert(name.to_string(), t.elapsed().as_millis() as u64);
        *t = Instant::now();
    };
    let sources = e.source_names(&cfg.sources);
    let mut fields: Vec<String> = Vec::new();
    for c in &e.comparisons {
        fields.extend(c.fields());
        fields.extend(c.swap_with.clone());
    }
    for b in &e.blocking {
        for k in &b.keys {
            fields.push(spec::KeyExpr::parse(k).expect("validated").field);
        }
    }
    fields.push(e.country_field.clone());
    let mut seen = std::collections::HashSet::new();
    fields.retain(|f| seen.insert(f.clone()));
    let records = records::load(run_dir, &sources, &fields)?;
    lap("load", &mut t);
    let comps: Vec<Comparison> = e
        .comparisons
        .par_iter()
        .map(|c| Comparison::prepare(c, &records, &e.country_field))
        .collect();
    lap("standardise", &mut t);
    let mut unfit: Option<String> = None;
    // A given model is checked before the pairs are compared: with the previous night's
    // model, an incremental run compares only the pairs its cache cannot settle.
    let prior = match prior.map(|m| m.check_compatible(&comps).map(|_| m)) {
        Some(Err(msg)) if strict_model => {
            return Err(Error::Usage(format!("--model: entity {}: {msg}", e.name)));
        }
        Some(Err(msg)) => {
            tracing::warn!(entity = %e.name, reason = %msg, "incremental: the previous model does not fit the config; training one");
            unfit = Some(format!(
                "the previous model does not fit the comparison settings ({msg})"
            ));
            None
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let match_w = logit2(e.match_probability);
    let review_w = logit2(e.review_probability);
    // Incremental: the previous night's cache is read before blocking, whose keys it
    // gives for the unchanged records.
    let prepared = incremental.map(|inc| {
        incremental_prepare(
            e,
            inc,
            &records,
            &comps,
            prior.as_ref().ok_or(unfit.as_deref()),
            review_w,
        )
    });
    lap("cache_read", &mut t);
    let known = prepared
        .as_ref()
        .and_then(|p| p.previous.as_ref().ok())
        .map(|p| (p.paired.before.as_slice(), p.cache.keys.as_slice()));
    let names: Vec<String> = e
        .blocking
        .iter()
        .map(|b| b.name.clone().unwrap_or_else(|| b.keys.join(" & ")))
        .collect();
    let first = &comps[0];
    let sort_key = |i: usize| first.value(i).unwrap_or("");
    let blocking = block::Blocking::build_reusing(
        &e.blocking,
        &names,
        &records,
        e.link,
        e.max_block_size,
        e.block_window,
        &sort_key,
        known,
    );
    lap("block", &mut t);
    let (compared, mut inc) = match prepared {
        None => (
            compare_pairs(&blocking, STORED_GAMMAS_MAX, &|_, _, x, y| {
                fellegi_sunter::gamma_of(&comps, x as usize, y as usize)
            }),
            None,
        ),
        Some(p) => {
            let (c, s) = incremental_compare(e, p, &records, &comps, &blocking);
            (c, Some(s))
        }
    };
    let reports = blocking.reports(&compared.chunk_pairs);
    let candidate_pairs: u64 = compared.chunk_pairs.iter().sum();
    lap("compare", &mut t);
    let model = match prior {
        Some(m) => {
            let mut m = m;
            m.training.origin = "loaded".into();
            m
        }
        None => {
            let (background, sampled) = fellegi_sunter::background_patterns(
                &records,
                &comps,
                e.link,
                e.u_sample_pairs,
                e.seed,
            );
            let u = fellegi_sunter::estimate_u(&comps, &background);
            let pats = compared.patterns(u32::MAX);
            let sessions: Vec<fellegi_sunter::Session> = e
                .blocking
                .iter()
                .enumerate()
                .map(|(r, rule)| {
                    let fields: Vec<String> = rule
                        .keys
                        .iter()
                        .map(|k| spec::KeyExpr::parse(k).expect("validated").field)
                        .collect();
                    let active = e
                        .comparisons
                        .iter()
                        .map(|c| !c.fields().iter().any(|f| fields.contains(f)))
                        .collect();
                    // Every candidate pair sharing this rule's key, whichever rule
                    // generated it: the session sees the rule's full population.
                    fellegi_sunter::Session {
                        rule: names[r].clone(),
                        patterns: compared.patterns(1 << r),
                        active,
                    }
                })
                .collect();
            let mut m = fellegi_sunter::train(
                &e.name,
                &comps,
                u,
                &sessions,
                &pats,
                &background,
                fellegi_sunter::pair_count(&records, e.link) as f64,
                e.em_max_iterations,
            );
            m.training.u_sample_pairs = sampled;
            m.training.seed = e.seed;
            if !m.training.em_converged {
                tracing::warn!(entity = %e.name, iterations = m.training.em_iterations, "EM did not converge; the last estimate is used");
            }
            m
        }
    };
    lap("train", &mut t);
    let table = WeightTable::new(&model);
    let weight =
        |x: u32, y: u32, g: u64| model.match_weight(&table, &comps, x as usize, y as usize, g);
    // Incremental: the comparisons' slots in the baselines, and each pair's weight at its
    // records' baselines (what decides whether the next night's cache keeps it).
    let slots: Vec<Option<usize>> = match &inc {
        Some(s) => (0..comps.len())
            .map(|k| s.tf_comparisons.iter().position(|&t| t == k))
            .collect(),
        None => Vec::new(),
    };
    let base_weight = |x: u32, y: u32, g: u64| {
        let base = &inc.as_ref().expect("incremental").baselines;
        model.match_weight_with(&table, g, |k| match slots[k] {
            Some(t) => base[t][x as usize].max(base[t][y as usize]),
            None => 0.0,
        })
    };
    // Pass 2: the pairs at or above the review threshold (all that is kept of the
    // candidates) and, incrementally, the pairs the next night's cache keeps.
    type Pass2 = (Vec<PairOut>, Vec<(u32, u32, u64)>);
    let kept: Vec<Pass2> = (0..blocking.chunks())
        .into_par_iter()
        .map(|c| {
            let rule = blocking.chunk_rule(c);
            let mut out = Vec::new();
            let mut cached = Vec::new();
            compared.for_each(&blocking, &comps, c, |x, y, g| {
                let w = weight(x, y, g);
                if w >= review_w {
                    out.push(PairOut {
                        a: x,
                        b: y,
                        weight: w,
                        probability: fellegi_sunter::probability(w),
                        rule,
                        gamma: g,
                    });
                }
                if let Some(state) = &inc {
                    let at_baselines = if state.baselines_are_tonights {
                        w
                    } else {
                        base_weight(x, y, g)
                    };
                    if at_baselines >= review_w - cache::MARGIN {
                        cached.push((x, y, g));
                    }
                }
            });
            (out, cached)
        })
        .collect();
    let mut pairs: Vec<PairOut> = Vec::with_capacity(kept.iter().map(|k| k.0.len()).sum());
    let mut to_cache: Vec<(u32, u32, u64)> = Vec::new();
    for (v, c) in kept {
        pairs.extend(v);
        to_cache.extend(c);
    }
    lap("score", &mut t);
    if let Some(state) = inc.as_mut() {
        write_cache(e, run_dir, state, &blocking, &model, review_w, to_cache)?;
        lap("cache_write", &mut t);
    }
    let inc_summary = inc.map(|s| s.summary);

    // Records with a match edge.
    let n = records.len();
    let mut in_match = vec![false; n];
    for p in pairs.iter().filter(|p| p.weight >= match_w) {
        in_match[p.a as usize] = true;
        in_match[p.b as usize] = true;
    }
    let mut constraints = decisions(&e.name, &records);
    // Rows sharing a source and key are one record exported twice: always together.
    let mut by_key: FastMap<(u16, &str), u32> =
        FastMap::with_capacity_and_hasher(n, Default::default());
    for i in 0..n {
        if let Some(&first) = by_key.get(&(records.source[i], records.key(i))) {
            constraints.must_link.push((first, i as u32));
        } else {
            by_key.insert((records.source[i], records.key(i)), i as u32);
        }
    }
    drop(by_key);
    // The chaining guard weighs the compared pairs between two clusters about to merge.
    // Clusters only grow along match edges and must-links, so a pair can count only if
    // both records lie in one component of those: pass 3 takes the clear non-matches
    // among records with a match edge in one component (the rest of the candidates can
    // never be weighed).
    let component = components(
        n,
        pairs
            .iter()
            .filter(|p| p.weight >= match_w)
            .map(|p| (p.a, p.b))
            .chain(constraints.must_link.iter().copied()),
    );
    let same = |x: u32, y: u32| {
        in_match[x as usize]
            && in_match[y as usize]
            && component[x as usize] == component[y as usize]
    };
    let against: Vec<Vec<Scored>> = (0..blocking.chunks())
        .into_par_iter()
        .map(|c| {
            let mut out = Vec::new();
            compared.for_each_where(&blocking, &comps, c, &same, |x, y, g| {
                let w = weight(x, y, g);
                if w < review_w {
                    out.push(Scored {
                        a: x,
                        b: y,
                        weight: w,
                        is_match: false,
                        is_nonmatch: true,
                    });
                }
            });
            out
        })
        .collect();
    drop(compared);
    let mut scored: Vec<Scored> = pairs
        .iter()
        .filter(|p| in_match[p.a as usize] && in_match[p.b as usize])
        .map(|p| Scored {
            a: p.a,
            b: p.b,
            weight: p.weight,
            is_match: p.weight >= match_w,
            is_nonmatch: false,
        })
        .collect();
    for v in against {
        scored.extend(v);
    }
    let clustering = cluster::cluster(n, &scored, &constraints, e.max_cluster_size);
    lap("cluster", &mut t);

    // Cluster ids: derived from the smallest (source, key) member — stable for a run.
    // Clusters are numbered by their smallest record index (the representative).
    let mut slot = vec![u32::MAX; n];
    let mut cluster_of = vec![0u32; n];
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (i, &r) in clustering.rep.iter().enumerate() {
        if slot[r as usize] == u32::MAX {
            slot[r as usize] = members.len() as u32;
            members.push(Vec::new());
        }
        let c = slot[r as usize];
        cluster_of[i] = c;
        members[c as usize].push(i as u32);
    }
    drop(slot);
    let mut cluster_sizes = vec![0u32; n];
    let mut largest = 0;
    let mut multi = 0;
    // The hash of "entity\u{1f}source\u{1f}key", built in one buffer per thread.
    let cluster_hashes: Vec<u64> = members
        .par_iter()
        .map_init(Vec::<u8>::new, |buf, m| {
            let anchor = m
                .iter()
                .min_by(|&&x, &&y| {
                    (records.source_name(x as usize), records.key(x as usize), x).cmp(&(
                        records.source_name(y as usize),
                        records.key(y as usize),
                        y,
                    ))
                })
                .copied()
                .expect("non-empty");
            buf.clear();
            buf.extend_from_slice(e.name.as_bytes());
            buf.push(0x1f);
            buf.extend_from_slice(records.source_name(anchor as usize).as_bytes());
            buf.push(0x1f);
            buf.extend_from_slice(records.key(anchor as usize).as_bytes());
            compare::hash_bytes(buf) & 0xFFFF_FFFF_FFFF
        })
        .collect();
    for m in &members {
        largest = largest.max(m.len() as u64);
        if m.len() > 1 {
            multi += 1;
        }
        for &i in m {
            cluster_sizes[i as usize] = m.len() as u32;
        }
    }
    // Ties are broken by the pair: the parallel sort gives one order.
    pairs.par_sort_by(|x, y| {
        y.weight
            .partial_cmp(&x.weight)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let record_order = records.key_order();
    let match_pairs = pairs.iter().filter(|p| p.weight >= match_w).count() as u64;
    let summary = EntitySummary {
        entity: e.name.clone(),
        sources,
        records: n as u64,
        candidate_pairs,
        match_pairs,
        review_pairs: pairs.len() as u64 - match_pairs,
        clusters: members.len() as u64,
        multi_record_clusters: multi,
        largest_cluster: largest,
        blocking: reports.iter().map(BlockingSummary::from).collect(),
        clustering: ClusteringSummary::from(&clustering.stats),
        timings_ms: timings,
        incremental: inc_summary,
    };
    let mut summary = summary;
    summary
        .timings_ms
        .insert("total".into(), summary.timings_ms.values().sum());
    Ok(EntityMatch {
        config: e.clone(),
        records,
        cluster_of,
        cluster_hashes,
        cluster_sizes,
        record_order,
        pairs,
        summary,
        model,
        comparisons: comps,
    })
}

/// Bytes of comparison vectors the compare pass keeps for the later passes (2 GiB). A
/// chunk's vectors are dictionary-coded: its distinct vectors once, then one or two
/// bytes per pair. Beyond this (hundreds of millions of candidate pairs), the later
/// passes compare again instead.
const STORED_GAMMAS_MAX: usize = 2 << 30;

/// A chunk's comparison vectors, dictionary-coded in enumeration order.
enum ChunkGammas {
    /// Up to 256 distinct vectors.
    Small(Vec<u64>, Vec<u8>),
    /// Up to 65,536.
    Wide(Vec<u64>, Vec<u16>),
    /// More: the vectors themselves.
    Raw(Vec<u64>),
}

impl ChunkGammas {
    fn code(gammas: &[u64]) -> ChunkGammas {
        let mut dict: Vec<u64> = Vec::new();
        let mut index: FastMap<u64, u16> = FastMap::default();
        let mut codes: Vec<u16> = Vec::with_capacity(gammas.len());
        for &g in gammas {
            let c = match index.get(&g) {
                Some(&c) => c,
                None if dict.len() <= u16::MAX as usize => {
                    let c = dict.len() as u16;
                    index.insert(g, c);
                    dict.push(g);
                    c
                }
                None => return ChunkGammas::Raw(gammas.to_vec()),
            };
            codes.push(c);
        }
        if dict.len() <= 256 {
            ChunkGammas::Small(dict, codes.into_iter().map(|c| c as u8).collect())
        } else {
            ChunkGammas::Wide(dict, codes)
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u64 {
        match self {
            ChunkGammas::Small(d, c) => d[c[i] as usize],
            ChunkGammas::Wide(d, c) => d[c[i] as usize],
            ChunkGammas::Raw(g) => g[i],
        }
    }

    fn bytes(&self) -> usize {
        match self {
            ChunkGammas::Small(d, c) => d.len() * 8 + c.len(),
            ChunkGammas::Wide(d, c) => d.len() * 8 + c.len() * 2,
            ChunkGammas::Raw(g) => g.len() * 8,
        }
    }
}

/// The compare pass over every candidate pair.
struct Compared {
    /// Candidate pairs per chunk of the blocking.
    chunk_pairs: Vec<u64>,
    /// Pairs by (comparison vector, rules whose key the pair shares), sorted.
    counts: Vec<((u64, u32), u64)>,
    /// Every pair's comparison vector, per chunk in enumeration order, when they fitted
    /// [`STORED_GAMMAS_MAX`].
    gammas: Option<Vec<ChunkGammas>>,
}

impl Compared {
    /// Distinct comparison vectors and their counts (sorted) among the pairs that share
    /// the key of any rule in `rules` (a bit per rule; `u32::MAX`: every pair).
    fn patterns(&self, rules: u32) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &((g, mask), n) in &self.counts {
            if rules == u32::MAX || mask & rules != 0 {
                match out.last_mut() {
                    Some(last) if last.0 == g => last.1 += n,
                    _ => out.push((g, n)),
                }
            }
        }
        out
    }

    /// Calls `f(a, b, gamma)` for every pair of a chunk, except those an incremental
    /// run's cache settled below the review weight (scoring needs none of them).
    fn for_each(
        &self,
        blocking: &block::Blocking,
        comps: &[Comparison],
        chunk: usize,
        f: impl FnMut(u32, u32, u64),
    ) {
        self.walk(blocking, comps, chunk, &|_, _| true, false, f)
    }

    /// Calls `f(a, b, gamma)` for the pairs of a chunk that pass `keep` (checked before
    /// the vector is computed again, where it was not stored), the pairs settled below
    /// the review weight compared now (the chaining guard weighs them).
    fn for_each_where(
        &self,
        blocking: &block::Blocking,
        comps: &[Comparison],
        chunk: usize,
        keep: &(dyn Fn(u32, u32) -> bool + Sync),
        f: impl FnMut(u32, u32, u64),
    ) {
        self.walk(blocking, comps, chunk, keep, true, f)
    }

    fn walk(
        &self,
        blocking: &block::Blocking,
        comps: &[Comparison],
        chunk: usize,
        keep: &(dyn Fn(u32, u32) -> bool + Sync),
        compare_below: bool,
        mut f: impl FnMut(u32, u32, u64),
    ) {
        let gamma = |x: u32, y: u32| fellegi_sunter::gamma_of(comps, x as usize, y as usize);
        match &self.gammas {
            Some(g) => {
                let g = &g[chunk];
                let mut i = 0;
                blocking.for_each_pair(chunk, |x, y| {
                    i += 1;
                    if !keep(x, y) {
                        return;
                    }
                    match g.get(i - 1) {
                        cache::BELOW if compare_below => f(x, y, gamma(x, y)),
                        cache::BELOW => {}
                        v => f(x, y, v),
                    }
                });
            }
            None => blocking.for_each_pair(chunk, |x, y| {
                if keep(x, y) {
                    f(x, y, gamma(x, y));
                }
            }),
        }
    }
}

/// Pass 1: every candidate pair's comparison vector (`gamma(chunk, index in chunk, a,
/// b)`), counted for training; the vectors are kept while they take at most
/// `keep_max` bytes in all.
fn compare_pairs(
    blocking: &block::Blocking,
    keep_max: usize,
    gamma: &(dyn Fn(usize, usize, u32, u32) -> u64 + Sync),
) -> Compared {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let stored = AtomicUsize::new(0);
    let over = AtomicBool::new(false);
    // Per chunk: pairs, pairs by (vector, shared keys), the coded vectors.
    type ChunkPass = (u64, FastMap<(u64, u32), u64>, Option<ChunkGammas>);
    let per: Vec<ChunkPass> = (0..blocking.chunks())
        .into_par_iter()
        .map(|c| {
            let mut counts: FastMap<(u64, u32), u64> = FastMap::default();
            // Past the limit no chunk's vectors are kept: they are not collected.
            let keep = !over.load(Relaxed);
            let mut all = Vec::new();
            let mut n = 0;
            blocking.for_each_pair(c, |x, y| {
                let g = gamma(c, n, x, y);
                n += 1;
                *counts.entry((g, blocking.shared_keys(x, y))).or_default() += 1;
                if keep {
                    all.push(g);
                }
            });
            let n = n as u64;
            let mut kept = None;
            if keep && !over.load(Relaxed) {
                let coded = ChunkGammas::code(&all);
                if stored.fetch_add(coded.bytes(), Relaxed) + coded.bytes() > keep_max {
                    over.store(true, Relaxed);
                } else {
                    kept = Some(coded);
                }
            }
            (n, counts, kept)
        })
        .collect();
    let over = over.load(Relaxed);
    let mut chunk_pairs = Vec::with_capacity(per.len());
    let mut all: FastMap<(u64, u32), u64> = FastMap::default();
    let mut gammas = Vec::with_capacity(if over { 0 } else { per.len() });
    for (n, counts, kept) in per {
        chunk_pairs.push(n);
        for (k, v) in counts {
            *all.entry(k).or_default() += v;
        }
        if !over {
            gammas.push(kept.expect("kept while under the limit"));
        }
    }
    if over {
        tracing::debug!(
            pairs = chunk_pairs.iter().sum::<u64>(),
            kept_bytes_at_most = keep_max,
            "more comparison vectors than are kept: the later passes compare again"
        );
    }
    let mut counts: Vec<((u64, u32), u64)> = all.into_iter().collect();
    counts.sort_unstable();
    Compared {
        chunk_pairs,
        counts,
        gammas: (!over).then_some(gammas),
    }
}

/// Connected components of `n` records under `edges` (a label per record).
fn components(n: usize, edges: impl Iterator<Item = (u32, u32)>) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            let up = p[p[x as usize] as usize];
            p[x as usize] = up;
            x = up;
        }
        x
    }
    for (a, b) in edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
    for i in 0..n as u32 {
        let r = find(&mut parent, i);
        parent[i as usize] = r;
    }
    parent
}

/// An incremental run's comparison state: tonight's record hashes, the baselines its
/// cache keeps, and what it reports.
struct IncrementalState {
    hashes: Vec<u64>,
    /// The comparisons with term frequencies (indices), and per such comparison, per
    /// record, the baseline frequency (see [`cache`]).
    tf_comparisons: Vec<usize>,
    baselines: Vec<Vec<f32>>,
    /// Every baseline is tonight's frequency (no cache was used): a pair's weight at
    /// the baselines is its weight.
    baselines_are_tonights: bool,
    summary: cache::IncrementalSummary,
}

/// The previous night's comparison cache, read back, and tonight's records paired
/// with its records.
struct Previous {
    cache: cache::PairCache,
    paired: cache::Paired,
    run_date: String,
}

/// What an incremental run knows before blocking.
struct Prepared {
    hashes: Vec<u64>,
    tf_comparisons: Vec<usize>,
    /// Tonight's term frequencies, per comparison in `tf_comparisons`, per record.
    now: Vec<Vec<f32>>,
    /// The cache, or (previous run date or "none", why it cannot be used).
    previous: std::result::Result<Previous, (String, String)>,
}

/// Reads the previous night's cache, where one can be used: there is a previous run,
/// the model is given (the previous one), and the fingerprints agree.
fn incremental_prepare(
    e: &EntityConfig,
    inc: &Incremental,
    records: &Records,
    comps: &[Comparison],
    prior: std::result::Result<&Model, Option<&str>>,
    review_w: f64,
) -> Prepared {
    let mut phase = crate::util::Phases::new("match", &e.name);
    let hashes = cache::record_hashes(records);
    let tf_comparisons: Vec<usize> = (0..comps.len())
        .filter(|&k| comps[k].spec.tf_adjust)
        .collect();
    let now: Vec<Vec<f32>> = tf_comparisons
        .iter()
        .map(|&k| (0..records.len()).map(|i| comps[k].tf(i)).collect())
        .collect();
    phase.lap("cache_hash_records");
    let previous = match (&inc.previous, prior) {
        (None, _) => Err(("none".to_string(), "no previous run".to_string())),
        (Some((_, date)), Err(why)) => {
            Err((date.clone(), why.unwrap_or("no model to reuse").to_string()))
        }
        (Some((_, date)), Ok(_)) if comps.len() >= 16 => Err((
            date.clone(),
            "16 comparisons or more are always compared".to_string(),
        )),
        (Some((dir, date)), Ok(model)) => cache::read(
            &dir.join(cache::file_name(&e.name)),
            cache::fingerprint(e, model, review_w),
        )
        .map_err(|r| (date.clone(), r))
        .map(|c| Previous {
            paired: cache::pair_records(&hashes, &c.hashes),
            cache: c,
            run_date: date.clone(),
        }),
    };
    phase.lap("cache_read");
    Prepared {
        hashes,
        tf_comparisons,
        now,
        previous,
    }
}

/// Pass 1 of an incremental run: the previous night's cache settles what it can, every
/// other pair is compared (all of them when no cache fits, or no model is given yet).
fn incremental_compare(
    e: &EntityConfig,
    p: Prepared,
    records: &Records,
    comps: &[Comparison],
    blocking: &block::Blocking,
) -> (Compared, IncrementalState) {
    let mut phase = crate::util::Phases::new("match", &e.name);
    let Prepared {
        hashes,
        tf_comparisons,
        now,
        previous,
    } = p;
    match previous {
        Ok(prev) => {
            let refs: Vec<&[f32]> = now.iter().map(Vec::as_slice).collect();
            let mut plan = cache::Plan::new(&prev.paired, &refs, &prev.cache);
            drop(prev.cache);
            plan.for_rules(blocking.rules(), &|r, x| blocking.key(r, x), &|r, x| {
                blocking.in_capped_block(r, x)
            });
            phase.lap("cache_plan");
            let (compared, compared_pairs) = compare_pairs_settled(blocking, comps, &plan);
            phase.lap("cache_settle_or_compare");
            let total: u64 = compared.chunk_pairs.iter().sum();
            let summary = cache::IncrementalSummary {
                previous_run: Some(prev.run_date),
                cache_unused_reason: None,
                records_new_or_changed: plan.records_new_or_changed,
                records_frequency_moved: plan.records_frequency_moved,
                pairs_reused: total - compared_pairs,
                pairs_compared: compared_pairs,
                pairs_cached: 0,
            };
            tracing::info!(
                entity = %e.name,
                previous_run = summary.previous_run.as_deref().unwrap_or(""),
                records_new_or_changed = summary.records_new_or_changed,
                records_frequency_moved = summary.records_frequency_moved,
                pairs_reused = summary.pairs_reused,
                pairs_compared = summary.pairs_compared,
                "incremental: comparison cache used"
            );
            let state = IncrementalState {
                hashes,
                tf_comparisons,
                baselines: plan.baselines,
                baselines_are_tonights: false,
                summary,
            };
            (compared, state)
        }
        Err((date, reason)) => {
            tracing::warn!(entity = %e.name, previous_run = %date, reason = %reason, "incremental: comparison cache not used; comparing every pair");
            let compared = compare_pairs(blocking, STORED_GAMMAS_MAX, &|_, _, x, y| {
                fellegi_sunter::gamma_of(comps, x as usize, y as usize)
            });
            phase.lap("cache_settle_or_compare");
            let summary = cache::IncrementalSummary {
                previous_run: None,
                cache_unused_reason: Some(reason),
                records_new_or_changed: records.len() as u64,
                records_frequency_moved: 0,
                pairs_reused: 0,
                pairs_compared: compared.chunk_pairs.iter().sum(),
                pairs_cached: 0,
            };
            let state = IncrementalState {
                hashes,
                tf_comparisons,
                baselines: now,
                baselines_are_tonights: true,
                summary,
            };
            (compared, state)
        }
    }
}

/// Writes tonight's comparison cache: the pairs whose weight at their records'
/// baselines is within [`cache::MARGIN`] of the review weight or above.
fn write_cache(
    e: &EntityConfig,
    run_dir: &Path,
    state: &mut IncrementalState,
    blocking: &block::Blocking,
    model: &Model,
    review_w: f64,
    pairs: Vec<(u32, u32, u64)>,
) -> Result<()> {
    let path = run_dir.join(cache::file_name(&e.name));
    if let Some(parent) = path.parent() {
        crate::output::create_dir_all(parent)?;
    }
    state.summary.pairs_cached = pairs.len() as u64;
    let c = cache::PairCache {
        hashes: std::mem::take(&mut state.hashes),
        baselines: std::mem::take(&mut state.baselines),
        capped: (0..blocking.rules())
            .map(|r| blocking.capped_keys(r))
            .collect(),
        keys: (0..blocking.rules())
            .map(|r| blocking.keys(r).to_vec())
            .collect(),
        a: pairs.iter().map(|p| p.0).collect(),
        b: pairs.iter().map(|p| p.1).collect(),
        gamma: pairs.iter().map(|p| p.2).collect(),
    };
    cache::write(&path, cache::fingerprint(e, model, review_w), &c)
}

/// Pass 1 with a cache: every pair's vector — from the cache, compared, or
/// [`cache::BELOW`] — kept per chunk, and how many pairs were compared; no pattern
/// counts (the model is given).
fn compare_pairs_settled(
    blocking: &block::Blocking,
    comps: &[Comparison],
    plan: &cache::Plan,
) -> (Compared, u64) {
    let per: Vec<(u64, u64, ChunkGammas)> = (0..blocking.chunks())
        .into_par_iter()
        .map(|c| {
            let r = blocking.chunk_rule(c) as usize;
            let mut all = Vec::new();
            let mut compared = 0u64;
            blocking.for_each_pair(c, |x, y| {
                all.push(match plan.settle(x, y, r) {
                    cache::Settled::Vector(g) => g,
                    cache::Settled::Below => cache::BELOW,
                    cache::Settled::Compare => {
                        compared += 1;
                        fellegi_sunter::gamma_of(comps, x as usize, y as usize)
                    }
                })
            });
            (all.len() as u64, compared, ChunkGammas::code(&all))
        })
        .collect();
    let compared = per.iter().map(|p| p.1).sum();
    let (chunk_pairs, gammas) = per.into_iter().map(|(n, _, g)| (n, g)).unzip();
    (
        Compared {
            chunk_pairs,
            counts: Vec::new(),
            gammas: Some(gammas),
        },
        compared,
    )
}

/// Weight at which the probability equals `p`.
pub fn logit2(p: f64) -> f64 {
    (p / (1.0 - p)).log2()
}

fn comparison_fields() -> Fields {
    Fields::from(vec![
        Field::new("comparison", DataType::Utf8, false),
        Field::new("level", DataType::Int8, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("weight", DataType::Float64, false),
        Field::new("value_l", DataType::Utf8, true),
        Field::new("value_r", DataType::Utf8, true),
    ])
}

fn comparisons_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(comparison_fields()),
        false,
    )))
}

pub fn pairs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("source_l", DataType::Utf8, false),
        Field::new("record_key_l", DataType::Utf8, false),
        Field::new("source_r", DataType::Utf8, false),
        Field::new("record_key_r", DataType::Utf8, false),
        Field::new("match_weight", DataType::Float64, false),
        Field::new("match_probability", DataType::Float64, false),
        Field::new("decision", DataType::Utf8, false),
        Field::new("same_cluster", DataType::Boolean, false),
        Field::new("blocked_by", DataType::Utf8, false),
        Field::new("comparisons", comparisons_type(), false),
    ]))
}

pub fn review_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("source_l", DataType::Utf8, false),
        Field::new("record_key_l", DataType::Utf8, false),
        Field::new("source_r", DataType::Utf8, false),
        Field::new("record_key_r", DataType::Utf8, false),
        Field::new("match_probability", DataType::Float64, false),
        Field::new("match_weight", DataType::Float64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("comparisons", comparisons_type(), false),
    ]))
}

pub fn clusters_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("run_date", DataType::Date32, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_key", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("cluster_id", DataType::Utf8, false),
        Field::new("cluster_size", DataType::Int64, false),
    ]))
}

/// One comparison's part in a pair's score.
#[derive(Debug, Clone)]
pub struct Explained {
    pub comparison: String,
    /// Level index (0 = exact), -1 for null.
    pub level: i8,
    pub label: String,
    pub weight: f64,
    /// The raw values compared (fields joined with a space).
    pub value_l: Option<String>,
    pub value_r: Option<String>,
}

/// The `comparisons` column of a slice of pairs (Splink's waterfall): each comparison's
/// level, label, weight and both raw values, appended straight into Arrow builders (no
/// owned strings per pair and comparison).
fn comparisons_array<'a>(m: &EntityMatch, pairs: impl Iterator<Item = &'a PairOut>) -> ArrayRef {
    use datafusion::arrow::array::StringBuilder;
    let specs = &m.config.comparisons;
    let cols: Vec<Vec<&records::StrColumn>> = specs
        .iter()
        .map(|c| {
            c.fields()
                .iter()
                .filter_map(|f| m.records.field(f))
                .collect()
        })
        .collect();
    let (mut names, mut labels) = (StringBuilder::new(), StringBuilder::new());
    let (mut ls, mut rs) = (StringBuilder::new(), StringBuilder::new());
    let (mut levels, mut weights) = (Vec::new(), Vec::new());
    let mut offsets = vec![0i32];
    let mut buf = String::new();
    let mut raw = |cols: &[&records::StrColumn], i: usize, out: &mut StringBuilder| {
        buf.clear();
        let mut any = false;
        for v in cols.iter().filter_map(|c| c.get(i)) {
            if any {
                buf.push(' ');
            }
            buf.push_str(v);
            any = true;
        }
        if any {
            out.append_value(&buf);
        } else {
            out.append_null();
        }
    };
    for p in pairs {
        let (a, b) = (p.a as usize, p.b as usize);
        let w = m.model.pair_weights(&m.comparisons, a, b, p.gamma);
        for (k, c) in specs.iter().enumerate() {
            let l = fellegi_sunter::level_at(p.gamma, k);
            names.append_value(&c.name);
            if l == NULL_LEVEL {
                levels.push(-1i8);
                labels.append_value("null");
            } else {
                levels.push(l as i8);
                labels.append_value(&m.model.comparisons[k].levels[l as usize]);
            }
            weights.push(w[k]);
            raw(&cols[k], a, &mut ls);
            raw(&cols[k], b, &mut rs);
        }
        offsets.push(levels.len() as i32);
    }
    let st = StructArray::new(
        comparison_fields(),
        vec![
            Arc::new(names.finish()) as ArrayRef,
            Arc::new(Int8Array::from(levels)),
            Arc::new(labels.finish()),
            Arc::new(Float64Array::from(weights)),
            Arc::new(ls.finish()),
            Arc::new(rs.finish()),
        ],
        None,
    );
    Arc::new(ListArray::new(
        Arc::new(Field::new(
            "item",
            DataType::Struct(comparison_fields()),
            false,
        )),
        OffsetBuffer::new(offsets.into()),
        Arc::new(st),
        None,
    ))
}

/// Rows per batch of match_pairs.parquet (each row holds every comparison of a pair).
const OUT_BATCH: usize = 16 * 1024;
/// Rows per batch of clusters.parquet.
const CLUSTERS_BATCH: usize = 64 * 1024;

fn write_outputs(run: &mut RunDir, out: &MatchOutput, as_of: chrono::NaiveDate) -> Result<()> {
    let run_date = crate::util::date_to_days(as_of);
    let mut pairs_sink = run.parquet_writer(PAIRS_FILE, pairs_schema())?;
    let mut review_sink = run.parquet_writer(REVIEW_FILE, review_schema())?;
    let mut clusters_sink = run.parquet_writer(CLUSTERS_FILE, clusters_schema())?;
    let mut models = Vec::new();
    for m in &out.entities {
        let e = &m.config;
        let mut phase = crate::util::Phases::new("match", &e.name);
        let match_w = logit2(e.match_probability);
        let r = &m.records;
        let names: Vec<String> = e
            .blocking
            .iter()
            .map(|b| b.name.clone().unwrap_or_else(|| b.keys.join(" & ")))
            .collect();
        let pairs_batch = |chunk: &[PairOut]| {
            let n = chunk.len();
            RecordBatch::try_new(
                pairs_schema(),
                vec![
                    Arc::new(Date32Array::from(vec![run_date; n])),
                    Arc::new(StringArray::from(vec![e.name.as_str(); n])),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|p| r.source_name(p.a as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|p| r.key(p.a as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|p| r.source_name(p.b as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|p| r.key(p.b as usize)),
                    )),
                    Arc::new(Float64Array::from_iter_values(
                        chunk.iter().map(|p| p.weight),
                    )),
                    Arc::new(Float64Array::from_iter_values(
                        chunk.iter().map(|p| p.probability),
                    )),
                    Arc::new(StringArray::from_iter_values(chunk.iter().map(|p| {
                        if p.weight >= match_w {
                            "match"
                        } else {
                            "review"
                        }
                    }))),
                    Arc::new(BooleanArray::from_iter(chunk.iter().map(|p| {
                        Some(m.cluster_of[p.a as usize] == m.cluster_of[p.b as usize])
                    }))),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|p| names[p.rule as usize].as_str()),
                    )),
                    comparisons_array(m, chunk.iter()),
                ],
            )
            .map_err(|e| Error::arrow("match pairs batch", e))
        };
        pairs_sink.write_parallel(&m.pairs, OUT_BATCH, pairs_batch)?;
        phase.lap("write_pairs");
        // Review queue: pairs between the thresholds, and matches the clustering did not
        // join (so a steward sees them too).
        let review: Vec<(&PairOut, &str)> = m
            .pairs
            .iter()
            .filter_map(|p| {
                let same = m.cluster_of[p.a as usize] == m.cluster_of[p.b as usize];
                if p.weight < match_w && !same {
                    Some((p, "between review and match thresholds"))
                } else if p.weight >= match_w && !same {
                    Some((
                        p,
                        "match not joined by clustering (chaining guard, size cap or decision)",
                    ))
                } else {
                    None
                }
            })
            .collect();
        for chunk in review.chunks(16 * 1024) {
            let n = chunk.len();
            let batch = RecordBatch::try_new(
                review_schema(),
                vec![
                    Arc::new(Date32Array::from(vec![run_date; n])),
                    Arc::new(StringArray::from(vec![e.name.as_str(); n])),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|(p, _)| r.source_name(p.a as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|(p, _)| r.key(p.a as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|(p, _)| r.source_name(p.b as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|(p, _)| r.key(p.b as usize)),
                    )),
                    Arc::new(Float64Array::from_iter_values(
                        chunk.iter().map(|(p, _)| p.probability),
                    )),
                    Arc::new(Float64Array::from_iter_values(
                        chunk.iter().map(|(p, _)| p.weight),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|(_, why)| *why),
                    )),
                    comparisons_array(m, chunk.iter().map(|(p, _)| *p)),
                ],
            )
            .map_err(|e| Error::arrow("review queue batch", e))?;
            review_sink.write(&batch)?;
        }
        phase.lap("write_review");
        // Clusters: every record, ordered by source then key.
        let clusters_batch = |chunk: &[u32]| {
            let n = chunk.len();
            RecordBatch::try_new(
                clusters_schema(),
                vec![
                    Arc::new(Date32Array::from(vec![run_date; n])),
                    Arc::new(StringArray::from(vec![e.name.as_str(); n])),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|&i| r.source_name(i as usize)),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|&i| r.key(i as usize)),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        chunk.iter().map(|&i| r.lines[i as usize]),
                    )),
                    m.cluster_id_array(chunk),
                    Arc::new(Int64Array::from_iter_values(
                        chunk.iter().map(|&i| m.cluster_sizes[i as usize] as i64),
                    )),
                ],
            )
            .map_err(|e| Error::arrow("clusters batch", e))
        };
        clusters_sink.write_parallel(&m.record_order, CLUSTERS_BATCH, clusters_batch)?;
        phase.lap("write_clusters");
        models.push(EntityModel {
            model: m.model.clone(),
            match_probability: e.match_probability,
            review_probability: e.review_probability,
            summary: m.summary.clone(),
        });
    }
    let mut phase = crate::util::Phases::new("match", "*");
    let n = pairs_sink.finish()?;
    run.record(PAIRS_FILE, Some(n))?;
    let n = review_sink.finish()?;
    run.record(REVIEW_FILE, Some(n))?;
    let n = clusters_sink.finish()?;
    run.record(CLUSTERS_FILE, Some(n))?;
    phase.lap("finish_files");
    let mut file = ModelFile {
        recon_version: env!("CARGO_PKG_VERSION").to_string(),
        entities: models,
    };
    // Timings vary run to run; model.json holds them only in the manifest.
    for em in &mut file.entities {
        em.summary.timings_ms.clear();
    }
    run.write_json(MODEL_FILE, &file)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::records::StrColumn;
    use crate::matching::spec::{BlockingRule, ComparisonSpec, LinkMode};

    #[test]
    fn coded_vectors_read_back_at_every_width() {
        // Every width and both sides of each width's limit.
        for distinct in [3u64, 256, 257, 300, 65_536, 65_537, 70_000] {
            let gammas: Vec<u64> = (0..100_000u64)
                .map(|i| (i * 7919 % distinct) << 3 | 5)
                .collect();
            let coded = ChunkGammas::code(&gammas);
            let raw = match (&coded, distinct) {
                (ChunkGammas::Small(..), 3 | 256) => false,
                (ChunkGammas::Wide(..), 257 | 300 | 65_536) => false,
                (ChunkGammas::Raw(..), 65_537 | 70_000) => true,
                _ => panic!("{distinct} distinct vectors coded at the wrong width"),
            };
            assert!((0..gammas.len()).all(|i| coded.get(i) == gammas[i]));
            let per_pair = coded.bytes() as f64 / gammas.len() as f64;
            if raw {
                assert_eq!(per_pair, 8.0, "{distinct}: raw vectors take 8 bytes a pair");
            } else {
                assert!(per_pair < 8.0, "{distinct}: {per_pair} bytes a pair");
            }
        }
    }

    /// Records with names in a few blocks, and exact and edit-distance comparisons.
    fn setup() -> (Records, Vec<Comparison>) {
        let names = [
            "acme", "acme", "acme co", "acme", "acme inc", "beta", "beta", "betta", "beta",
            "gamma", "gamma", "gama", "acme", "beta", "delta", "delta",
        ];
        let mut r = Records {
            sources: vec!["s0".into(), "s1".into()],
            keys: StrColumn::with_capacity(names.len()),
            ..Default::default()
        };
        let mut col = StrColumn::with_capacity(names.len());
        let mut city = StrColumn::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            col.push(Some(n));
            city.push(Some(["x", "y"][i % 2]));
            r.keys.push(Some(&i.to_string()));
            r.source.push((i % 2) as u16);
            r.lines.push(i as i64);
        }
        r.fields.insert("name".into(), col);
        r.fields.insert("city".into(), city);
        let spec = |toml_text: &str| -> ComparisonSpec { toml::from_str(toml_text).unwrap() };
        let comps = vec![
            Comparison::prepare(
                &spec("name = \"name\"\nfield = \"name\"\nmethod = \"levenshtein\""),
                &r,
                "country",
            ),
            Comparison::prepare(
                &spec("name = \"city\"\nfield = \"city\"\nmethod = \"exact\""),
                &r,
                "country",
            ),
        ];
        (r, comps)
    }

    #[test]
    fn later_passes_see_the_same_vectors_whether_kept_or_compared_again() {
        let (records, comps) = setup();
        let rules = [
            BlockingRule {
                name: None,
                keys: vec!["first_token(name)".into()],
            },
            BlockingRule {
                name: None,
                keys: vec!["prefix(name, 2)".into()],
            },
        ];
        let names = vec!["first".to_string(), "prefix".to_string()];
        let sk = |i: usize| records.field("name").unwrap().get(i).unwrap_or("");
        let blocking =
            block::Blocking::build(&rules, &names, &records, LinkMode::Both, 100, 10, &sk);
        let gamma = |_: usize, _: usize, x: u32, y: u32| {
            fellegi_sunter::gamma_of(&comps, x as usize, y as usize)
        };
        let kept = compare_pairs(&blocking, usize::MAX, &gamma);
        let again = compare_pairs(&blocking, 0, &gamma);
        assert!(kept.gammas.is_some(), "kept under the limit");
        assert!(
            again.gammas.is_none(),
            "over a limit of 0 bytes nothing is kept"
        );
        assert_eq!(kept.counts, again.counts);
        assert_eq!(kept.chunk_pairs, again.chunk_pairs);
        let pass = |c: &Compared| {
            let mut out = Vec::new();
            for chunk in 0..blocking.chunks() {
                c.for_each(&blocking, &comps, chunk, |x, y, g| out.push((x, y, g)));
            }
            out
        };
        let (a, b) = (pass(&kept), pass(&again));
        assert!(!a.is_empty());
        assert_eq!(a, b);
        // And every vector is the pair's own.
        assert!(
            a.iter()
                .all(|&(x, y, g)| g == fellegi_sunter::gamma_of(&comps, x as usize, y as usize))
        );
        // The counts are those of the pairs, and each pair shares the key of its rule.
        let total: u64 = kept.counts.iter().map(|c| c.1).sum();
        assert_eq!(total as usize, a.len());
        for chunk in 0..blocking.chunks() {
            let r = blocking.chunk_rule(chunk);
            blocking.for_each_pair(chunk, |x, y| {
                assert_ne!(blocking.shared_keys(x, y) & (1 << r), 0);
            });
        }
    }

    #[test]
    fn settled_pairs_are_skipped_when_scoring_and_compared_when_the_guard_asks() {
        let (records, comps) = setup();
        let rules = [BlockingRule {
            name: None,
            keys: vec!["prefix(name, 2)".into()],
        }];
        let names = vec!["prefix".to_string()];
        let sk = |i: usize| records.field("name").unwrap().get(i).unwrap_or("");
        let blocking =
            block::Blocking::build(&rules, &names, &records, LinkMode::Both, 100, 10, &sk);
        let (cands, _) = blocking.materialize();
        // Every record unchanged; the cache holds the pairs of two odd records (with
        // their vectors), so the pairs touching an even record are settled below review.
        let hashes: Vec<u64> = (1..=records.len() as u64).collect();
        let odd: Vec<usize> = (0..cands.len())
            .filter(|&k| cands.a[k] % 2 == 1 && cands.b[k] % 2 == 1)
            .collect();
        let prev = cache::PairCache {
            hashes: hashes.clone(),
            capped: vec![vec![]],
            a: odd.iter().map(|&k| cands.a[k]).collect(),
            b: odd.iter().map(|&k| cands.b[k]).collect(),
            gamma: odd
                .iter()
                .map(|&k| {
                    fellegi_sunter::gamma_of(&comps, cands.a[k] as usize, cands.b[k] as usize)
                })
                .collect(),
            ..Default::default()
        };
        let mut plan = cache::Plan::new(&cache::pair_records(&hashes, &hashes), &[], &prev);
        plan.for_rules(1, &|r, x| blocking.key(r, x), &|_, _| false);
        let (settled, compared) = compare_pairs_settled(&blocking, &comps, &plan);
        assert_eq!(compared, 0, "every pair is settled");
        let full = compare_pairs(&blocking, usize::MAX, &|_, _, x, y| {
            fellegi_sunter::gamma_of(&comps, x as usize, y as usize)
        });
        assert_eq!(settled.chunk_pairs, full.chunk_pairs);
        let (mut scored, mut guarded, mut all) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in 0..blocking.chunks() {
            settled.for_each(&blocking, &comps, chunk, |x, y, g| scored.push((x, y, g)));
            settled.for_each_where(&blocking, &comps, chunk, &|_, _| true, |x, y, g| {
                guarded.push((x, y, g))
            });
            full.for_each(&blocking, &comps, chunk, |x, y, g| all.push((x, y, g)));
        }
        // Scoring sees the cached pairs only; the guard sees every pair, with its own
        // vector.
        let odd: Vec<_> = all
            .iter()
            .copied()
            .filter(|&(x, y, _)| x % 2 == 1 && y % 2 == 1)
            .collect();
        assert!(!odd.is_empty() && odd.len() < all.len());
        assert_eq!(scored, odd);
        assert_eq!(guarded, all);
    }

    #[test]
    fn cluster_hex_is_the_formatted_hash() {
        let mut out = [0u8; 12];
        let mut rng = fellegi_sunter::Rng::new(3);
        for v in [0, 1, 0xf, 0x10, 0xabc_def, 0xffff_ffff_ffff]
            .into_iter()
            .chain((0..1000).map(|_| rng.next_u64() & 0xffff_ffff_ffff))
        {
            cluster_hex(v, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{v:012x}"));
        }
    }

    #[test]
    fn components_join_through_every_edge() {
        let c = components(6, [(4, 1), (1, 2), (5, 3)].into_iter());
        assert_eq!(c[1], c[2]);
        assert_eq!(c[1], c[4]);
        assert_eq!(c[3], c[5]);
        assert_ne!(c[0], c[1]);
        assert_ne!(c[0], c[3]);
        assert_ne!(c[1], c[3]);
    }
}
