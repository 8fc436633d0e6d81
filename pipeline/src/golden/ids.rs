//! Golden ids that survive nightly re-runs.
//!
//! Each run reads the previous run's crosswalk (record → golden id) and id registry.
//! For every previous id, the current cluster holding most of its records is its
//! *largest part* and claims it. A cluster that claims several ids keeps the oldest
//! (earliest issued, then smallest id) and the others are recorded as merged into it.
//! A cluster that claims none gets a new id: `split` when some of its records had an id
//! (which stayed with its largest part), `new` otherwise. Previous ids none of whose
//! records remain are `retired`. New ids are minted from the entity and the cluster's
//! smallest (source, key), so unchanged inputs give identical ids, with a salt to avoid
//! ever re-issuing an id that exists in the registry.

use crate::util::{FastMap, FastSet};
use std::collections::BTreeMap;

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::matching::compare::hash_str;

/// One id ever issued.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEntry {
    pub golden_id: String,
    /// Shared by the entries of an entity (millions of them).
    pub entity: std::sync::Arc<str>,
    pub issued_on: NaiveDate,
    /// `active`, `merged` or `retired`.
    pub status: &'static str,
    pub merged_into: Option<String>,
    pub last_seen: NaiveDate,
}

/// One change of this run.
#[derive(Debug, Clone, PartialEq)]
pub struct IdChange {
    /// `new`, `merged`, `split` or `retired`.
    pub change_type: &'static str,
    pub golden_id: String,
    pub related_golden_id: Option<String>,
    /// The records involved.
    pub records: ChangeRecords,
}

/// The records of an id change, without a string per record for the clusters of the
/// run (every cluster on a first night).
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeRecords {
    /// The records of a cluster of the assignment (its index).
    Cluster(usize),
    /// A retired id's previous records, "source|key", sorted.
    Listed(Vec<String>),
}

