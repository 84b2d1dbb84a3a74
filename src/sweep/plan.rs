//! What a sweep would do and cost, before it runs (`gridsweep plan`).
//!
//! The cost is an upper bound from the model's arithmetic (`bench::fold_fit_flops`)
//! at a measured per-job throughput: early stopping only makes it less. For successive
//! halving the bound is its rungs' fold-epochs (each epoch trained once, continuing
//! from saved states) as a share of the same configurations' full runs; for Hyperband,
//! the sum of its brackets'.

use super::register::check_data;
use super::Result;
use crate::config::Config;
use crate::search::Halving;
use crate::spec::{Expansion, Spec};
use std::collections::HashSet;

/// Rough single-core fp32 training throughput used by the estimate: `gridsweep bench`
/// measured 52-75 GFLOP/s per job (batch 64 to 512) on the 2-core AVX-512 machine.
pub const GFLOPS_PER_JOB: f64 = 60.0;

/// The notebook protocol's scoring of the training fold on each epoch whose weights
/// become the checkpoint, as a share of its other work per fold-epoch: an A/B of the
/// builds without and with it (`gridsweep bench --precision fp32 --protocol both
/// --batch-sizes 512`, 2026-11-30, docs/performance.md) measured 8.4 %.
pub const NOTEBOOK_CHECKPOINT_SHARE: f64 = 0.084;

/// One fold's arithmetic for `epochs` epochs of configuration `p`: training on
/// `fit_rows`, and under the notebook protocol the validation pass over the CV fold
/// (`val_rows`) after every epoch (Keras' `validation_data`) and the checkpoint
/// scoring ([`NOTEBOOK_CHECKPOINT_SHARE`]). Without the two, `plan` fell 19-26 % short
/// of the measured halving runs of the study's notebook grids.
pub fn fold_flops(p: &crate::params::HyperParams, n_features: usize, n_classes: usize, fit_rows: usize, val_rows: usize, epochs: u32) -> f64 {
    let train = crate::bench::fold_fit_flops(p, n_features, n_classes, fit_rows, epochs);
    if p.protocol != crate::params::Protocol::Notebook {
        return train;
    }
    // A forward pass is a third of a training step's arithmetic (forward + backward).
    let validation = crate::bench::fold_fit_flops(p, n_features, n_classes, val_rows, epochs) / 3.0;
    (train + validation) * (1.0 + NOTEBOOK_CHECKPOINT_SHARE)
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub expansion: Expansion,
    /// The configurations the search strategy trains, in its order.
    pub selected: Vec<Config>,
    /// Distinct trainings among them: the sweep's work.
    pub trainings: usize,
    /// Distinct trainings of the whole grid.
    pub grid_trainings: usize,
    /// Per sub-grid (by the sub-grid that first produced a training): the trainings
    /// selected, and the grid's.
    pub per_subgrid: Vec<(usize, usize)>,
    pub folds: usize,
    /// Successive halving (one) and Hyperband (several): each bracket's halving, and
    /// its (configurations, epochs) per rung.
    pub brackets: Vec<(Halving, Vec<(usize, u32)>)>,
    /// Fold-epochs of the selected trainings' full runs.
    pub full_fold_epochs: u64,
    /// Fold-epochs the strategy spends at most (the full runs' for grid and random).
    pub fold_epochs: u64,
    /// Rows of the training part (the folds are cut from these).
    pub train_rows: usize,
    /// Upper bound of the training arithmetic, FLOP.
    pub flops: f64,
    /// The bound's time with `jobs` jobs at [`GFLOPS_PER_JOB`].
    pub seconds: f64,
    pub jobs: usize,
}

impl Plan {
    /// The strategy's fold-epochs as a share of the full runs'.
    pub fn share(&self) -> f64 {
        self.fold_epochs as f64 / self.full_fold_epochs.max(1) as f64
    }
}

