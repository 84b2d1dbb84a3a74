//! `gridsweep analyze`: gathers what [`crate::analyze`] needs from a sweep: its ranked
//! complete configurations, which sub-grid of its spec (or of `--spec`, for results
//! imported from elsewhere) produced each, and its fold scores.

use super::ranking::NotChosen;
use super::{Result, SweepError};
use crate::analyze::{self, Analysis, FoldScore, Group};
use crate::score::ScoreRule;
use crate::spec::Spec;
use crate::store::{Store, SweepRow};
use std::collections::HashMap;

/// A sweep analysed.
#[derive(Debug, Clone)]
pub struct Analyzed {
    pub analysis: Analysis,
    /// The sub-grids' names and sizes (none when the spec has one grid).
    pub subgrids: Vec<(String, usize)>,
    /// Configurations in more than one sub-grid, and in none.
    pub shared: usize,
    pub outside: usize,
    /// Folds per configuration (k of k-fold).
    pub folds: usize,
    /// The tie set of the complete configurations (the sweep's race settings, or the
    /// defaults), where there are fold scores.
    pub tie_set: Option<crate::tieset::TieSet>,
}

/// The name of sub-grid `i`: A, B, C, … as the study named its grids.
pub fn subgrid_name(i: usize) -> String {
    if i < 26 {
        ((b'A' + i as u8) as char).to_string()
    } else {
        format!("G{}", i + 1)
    }
}

/// Analyses `sweep`'s complete configurations ranked by `rule`. Sub-grids come from
/// `spec` when given, else from the sweep's own spec (an imported sweep has none).
/// `against`: the id (or a prefix) of the configuration the best `top` are tested
/// against (default: rank 1).
#[allow(clippy::too_many_arguments)]
pub async fn analyze(
    store: &Store,
    sweep: &SweepRow,
    rule: &ScoreRule,
    spec: Option<&Spec>,
    top: usize,
    seed: u64,
    against: Option<&str>,
) -> Result<Analyzed> {
    let recorded = super::ranking::recorded(store, sweep.id).await?;
    let ranked = crate::rank::rank(&recorded.rows, rule);
    // An import's stored spec holds the sub-grids given at import (`--spec`), if any.
    let own = if sweep.source.is_none() {
        Some(super::stored_spec(sweep)?)
    } else {
        super::stored_spec(sweep).ok()
    };
    let spec = spec.or(own.as_ref());
    let mut groups = Vec::new();
    let (mut shared, mut outside) = (0, 0);
    if let Some(spec) = spec.filter(|s| s.grid.subgrids().len() > 1) {
        let n = spec.grid.subgrids().len();
        let mut members = vec![Vec::new(); n];
        for (i, r) in ranked.iter().enumerate() {
            let unstated = if sweep.source.is_some() {
                super::import::unstated(&r.params)
            } else {
                &[]
            };
            let of = spec.subgrids_of(&r.params, unstated);
            match of.len() {
                0 => outside += 1,
                1 => {}
                _ => shared += 1,
            }
            for g in of {
                members[g].push(i);
            }
        }
        groups = members
            .into_iter()
            .enumerate()
            .map(|(i, m)| Group {
                name: subgrid_name(i),
                members: m,
            })
            .collect();
    }
    let metrics = store.fold_metrics(sweep.id).await?;
    let folds: HashMap<String, Vec<FoldScore>> = metrics
        .into_iter()
        .map(|(id, v)| {
            (
                id,
                v.into_iter()
                    .map(|m| FoldScore {
                        fold: m.fold,
                        train_accuracy: m.train_accuracy,
                        val_accuracy: m.val_accuracy,
                    })
                    .collect(),
            )
        })
        .collect();
    // k of k-fold (not × repeats): the stored spec's (an import's records its splits).
    let k = match &own {
        Some(s) => s.cv.folds,
        None => sweep.folds as usize,
    }
    .max(2);
    // One configuration per sub-grid (a rerun's spec) is no grouping to analyse.
    if groups.iter().all(|g| g.members.len() <= 1) {
        groups.clear();
        (shared, outside) = (0, 0);
    }
    let subgrids = groups
        .iter()
        .map(|g| (g.name.clone(), g.members.len()))
        .collect();
    let against = match against {
        None => None,
        Some(prefix) => {
            match super::ranking::choose(&recorded.rows, rule, super::ranking::Choice::Id(prefix)) {
                Ok(c) if c.rank.is_some() => ranked.iter().position(|r| r.config_id == c.config_id),
                Ok(_)
                | Err(NotChosen::NoSuchId)
                | Err(NotChosen::NoneComplete)
                | Err(NotChosen::NoSuchRank(_)) => {
                    return Err(SweepError::Conflict(format!(
                        "--against {prefix}: no complete configuration of sweep `{}` has that id",
                        sweep.name
                    )))
                }
                Err(NotChosen::Ambiguous(n)) => {
                    return Err(SweepError::Conflict(format!(
                        "--against {prefix}: {n} configurations' ids start so; give more of it"
                    )))
                }
            }
        }
    };
    let input = analyze::Input {
        ranked: &ranked,
        rule,
        groups,
        folds: (!folds.is_empty()).then_some(&folds),
        test_over_train: 1.0 / (k - 1) as f64,
        top,
        seed,
        against,
    };
    let settings = super::ranking::tie_settings(sweep);
    let dims = (settings.prefer == crate::tieset::Prefer::Smallest)
        .then(|| super::ranking::data_dims(sweep))
        .flatten();
    let tie_set = super::ranking::tie_set(store, sweep, &ranked, rule, &settings, dims).await?;
    Ok(Analyzed {
        analysis: analyze::analyze(&input),
        subgrids,
        shared,
        outside,
        folds: k,
        tie_set,
    })
}
