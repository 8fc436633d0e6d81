//! Clustering: records joined by match edges, with steward constraints and a guard
//! against chaining.
//!
//! Method (deterministic): must-link decisions are applied first. Then match edges are
//! taken strongest first (by match weight, ties by record index) and each joins two
//! clusters with union–find unless
//!
//! * a cannot-link decision separates a record of one cluster from one of the other;
//! * the merged cluster would exceed `max_cluster_size`;
//! * **chaining guard**: of the pairs between the two clusters that were compared,
//!   more are clear non-matches (below the review threshold) than matches. One strong
//!   link between two groups whose other members were compared and found different
//!   (A≈B, B≈C but A≠C) does not merge them. Pairs that blocking never compared, and
//!   pairs between the review and match thresholds, count neither way.
//!
//! Records listed as "keep out" are never joined to anything.

use crate::util::FastMap;
use std::collections::HashMap;

use rayon::slice::ParallelSliceMut;
use serde::Serialize;

/// A scored pair.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    pub a: u32,
    pub b: u32,
    pub weight: f64,
    pub is_match: bool,
    /// Clearly different: below the review threshold. Pairs between the thresholds
    /// count neither for nor against a merge.
    pub is_nonmatch: bool,
}

/// Steward decisions, as record indices.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    pub must_link: Vec<(u32, u32)>,
    pub cannot_link: Vec<(u32, u32)>,
    pub keep_out: Vec<u32>,
}

/// Why an edge did not merge its clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    CannotLink,
    KeepOut,
    MaxSize,
    ChainingGuard,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterStats {
    pub match_edges: u64,
    pub merges: u64,
    pub refused_cannot_link: u64,
    pub refused_keep_out: u64,
    pub refused_max_size: u64,
    pub refused_chaining_guard: u64,
    pub must_links: u64,
}

/// The result: a representative (smallest member index) per record.
pub struct Clustering {
    pub rep: Vec<u32>,
    pub stats: ClusterStats,
    /// Match edges that were refused, with the reason.
    pub refused: Vec<(u32, u32, Refusal)>,
}

/// Union–find with member lists kept only for clusters of two or more records.
struct Dsu {
    parent: Vec<u32>,
    size: Vec<u32>,
    members: FastMap<u32, Vec<u32>>,
}

impl Dsu {
    fn new(n: usize) -> Dsu {
        Dsu {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
            members: FastMap::default(),
        }
    }
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }
    fn len(&self, root: u32) -> usize {
        self.size[root as usize] as usize
    }
    fn members(&self, root: u32) -> Vec<u32> {
        match self.members.get(&root) {
            Some(m) => m.clone(),
            None => vec![root],
        }
    }
    fn union(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        let moved = self.members.remove(&small).unwrap_or_else(|| vec![small]);
        self.members
            .entry(big)
            .or_insert_with(|| vec![big])
            .extend(moved);
        big
    }
}