/// Plans `spec` for `jobs` jobs. Reads and splits the data as a run would: a plan
/// fails where the run would.
pub fn plan(spec: &Spec, jobs: usize) -> Result<Plan> {
    let expansion = spec.expand()?;
    // Folds each configuration trains (folds × repeats); each fits on (k − 1)/k of the rows.
    let (folds, k) = (spec.cv.total(), spec.cv.folds);
    let prepared = check_data(spec)?;
    let (train_rows, nf, nc) = (prepared.train.len(), prepared.dataset.x.cols, prepared.dataset.n_classes());
    let selected = spec.search.select(&expansion.configs, &expansion.subgrid, spec.seed);
    let mut seen = HashSet::new();
    let trainings: Vec<&Config> = selected.iter().filter(|c| seen.insert(&c.training_key)).collect();
    let max_epochs = trainings.iter().map(|c| c.params.epochs).max().unwrap_or(0);
    let full_fold_epochs = trainings.iter().map(|c| c.params.epochs as u64).sum::<u64>() * folds as u64;
    // Each bracket's trainings: Hyperband deals them as `register` does.
    let ladder = crate::search::max_epochs(&expansion.configs);
    let dealt = spec.search.assign(&selected, ladder);
    let brackets: Vec<(Halving, Vec<(usize, u32)>)> = spec
        .search
        .brackets(ladder)
        .into_iter()
        .enumerate()
        .map(|(b, (h, _))| {
            let n = selected.iter().zip(&dealt).filter(|(c, &d)| d == b && trainings.iter().any(|t| t.id == c.id)).count();
            (h, h.rungs(n, max_epochs))
        })
        .collect();
    let fold_epochs = match brackets.is_empty() {
        false => brackets.iter().map(|(h, r)| h.fold_epochs(r[0].0, max_epochs)).sum::<u64>() * folds as u64,
        true => full_fold_epochs,
    };
    let share = fold_epochs as f64 / full_fold_epochs.max(1) as f64;
    // Each configuration on its partition's training part (a sub-grid's `"split"`).
    let mut rows_of: Vec<(Option<&crate::data::partition::Partition>, usize)> = vec![(None, train_rows)];
    for c in &trainings {
        if let Some(p) = c.params.split.as_ref().filter(|p| !rows_of.iter().any(|(q, _)| *q == Some(*p))) {
            rows_of.push((Some(p), crate::data::prepare(&p.apply(&spec.dataset), k)?.train.len()));
        }
    }
    let flops = trainings
        .iter()
        .map(|c| {
            let rows = rows_of.iter().find(|(p, _)| *p == c.params.split.as_ref()).map_or(train_rows, |(_, r)| *r);
            let fit_rows = rows * (k - 1) / k;
            fold_flops(&c.params, nf, nc, fit_rows, rows - fit_rows, c.params.epochs)
        })
        .sum::<f64>()
        * folds as f64
        * share;
    let jobs = jobs.max(1);
    let mut per_subgrid = vec![(0, 0); expansion.subgrid.iter().max().map_or(0, |m| m + 1)];
    let picked: HashSet<&str> = trainings.iter().map(|c| c.training_key.as_str()).collect();
    let mut counted = HashSet::new();
    for (c, &g) in expansion.configs.iter().zip(&expansion.subgrid) {
        if counted.insert(c.training_key.as_str()) {
            per_subgrid[g].1 += 1;
            per_subgrid[g].0 += picked.contains(c.training_key.as_str()) as usize;
        }
    }
    Ok(Plan {
        per_subgrid,
        grid_trainings: expansion.trainings(),
        trainings: trainings.len(),
        selected: selected.clone(),
        expansion,
        folds,
        brackets,
        full_fold_epochs,
        fold_epochs,
        train_rows,
        flops,
        seconds: flops / (GFLOPS_PER_JOB * 1e9 * jobs as f64),
        jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{HyperParams, Protocol};

    /// The notebook protocol costs its validation pass (a forward pass over the CV
    /// fold, half the training fold's rows at 3 folds: a sixth of the training step's
    /// arithmetic) and the checkpoint scoring's share on top; GridSearchCV's fold only
    /// trains.
    #[test]
    fn the_notebook_protocol_costs_its_extra_passes() {
        let gs = HyperParams::default();
        let nb = HyperParams { protocol: Protocol::Notebook, ..HyperParams::default() };
        let train = crate::bench::fold_fit_flops(&gs, 19, 6, 2000, 60);
        assert_eq!(fold_flops(&gs, 19, 6, 2000, 1000, 60), train);
        let want = train * (1.0 + 1.0 / 6.0) * (1.0 + NOTEBOOK_CHECKPOINT_SHARE);
        assert!((fold_flops(&nb, 19, 6, 2000, 1000, 60) - want).abs() < 1e-6 * want);
    }
}
