//! How sure is the choice, and what mattered? (`gridsweep analyze`)
//!
//! The ranking says which configuration scores best; it does not say whether that
//! would survive other weights, what the hyperparameters did, or whether the winner is
//! better than the runner-up by more than the folds' noise. The study itself warned
//! that its weighted score was arbitrary and its 3-fold validation small. This stage
//! answers from what a sweep recorded, without training:
//! - [`fanova`]: which hyperparameters explain the score, val accuracy and Δacc (as
//!   Optuna's fANOVA computes it), per sub-grid and for the whole sweep;
//! - [`marginals`]: each value's mean with a confidence interval, per sub-grid (grids
//!   that varied different things are not mixed);
//! - [`sensitivity`]: the winner for every weighting w = w1 / (w1 + w2), exactly;
//! - [`pareto`]: the configurations no other beats on both val accuracy and |Δacc|;
//! - [`compare`]: corrected t-tests of the runners-up against the winner on fold scores.
//!
//! Beside them, [`surrogate`] predicts a configuration's score after some epochs from
//! recorded ones, for `plan --calibrate`'s estimate of a staged search.
//!
//! Everything here is a pure function of the ranked configurations (and their folds):
//! the sweep layer gathers them, the command line prints, the report draws.

pub mod compare;
pub mod design;
pub mod fanova;
pub mod forest;
pub mod marginals;
pub mod pareto;
pub mod sensitivity;
pub mod surrogate;

use crate::rank::Ranked;
use crate::score::ScoreRule;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A set of the sweep's configurations analysed together: the whole sweep, or the
/// configurations one sub-grid of its spec produces.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    /// Indices into the ranked configurations.
    pub members: Vec<usize>,
}

/// One done fold of a configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldScore {
    pub fold: i64,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
}

/// What the analysis needs.
pub struct Input<'a> {
    /// Complete configurations, ranked by `rule`.
    pub ranked: &'a [Ranked],
    pub rule: &'a ScoreRule,
    /// The groups beside the whole sweep (its sub-grids; none for a single grid).
    pub groups: Vec<Group>,
    /// Fold scores by configuration (None: the sweep has none, e.g. an HPO_combined import).
    pub folds: Option<&'a HashMap<String, Vec<FoldScore>>>,
    /// n_test / n_train of one fold: 1 / (k − 1) for k-fold.
    pub test_over_train: f64,
    /// How many of the best to compare with the winner (the winner included).
    pub top: usize,
    /// Seed of the importance forests.
    pub seed: u64,
    /// The configuration the others are tested against (default: rank 1), by index
    /// into `ranked`.
    pub against: Option<usize>,
}

/// The importances for one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetImportance {
    pub target: &'static str,
    pub importances: Vec<fanova::Importance>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupAnalysis {
    pub name: String,
    pub configurations: usize,
    /// Its best configuration and that one's rank in the sweep.
    pub best: Option<String>,
    pub best_rank: Option<usize>,
    pub importance: Vec<TargetImportance>,
    /// Marginals of the score.
    pub marginals: Vec<marginals::Marginal>,
}

/// A runner-up against the winner.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub config_id: String,
    pub rank: usize,
    pub score: f64,
    /// On the fold scores, winner − this one (None: folds missing or not paired).
    pub test: Option<compare::PairedTest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub configurations: usize,
    /// The configuration the others are tested against: rank 1, or `--against`.
    pub winner: Option<String>,
    /// The whole sweep first, then the sub-grids.
    pub groups: Vec<GroupAnalysis>,
    pub sensitivity: Option<sensitivity::Sensitivity>,
    pub pareto: Vec<pareto::ParetoPoint>,
    pub comparisons: Vec<Comparison>,
    /// Why there are no comparisons, when there are none.
    pub comparisons_note: Option<String>,
}

/// The targets importance is computed for.
pub const TARGETS: [&str; 3] = ["score", "val_accuracy", "delta_accuracy"];

fn target(r: &Ranked, name: &str) -> f64 {
    match name {
        "score" => r.score,
        "val_accuracy" => r.summary.mean_val_accuracy,
        _ => r.summary.delta_accuracy,
    }
}

