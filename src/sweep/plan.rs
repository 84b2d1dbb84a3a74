//! What a sweep would do and cost, before it runs (`gridsweep plan`).
//!
//! The cost is an upper bound from the model's arithmetic (`bench::fold_fit_flops`)
//! at a measured per-job throughput: early stopping only makes it less. For successive
//! halving the bound is its rungs' fold-epochs (each epoch trained once, continuing
//! from saved states) as a share of the same configurations' full runs; for Hyperband,
//! the sum of its brackets'.

use super::register::check_data;
use super::{Result, SweepError};
use crate::analyze::surrogate::{Observation, Surrogate};
use crate::config::Config;
use crate::search::Halving;
use crate::spec::{Expansion, Spec};
use std::collections::{HashMap, HashSet};

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
pub fn fold_flops(
    p: &crate::params::HyperParams,
    n_features: usize,
    n_classes: usize,
    fit_rows: usize,
    val_rows: usize,
    epochs: u32,
) -> f64 {
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
    /// A race's bounds ([`race_bounds`]).
    pub race: Option<RaceBounds>,
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
    /// Optimizer steps (batches) of the same bound.
    pub steps: f64,
    /// The bound's time with `jobs` jobs at [`GFLOPS_PER_JOB`].
    pub seconds: f64,
    pub jobs: usize,
    /// Each distinct training's cost per fold and epoch, and its bracket.
    pub work: Vec<TrainingWork>,
}

/// One distinct training of a plan: the configuration (index into `Plan::selected`),
/// its bracket (0 without brackets), and one fold's arithmetic (GFLOP) and optimizer
/// steps per epoch (both are linear in the epochs).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingWork {
    pub config: usize,
    pub bracket: usize,
    pub gflop_per_epoch: f64,
    pub steps_per_epoch: f64,
}

