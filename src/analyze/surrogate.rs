//! A configuration's score after a number of epochs, predicted from the scores a
//! database recorded: what `plan --calibrate` uses to foresee which configurations a
//! staged search (halving, Hyperband) promotes.
//!
//! Why it is needed: a staged search's cost is decided by its survivors. A batch-64
//! network's epoch costs several times a batch-512 one's, and small batches score
//! higher after a few epochs, so the survivors of a rung are not a cross-section of
//! its configurations: in four halving runs of 60 of the study's trainings the
//! configurations promoted cost 6-20 % more than the average one would have
//! (docs/less-work.md, "`plan`'s estimate").
//!
//! The model is a regression forest ([`super::forest`], as fANOVA grows it) on the
//! hyperparameters ([`super::design::Design::all`]) and the epochs the score was taken
//! at: the rung scores of a database's staged sweeps are taken at few epochs and the
//! full runs' at many, and the ranking changes between the two.

use super::design::Design;
use super::forest::{self, Tree};
use serde_json::{Map, Value};

/// Trees of the forest (fANOVA's 64), and their depth: a rung of the study's space
/// has hundreds of rows at most, so depth never binds.
const TREES: usize = 64;
const MAX_DEPTH: usize = 64;

/// One recorded score: a configuration's hyperparameters, the epochs it trained,
/// and the score it had there.
#[derive(Debug, Clone)]
pub struct Observation {
    pub params: Map<String, Value>,
    pub epochs: u32,
    pub score: f64,
}

#[derive(Debug, Clone)]
pub struct Surrogate {
    design: Design,
    trees: Vec<Tree>,
    /// The observations it learned from.
    pub observations: usize,
}

impl Surrogate {
    /// The forest over `observations` (those with a finite score); None with fewer
    /// than two. The same observations and seed give the same predictions.
    pub fn fit(observations: &[Observation], seed: u64) -> Option<Surrogate> {
        let rows: Vec<&Observation> = observations
            .iter()
            .filter(|o| o.score.is_finite())
            .collect();
        if rows.len() < 2 {
            return None;
        }
        let design = Design::all(&rows.iter().map(|o| &o.params).collect::<Vec<_>>());
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|o| row(&design, &o.params, o.epochs))
            .collect();
        let y: Vec<f64> = rows.iter().map(|o| o.score).collect();
        let trees = forest::grow(&x, &y, TREES, MAX_DEPTH, seed);
        Some(Surrogate {
            design,
            trees,
            observations: rows.len(),
        })
    }

    /// The predicted score of `params` after `epochs` epochs.
    pub fn predict(&self, params: &Map<String, Value>, epochs: u32) -> f64 {
        let x = row(&self.design, params, epochs);
        self.trees.iter().map(|t| t.predict(&x)).sum::<f64>() / self.trees.len() as f64
    }
}

/// The design's row with the epochs last.
fn row(design: &Design, params: &Map<String, Value>, epochs: u32) -> Vec<f64> {
    let mut x = design.encode(params);
    x.push(epochs as f64);
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obs(batch: u32, lr: f64, epochs: u32, score: f64) -> Observation {
        let params = json!({"batch_size": batch, "learning_rate": lr, "optimizer": "adam"})
            .as_object()
            .unwrap()
            .clone();
        Observation {
            params,
            epochs,
            score,
        }
    }

    /// Small batches lead at few epochs and large ones at many, as in the study: the
    /// forest ranks new configurations that way at each budget, and learns from finite
    /// scores only.
    #[test]
    fn the_surrogate_ranks_by_what_the_scores_did_at_each_budget() {
        let mut o = Vec::new();
        for (i, &lr) in [0.001, 0.002, 0.003, 0.004].iter().enumerate() {
            for batch in [64, 128, 256, 512] {
                let small = (512 - batch) as f64 / 448.0;
                o.push(obs(batch, lr, 5, 0.50 + 0.05 * small + 0.001 * i as f64));
                o.push(obs(batch, lr, 45, 0.60 - 0.05 * small + 0.001 * i as f64));
            }
        }
        o.push(obs(64, 0.001, 5, f64::NAN));
        let s = Surrogate::fit(&o, 7).unwrap();
        assert_eq!(s.observations, 32);
        let new = |batch: u32| obs(batch, 0.0025, 0, 0.0).params;
        assert!(s.predict(&new(64), 5) > s.predict(&new(512), 5) + 0.02);
        assert!(s.predict(&new(512), 45) > s.predict(&new(64), 45) + 0.02);
        let again = Surrogate::fit(&o, 7).unwrap();
        assert_eq!(again.predict(&new(128), 15), s.predict(&new(128), 15));
        assert!(Surrogate::fit(&o[..1], 7).is_none());
    }
}