/// Clusters `n` records. `scored` holds the match and review pairs and the clear
/// non-matches between records of one component of match edges and must-links (the
/// guard needs both; no other pair can be merged).
pub fn cluster(
    n: usize,
    scored: &[Scored],
    constraints: &Constraints,
    max_size: usize,
) -> Clustering {
    let mut dsu = Dsu::new(n);
    let mut stats = ClusterStats::default();
    let mut refused = Vec::new();
    let mut kept_out = vec![false; n];
    for &r in &constraints.keep_out {
        kept_out[r as usize] = true;
    }
    let mut cannot: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(a, b) in &constraints.cannot_link {
        cannot.entry(a).or_default().push(b);
        cannot.entry(b).or_default().push(a);
    }
    // Compared pairs by record (CSR), for the chaining guard.
    let mut offsets = vec![0u32; n + 1];
    for s in scored {
        offsets[s.a as usize + 1] += 1;
        offsets[s.b as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    // 1 = match, -1 = clear non-match, 0 = in between.
    let vote = |s: &Scored| -> i8 {
        if s.is_match {
            1
        } else if s.is_nonmatch {
            -1
        } else {
            0
        }
    };
    let mut adj = vec![(0u32, 0i8); scored.len() * 2];
    for s in scored {
        adj[fill[s.a as usize] as usize] = (s.b, vote(s));
        fill[s.a as usize] += 1;
        adj[fill[s.b as usize] as usize] = (s.a, vote(s));
        fill[s.b as usize] += 1;
    }
    drop(fill);
    for &(a, b) in &constraints.must_link {
        if kept_out[a as usize] || kept_out[b as usize] {
            continue;
        }
        dsu.union(a, b);
        stats.must_links += 1;
    }
    let mut edges: Vec<&Scored> = scored.iter().filter(|s| s.is_match).collect();
    // Ties are broken by the record pair, so the parallel sort gives one order.
    edges.par_sort_by(|x, y| {
        y.weight
            .partial_cmp(&x.weight)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    stats.match_edges = edges.len() as u64;
    for e in edges {
        if kept_out[e.a as usize] || kept_out[e.b as usize] {
            stats.refused_keep_out += 1;
            refused.push((e.a, e.b, Refusal::KeepOut));
            continue;
        }
        let (ra, rb) = (dsu.find(e.a), dsu.find(e.b));
        if ra == rb {
            continue;
        }
        let (sa, sb) = (dsu.len(ra), dsu.len(rb));
        let (small, other) = if sa <= sb { (ra, rb) } else { (rb, ra) };
        let small_members = dsu.members(small);
        // Cannot-link across the two clusters?
        let mut blocked = false;
        if !cannot.is_empty() {
            for &m in &small_members {
                if let Some(list) = cannot.get(&m) {
                    for &x in list {
                        if dsu.find(x) == other {
                            blocked = true;
                        }
                    }
                }
            }
        }
        if blocked {
            stats.refused_cannot_link += 1;
            refused.push((e.a, e.b, Refusal::CannotLink));
            continue;
        }
        if sa + sb > max_size {
            stats.refused_max_size += 1;
            refused.push((e.a, e.b, Refusal::MaxSize));
            continue;
        }
        if sa + sb > 2 {
            let (mut support, mut against) = (0u32, 0u32);
            for &m in &small_members {
                let (lo, hi) = (
                    offsets[m as usize] as usize,
                    offsets[m as usize + 1] as usize,
                );
                for &(x, v) in &adj[lo..hi] {
                    if v != 0 && dsu.find(x) == other {
                        if v > 0 {
                            support += 1;
                        } else {
                            against += 1;
                        }
                    }
                }
            }
            if support < against {
                stats.refused_chaining_guard += 1;
                refused.push((e.a, e.b, Refusal::ChainingGuard));
                continue;
            }
        }
        dsu.union(e.a, e.b);
        stats.merges += 1;
    }
    // Representative: the smallest member of each cluster.
    let mut min_of = vec![u32::MAX; n];
    let mut roots = vec![0u32; n];
    for i in 0..n as u32 {
        let r = dsu.find(i);
        roots[i as usize] = r;
        min_of[r as usize] = min_of[r as usize].min(i);
    }
    let rep = roots.iter().map(|&r| min_of[r as usize]).collect();
    Clustering {
        rep,
        stats,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(a: u32, b: u32, weight: f64, is_match: bool) -> Scored {
        Scored {
            a,
            b,
            weight,
            is_match,
            is_nonmatch: !is_match,
        }
    }

    fn groups(c: &Clustering) -> Vec<Vec<u32>> {
        let mut m: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for (i, r) in c.rep.iter().enumerate() {
            m.entry(*r).or_default().push(i as u32);
        }
        m.into_values().filter(|g| g.len() > 1).collect()
    }

    #[test]
    fn connected_components_of_matches() {
        let c = cluster(
            5,
            &[s(0, 1, 10.0, true), s(1, 2, 9.0, true), s(3, 4, 1.0, false)],
            &Constraints::default(),
            100,
        );
        assert_eq!(groups(&c), vec![vec![0, 1, 2]]);
        assert_eq!(c.rep[2], 0);
        assert_eq!(c.rep[4], 4);
    }

    #[test]
    fn chaining_guard_stops_a_weak_bridge() {
        // {0,1,2} and {3,4,5} are tight groups; 2~3 is a match but every other compared
        // cross pair is a clear non-match.
        let mut p = vec![
            s(0, 1, 20.0, true),
            s(0, 2, 20.0, true),
            s(1, 2, 20.0, true),
            s(3, 4, 20.0, true),
            s(3, 5, 20.0, true),
            s(4, 5, 20.0, true),
            s(2, 3, 5.0, true),
        ];
        for a in 0..3 {
            for b in 3..6 {
                if (a, b) != (2, 3) {
                    p.push(s(a, b, -10.0, false));
                }
            }
        }
        let c = cluster(6, &p, &Constraints::default(), 100);
        assert_eq!(groups(&c), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(c.stats.refused_chaining_guard, 1);
        // Without the contradicting comparisons, the bridge merges them.
        let only_matches: Vec<Scored> = p.into_iter().filter(|x| x.is_match).collect();
        let c = cluster(6, &only_matches, &Constraints::default(), 100);
        assert_eq!(groups(&c), vec![vec![0, 1, 2, 3, 4, 5]]);
    }

    #[test]
    fn cluster_size_is_capped() {
        let p: Vec<Scored> = (0..9).map(|i| s(i, i + 1, 10.0 - i as f64, true)).collect();
        let c = cluster(10, &p, &Constraints::default(), 4);
        assert!(groups(&c).iter().all(|g| g.len() <= 4));
        assert!(c.stats.refused_max_size > 0);
    }

    #[test]
    fn decisions_shape_the_clusters() {
        let p = vec![
            s(0, 1, 10.0, true),
            s(1, 2, 9.0, true),
            s(3, 4, -5.0, false),
        ];
        let cons = Constraints {
            must_link: vec![(3, 4)],
            cannot_link: vec![(0, 2)],
            keep_out: vec![],
        };
        let c = cluster(5, &p, &cons, 100);
        assert_eq!(groups(&c), vec![vec![0, 1], vec![3, 4]]);
        assert_eq!(c.stats.refused_cannot_link, 1);
        let cons = Constraints {
            keep_out: vec![1],
            ..Default::default()
        };
        let c = cluster(5, &p, &cons, 100);
        assert!(groups(&c).is_empty());
    }

    #[test]
    fn strongest_edges_win_deterministically() {
        let p = vec![s(0, 1, 5.0, true), s(1, 2, 9.0, true), s(0, 2, -3.0, false)];
        // 1–2 merges first; then 0 joins {1,2}: cross pairs 0–1 (match) and 0–2 (not):
        // support equals against, so the merge is allowed.
        let c = cluster(3, &p, &Constraints::default(), 100);
        assert_eq!(groups(&c), vec![vec![0, 1, 2]]);
    }
}