/// Which configurations a staged search's rungs train ([`Plan::staged_work`]).
pub enum Promotion<'a> {
    /// Each rung's configurations cost the bracket's average (the bound's assumption).
    Average,
    /// The ones `Surrogate` scores best at a rung's budget go on, as the run would
    /// promote on their measured scores.
    Predicted(&'a crate::analyze::surrogate::Surrogate),
    /// The ones a run trained: training keys per (bracket, rung).
    Recorded(&'a HashMap<(usize, usize), HashSet<String>>),
}

impl Plan {
    /// `run --fuse`: the distinct trainings per group of one network shape, kind and
    /// batch size (`train::fused::GroupKey`), largest first: what a job can train as
    /// one. (A staged search's rungs regroup whichever configurations go on.)
    pub fn fusion_groups(&self) -> Vec<(crate::train::fused::GroupKey, usize)> {
        let mut seen = HashSet::new();
        let mut groups: Vec<(crate::train::fused::GroupKey, usize)> = Vec::new();
        for c in self
            .selected
            .iter()
            .filter(|c| seen.insert(&c.training_key))
        {
            let key = crate::train::fused::GroupKey::of(&c.params);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => groups.push((key, 1)),
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.1));
        groups
    }

    /// The strategy's fold-epochs as a share of the full runs'.
    pub fn share(&self) -> f64 {
        self.fold_epochs as f64 / self.full_fold_epochs.max(1) as f64
    }

    /// The estimate from measured folds (`plan --calibrate`): their seconds per GFLOP
    /// and per step applied to this plan's arithmetic and steps with `jobs` jobs; for
    /// full runs (grid and random) times their early-stopping share; for a staged search
    /// its rungs at their budgets, each rung's survivors predicted from the database's
    /// scores where it has staged runs (their configurations that go on are not a
    /// cross-section), times those runs' measured overhead.
    pub fn calibrated_seconds(&self, c: &Calibration) -> f64 {
        let (gflop, steps, stage) = match (&self.brackets[..], &c.surrogate) {
            ([], _) => (self.flops / 1e9, self.steps, c.early_stopping_share),
            (_, Some(s)) => {
                let (g, st) = self.staged_work(&Promotion::Predicted(s));
                (g, st, c.staged_factor.unwrap_or(1.0))
            }
            (_, None) => (self.flops / 1e9, self.steps, c.staged_factor.unwrap_or(1.0)),
        };
        (c.seconds_per_gflop * gflop + c.seconds_per_step * steps) * stage / self.jobs as f64
    }

    /// A staged search's fold arithmetic (GFLOP) and optimizer steps over every fold,
    /// rung by rung: each rung trains its configurations from the last budget to its
    /// own (a promoted fold continues from its saved state), the configurations being
    /// those `promotion` names. Zero for a plan without brackets.
    pub fn staged_work(&self, promotion: &Promotion) -> (f64, f64) {
        let (mut gflop, mut steps) = (0.0, 0.0);
        for (b, (_, rungs)) in self.brackets.iter().enumerate() {
            let members: Vec<&TrainingWork> = self.work.iter().filter(|w| w.bracket == b).collect();
            if members.is_empty() {
                continue;
            }
            let mut entrants = members.clone();
            let mut before = 0u32;
            for (r, &(n, budget)) in rungs.iter().enumerate() {
                // A configuration of fewer epochs stops at its own end.
                let span = |w: &TrainingWork| {
                    let e = self.selected[w.config].params.epochs;
                    (budget.min(e) - before.min(e)) as f64
                };
                let sum = |ws: &[&TrainingWork]| {
                    ws.iter().fold((0.0, 0.0), |(g, s), w| {
                        (
                            g + w.gflop_per_epoch * span(w),
                            s + w.steps_per_epoch * span(w),
                        )
                    })
                };
                let (g, s) = match promotion {
                    Promotion::Average => {
                        let (g, s) = sum(&members);
                        let share = n as f64 / members.len() as f64;
                        (g * share, s * share)
                    }
                    Promotion::Recorded(trained) => {
                        let keys = trained.get(&(b, r));
                        let ran: Vec<&TrainingWork> = members
                            .iter()
                            .copied()
                            .filter(|w| {
                                keys.is_some_and(|k| {
                                    k.contains(&self.selected[w.config].training_key)
                                })
                            })
                            .collect();
                        sum(&ran)
                    }
                    Promotion::Predicted(model) => {
                        let here = sum(&entrants);
                        // The next rung's: the best predicted at this budget, as
                        // `search::promoted` takes the best measured; ties (rare in a
                        // forest's means) by the plan's order.
                        let mut scored: Vec<(f64, &TrainingWork)> = entrants
                            .iter()
                            .map(|w| {
                                (
                                    model.predict(&self.selected[w.config].params_object(), budget),
                                    *w,
                                )
                            })
                            .collect();
                        scored
                            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.config.cmp(&b.1.config)));
                        let next = rungs.get(r + 1).map_or(0, |x| x.0);
                        entrants = scored.into_iter().take(next).map(|(_, w)| w).collect();
                        here
                    }
                };
                gflop += g;
                steps += s;
                before = budget;
            }
        }
        (gflop * self.folds as f64, steps * self.folds as f64)
    }
}

/// Seconds per fold measured on this machine: `seconds_per_gflop` × the fold's
/// arithmetic + `seconds_per_step` × its optimizer steps (small batches cost more per
/// FLOP: each step has work besides its products), fitted by least squares over folds
/// recorded whole (`Store::whole_fold_times`); and the share of their epochs that early
/// stopping left. Staged searches (halving, Hyperband) cost more than their rungs'
/// arithmetic (saving and restoring training states, the workers a barrier leaves
/// idle) and less (early stopping within rungs): where the database holds such runs
/// (not under `run --fuse`), their wall time against this model's estimate of the
/// configurations they trained, rung by rung, is `staged_factor`; their rung scores
/// teach `surrogate` which configurations a staged search promotes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Calibration {
    pub seconds_per_gflop: f64,
    pub seconds_per_step: f64,
    pub early_stopping_share: f64,
    /// Measured ÷ modelled wall time of the staged sweeps, each modelled with the
    /// configurations it actually trained per rung (None: there are none).
    pub staged_factor: Option<f64>,
    pub staged_sweeps: Vec<String>,
    /// Sweeps whose timings were left out: trained under `run --fuse`, each fold's
    /// span is its group's.
    pub left_out_fused: Vec<String>,
    /// Sweeps measured on this spec's data file under other dataset options, each with
    /// what differs ("name (test_fraction 0.3 there, 0.2 here)"); their folds are
    /// counted on the rows and features their own options gave.
    pub other_options: Vec<String>,
    /// Predicts a staged search's survivors (None: no staged sweep to learn from);
    /// shown as the number of rung scores it learned from.
    #[serde(rename = "survivor_scores", serialize_with = "learned_from")]
    pub surrogate: Option<Surrogate>,
    /// Folds and sweeps it was measured on.
    pub folds: usize,
    pub sweeps: Vec<String>,
}

