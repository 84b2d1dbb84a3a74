//! `gridsweep rerun`: the best configurations of a sweep again, with repeated
//! cross-validation, as a new sweep.
//!
//! Three folds give the tests of `analyze` two degrees of freedom: too few to tell a
//! winner from its runners-up. A rerun trains the best K with folds × repeats folds
//! (repeated stratified k-fold, `cv.repeats`), on the same data, split and seed, so
//! that its fold scores answer whether the winner is really better. It is an ordinary
//! sweep: resumable, rankable, analysable. An imported sweep has no data of its own:
//! its rerun takes the data, split and seed from a spec (`--spec`).
//!
//! With a race (`rerun --race`) the best K are raced over those folds instead of each
//! running all of them: the credibly worse leave at each barrier, and the rerun ends
//! with the tie set of what the data cannot separate (`crate::race`).

use super::{Result, SweepError};
use crate::rank::Ranked;
use crate::score::ScoreRule;
use crate::search::Search;
use crate::spec::{CvSection, Grid, Spec};
use crate::store::SweepRow;
use serde_json::{Map, Value};

/// The spec of the rerun of `sweep`'s best `top` (of `ranked`, by `rule`) with
/// `repeats` repeats, named `name`: the data, split, folds and seed of `base` (the
/// sweep's own spec when None), one sub-grid per configuration, in rank order, searched
/// by `search` (the grid: every fold of every one; or a race over them).
#[allow(clippy::too_many_arguments)]
pub fn spec(
    sweep: &SweepRow,
    ranked: &[Ranked],
    rule: &ScoreRule,
    top: usize,
    repeats: usize,
    base: Option<Spec>,
    name: &str,
    search: Search,
) -> Result<Spec> {
    // Another model's configurations (`import --foreign`) have nothing gridsweep trains.
    let foreign = super::export::foreign_keys_of(ranked.iter().map(|r| &r.params));
    if !foreign.is_empty() {
        return Err(SweepError::Conflict(format!(
            "sweep `{}` holds another model's configurations (imported with --foreign; its keys {} are not gridsweep's): \
             gridsweep cannot train them, so there is nothing to rerun (`gridsweep replay` judges strategies on it)",
            sweep.name,
            foreign.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let base = match base {
        Some(s) => s,
        None if sweep.source.is_some() => {
            return Err(SweepError::Conflict(format!(
                "sweep `{}` was imported ({}): it has no data of its own. Give --spec with the data, split and seed it was made on \
                 (for the study's file: search-spaces/genre-factor.json)",
                sweep.name,
                sweep.source.as_deref().unwrap_or_default()
            )))
        }
        None => super::stored_spec(sweep)?,
    };
    if ranked.is_empty() {
        return Err(SweepError::Conflict(format!(
            "sweep `{}` has no complete configuration to rerun",
            sweep.name
        )));
    }
    let chosen: Vec<&Ranked> = ranked.iter().take(top.max(1)).collect();
    let grid: Vec<Map<String, Value>> = chosen
        .iter()
        .map(|r| {
            r.params
                .iter()
                .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
                .collect()
        })
        .collect();
    let spec = Spec {
        name: name.to_string(),
        description: Some(format!(
            "the best {} of sweep `{}` (ranks 1–{}), {} with {} × {}-fold cross-validation",
            chosen.len(),
            sweep.name,
            chosen.len(),
            if matches!(search, Search::Race { .. }) {
                "raced"
            } else {
                "rerun"
            },
            repeats,
            base.cv.folds
        )),
        dataset: base.dataset,
        cv: CvSection {
            folds: base.cv.folds,
            repeats,
            splitter: base.cv.splitter,
        },
        seed: base.seed,
        fixed: Map::new(),
        grid: Grid::Many(grid),
        score: *rule,
        search,
    };
    Ok(spec)
}
