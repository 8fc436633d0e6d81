//! `recon evaluate --truth FILE`: pairwise precision, recall and F1 of a run's clusters
//! against ground truth, for pairs within one source and pairs across sources.
//!
//! Truth is a CSV with a header `source,record_key,entity_id`. Only records present in
//! both the truth and the run's clusters count. A pair is a (unordered) pair of records;
//! predicted pairs are those in the same cluster, true pairs those with the same
//! `entity_id`.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Scores {
    pub true_positives: u64,
    pub predicted_pairs: u64,
    pub true_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Scores {
    fn finish(tp: u64, pred: u64, truth: u64) -> Scores {
        let precision = if pred == 0 {
            1.0
        } else {
            tp as f64 / pred as f64
        };
        let recall = if truth == 0 {
            1.0
        } else {
            tp as f64 / truth as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Scores {
            true_positives: tp,
            predicted_pairs: pred,
            true_pairs: truth,
            precision,
            recall,
            f1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub run_date: String,
    pub truth_file: String,
    pub records_evaluated: u64,
    pub records_without_truth: u64,
    pub truth_records_not_in_run: u64,
    pub within_source: Scores,
    pub cross_source: Scores,
    pub all: Scores,
}

/// Pairs within and across sources among a group of records, from source counts.
fn pair_counts(sources: &HashMap<&str, u64>) -> (u64, u64) {
    let n: u64 = sources.values().sum();
    let within: u64 = sources.values().map(|c| c * c.saturating_sub(1) / 2).sum();
    let all = n * n.saturating_sub(1) / 2;
    (within, all - within)
}

/// Scores `(source, key, cluster)` assignments against `(source, key, entity)` truth.
pub fn score(
    clusters: &[(String, String, String)],
    truth: &[(String, String, String)],
) -> (Scores, Scores, Scores, u64, u64, u64) {
    let truth_map: HashMap<(&str, &str), &str> = truth
        .iter()
        .map(|(s, k, e)| ((s.as_str(), k.as_str()), e.as_str()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut pred: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    let mut tru: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    let mut both: HashMap<(&str, &str), HashMap<&str, u64>> = HashMap::new();
    let mut without = 0u64;
    let mut evaluated = 0u64;
    for (s, k, c) in clusters {
        if !seen.insert((s.as_str(), k.as_str())) {
            continue;
        }
        let Some(e) = truth_map.get(&(s.as_str(), k.as_str())) else {
            without += 1;
            continue;
        };
        evaluated += 1;
        *pred.entry(c).or_default().entry(s).or_default() += 1;
        *tru.entry(e).or_default().entry(s).or_default() += 1;
        *both.entry((c, e)).or_default().entry(s).or_default() += 1;
    }
    let missing = truth.len() as u64 - evaluated.min(truth.len() as u64);
    let sum = |m: &HashMap<_, HashMap<&str, u64>>| -> (u64, u64) {
        m.values()
            .map(pair_counts)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let (pw, pc) = sum(&pred);
    let (tw, tc) = sum(&tru);
    let (bw, bc) = both
        .values()
        .map(pair_counts)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    (
        Scores::finish(bw, pw, tw),
        Scores::finish(bc, pc, tc),
        Scores::finish(bw + bc, pw + pc, tw + tc),
        evaluated,
        without,
        missing,
    )
}

/// Reads a truth CSV (`source,record_key,entity_id`).
pub fn read_truth(path: &Path) -> Result<Vec<(String, String, String)>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("cannot read truth file", path, e))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let idx =
        |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| Error::Input {
            path: path.to_path_buf(),
            message: format!(
                "line 1: the header needs columns source, record_key, entity_id; it has: {}",
                header.join(", ")
            ),
        })
        };
    let (si, ki, ei) = (idx("source")?, idx("record_key")?, idx("entity_id")?);
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let get = |i: usize| -> Result<String> {
            f.get(i)
                .map(|s| s.trim().to_string())
                .ok_or_else(|| Error::Input {
                    path: path.to_path_buf(),
                    message: format!(
                        "line {}: expected {} fields, found {}",
                        n + 2,
                        header.len(),
                        f.len()
                    ),
                })
        };
        out.push((get(si)?, get(ki)?, get(ei)?));
    }
    Ok(out)
}

/// Runs the evaluation on a committed run directory and writes `evaluation.json` into it.
pub fn evaluate(run_dir: &Path, truth_path: &Path) -> Result<Evaluation> {
    let clusters_path = run_dir.join(super::CLUSTERS_FILE);
    let (_, batches) = crate::output::read_parquet(&clusters_path)?;
    let mut clusters = Vec::new();
    for b in &batches {
        use datafusion::arrow::array::AsArray;
        let s = b
            .column_by_name("source")
            .expect("schema")
            .as_string::<i32>();
        let k = b
            .column_by_name("record_key")
            .expect("schema")
            .as_string::<i32>();
        let c = b
            .column_by_name("cluster_id")
            .expect("schema")
            .as_string::<i32>();
        for i in 0..b.num_rows() {
            clusters.push((
                s.value(i).to_string(),
                k.value(i).to_string(),
                c.value(i).to_string(),
            ));
        }
    }
    let truth = read_truth(truth_path)?;
    let (within, cross, all, evaluated, without, missing) = score(&clusters, &truth);
    let ev = Evaluation {
        run_date: run_dir
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_start_matches("run_date=")
                    .to_string()
            })
            .unwrap_or_default(),
        truth_file: truth_path.display().to_string(),
        records_evaluated: evaluated,
        records_without_truth: without,
        truth_records_not_in_run: missing,
        within_source: within,
        cross_source: cross,
        all,
    };
    let text = serde_json::to_string_pretty(&ev).map_err(|e| Error::Other(e.to_string()))?;
    let tmp = run_dir.join(".evaluation.json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, run_dir.join("evaluation.json"))
        .map_err(|e| Error::io("cannot write", run_dir, e))?;
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn pairwise_scores_split_by_source() {
        // Truth: {crm:1, crm:2, bill:1} one entity; {crm:3} alone.
        let truth = t(&[
            ("crm", "1", "E1"),
            ("crm", "2", "E1"),
            ("bill", "1", "E1"),
            ("crm", "3", "E2"),
        ]);
        // Prediction: {crm:1, bill:1} and {crm:2, crm:3}.
        let pred = t(&[
            ("crm", "1", "c1"),
            ("bill", "1", "c1"),
            ("crm", "2", "c2"),
            ("crm", "3", "c2"),
        ]);
        let (within, cross, all, n, _, _) = score(&pred, &truth);
        assert_eq!(n, 4);
        // Within-source: true pairs {crm1,crm2}; predicted {crm2,crm3}: tp 0.
        assert_eq!(
            (
                within.true_positives,
                within.predicted_pairs,
                within.true_pairs
            ),
            (0, 1, 1)
        );
        // Cross-source: true {crm1,bill1},{crm2,bill1}; predicted {crm1,bill1}: tp 1.
        assert_eq!(
            (
                cross.true_positives,
                cross.predicted_pairs,
                cross.true_pairs
            ),
            (1, 1, 2)
        );
        assert_eq!(cross.precision, 1.0);
        assert_eq!(cross.recall, 0.5);
        assert!((all.f1 - 2.0 * 0.5 * (1.0 / 3.0) / (0.5 + 1.0 / 3.0)).abs() < 1e-12);
    }
}
