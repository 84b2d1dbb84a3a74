//! Ranking complete configurations by the study's weighted score.
//!
//! The stored score uses the sweep's score rule (its spec's `score` section); ranking
//! recomputes it from the stored means, so any `--w1`/`--w2`/`--delta` ranks without
//! retraining.

use crate::score::{CvSummary, ScoreRule};
use serde_json::{Map, Value};

pub use crate::config::ConfigRow;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Ranked {
    pub rank: usize,
    pub config_id: String,
    pub score: f64,
    pub position: i64,
    pub params: Map<String, Value>,
    pub summary: CvSummary,
}

/// Complete configurations, best first (ties keep grid order); rank 1 is the best.
pub fn rank(rows: &[ConfigRow], rule: &ScoreRule) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = rows
        .iter()
        .filter_map(|r| {
            r.summary.as_ref().map(|s| Ranked {
                rank: 0,
                config_id: r.config_id.clone(),
                score: rule.score(s.mean_train_accuracy, s.mean_val_accuracy),
                position: r.position,
                params: r.params.clone(),
                summary: CvSummary {
                    delta_accuracy: rule.delta(s.mean_train_accuracy, s.mean_val_accuracy),
                    score: rule.score(s.mean_train_accuracy, s.mean_val_accuracy),
                    ..s.clone()
                },
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.position.cmp(&b.position))
    });
    for (i, r) in out.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    out
}

/// Hyperparameters whose value differs between configurations, in key order. A key
/// that some configurations leave out (one that does not apply to their protocol)
/// varies too.
pub fn varying_keys(params: impl IntoIterator<Item = Map<String, Value>>) -> Vec<String> {
    let mut first: Option<Map<String, Value>> = None;
    let mut varying = std::collections::BTreeSet::new();
    for p in params {
        match &first {
            None => first = Some(p),
            Some(f) => {
                varying.extend(f.keys().filter(|k| !p.contains_key(*k)).cloned());
                for (k, v) in p {
                    if f.get(&k) != Some(&v) {
                        varying.insert(k);
                    }
                }
            }
        }
    }
    varying.into_iter().collect()
}

/// Competition ranking with ties sharing the lowest rank (scikit-learn's
/// `rank_test_score`, scipy's `rankdata(method="min")` on the negated scores).
pub fn min_ranks(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut ranks = vec![0; scores.len()];
    for (i, &j) in idx.iter().enumerate() {
        ranks[j] = if i > 0 && scores[idx[i - 1]] == scores[j] {
            ranks[idx[i - 1]]
        } else {
            i + 1
        };
    }
    ranks
}

/// A configuration stopped at a rung, ranked by its score there. As JSON (`rank
/// --json`'s and `serve`'s `partial`): its ranking entry with `resource_epochs`,
/// `pruned` and `folds` beside.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartialRanked {
    #[serde(flatten)]
    pub ranked: Ranked,
    /// The epochs its summary was taken at.
    #[serde(rename = "resource_epochs")]
    pub epochs: i64,
    /// Stopped for good (else it waits for the next rung).
    pub pruned: bool,
    /// Its done folds.
    pub folds: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_lowest_rank() {
        assert_eq!(min_ranks(&[0.5, 0.7, 0.5, 0.9, 0.7]), vec![4, 2, 4, 1, 2]);
    }

    #[test]
    fn varying_keys_only() {
        let a = crate::config::params_object(r#"{"x": 1, "y": 2, "z": "a"}"#).unwrap();
        let b = crate::config::params_object(r#"{"x": 1, "y": 3, "z": "b"}"#).unwrap();
        assert_eq!(varying_keys([a.clone(), b]), vec!["y", "z"]);
        let c = crate::config::params_object(r#"{"x": 1, "y": 2}"#).unwrap();
        assert_eq!(varying_keys([a.clone(), c.clone()]), vec!["z"]);
        assert_eq!(varying_keys([c, a.clone()]), vec!["z"]);
        assert!(varying_keys([a]).is_empty());
    }
}
