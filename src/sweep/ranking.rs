//! The ranking of a sweep's configurations, with successive halving's unfinished ones.
//!
//! Complete configurations rank by the score rule. Successive halving also leaves
//! configurations with a rung's summary only (pruned, or waiting for the next rung):
//! they rank among themselves, apart from the complete ones, since a score at 5
//! epochs and a score at 60 are not of the same thing.

use super::{Result, SweepError};
use crate::config::ConfigRow;
use crate::data::partition::Partition;
use crate::rank::{self, Ranked};
use crate::score::CvSummary;
use crate::score::ScoreRule;
use crate::store::SweepRow;
use crate::store::{PartialConfig, Store};
use serde_json::{Map, Value};

/// What a sweep recorded for ranking.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Every configuration, in grid order, with its summary once complete.
    pub rows: Vec<ConfigRow>,
    /// Configurations with a rung's summary only (successive halving).
    pub partial: Vec<PartialConfig>,
    /// Configurations without a summary that have a failed fold, in grid order: not
    /// ranked until `run --retry-failed` trains them.
    pub failed: Vec<String>,
}

pub use crate::rank::PartialRanked;

#[derive(Debug, Clone)]
pub struct Ranking {
    /// Complete configurations, best first.
    pub complete: Vec<Ranked>,
    /// Stopped ones, by score (their own ranks among themselves).
    pub partial: Vec<PartialRanked>,
    /// Hyperparameters that vary across the sweep's configurations.
    pub varying: Vec<String>,
    /// Configurations the sweep holds.
    pub configurations: usize,
    /// Those without a score because a fold of theirs failed ([`Recorded::failed`]).
    pub failed: Vec<String>,
}

pub async fn recorded(store: &Store, sweep_id: i64) -> Result<Recorded> {
    let rows = store.configurations(sweep_id).await?;
    let failures: std::collections::HashSet<String> = store
        .failures(sweep_id)
        .await?
        .into_iter()
        .map(|f| f.config_id)
        .collect();
    let failed = rows
        .iter()
        .filter(|r| r.summary.is_none() && failures.contains(&r.config_id))
        .map(|r| r.config_id.clone())
        .collect();
    Ok(Recorded {
        rows,
        partial: store.partial_configurations(sweep_id).await?,
        failed,
    })
}

impl Recorded {
    pub fn rank(&self, rule: &ScoreRule) -> Ranking {
        let partial_rows: Vec<ConfigRow> = self
            .partial
            .iter()
            .map(|p| ConfigRow {
                config_id: p.config_id.clone(),
                position: p.position,
                params_json: p.params_json.clone(),
                params: p.params.clone(),
                summary: Some(p.summary.clone()),
                shares_training_of: None,
            })
            .collect();
        let partial = rank::rank(&partial_rows, rule)
            .into_iter()
            .filter_map(|r| {
                let p = self.partial.iter().find(|p| p.config_id == r.config_id)?;
                let epochs = p
                    .resource_epochs
                    .or_else(|| p.params.get("epochs").and_then(Value::as_i64))
                    .unwrap_or(0);
                Some(PartialRanked {
                    epochs,
                    pruned: p.pruned,
                    folds: p.folds,
                    ranked: r,
                })
            })
            .collect();
        Ranking {
            complete: rank::rank(&self.rows, rule),
            partial,
            varying: rank::varying_keys(self.rows.iter().map(|r| r.params.clone())),
            configurations: self.rows.len(),
            failed: self.failed.clone(),
        }
    }
}