/// One recorded fold for [`fit`]: its arithmetic (GFLOP), its optimizer steps, the
/// seconds it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedFold {
    pub gflop: f64,
    pub steps: f64,
    pub seconds: f64,
}

/// Least squares of seconds on (GFLOP, steps) without intercept, both coefficients
/// non-negative: where the pair would make one negative, the better of the two one-term
/// fits. None without folds that did any work.
pub fn fit(folds: &[TimedFold]) -> Option<(f64, f64)> {
    let (mut xx, mut xs, mut ss, mut xy, mut sy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for f in folds.iter().filter(|f| {
        f.gflop.is_finite() && f.steps.is_finite() && f.seconds.is_finite() && f.seconds >= 0.0
    }) {
        xx += f.gflop * f.gflop;
        xs += f.gflop * f.steps;
        ss += f.steps * f.steps;
        xy += f.gflop * f.seconds;
        sy += f.steps * f.seconds;
    }
    let det = xx * ss - xs * xs;
    if det > 1e-12 * xx * ss {
        let (a, b) = ((xy * ss - sy * xs) / det, (sy * xx - xy * xs) / det);
        if a >= 0.0 && b >= 0.0 {
            return Some((a, b));
        }
    }
    // One term: the one that leaves the smaller squared error (Σy² − fit's share).
    let gain_a = (xx > 0.0).then(|| xy * xy / xx);
    let gain_b = (ss > 0.0).then(|| sy * sy / ss);
    match (gain_a, gain_b) {
        (Some(ga), Some(gb)) if gb > ga => Some((0.0, (sy / ss).max(0.0))),
        (Some(_), _) => Some(((xy / xx).max(0.0), 0.0)),
        (None, Some(_)) => Some((0.0, (sy / ss).max(0.0))),
        (None, None) => None,
    }
}

/// The training part's rows per partition (a sub-grid's `"split"`), each read and
/// split once.
struct TrainRows {
    dataset: crate::data::DatasetSpec,
    folds: usize,
    known: Vec<(Option<crate::data::partition::Partition>, usize)>,
}

impl TrainRows {
    fn new(spec: &Spec, default_rows: usize) -> Self {
        TrainRows {
            dataset: spec.dataset.clone(),
            folds: spec.cv.folds,
            known: vec![(None, default_rows)],
        }
    }

    /// (rows a fold fits on, rows it validates on) for configuration `p`.
    fn fold_rows(&mut self, p: &crate::params::HyperParams) -> Result<(usize, usize)> {
        let k = self.folds;
        let rows = match (
            self.known
                .iter()
                .find(|(q, _)| q.as_ref() == p.split.as_ref()),
            &p.split,
        ) {
            (Some((_, r)), _) => *r,
            (None, Some(part)) => {
                let r = crate::data::prepare(&part.apply(&self.dataset), k)?
                    .train
                    .len();
                self.known.push((p.split.clone(), r));
                r
            }
            // The default partition is known from the start.
            (None, None) => self.known[0].1,
        };
        let fit = rows * (k - 1) / k;
        Ok((fit, rows - fit))
    }
}

/// A fold's optimizer steps: a batch per step over the rows it fits on.
pub fn fold_steps(p: &crate::params::HyperParams, fit_rows: usize, epochs: u32) -> f64 {
    (fit_rows.div_ceil(p.batch_size.max(1) as usize) * epochs as usize) as f64
}

/// The calibration from every sweep of `store` run here on the data `spec` names
/// (same fingerprint; imports have no timings), each recorded fold's arithmetic
/// counted on the rows its partition gives; staged sweeps' wall times (first claim to
/// last record) are taken as run with `jobs` jobs. Errors where nothing can be measured.
pub async fn calibrate(
    store: &crate::store::Store,
    spec: &Spec,
    jobs: usize,
) -> Result<Calibration> {
    let bytes = crate::data::read_source(&spec.dataset)?;
    let fingerprint = crate::data::fingerprint_bytes(&spec.dataset, &bytes);
    let prepared = check_data(spec)?;
    // (dataset options, features, classes, rows per partition): this spec's first, then
    // those of sweeps on the same file under other options (split, labels…), whose
    // folds are counted on the rows and features their options gave.
    let mut shapes = vec![(
        spec.dataset.clone(),
        prepared.dataset.x.cols,
        prepared.dataset.n_classes(),
        TrainRows::new(spec, prepared.train.len()),
    )];
    let (mut timed, mut sweeps, mut run_epochs, mut max_epochs) =
        (Vec::new(), Vec::new(), 0u64, 0u64);
    let (mut staged, mut observations, mut fused, mut other_options) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for sweep in store.sweeps().await? {
        if sweep.source.is_some() {
            continue;
        }
        let recorded = super::stored_spec(&sweep).ok().map(|mut r| {
            r.dataset.path = spec.dataset.path.clone();
            r
        });
        let same = sweep.dataset_fingerprint == fingerprint;
        let shape = match &recorded {
            _ if same => 0,
            Some(r)
                if crate::data::fingerprint_bytes(&r.dataset, &bytes)
                    == sweep.dataset_fingerprint =>
            {
                other_options.push(format!(
                    "{} ({})",
                    sweep.name,
                    dataset_differences(&r.dataset, &spec.dataset).join(", ")
                ));
                match shapes.iter().position(|s| s.0 == r.dataset) {
                    Some(i) => i,
                    None => {
                        let prepared = check_data(r)?;
                        shapes.push((
                            r.dataset.clone(),
                            prepared.dataset.x.cols,
                            prepared.dataset.n_classes(),
                            TrainRows::new(r, prepared.train.len()),
                        ));
                        shapes.len() - 1
                    }
                }
            }
            _ => continue,
        };
        if let Some(recorded) = recorded {
            if !super::brackets(&recorded).unwrap_or_default().is_empty() {
                // Counted once the per-fold costs are known, on the data as it was
                // recorded (this spec's file).
                let Ok(p) = plan(&recorded, jobs) else {
                    continue;
                };
                let configs: HashMap<&str, &Config> =
                    p.selected.iter().map(|c| (c.id.as_str(), c)).collect();
                let mut trained: HashMap<(usize, usize), HashSet<String>> = HashMap::new();
                for r in store.rung_scores(sweep.id).await? {
                    let Some(c) = configs.get(r.config_id.as_str()) else {
                        continue;
                    };
                    let fresh = trained
                        .entry((r.bracket as usize, r.rung as usize))
                        .or_default()
                        .insert(c.training_key.clone());
                    if let (true, Some(score)) = (fresh, r.score) {
                        let epochs = r
                            .resource_epochs
                            .map_or(c.params.epochs, |e| e.max(0) as u32);
                        observations.push(Observation {
                            params: c.params_object(),
                            epochs,
                            score,
                        });
                    }
                }
                // Its rung scores teach the survivor model whatever trained them; its
                // wall time counts only without `--fuse`, whose cost `plan` does not model.
                if store.fused_folds(sweep.id).await? > 0 {
                    fused.push(sweep.name.clone());
                } else if let Some((from, to)) = store.active_span(sweep.id).await? {
                    staged.push((sweep.name.clone(), p, trained, to - from));
                }
                continue;
            }
        }
        let folds = store.whole_fold_times(sweep.id).await?;
        if folds.is_empty() {
            if store.fused_folds(sweep.id).await? > 0 {
                fused.push(sweep.name.clone());
            }
            continue;
        }
        let (_, nf, nc, rows) = &mut shapes[shape];
        let (nf, nc) = (*nf, *nc);
        for (params, epochs_run, seconds) in folds {
            let Ok(p) = crate::params::HyperParams::from_object(&params) else {
                continue;
            };
            let (fit_rows, val_rows) = rows.fold_rows(&p)?;
            let e = epochs_run.max(0) as u32;
            timed.push(TimedFold {
                gflop: fold_flops(&p, nf, nc, fit_rows, val_rows, e) / 1e9,
                steps: fold_steps(&p, fit_rows, e),
                seconds,
            });
            run_epochs += e as u64;
            max_epochs += p.epochs as u64;
        }
        sweeps.push(sweep.name);
    }
    let (a, b) = fit(&timed).ok_or_else(|| super::SweepError::NoCalibration {
        db: store.name().to_string(),
        fingerprint: crate::domain::short_id(&fingerprint).to_string(),
        fused: if fused.is_empty() {
            String::new()
        } else {
            format!(
                " ({} ran under run --fuse, whose folds' times are their groups')",
                fused.join(", ")
            )
        },
    })?;
    let mut c = Calibration {
        seconds_per_gflop: a,
        seconds_per_step: b,
        early_stopping_share: run_epochs as f64 / max_epochs.max(1) as f64,
        staged_factor: None,
        staged_sweeps: Vec::new(),
        surrogate: None,
        left_out_fused: fused,
        other_options,
        folds: timed.len(),
        sweeps,
    };
    // Each staged run against the model of what it trained: its own rungs'
    // configurations, so that the factor is its overhead, not its draw's luck.
    let (mut measured, mut modelled) = (0.0, 0.0);
    for (name, p, trained, wall) in staged {
        let (g, st) = p.staged_work(&Promotion::Recorded(&trained));
        let model = (a * g + b * st) / p.jobs as f64;
        if model > 0.0 {
            measured += wall;
            modelled += model;
            c.staged_sweeps.push(name);
        }
    }
    if modelled > 0.0 {
        c.staged_factor = Some(measured / modelled);
    }
    c.surrogate = Surrogate::fit(&observations, SURROGATE_SEED);
    Ok(c)
}

/// The dataset options that differ between a recorded sweep's (`there`) and this
/// spec's (`here`), as "key X there, Y here" (absent: "unset").
fn dataset_differences(
    there: &crate::data::DatasetSpec,
    here: &crate::data::DatasetSpec,
) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(there), serde_json::to_value(here))
    else {
        return vec!["other options".to_string()];
    };
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let show = |v: Option<&serde_json::Value>| v.map_or("unset".to_string(), |v| v.to_string());
    keys.into_iter()
        .filter(|k| k.as_str() != "path" && a.get(*k) != b.get(*k))
        .map(|k| format!("{k} {} there, {} here", show(a.get(k)), show(b.get(k))))
        .collect()
}

