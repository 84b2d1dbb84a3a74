//! The Pareto front of (validation accuracy, |Δacc|): the configurations no other one
//! beats on both, the higher accuracy and the smaller gap. Every weighting of the score
//! picks its winner from this front, so it is the set the weights choose among.

use crate::rank::Ranked;
use crate::score::ScoreRule;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParetoPoint {
    pub config_id: String,
    pub rank: usize,
    pub val_accuracy: f64,
    /// |Δacc| by the sweep's rule.
    pub abs_delta: f64,
    pub score: f64,
}

/// The front, best validation accuracy first. Configurations with equal values on
/// both are all kept.
pub fn front(ranked: &[Ranked], rule: &ScoreRule) -> Vec<ParetoPoint> {
    let mut points: Vec<ParetoPoint> = ranked
        .iter()
        .map(|r| ParetoPoint {
            config_id: r.config_id.clone(),
            rank: r.rank,
            val_accuracy: r.summary.mean_val_accuracy,
            abs_delta: rule
                .delta(r.summary.mean_train_accuracy, r.summary.mean_val_accuracy)
                .abs(),
            score: r.score,
        })
        .collect();
    points.sort_by(|a, b| {
        b.val_accuracy
            .total_cmp(&a.val_accuracy)
            .then(a.abs_delta.total_cmp(&b.abs_delta))
            .then(a.rank.cmp(&b.rank))
    });
    let mut out: Vec<ParetoPoint> = Vec::new();
    for p in points {
        let keep = match out.last() {
            None => true,
            // Earlier points have val ≥ this one's: it survives with a strictly smaller
            // gap, or as an exact twin of the last one kept.
            Some(last) => {
                p.abs_delta < last.abs_delta
                    || (p.abs_delta == last.abs_delta && p.val_accuracy == last.val_accuracy)
            }
        };
        if keep {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_points_are_left_out() {
        let rule = ScoreRule {
            delta: crate::score::DeltaKind::Absolute,
            w1: 0.5,
            w2: 1.0,
        };
        let ranked = crate::analyze::test_ranked(
            &[
                (0.9, 0.7),
                (0.7, 0.65),
                (0.5, 0.5),
                (0.75, 0.6),
                (0.7, 0.65),
                (0.8, 0.65),
            ],
            &rule,
        );
        let ids: Vec<String> = front(&ranked, &rule)
            .into_iter()
            .map(|p| p.config_id)
            .collect();
        // c3 (val 0.6, Δ 0.15) is beaten by c1 (0.65, 0.05); c5 (0.65, 0.15) too; c4 is c1's twin.
        assert_eq!(ids, ["c0", "c1", "c4", "c2"]);
    }
}