/// The tie set of a ranking's complete configurations (see [`crate::tieset`]) on the
/// sweep's fold scores by `rule`; None when the sweep has none to compare (an
/// HPO_combined import, fewer than two complete configurations). `dims`: the data's
/// (features, classes), for parameter counts (`prefer: smallest`).
pub async fn tie_set(
    store: &Store,
    sweep: &SweepRow,
    complete: &[Ranked],
    rule: &ScoreRule,
    settings: &crate::tieset::Settings,
    dims: Option<(usize, usize)>,
) -> Result<Option<crate::tieset::TieSet>> {
    let metrics = store.fold_metrics(sweep.id).await?;
    let k = super::stored_spec(sweep)
        .map(|s| s.cv.folds)
        .unwrap_or(sweep.folds as usize)
        .max(2);
    let candidates: Vec<crate::tieset::Candidate> = complete
        .iter()
        .map(|r| {
            let folds = metrics
                .get(&r.config_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let fit: Vec<f64> = folds
                .iter()
                .map(|f| f.fit_seconds)
                .filter(|s| s.is_finite())
                .collect();
            crate::tieset::Candidate {
                config_id: r.config_id.clone(),
                rank: r.rank,
                score: r.score,
                folds: folds
                    .iter()
                    .map(|f| (f.fold, rule.score(f.train_accuracy, f.val_accuracy)))
                    .collect(),
                parameters: dims.and_then(|(nf, nc)| {
                    crate::params::HyperParams::from_object(&r.params)
                        .ok()
                        .map(|p| p.parameter_count(nf, nc))
                }),
                fit_seconds: (!fit.is_empty() && fit.len() == folds.len())
                    .then(|| fit.iter().sum::<f64>() / fit.len() as f64),
            }
        })
        .collect();
    Ok(crate::tieset::tie_set(&candidates, k, settings))
}

/// The tie settings of a sweep: its race's, or the defaults.
pub fn tie_settings(sweep: &SweepRow) -> crate::tieset::Settings {
    super::stored_spec(sweep)
        .ok()
        .and_then(|s| s.search.race())
        .map(|r| r.ties)
        .unwrap_or_default()
}

/// Each complete configuration's place in the tie set: (in it, P(not worse than the
/// leader by more than the ROPE)), for the exports' added columns.
pub fn tie_columns(t: &crate::tieset::TieSet) -> std::collections::HashMap<String, (bool, f64)> {
    t.verdicts
        .iter()
        .map(|v| (v.config_id.clone(), (v.tied, v.p_not_worse)))
        .collect()
}

/// The (features, classes) of a sweep's data, read from its stored spec's data file;
/// None for an import, or where the file cannot be read.
pub fn data_dims(sweep: &SweepRow) -> Option<(usize, usize)> {
    if sweep.source.is_some() {
        return None;
    }
    let spec = super::stored_spec(sweep).ok()?;
    let prepared = crate::data::prepare(&spec.dataset, spec.cv.folds).ok()?;
    Some((prepared.dataset.x.cols, prepared.dataset.n_classes()))
}

impl Recorded {
    /// Only the configurations that sub-grid `g` (0-based, `grid[g]`) of the sweep's
    /// spec lists (`rank --subgrid`): one experiment of a spec whose sub-grids ran on
    /// partitions of their own, or one of the study's grids.
    pub fn in_subgrid(mut self, sweep: &SweepRow, g: usize) -> Result<Recorded> {
        let spec = super::stored_spec(sweep)?;
        let n = spec.grid.subgrids().len();
        if g >= n {
            return Err(SweepError::NoSuchSubgrid {
                name: sweep.name.clone(),
                g,
                n,
            });
        }
        let lists = |params: &Map<String, Value>| {
            let unstated = if sweep.source.is_some() {
                super::import::unstated(params)
            } else {
                &[]
            };
            spec.subgrids_of(params, unstated).contains(&g)
        };
        self.rows.retain(|r| lists(&r.params));
        self.partial.retain(|p| lists(&p.params));
        let kept: std::collections::HashSet<&str> =
            self.rows.iter().map(|r| r.config_id.as_str()).collect();
        self.failed.retain(|id| kept.contains(id.as_str()));
        Ok(self)
    }
}

impl Ranking {
    /// The partitions the complete configurations were measured on (a table cell each,
    /// see [`Partition::cell`]) with how many of them each, in order of first rank.
    /// More than one: the ranking mixes experiments on different rows.
    pub fn partitions(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for r in &self.complete {
            let cell = Partition::cell(r.params.get("split"));
            match out.iter_mut().find(|(c, _)| *c == cell) {
                Some((_, n)) => *n += 1,
                None => out.push((cell, 1)),
            }
        }
        out
    }

    /// The stopped ones as `rank` lists them: the furthest trained first, then by
    /// score at that point, then grid order.
    pub fn partial_by_progress(&self) -> Vec<&PartialRanked> {
        let mut v: Vec<&PartialRanked> = self.partial.iter().collect();
        v.sort_by(|x, y| {
            y.epochs
                .cmp(&x.epochs)
                .then(y.ranked.score.total_cmp(&x.ranked.score))
                .then(x.ranked.position.cmp(&y.ranked.position))
        });
        v
    }
}

/// Which configuration a command is about (`--config` or `--rank`).
#[derive(Debug, Clone, Copy)]
pub enum Choice<'a> {
    /// The configuration whose id starts with this.
    Id(&'a str),
    /// The complete configuration of this rank (1 is the best).
    Rank(usize),
}

/// The configuration chosen.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub config_id: String,
    /// Its rank, when it is complete.
    pub rank: Option<usize>,
    pub params: Map<String, Value>,
    pub summary: Option<CvSummary>,
}

/// Why no configuration was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotChosen {
    NoSuchId,
    /// The id prefix matches this many.
    Ambiguous(usize),
    NoneComplete,
    /// No such rank among this many complete configurations.
    NoSuchRank(usize),
}

/// Picks a configuration of `rows`, ranked by `rule`.
pub fn choose(
    rows: &[ConfigRow],
    rule: &ScoreRule,
    choice: Choice,
) -> std::result::Result<Chosen, NotChosen> {
    let ranked = rank::rank(rows, rule);
    match choice {
        Choice::Id(prefix) => {
            let hits: Vec<&ConfigRow> = rows
                .iter()
                .filter(|r| r.config_id.starts_with(prefix))
                .collect();
            match hits.as_slice() {
                [one] => Ok(Chosen {
                    config_id: one.config_id.clone(),
                    rank: ranked
                        .iter()
                        .find(|r| r.config_id == one.config_id)
                        .map(|r| r.rank),
                    params: one.params.clone(),
                    summary: one.summary.clone(),
                }),
                [] => Err(NotChosen::NoSuchId),
                many => Err(NotChosen::Ambiguous(many.len())),
            }
        }
        Choice::Rank(n) => {
            if ranked.is_empty() {
                return Err(NotChosen::NoneComplete);
            }
            let r = ranked
                .iter()
                .find(|r| r.rank == n)
                .ok_or(NotChosen::NoSuchRank(ranked.len()))?;
            Ok(Chosen {
                config_id: r.config_id.clone(),
                rank: Some(r.rank),
                params: r.params.clone(),
                summary: Some(r.summary.clone()),
            })
        }
    }
}