impl Calibration {
    /// The rung scores the survivor model learned from (0: there is none).
    pub fn survivor_scores(&self) -> usize {
        self.surrogate.as_ref().map_or(0, |s| s.observations)
    }
}

fn learned_from<S: serde::Serializer>(
    s: &Option<Surrogate>,
    out: S,
) -> std::result::Result<S::Ok, S::Error> {
    out.serialize_u64(s.as_ref().map_or(0, |s| s.observations) as u64)
}

/// The survivor model's seed: the same database gives the same estimate.
const SURROGATE_SEED: u64 = 0x5eed;

/// Plans `spec` for `jobs` jobs. Reads and splits the data as a run would: a plan
/// fails where the run would.
pub fn plan(spec: &Spec, jobs: usize) -> Result<Plan> {
    let expansion = spec.expand()?;
    // Folds each configuration trains (folds × repeats); each fits on (k − 1)/k of the rows.
    let folds = spec.cv.total();
    let prepared = check_data(spec)?;
    let (train_rows, nf, nc) = (
        prepared.train.len(),
        prepared.dataset.x.cols,
        prepared.dataset.n_classes(),
    );
    let selected = spec
        .search
        .select(&expansion.configs, &expansion.subgrid, spec.seed);
    let mut seen = HashSet::new();
    // Each distinct training: its first configuration (index into `selected`).
    let firsts: Vec<usize> = (0..selected.len())
        .filter(|&i| seen.insert(&selected[i].training_key))
        .collect();
    let trainings: Vec<&Config> = firsts.iter().map(|&i| &selected[i]).collect();
    let max_epochs = trainings.iter().map(|c| c.params.epochs).max().unwrap_or(0);
    let full_fold_epochs = trainings
        .iter()
        .map(|c| c.params.epochs as u64)
        .sum::<u64>()
        * folds as u64;
    // Each bracket's trainings: Hyperband deals them as `register` does.
    let ladder = crate::search::max_epochs(&expansion.configs);
    let dealt = spec.search.assign(&selected, ladder);
    let brackets: Vec<(Halving, Vec<(usize, u32)>)> = spec
        .search
        .brackets(ladder)
        .into_iter()
        .enumerate()
        .map(|(b, (h, _))| {
            let n = selected
                .iter()
                .zip(&dealt)
                .filter(|(c, &d)| d == b && trainings.iter().any(|t| t.id == c.id))
                .count();
            (h, h.rungs(n, max_epochs))
        })
        .collect();
    let fold_epochs = match brackets.is_empty() {
        false => {
            brackets
                .iter()
                .map(|(h, r)| h.fold_epochs(r[0].0, max_epochs))
                .sum::<u64>()
                * folds as u64
        }
        true => full_fold_epochs,
    };
    let share = fold_epochs as f64 / full_fold_epochs.max(1) as f64;
    // Each configuration on its partition's training part (a sub-grid's `"split"`).
    let mut rows = TrainRows::new(spec, train_rows);
    let (mut flops, mut steps, mut work) = (0.0, 0.0, Vec::with_capacity(firsts.len()));
    for &i in &firsts {
        let p = &selected[i].params;
        let (fit_rows, val_rows) = rows.fold_rows(p)?;
        flops += fold_flops(p, nf, nc, fit_rows, val_rows, p.epochs);
        steps += fold_steps(p, fit_rows, p.epochs);
        work.push(TrainingWork {
            config: i,
            bracket: if brackets.is_empty() { 0 } else { dealt[i] },
            gflop_per_epoch: fold_flops(p, nf, nc, fit_rows, val_rows, 1) / 1e9,
            steps_per_epoch: fold_steps(p, fit_rows, 1),
        });
    }
    let (flops, steps) = (flops * folds as f64 * share, steps * folds as f64 * share);
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
        race: race_bounds(spec, trainings.len())?,
        trainings: trainings.len(),
        selected: selected.clone(),
        expansion,
        folds,
        brackets,
        full_fold_epochs,
        fold_epochs,
        train_rows,
        flops,
        steps,
        seconds: flops / (GFLOPS_PER_JOB * 1e9 * jobs as f64),
        jobs,
        work,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{HyperParams, Protocol};

    fn timed(gflop: f64, steps: f64, a: f64, b: f64) -> TimedFold {
        TimedFold {
            gflop,
            steps,
            seconds: a * gflop + b * steps,
        }
    }

    /// Folds timed by a known rule give the rule back; a rule a negative coefficient
    /// would fit better falls back to one term; nothing to fit gives None.
    #[test]
    fn the_fit_recovers_per_gflop_and_per_step_costs() {
        let folds = [
            timed(10.0, 500.0, 0.02, 0.001),
            timed(40.0, 500.0, 0.02, 0.001),
            timed(10.0, 4000.0, 0.02, 0.001),
            timed(25.0, 1000.0, 0.02, 0.001),
        ];
        let (a, b) = fit(&folds).unwrap();
        assert!(
            (a - 0.02).abs() < 1e-12 && (b - 0.001).abs() < 1e-12,
            "{a} {b}"
        );
        // Seconds that fall as steps grow: no negative per-step cost, GFLOP alone.
        let folds = [
            TimedFold {
                gflop: 10.0,
                steps: 100.0,
                seconds: 2.0,
            },
            TimedFold {
                gflop: 20.0,
                steps: 4000.0,
                seconds: 3.0,
            },
        ];
        let (a, b) = fit(&folds).unwrap();
        assert!(a > 0.0 && b == 0.0, "{a} {b}");
        // Steps alone explain it: the per-step term.
        let folds = [timed(0.0, 100.0, 0.0, 0.01), timed(0.0, 300.0, 0.0, 0.01)];
        assert_eq!(fit(&folds), Some((0.0, 0.01)));
        assert_eq!(fit(&[]), None);
        assert_eq!(
            fit(&[TimedFold {
                gflop: 0.0,
                steps: 0.0,
                seconds: 1.0
            }]),
            None
        );
    }

    /// The notebook protocol costs its validation pass (a forward pass over the CV
    /// fold, half the training fold's rows at 3 folds: a sixth of the training step's
    /// arithmetic) and the checkpoint scoring's share on top; GridSearchCV's fold only
    /// trains.
    #[test]
    fn the_notebook_protocol_costs_its_extra_passes() {
        let gs = HyperParams::default();
        let nb = HyperParams {
            protocol: Protocol::Notebook,
            ..HyperParams::default()
        };
        let train = crate::bench::fold_fit_flops(&gs, 19, 6, 2000, 60);
        assert_eq!(fold_flops(&gs, 19, 6, 2000, 1000, 60), train);
        let want = train * (1.0 + 1.0 / 6.0) * (1.0 + NOTEBOOK_CHECKPOINT_SHARE);
        assert!((fold_flops(&nb, 19, 6, 2000, 1000, 60) - want).abs() < 1e-6 * want);
    }
}