impl IdChange {
    /// Number of records involved; `clusters` as given to [`assign`].
    pub fn record_count(&self, clusters: &[Vec<Member<'_>>]) -> usize {
        match &self.records {
            ChangeRecords::Cluster(c) => clusters[*c].len(),
            ChangeRecords::Listed(v) => v.len(),
        }
    }

    /// "source|key" of each record involved, in order.
    pub fn for_each_record(&self, clusters: &[Vec<Member<'_>>], mut f: impl FnMut(&str, &str)) {
        match &self.records {
            ChangeRecords::Cluster(c) => clusters[*c].iter().for_each(|(s, k)| f(s, k)),
            ChangeRecords::Listed(v) => v.iter().for_each(|r| {
                let (s, k) = r.split_once('|').unwrap_or((r, ""));
                f(s, k)
            }),
        }
    }
}

/// The result of assigning ids to one entity's clusters.
pub struct Assignment {
    /// Golden id per cluster (same order as the input clusters).
    pub ids: Vec<String>,
    /// When each cluster's id was first issued.
    pub issued: Vec<NaiveDate>,
    pub changes: Vec<IdChange>,
    pub registry: Vec<RegistryEntry>,
}

/// A record as (source, key).
pub type Member<'a> = (&'a str, &'a str);

/// The previous run's golden id of each record of an entity: sorted by record, one
/// entry per (source, key) — of a record listed twice, the later row.
pub struct PreviousIds<'p> {
    rows: Vec<(Member<'p>, &'p str)>,
}

impl<'p> PreviousIds<'p> {
    /// From the crosswalk's rows of the entity, in the crosswalk's order.
    pub fn new(mut rows: Vec<(Member<'p>, &'p str)>) -> Self {
        // recon writes the crosswalk in record order: the sort is only a check.
        sort_keep_last(&mut rows, |a, b| a.0.cmp(&b.0));
        PreviousIds { rows }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The id of one record (a binary search).
    pub fn get(&self, m: &Member<'_>) -> Option<&'p str> {
        self.rows
            .binary_search_by(|(x, _)| x.cmp(m))
            .ok()
            .map(|at| self.rows[at].1)
    }

    /// The ids of records given in ascending (source, key) order, by one merge with
    /// the previous rows instead of a search per record (a record out of order is
    /// searched); lazily, so a caller can place them without a list in between.
    pub fn of_sorted<'m>(
        &self,
        members: impl IntoIterator<Item = Member<'m>>,
    ) -> impl Iterator<Item = Option<&'p str>> {
        let mut at = 0;
        let mut last: Option<Member<'m>> = None;
        members.into_iter().map(move |m| {
            if last.is_some_and(|l| m < l) {
                return self.get(&m);
            }
            last = Some(m);
            while at < self.rows.len() && self.rows[at].0 < m {
                at += 1;
            }
            (at < self.rows.len() && self.rows[at].0 == m).then(|| self.rows[at].1)
        })
    }
}

/// Sorts `rows` by `cmp` (stably, and only when they are not sorted yet) and keeps, of
/// rows that compare equal, the last — what a map filled in row order would hold.
fn sort_keep_last<T: Send>(rows: &mut Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Sync) {
    use std::cmp::Ordering::{Equal, Greater};
    if !rows.is_sorted_by(|a, b| cmp(a, b) != Greater) {
        rows.par_sort_by(&cmp);
    }
    if rows.windows(2).any(|w| cmp(&w[0], &w[1]) == Equal) {
        rows.reverse();
        rows.dedup_by(|x, kept| cmp(x, kept) == Equal);
        rows.reverse();
    }
}

/// An entity's registry entries sorted by id, searched instead of hashed (no map of a
/// million strings built on one core).
struct Registry {
    entries: Vec<RegistryEntry>,
}

impl Registry {
    fn new(entity: &str, registry: Vec<RegistryEntry>) -> Registry {
        let mut entries: Vec<RegistryEntry> = registry
            .into_iter()
            .filter(|r| &*r.entity == entity)
            .collect();
        // Written sorted by id: the sort is only a check.
        sort_keep_last(&mut entries, |a, b| a.golden_id.cmp(&b.golden_id));
        Registry { entries }
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.entries
            .binary_search_by(|r| r.golden_id.as_str().cmp(id))
            .ok()
    }
}

/// Assigns golden ids. `clusters[c]` lists (source, key) of its records, sorted;
/// `previous` maps (source, key) → the previous run's golden id, and `previous_of[c]`
/// holds the previous id of each member of `clusters[c]` (as `previous` gives it;
/// `previous_of` is empty when `previous` is).
pub fn assign<'p>(
    entity: &str,
    prefix: &str,
    clusters: &[Vec<Member<'_>>],
    previous: &PreviousIds<'p>,
    previous_of: &[Vec<Option<&'p str>>],
    registry: Vec<RegistryEntry>,
    run_date: NaiveDate,
) -> Assignment {
    let mut phase = crate::util::Phases::new("golden", entity);
    let entity_name: std::sync::Arc<str> = entity.into();
    let mut reg = Registry::new(entity, registry);
    phase.lap("ids_registry");
    // Parts of each previous id: (id, cluster, count of the cluster's records that had
    // it), found cluster by cluster on both cores, then grouped by id by a sort (no map
    // of a million ids built on one core).
    let mut parts: Vec<(&str, u32, u32)> = previous_of
        .par_iter()
        .enumerate()
        .with_min_len(1024)
        .flat_map_iter(|(c, members)| {
            let mut local: Vec<(&str, u32)> = Vec::new();
            for &g in members.iter().flatten() {
                match local.iter_mut().find(|(x, _)| *x == g) {
                    Some((_, n)) => *n += 1,
                    None => local.push((g, 1)),
                }
            }
            local.into_iter().map(move |(g, n)| (g, c as u32, n))
        })
        .collect();
    parts.par_sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    // Each cluster's claimed ids and their registry entries (found by one merge: the
    // parts come in id order, as the registry does).
    let mut claims: Vec<Vec<(&str, Option<usize>)>> = vec![Vec::new(); clusters.len()];
    // Previous ids that still have records, sorted (for the retired ones below).
    let mut kept: Vec<&str> = Vec::new();
    let mut cursor = 0;
    for group in parts.chunk_by(|x, y| x.0 == y.0) {
        // Largest part; ties go to the cluster whose smallest record sorts first (a
        // total order: the order of the parts does not matter).
        let &(g, best, _) = group
            .iter()
            .max_by(|(_, ca, na), (_, cb, nb)| {
                na.cmp(nb)
                    .then_with(|| clusters[*cb as usize][0].cmp(&clusters[*ca as usize][0]))
            })
            .expect("non-empty");
        while cursor < reg.entries.len() && reg.entries[cursor].golden_id.as_str() < g {
            cursor += 1;
        }
        let entry =
            (cursor < reg.entries.len() && reg.entries[cursor].golden_id == g).then_some(cursor);
        claims[best as usize].push((g, entry));
        kept.push(g);
    }
    drop(parts);
    phase.lap("ids_claims");
    let issued =
        |e: Option<usize>, reg: &Registry| e.map(|e| reg.entries[e].issued_on).unwrap_or(run_date);
    // New ids, minted in parallel against the registry as it was; an id minted twice
    // in this run (never seen in practice: 48-bit hashes) is re-minted in cluster order
    // below, which gives exactly what minting one cluster after another would.
    let first_try: Vec<Option<String>> = clusters
        .par_iter()
        .zip(claims.par_iter())
        .with_min_len(1024)
        .map(|(members, cl)| {
            cl.is_empty()
                .then(|| mint(entity, prefix, &members[0], |id| reg.find(id).is_some()))
        })
        .collect();
    phase.lap("ids_mint");
    // The ids minted in this run, by their 48-bit value (an id is the entity's prefix
    // and that value), and their registry entries.
    let mut minted: FastSet<u64> = FastSet::default();
    let mut minted_entries: Vec<RegistryEntry> = Vec::new();
    let mut ids = Vec::with_capacity(clusters.len());
    let mut issued_on = Vec::with_capacity(clusters.len());
    let mut changes = Vec::new();
    for ((c, members), first) in clusters.iter().enumerate().zip(first_try) {
        if let Some(first) = first {
            let id = if minted.contains(&id_value(&first)) {
                mint(entity, prefix, &members[0], |id| {
                    reg.find(id).is_some() || minted.contains(&id_value(id))
                })
            } else {
                first
            };
            minted.insert(id_value(&id));
            minted_entries.push(RegistryEntry {
                golden_id: id.clone(),
                entity: entity_name.clone(),
                issued_on: run_date,
                status: "active",
                merged_into: None,
                last_seen: run_date,
            });
            // Where did its records come from?
            let mut origin: BTreeMap<&str, usize> = BTreeMap::new();
            for &g in previous_of.get(c).into_iter().flatten().flatten() {
                *origin.entry(g).or_default() += 1;
            }
            let from = origin
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(g, _)| g.to_string());
            changes.push(IdChange {
                change_type: if from.is_some() { "split" } else { "new" },
                golden_id: id.clone(),
                related_golden_id: from,
                records: ChangeRecords::Cluster(c),
            });
            ids.push(id);
            issued_on.push(run_date);
            continue;
        }
        let cl = &mut claims[c];
        cl.sort_by(|a, b| issued(a.1, &reg).cmp(&issued(b.1, &reg)).then(a.0.cmp(b.0)));
        let (survivor, survivor_entry) = (cl[0].0.to_string(), cl[0].1);
        for &(other, entry) in &cl[1..] {
            changes.push(IdChange {
                change_type: "merged",
                golden_id: other.to_string(),
                related_golden_id: Some(survivor.clone()),
                records: ChangeRecords::Cluster(c),
            });
            if let Some(e) = entry {
                let r = &mut reg.entries[e];
                r.status = "merged";
                r.merged_into = Some(survivor.clone());
                r.last_seen = run_date;
            }
        }
        if let Some(e) = survivor_entry {
            let r = &mut reg.entries[e];
            r.status = "active";
            r.merged_into = None;
            r.last_seen = run_date;
        }
        issued_on.push(issued(survivor_entry, &reg));
        ids.push(survivor);
    }
    drop(minted);
    phase.lap("ids_assign");
    // Retired: active before, no record left. Their previous records in one pass over
    // the previous crosswalk (not one pass per retired id).
    let mut retired: FastMap<String, Vec<String>> = reg
        .entries
        .iter()
        .filter(|r| {
            r.status == "active"
                && r.last_seen < run_date
                && kept.binary_search(&r.golden_id.as_str()).is_err()
        })
        .map(|r| (r.golden_id.clone(), Vec::new()))
        .collect();
    if !retired.is_empty() {
        for (m, g) in &previous.rows {
            if let Some(v) = retired.get_mut(*g) {
                v.push(record_ref(*m));
            }
        }
    }
    for r in reg.entries.iter_mut() {
        if let Some(mut records) = retired.remove(r.golden_id.as_str()) {
            records.sort_unstable();
            records.dedup();
            r.status = "retired";
            changes.push(IdChange {
                change_type: "retired",
                golden_id: r.golden_id.clone(),
                related_golden_id: None,
                records: ChangeRecords::Listed(records),
            });
        }
    }
    phase.lap("ids_retired");
    // Keys are unique (one change per id and type, one entry per id): unstable is exact.
    changes.par_sort_unstable_by(|a, b| {
        (a.change_type, &a.golden_id).cmp(&(b.change_type, &b.golden_id))
    });
    // The ids minted tonight are active and seen tonight: never retired above.
    let mut registry: Vec<RegistryEntry> = reg.entries;
    registry.append(&mut minted_entries);
    registry.par_sort_unstable_by(|a, b| a.golden_id.cmp(&b.golden_id));
    Assignment {
        ids,
        issued: issued_on,
        changes,
        registry,
    }
}

/// The 48-bit value an id spells in its last 12 hex digits.
fn id_value(id: &str) -> u64 {
    id.get(id.len().saturating_sub(12)..)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(u64::MAX)
}

/// "source|key", as id changes list their records.
fn record_ref((s, k): Member<'_>) -> String {
    let mut r = String::with_capacity(s.len() + k.len() + 1);
    r.push_str(s);
    r.push('|');
    r.push_str(k);
    r
}

fn mint(entity: &str, prefix: &str, anchor: &Member<'_>, taken: impl Fn(&str) -> bool) -> String {
    for salt in 0u32.. {
        let h = hash_str(&format!(
            "{entity}\u{1f}{}\u{1f}{}\u{1f}{salt}",
            anchor.0, anchor.1
        ));
        let id = format!("{prefix}-{:012x}", h & 0xFFFF_FFFF_FFFF);
        if !taken(&id) {
            return id;
        }
    }
    unreachable!("u32 salts exhausted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `assign` over owned test data.
    fn assign_owned(
        entity: &str,
        prefix: &str,
        clusters: &[Vec<(String, String)>],
        previous: &HashMap<(String, String), String>,
        registry: &[RegistryEntry],
        run_date: NaiveDate,
    ) -> Assignment {
        let c: Vec<Vec<Member>> = clusters
            .iter()
            .map(|m| m.iter().map(|(s, k)| (s.as_str(), k.as_str())).collect())
            .collect();
        let p = PreviousIds::new(
            previous
                .iter()
                .map(|((s, k), g)| ((s.as_str(), k.as_str()), g.as_str()))
                .collect(),
        );
        let of: Vec<Vec<Option<&str>>> = c
            .iter()
            .map(|m| m.iter().map(|x| p.get(x)).collect())
            .collect();
        assign(entity, prefix, &c, &p, &of, registry.to_vec(), run_date)
    }

    /// The night after `before` (over `before_clusters`): its ids and registry carried.
    fn next_night(
        before: &Assignment,
        before_clusters: &[Vec<(String, String)>],
        clusters: &[Vec<(String, String)>],
        day: NaiveDate,
    ) -> Assignment {
        let p = prev(before, before_clusters);
        assign_owned("e", "e", clusters, &p, &before.registry, day)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn cl(v: &[&[&str]]) -> Vec<Vec<(String, String)>> {
        v.iter()
            .map(|c| {
                let mut m: Vec<(String, String)> =
                    c.iter().map(|k| ("s".to_string(), k.to_string())).collect();
                m.sort();
                m
            })
            .collect()
    }

    fn prev(
        a: &Assignment,
        clusters: &[Vec<(String, String)>],
    ) -> HashMap<(String, String), String> {
        let mut m = HashMap::new();
        for (c, members) in clusters.iter().enumerate() {
            for r in members {
                m.insert(r.clone(), a.ids[c].clone());
            }
        }
        m
    }

    #[test]
    fn unchanged_inputs_keep_their_ids() {
        let c = cl(&[&["a", "b"], &["c"]]);
        let first = assign_owned(
            "customer",
            "cust",
            &c,
            &HashMap::new(),
            &[],
            d("2026-11-01"),
        );
        assert_eq!(
            first
                .changes
                .iter()
                .filter(|x| x.change_type == "new")
                .count(),
            2
        );
        let again = assign_owned(
            "customer",
            "cust",
            &c,
            &HashMap::new(),
            &[],
            d("2026-11-01"),
        );
        assert_eq!(first.ids, again.ids, "deterministic minting");
        let second = assign_owned(
            "customer",
            "cust",
            &c,
            &prev(&first, &c),
            &first.registry,
            d("2026-11-02"),
        );
        assert_eq!(second.ids, first.ids);
        assert!(second.changes.is_empty());
    }

    #[test]
    fn clusters_minting_the_same_id_get_the_next_salt_in_cluster_order() {
        // Two records of a source with the same key (a same-key duplicate) that end up
        // in different clusters share their anchor: both first try the same id, and the
        // later cluster takes the next salt, as minting one cluster after another does.
        let c = cl(&[&["a"], &["a"], &["b"]]);
        let r = assign_owned("e", "e", &c, &HashMap::new(), &[], d("2026-11-01"));
        let taken = |ids: &[&str]| {
            let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            move |id: &str| ids.iter().any(|x| x == id)
        };
        let first = mint("e", "e", &("s", "a"), taken(&[]));
        let second = mint("e", "e", &("s", "a"), taken(&[&first]));
        assert_ne!(first, second);
        assert_eq!(r.ids[0], first);
        assert_eq!(r.ids[1], second);
        assert_eq!(r.ids[2], mint("e", "e", &("s", "b"), taken(&[])));
        assert_eq!(r.registry.len(), 3);
        assert!(
            r.registry
                .windows(2)
                .all(|w| w[0].golden_id < w[1].golden_id)
        );
    }

    #[test]
    fn merges_keep_the_oldest_id() {
        let c1 = cl(&[&["a"]]);
        let r1 = assign_owned("e", "e", &c1, &HashMap::new(), &[], d("2026-11-01"));
        let c2 = cl(&[&["a"], &["b"]]);
        let r2 = next_night(&r1, &c1, &c2, d("2026-11-02"));
        let (old_a, new_b) = (r2.ids[0].clone(), r2.ids[1].clone());
        assert_eq!(old_a, r1.ids[0]);
        // Next night a and b are found to be one entity: the older id (a's) survives.
        let c3 = cl(&[&["a", "b"]]);
        let r3 = next_night(&r2, &c2, &c3, d("2026-11-03"));
        assert_eq!(r3.ids, vec![old_a.clone()]);
        assert_eq!(r3.changes.len(), 1);
        assert_eq!(r3.changes[0].change_type, "merged");
        assert_eq!(r3.changes[0].golden_id, new_b);
        assert_eq!(
            r3.changes[0].related_golden_id.as_deref(),
            Some(old_a.as_str())
        );
        let merged = r3.registry.iter().find(|r| r.golden_id == new_b).unwrap();
        assert_eq!(merged.status, "merged");
    }

    #[test]
    fn splits_leave_the_id_with_the_largest_part() {
        let c1 = cl(&[&["a", "b", "c"]]);
        let r1 = assign_owned("e", "e", &c1, &HashMap::new(), &[], d("2026-11-01"));
        let c2 = cl(&[&["a", "b"], &["c"]]);
        let r2 = next_night(&r1, &c1, &c2, d("2026-11-02"));
        assert_eq!(r2.ids[0], r1.ids[0]);
        assert_ne!(r2.ids[1], r1.ids[0]);
        assert_eq!(r2.changes[0].change_type, "split");
        assert_eq!(
            r2.changes[0].related_golden_id.as_deref(),
            Some(r1.ids[0].as_str())
        );
    }

    #[test]
    fn vanished_ids_are_retired_and_never_reissued() {
        let c1 = cl(&[&["a"], &["c", "b"], &["d"]]);
        let r1 = assign_owned("e", "e", &c1, &HashMap::new(), &[], d("2026-11-01"));
        let c2 = cl(&[&["a"]]);
        let r2 = next_night(&r1, &c1, &c2, d("2026-11-02"));
        let retired: Vec<_> = r2
            .changes
            .iter()
            .filter(|c| c.change_type == "retired")
            .collect();
        assert_eq!(retired.len(), 2);
        let of = |id: &str| retired.iter().find(|c| c.golden_id == id).expect("retired");
        // Each retired id lists the records it last had, sorted.
        let listed = |id: &str| match &of(id).records {
            ChangeRecords::Listed(v) => v.clone(),
            other => panic!("a retired id lists its records: {other:?}"),
        };
        assert_eq!(listed(&r1.ids[1]), vec!["s|b", "s|c"]);
        assert_eq!(listed(&r1.ids[2]), vec!["s|d"]);
        assert!(
            r2.registry
                .iter()
                .any(|r| r.golden_id == r1.ids[1] && r.status == "retired")
        );
        // b comes back: it gets a fresh id, not the retired one.
        let c3 = cl(&[&["a"], &["c", "b"]]);
        let r3 = next_night(&r2, &c2, &c3, d("2026-11-03"));
        assert_ne!(r3.ids[1], r1.ids[1]);
        assert_eq!(r3.ids[0], r1.ids[0]);
    }

    #[test]
    fn previous_ids_by_merge_agree_with_search() {
        // Rows as a crosswalk might hold them: out of order, one record twice (its
        // later row counts), one source's keys interleaved with another's.
        let rows: Vec<(Member, &str)> = vec![
            (("s", "b"), "g1"),
            (("s", "a"), "g0"),
            (("t", "a"), "g2"),
            (("s", "d"), "g3"),
            (("s", "b"), "g4"),
        ];
        let p = PreviousIds::new(rows);
        assert_eq!(p.get(&("s", "b")), Some("g4"));
        assert_eq!(p.get(&("s", "a")), Some("g0"));
        assert_eq!(p.get(&("s", "c")), None);
        // Tonight's records in order, with a new one, a repeated one and one past the
        // last previous row; then one out of order (searched, not merged).
        let tonight = [
            ("s", "a"),
            ("s", "b"),
            ("s", "b"),
            ("s", "c"),
            ("t", "a"),
            ("u", "a"),
            ("s", "d"),
        ];
        let merged: Vec<Option<&str>> = p.of_sorted(tonight.iter().copied()).collect();
        let searched: Vec<Option<&str>> = tonight.iter().map(|m| p.get(m)).collect();
        assert_eq!(merged, searched);
        assert_eq!(
            merged,
            vec![
                Some("g0"),
                Some("g4"),
                Some("g4"),
                None,
                Some("g2"),
                None,
                Some("g3")
            ]
        );
    }

    #[test]
    fn registry_lookups_survive_an_unsorted_registry() {
        // A registry read back out of id order (not as recon writes it) must still
        // give a merged id's issue date to the cluster that keeps it.
        let c1 = cl(&[&["a"], &["b"]]);
        let r1 = assign_owned("e", "e", &c1, &HashMap::new(), &[], d("2026-11-01"));
        let c2 = cl(&[&["a"], &["b"], &["c"]]);
        let r2 = next_night(&r1, &c1, &c2, d("2026-11-02"));
        let mut reg = r2.registry.clone();
        reg.reverse();
        let c3 = cl(&[&["a", "b", "c"]]);
        let r3 = assign_owned("e", "e", &c3, &prev(&r2, &c2), &reg, d("2026-11-03"));
        // The oldest id (issued on the first night) survives; the others merge into it.
        let oldest = r1.ids.iter().min().expect("two ids").clone();
        assert_eq!(r3.ids, vec![oldest.clone()]);
        assert_eq!(r3.issued, vec![d("2026-11-01")]);
        let merged: Vec<&str> = r3
            .changes
            .iter()
            .filter(|c| c.change_type == "merged")
            .map(|c| c.golden_id.as_str())
            .collect();
        assert_eq!(merged.len(), 2);
        assert!(r3.registry.iter().all(|r| r.golden_id == oldest
            || (r.status == "merged" && r.merged_into.as_deref() == Some(oldest.as_str()))));
        assert!(r3.registry.is_sorted_by(|a, b| a.golden_id < b.golden_id));
    }
}