fn group(input: &Input, name: &str, members: &[usize]) -> GroupAnalysis {
    let rows: Vec<&Ranked> = members.iter().map(|&i| &input.ranked[i]).collect();
    let params: Vec<&Map<String, Value>> = rows.iter().map(|r| &r.params).collect();
    let importance = TARGETS
        .iter()
        .map(|&t| {
            let y: Vec<f64> = rows.iter().map(|r| target(r, t)).collect();
            TargetImportance {
                target: t,
                importances: fanova::importances(&params, &y, input.seed),
            }
        })
        .collect();
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    let best = rows.iter().min_by_key(|r| r.rank);
    GroupAnalysis {
        name: name.to_string(),
        configurations: rows.len(),
        best: best.map(|r| r.config_id.clone()),
        best_rank: best.map(|r| r.rank),
        importance,
        marginals: marginals::marginals(&params, &scores),
    }
}

/// The fold scores of a configuration by the rule, in fold order.
fn fold_scores(folds: &[FoldScore], rule: &ScoreRule) -> Vec<(i64, f64)> {
    let mut v: Vec<(i64, f64)> = folds
        .iter()
        .map(|f| (f.fold, rule.score(f.train_accuracy, f.val_accuracy)))
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

pub fn analyze(input: &Input) -> Analysis {
    let all: Vec<usize> = (0..input.ranked.len()).collect();
    let mut groups = vec![group(input, "all", &all)];
    for g in &input.groups {
        groups.push(group(input, &g.name, &g.members));
    }
    let reference = input
        .against
        .and_then(|i| input.ranked.get(i))
        .or(input.ranked.first());
    let (comparisons, comparisons_note) = match (input.folds, reference) {
        (_, None) => (Vec::new(), Some("no complete configuration".to_string())),
        (None, _) => (Vec::new(), Some("the sweep holds no fold scores (an HPO_combined import has means only): import a cv_results_ file or rerun the top configurations".to_string())),
        (Some(folds), Some(winner)) => {
            let w = folds.get(&winner.config_id).map(|f| fold_scores(f, input.rule)).unwrap_or_default();
            let v: Vec<Comparison> = input
                .ranked
                .iter()
                .take(input.top.max(1))
                .filter(|r| r.config_id != winner.config_id)
                .take(input.top.saturating_sub(1))
                .map(|r| {
                    let other = folds.get(&r.config_id).map(|f| fold_scores(f, input.rule)).unwrap_or_default();
                    let paired = other.len() == w.len() && other.iter().zip(&w).all(|(a, b)| a.0 == b.0);
                    let d: Vec<f64> = if paired { w.iter().zip(&other).map(|(a, b)| a.1 - b.1).collect() } else { Vec::new() };
                    Comparison { config_id: r.config_id.clone(), rank: r.rank, score: r.score, test: compare::paired(&d, input.test_over_train) }
                })
                .collect();
            (v, None)
        }
    };
    Analysis {
        configurations: input.ranked.len(),
        winner: reference.map(|r| r.config_id.clone()),
        groups,
        sensitivity: sensitivity::sensitivity(input.ranked, input.rule),
        pareto: pareto::front(input.ranked, input.rule),
        comparisons,
        comparisons_note,
    }
}

/// Ranked configurations from (train, val) means, for the tests of this stage.
#[cfg(test)]
pub(crate) fn test_ranked(points: &[(f64, f64)], rule: &ScoreRule) -> Vec<Ranked> {
    let rows: Vec<crate::config::ConfigRow> = points
        .iter()
        .enumerate()
        .map(|(i, &(train, val))| crate::config::ConfigRow {
            config_id: format!("c{i}"),
            position: i as i64,
            params_json: "{}".into(),
            params: Default::default(),
            summary: Some(crate::score::CvSummary {
                mean_train_accuracy: train,
                std_train_accuracy: 0.0,
                mean_val_accuracy: val,
                std_val_accuracy: 0.0,
                mean_train_loss: 0.0,
                std_train_loss: 0.0,
                mean_val_loss: 0.0,
                std_val_loss: 0.0,
                delta_accuracy: 0.0,
                score: 0.0,
                total_fit_seconds: 0.0,
            }),
            shares_training_of: None,
        })
        .collect();
    crate::rank::rank(&rows, rule)
}