/// One data row as a partition of the spec cuts it (`plan --partitions`): so that a
/// partition can be checked outside gridsweep, against scikit-learn's own indices.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartRow {
    /// `spec` for the spec's own partition, else a sub-grid's `"split"` in short
    /// (`Partition::cell`).
    pub partition: String,
    /// The row's index among the file's data rows (pandas' default index).
    pub index: usize,
    /// Its line in the file (the header is line 1).
    pub line: u64,
    pub label: String,
    /// `train`, `validation` or `test`.
    pub part: &'static str,
    /// For a training row: the CV fold it validates in (the first repeat).
    pub fold: Option<usize>,
}

/// Every row of every partition the spec's configurations train on, as a run cuts
/// them (the same loading, splits and folds: `CvSets`), each partition's rows in file
/// order.
pub fn partitions(spec: &Spec) -> Result<Vec<PartRow>> {
    let expansion = spec.expand()?;
    let sets = crate::cv::CvSets::load(
        &spec.dataset,
        spec.cv.folds,
        spec.cv.repeats,
        spec.seed,
        spec.cv.splitter,
        expansion.configs.iter().map(|c| c.params.split.as_ref()),
    )?;
    let mut out = Vec::new();
    for (p, data) in sets.all() {
        let name = crate::data::partition::Partition::cell(
            p.and_then(|p| serde_json::to_value(p).ok()).as_ref(),
        );
        let prepared = &data.prepared;
        let ds = &prepared.dataset;
        let mut rows: Vec<(usize, &'static str, Option<usize>)> = Vec::new();
        rows.extend(
            prepared
                .train
                .iter()
                .enumerate()
                .map(|(j, &i)| (i, "train", data.fold_of.get(j).copied())),
        );
        rows.extend(prepared.validation.iter().map(|&i| (i, "validation", None)));
        rows.extend(prepared.test.iter().map(|&i| (i, "test", None)));
        rows.sort_by_key(|r| r.0);
        out.extend(rows.into_iter().map(|(i, part, fold)| PartRow {
            partition: name.clone(),
            index: ds.index[i],
            line: ds.lines[i],
            label: ds.class_names[ds.y[i]].clone(),
            part,
            fold,
        }));
    }
    Ok(out)
}

/// A race's bounds, for `plan`: the folds every configuration runs first and the
/// most it may run, and the fold-fits of `trainings` configurations at each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaceBounds {
    pub first_folds: usize,
    pub max_folds: usize,
    pub least_fold_fits: usize,
    pub most_fold_fits: usize,
    /// Its budget in fold-fits, when it has one (the most it spends).
    pub budget: Option<usize>,
}

/// [`RaceBounds`] of the spec's race (None: not a race).
/// Err: the race's budget cannot pay for its first stage.
pub fn race_bounds(spec: &Spec, trainings: usize) -> Result<Option<RaceBounds>> {
    let Some(r) = spec.search.race() else {
        return Ok(None);
    };
    let (first, max) = (
        r.first_folds(spec.cv.folds, spec.cv.repeats),
        r.max_folds(spec.cv.folds, spec.cv.repeats),
    );
    let budget = r
        .budget_fits(trainings, spec.cv.folds, spec.cv.repeats)
        .map_err(|why| SweepError::Spec(format!("search.{why}")))?;
    Ok(Some(RaceBounds {
        first_folds: first,
        max_folds: max,
        least_fold_fits: trainings * first,
        most_fold_fits: budget.map_or(trainings * max, |b| b.min(trainings * max)),
        budget,
    }))
}
