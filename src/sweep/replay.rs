//! Replay: a search strategy evaluated on recorded learning curves, without training.
//!
//! A sweep whose configurations ran to their end holds, fold by fold, every epoch's
//! history. Under the notebook protocol that history says exactly what a fold would
//! have scored had it been stopped after any epoch e (a rung's budget): training is
//! deterministic and a stopped fold continues bit for bit, so the first e epochs of a
//! stopped fold are the full run's first e; its scores are those of the checkpoint it
//! holds then (the first epoch of best validation accuracy up to e), whose validation
//! scores the history has, and whose training-fold scores are recorded when the
//! checkpoint is taken (`EpochRecord::checkpoint_train_*`). So a rung's summary, its
//! promotions (`search::plan_rung`, the same code a real run calls) and the strategy's
//! winner are what a real run of the strategy on those configurations gives.
//!
//! Under the gridsearchcv protocol a stopped fold is scored on its last epoch's weights
//! in evaluation mode, which the history does not hold (its accuracies are running
//! means with dropout): such sweeps are refused rather than approximated.

use super::{Result, SweepError};
use crate::domain::RungCandidate;
use crate::domain::RungScore;
use crate::fold::FoldResult;
use crate::score::{spearman, summarize, ScoreRule};
use crate::search::{plan_rung, Halving};
use crate::store::{Store, SweepRow};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// One configuration's full runs.
#[derive(Debug, Clone)]
pub struct Curve {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    /// Its configured epochs.
    pub epochs: u32,
    pub folds: Vec<FoldResult>,
    /// Its full-run score, by the sweep's rule (a dropped one's: over its folds).
    pub score: f64,
    /// It completed (else a race dropped it, after the folds it has).
    pub complete: bool,
}

/// The strategies replay knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "lowercase", deny_unknown_fields)]
pub enum Strategy {
    Halving {
        #[serde(default = "three")]
        factor: u32,
        min_epochs: u32,
    },
    /// Hyperband (Li et al. 2018): brackets of successive halving that start at each
    /// rung of the ladder `min_epochs·factor^k`, the configurations shared between
    /// them in the paper's proportions.
    Hyperband {
        #[serde(default = "three")]
        factor: u32,
        min_epochs: u32,
    },
}

fn three() -> u32 {
    3
}

impl Strategy {
    pub fn check(&self) -> std::result::Result<(), String> {
        let (Strategy::Halving { factor, min_epochs } | Strategy::Hyperband { factor, min_epochs }) =
            *self;
        if factor < 2 {
            return Err(format!("factor: {factor}: expected at least 2"));
        }
        if min_epochs == 0 {
            return Err("min_epochs: expected at least 1".into());
        }
        Ok(())
    }

    /// The brackets for configurations of at most `max_epochs`: each a successive
    /// halving and the trainings it is meant to have (plain halving: one bracket, all),
    /// as a run of the strategy has them (`search::hyperband`).
    pub fn brackets(&self, max_epochs: u32) -> Vec<(Halving, usize)> {
        match *self {
            Strategy::Halving { factor, min_epochs } => {
                vec![(Halving { factor, min_epochs }, usize::MAX)]
            }
            Strategy::Hyperband { factor, min_epochs } => {
                crate::search::hyperband(factor, min_epochs, max_epochs)
            }
        }
    }
}

/// What one replay of a strategy on a set of configurations gave.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Every rung score, in the order a real run records them (bracket, rung, then
    /// grid position).
    pub rung_scores: Vec<RungScore>,
    /// The best configuration the strategy trained to its end, with its full-run score.
    pub winner: Option<(String, f64)>,
    /// The best full-run score of the set.
    pub best: (String, f64),
    pub regret: f64,
    /// Fold-epochs the strategy trains (each epoch once), and the set's full runs'.
    pub fold_epochs: u64,
    pub full_fold_epochs: u64,
    /// Per rung (of the first bracket): Spearman between its scores and the same
    /// configurations' full-run scores (None with fewer than 3).
    pub spearman: Vec<Option<f64>>,
}

/// A fold's result had it been stopped after `e` epochs (notebook protocol), its
/// history left out.
pub fn fold_at(f: &FoldResult, e: u32) -> std::result::Result<FoldResult, String> {
    if e >= f.epochs_run {
        return Ok(FoldResult {
            train_accuracy: f.train_accuracy,
            train_loss: f.train_loss,
            val_accuracy: f.val_accuracy,
            val_loss: f.val_loss,
            epochs_run: f.epochs_run,
            final_learning_rate: f.final_learning_rate,
            fit_seconds: f.fit_seconds,
            score_seconds: f.score_seconds,
            scored_epoch: f.scored_epoch,
            history: Vec::new(),
            partial: f.partial,
            fused: 1,
        });
    }
    let h = &f.history[..e as usize];
    // The checkpoint as `BestCheckpoint` keeps it: the first epoch of best validation
    // accuracy.
    let mut best: Option<(f64, usize)> = None;
    for (i, r) in h.iter().enumerate() {
        let v = r.val_accuracy.unwrap_or(f64::NAN);
        let better = match best {
            None => v > f64::NEG_INFINITY,
            Some((b, _)) => v > b,
        };
        if better {
            best = Some((v, i));
        }
    }
    let Some((_, k)) = best else {
        return Err(format!("no checkpoint in the first {e} epochs"));
    };
    let kept = &h[k];
    let (Some(train_loss), Some(train_accuracy)) =
        (kept.checkpoint_train_loss, kept.checkpoint_train_accuracy)
    else {
        return Err("its history has no checkpoint train scores (recorded by gridsweep since 2026-11-30; run the sweep again with this version)".into());
    };
    Ok(FoldResult {
        train_accuracy,
        train_loss,
        val_accuracy: kept.val_accuracy.unwrap_or(f64::NAN),
        val_loss: kept.val_loss.unwrap_or(f64::NAN),
        epochs_run: e,
        // The rate the next epoch would have used.
        final_learning_rate: f.history[e as usize].learning_rate,
        fit_seconds: f.fit_seconds * e as f64 / f.epochs_run.max(1) as f64,
        score_seconds: 0.0,
        scored_epoch: kept.epoch,
        // Left out: a rung's summary needs the scores only, and replays make many.
        history: Vec::new(),
        partial: true,
        fused: 1,
    })
}

/// A rung's candidate for `curve` at `budget` epochs, as the store hands it to the
/// planner.
fn candidate(
    curve: &Curve,
    budget: u32,
    rule: &ScoreRule,
) -> std::result::Result<RungCandidate, String> {
    let folds = curve
        .folds
        .iter()
        .map(|f| fold_at(f, budget))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("configuration {}: {e}", curve.config_id))?;
    let s = summarize(&folds, rule);
    Ok(RungCandidate {
        config_id: curve.config_id.clone(),
        position: curve.position,
        params_json: curve.params_json.clone(),
        scored: true,
        score: Some(s.score),
        mean_val_accuracy: Some(s.mean_val_accuracy),
        resource_epochs: folds
            .iter()
            .filter(|f| f.partial)
            .map(|f| f.epochs_run as i64)
            .max(),
        // Replays keep no states.
        holds_state: false,
    })
}

/// What one bracket did.
struct Bracket {
    scores: Vec<RungScore>,
    /// The configurations it trained to their end.
    complete: Vec<String>,
    /// The epochs each configuration reached.
    reached: Vec<u32>,
}

/// One bracket of synchronous successive halving over `set` (grid order), as a real
/// run promotes it.
fn halving(
    h: &Halving,
    bracket: i64,
    set: &[&Curve],
    rule: &ScoreRule,
) -> std::result::Result<Bracket, String> {
    let mut live: Vec<usize> = (0..set.len()).collect();
    let mut reached = vec![0u32; set.len()];
    let mut scores = Vec::new();
    let mut complete = Vec::new();
    for rung in 0u32.. {
        let mut candidates = Vec::with_capacity(live.len());
        for &i in &live {
            let budget = h.budget(rung, set[i].epochs);
            reached[i] = reached[i].max(budget);
            candidates.push(candidate(set[i], budget, rule)?);
        }
        let plan = plan_rung(h, rung, &candidates)?;
        let mut next = Vec::new();
        for ((&i, c), d) in live.iter().zip(&candidates).zip(&plan.decisions) {
            scores.push(RungScore {
                bracket,
                config_id: c.config_id.clone(),
                rung: rung as i64,
                resource_epochs: Some(d.epochs),
                score: c.score,
                mean_val_accuracy: c.mean_val_accuracy,
                promoted: d.next_budget.is_some(),
            });
            if c.resource_epochs.is_none() && !complete.contains(&c.config_id) {
                complete.push(c.config_id.clone());
            }
            if d.next_budget.is_some() {
                next.push((i, c.resource_epochs.is_some()));
            }
        }
        // As the store: the promoted go on; when none of them has epochs left, no fold
        // becomes pending and the search ends here.
        if plan.last || !next.iter().any(|&(_, partial)| partial) {
            break;
        }
        live = next.into_iter().map(|(i, _)| i).collect();
    }
    Ok(Bracket {
        scores,
        complete,
        reached,
    })
}

/// Replays `strategy` on `set` (any order; sorted by grid position here).
pub fn replay(
    strategy: &Strategy,
    set: &[&Curve],
    rule: &ScoreRule,
    seed: u64,
) -> std::result::Result<Outcome, String> {
    let mut set: Vec<&Curve> = set.to_vec();
    set.sort_by_key(|c| c.position);
    let max_epochs = set.iter().map(|c| c.epochs).max().unwrap_or(0);
    let brackets = strategy.brackets(max_epochs);
    // Hyperband deals the set to its brackets as a run deals its draw: one seeded
    // permutation (the run's, when the set is the grid's trainings in grid order),
    // dealt in the paper's proportions (`search::deal`); each bracket keeps grid order.
    let mut order: Vec<usize> = (0..set.len()).collect();
    if brackets.len() > 1 {
        order.shuffle(&mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed));
    }
    let dealt = crate::search::deal(&brackets.iter().map(|b| b.1).collect::<Vec<_>>(), set.len());
    let (mut rung_scores, mut complete, mut fold_epochs, mut spearman) =
        (Vec::new(), Vec::new(), 0u64, Vec::new());
    for (b, (h, _)) in brackets.iter().enumerate() {
        let mut members: Vec<usize> = order
            .iter()
            .zip(&dealt)
            .filter(|(_, &d)| d == b)
            .map(|(&i, _)| i)
            .collect();
        members.sort();
        let group: Vec<&Curve> = members.iter().map(|&i| set[i]).collect();
        if group.is_empty() {
            continue;
        }
        let Bracket {
            scores,
            complete: done,
            reached,
        } = halving(h, b as i64, &group, rule)?;
        for (c, &e) in group.iter().zip(&reached) {
            fold_epochs += c
                .folds
                .iter()
                .map(|f| f.epochs_run.min(e) as u64)
                .sum::<u64>();
        }
        if b == 0 {
            spearman = rung_spearman(&scores, &group);
        }
        rung_scores.extend(scores);
        complete.extend(done);
    }
    let full = |id: &str| {
        set.iter()
            .find(|c| c.config_id == id)
            .map(|c| c.score)
            .unwrap_or(f64::NAN)
    };
    let best = set.iter().fold(None::<&Curve>, |b, c| match b {
        Some(b) if b.score >= c.score => Some(b),
        _ => Some(c),
    });
    let best = best
        .map(|c| (c.config_id.clone(), c.score))
        .ok_or("no configuration to replay")?;
    let winner = complete.iter().map(|id| (id.clone(), full(id))).fold(
        None::<(String, f64)>,
        |w, c| match w {
            Some(w) if w.1 >= c.1 => Some(w),
            _ => Some(c),
        },
    );
    let regret = winner
        .as_ref()
        .map(|w| best.1 - w.1)
        .unwrap_or(f64::INFINITY);
    let full_fold_epochs = set
        .iter()
        .flat_map(|c| &c.folds)
        .map(|f| f.epochs_run as u64)
        .sum();
    Ok(Outcome {
        rung_scores,
        winner,
        best,
        regret,
        fold_epochs,
        full_fold_epochs,
        spearman,
    })
}

/// Spearman rank correlation of each rung's scores with the same configurations'
/// full-run scores.
fn rung_spearman(scores: &[RungScore], group: &[&Curve]) -> Vec<Option<f64>> {
    let rungs = scores
        .iter()
        .map(|s| s.rung)
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    (0..rungs)
        .map(|r| {
            let pairs: Vec<(f64, f64)> = scores
                .iter()
                .filter(|s| s.rung == r)
                .filter_map(|s| {
                    Some((
                        s.score?,
                        group.iter().find(|c| c.config_id == s.config_id)?.score,
                    ))
                })
                .collect();
            spearman(&pairs)
        })
        .collect()
}

/// The full runs of a sweep: every distinct training whose folds all trained to their
/// end. Refused under the gridsearchcv protocol (see the module's doc).
pub async fn curves(store: &Store, sweep: &SweepRow) -> Result<Vec<Curve>> {
    curves_of(store, sweep, true).await
}

/// Every distinct training's done folds, whatever its protocol: what a race or a
/// plain grid replays (they never stop a fold early). The complete configurations,
/// and a race's dropped ones with the folds they ran (`complete` false): a race
/// replayed on a race's sweep gets as far as that race went. Their accuracies and
/// times only: a race needs no histories.
pub async fn complete_folds(store: &Store, sweep: &SweepRow) -> Result<Vec<Curve>> {
    let rule = super::score_rule(sweep)?;
    let metrics = store.fold_metrics(sweep.id).await?;
    // A race's dropped ones ran their folds at full epochs (an imported one says so in
    // its `resource_epochs`); halving's stopped ones did not.
    let dropped: std::collections::HashSet<String> = store
        .partial_configurations(sweep.id)
        .await?
        .into_iter()
        .filter(|p| {
            let epochs = p.params.get("epochs").and_then(|v| v.as_i64());
            p.pruned
                && p.resource_epochs
                    .is_none_or(|e| epochs.is_none_or(|n| e >= n))
        })
        .map(|p| p.config_id)
        .collect();
    let mut out = Vec::new();
    for r in store.configurations(sweep.id).await? {
        let complete = r.summary.is_some();
        if r.shares_training_of.is_some() || !(complete || dropped.contains(&r.config_id)) {
            continue;
        }
        let epochs = r.params.get("epochs").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        let mut folds: Vec<&crate::store::FoldMetrics> = metrics
            .get(&r.config_id)
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        folds.sort_by_key(|f| f.fold);
        let (train, val): (Vec<f64>, Vec<f64>) = folds
            .iter()
            .map(|f| (f.train_accuracy, f.val_accuracy))
            .unzip();
        let Some(score) = crate::race::score_of_means(&rule, &train, &val) else {
            continue;
        };
        out.push(Curve {
            score,
            complete,
            config_id: r.config_id,
            position: r.position,
            params_json: r.params_json,
            epochs,
            folds: folds
                .iter()
                .map(|f| FoldResult {
                    train_accuracy: f.train_accuracy,
                    train_loss: f64::NAN,
                    val_accuracy: f.val_accuracy,
                    val_loss: f64::NAN,
                    epochs_run: epochs,
                    final_learning_rate: f64::NAN,
                    fit_seconds: f.fit_seconds,
                    score_seconds: f.score_seconds,
                    scored_epoch: epochs,
                    history: Vec::new(),
                    partial: false,
                    fused: 1,
                })
                .collect(),
        });
    }
    Ok(out)
}

async fn curves_of(store: &Store, sweep: &SweepRow, notebook_only: bool) -> Result<Vec<Curve>> {
    // (Histories: halving and Hyperband cut folds at their rungs' epochs.)
    let rule = super::score_rule(sweep)?;
    let mut out = Vec::new();
    for r in store.configurations(sweep.id).await? {
        let Some(summary) = &r.summary else { continue };
        if r.shares_training_of.is_some() {
            continue;
        }
        let protocol = r
            .params
            .get("protocol")
            .and_then(|v| v.as_str())
            .unwrap_or("gridsearchcv");
        if notebook_only && !protocol.eq_ignore_ascii_case("notebook") {
            return Err(SweepError::Conflict(format!(
                "sweep `{}`: configuration {} runs the {protocol} protocol, whose stopped folds are scored on weights the history does not hold; replay needs the notebook protocol",
                sweep.name, r.config_id
            )));
        }
        let epochs = r.params.get("epochs").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        let folds = store.fold_results(sweep.id, &r.config_id).await?;
        out.push(Curve {
            complete: true,
            score: rule.score(summary.mean_train_accuracy, summary.mean_val_accuracy),
            config_id: r.config_id,
            position: r.position,
            params_json: r.params_json,
            epochs,
            folds,
        });
    }
    Ok(out)
}

/// The summary of many replays on random sub-samples.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub repeats: usize,
    pub sample: usize,
    pub mean_regret: f64,
    pub p95_regret: f64,
    /// Share of repeats whose winner is within 0.002 of the sample's best.
    pub within_0002: f64,
    /// Mean fold-epochs as a share of the full runs'.
    pub fold_epoch_share: f64,
    /// Per rung of the first bracket: the mean Spearman over the repeats that have one.
    pub spearman: Vec<Option<f64>>,
}

/// `repeats` replays on seeded random sub-samples of `sample` configurations.
pub fn replay_many(
    strategy: &Strategy,
    curves: &[Curve],
    rule: &ScoreRule,
    sample: usize,
    repeats: usize,
    seed: u64,
) -> std::result::Result<Summary, String> {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut regrets = Vec::with_capacity(repeats);
    let (mut share, mut rho): (f64, Vec<(f64, usize)>) = (0.0, Vec::new());
    for i in 0..repeats {
        let picked: Vec<&Curve> = curves
            .choose_multiple(&mut rng, sample.min(curves.len()))
            .collect();
        let o = replay(strategy, &picked, rule, seed.wrapping_add(i as u64 + 1))?;
        regrets.push(o.regret);
        share += o.fold_epochs as f64 / o.full_fold_epochs.max(1) as f64;
        for (r, s) in o.spearman.iter().enumerate() {
            if rho.len() <= r {
                rho.push((0.0, 0));
            }
            if let Some(s) = s {
                rho[r].0 += s;
                rho[r].1 += 1;
            }
        }
    }
    let n = repeats.max(1) as f64;
    let mut sorted = regrets.clone();
    sorted.sort_by(f64::total_cmp);
    let p95 = sorted
        .get(((0.95 * sorted.len() as f64).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(f64::NAN);
    Ok(Summary {
        repeats,
        sample: sample.min(curves.len()),
        mean_regret: regrets.iter().sum::<f64>() / n,
        p95_regret: p95,
        within_0002: regrets.iter().filter(|&&r| r <= 0.002).count() as f64 / n,
        fold_epoch_share: share / n,
        spearman: rho
            .into_iter()
            .map(|(s, k)| (k > 0).then(|| s / k as f64))
            .collect(),
    })
}

/// A race replayed on recorded folds: what a real race on those configurations does
/// (the same barriers, [`crate::race::decide`]), since a race's fold is the repeated
/// grid's same fold.
#[derive(Debug, Clone, Serialize)]
pub struct RaceReplay {
    /// The configurations left at the end, in grid order, and the most folds they ran
    /// (all ran as many, but after a budget's last stage, which trains the leaders).
    pub left: Vec<String>,
    pub folds: usize,
    /// The configurations dropped, with the folds they ran (in the order dropped).
    pub dropped: Vec<(String, usize)>,
    /// Fold-fits the race spent.
    pub fold_fits: usize,
    /// The tie set of the ones left, on their folds, and its pick.
    pub tie_set: Option<crate::tieset::TieSet>,
    /// Why the race ended.
    pub ended: String,
}

/// Races `set` over their first folds (at most `max_folds`, k-fold repeats in order).
/// `parameters`: each configuration's parameter count, when known (`prefer: smallest`).
pub fn replay_race(
    race: &crate::race::Race,
    set: &[&Curve],
    rule: &ScoreRule,
    k: usize,
    max_folds: usize,
    parameters: &dyn Fn(&Curve) -> Option<usize>,
) -> std::result::Result<RaceReplay, String> {
    let mut live: Vec<&Curve> = set.to_vec();
    live.sort_by_key(|c| c.position);
    // As far as the complete ones go (a race's dropped ones have fewer: enough, while
    // the replay drops them where the race did; those a budget's last stage held have
    // one fewer than the leaders, and the replay holds them there too).
    let max_folds = live
        .iter()
        .filter(|c| c.complete)
        .map(|c| c.folds.len())
        .max()
        .or_else(|| live.iter().map(|c| c.folds.len()).max())
        .unwrap_or(0)
        .min(max_folds);
    if max_folds < 2 {
        return Err(format!(
            "a race needs at least 2 folds per configuration; these have {max_folds}"
        ));
    }
    let fold_score = |f: &FoldResult| rule.score(f.train_accuracy, f.val_accuracy);
    let of_means = |c: &Curve, n: usize| {
        let (train, val): (Vec<f64>, Vec<f64>) = c.folds[..n]
            .iter()
            .map(|f| (f.train_accuracy, f.val_accuracy))
            .unzip();
        crate::race::score_of_means(rule, &train, &val)
    };
    let entrant = |c: &Curve, n: usize| crate::race::Entrant {
        config_id: c.config_id.clone(),
        position: c.position,
        score: of_means(c, n),
        folds: c.folds[..n]
            .iter()
            .enumerate()
            .map(|(i, f)| (i as i64, fold_score(f), f.fit_seconds))
            .collect(),
        failed: false,
        parameters: parameters(c),
    };
    let first = (race.min_folds as usize).clamp(1, max_folds);
    // The budget in fold-fits for these configurations, as a real race of them has it.
    let budget = race
        .budget_fits(live.len(), k, max_folds.div_ceil(k.max(1)))
        .map_err(|why| format!("--strategy: {why}"))?;
    // Each configuration left, with the folds the race has given it (the same for
    // all, but after a budget's last, partial stage).
    let mut live: Vec<(&Curve, usize)> = live.into_iter().map(|c| (c, first)).collect();
    let (mut dropped, mut fold_fits) = (Vec::new(), 0usize);
    let ended = loop {
        if let Some((c, n)) = live.iter().find(|(c, n)| c.folds.len() < *n) {
            return Err(format!(
                "configuration {} has {} folds where this race needs {n}: the sweep's own race stopped it there (dropped it, or held it at its budget's last, partial stage), and a replay can use only the folds a sweep ran (replay a race that stops it no later, or on a sweep of every fold)",
                c.config_id,
                c.folds.len()
            ));
        }
        let entrants: Vec<crate::race::Entrant> =
            live.iter().map(|&(c, n)| entrant(c, n)).collect();
        let spent = fold_fits + live.iter().map(|(_, n)| n).sum::<usize>();
        let stage = crate::race::decide(
            race,
            k,
            max_folds,
            &entrants,
            budget.map(|b| b.saturating_sub(spent)),
        );
        for &(c, n) in live
            .iter()
            .filter(|(c, _)| stage.drop.contains(&c.config_id))
        {
            dropped.push((c.config_id.clone(), n));
            fold_fits += n;
        }
        live.retain(|(c, _)| !stage.drop.contains(&c.config_id));
        match stage.next_fold {
            Some(f) => {
                for (c, n) in live.iter_mut() {
                    if !stage.hold.contains(&c.config_id) {
                        *n = f as usize + 1;
                    }
                }
            }
            None => break stage.ended.unwrap_or_default(),
        }
    };
    fold_fits += live.iter().map(|(_, n)| n).sum::<usize>();
    let n = live.iter().map(|(_, n)| *n).max().unwrap_or(0);
    // Ranked by the study's rule, as the race and `rank` rank.
    let mut ranked: Vec<(&Curve, usize, f64)> = live
        .iter()
        .map(|&(c, n)| (c, n, of_means(c, n).unwrap_or(f64::NEG_INFINITY)))
        .collect();
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.position.cmp(&b.0.position)));
    let candidates: Vec<crate::tieset::Candidate> = ranked
        .iter()
        .enumerate()
        .map(|(i, &(c, n, score))| crate::tieset::Candidate {
            config_id: c.config_id.clone(),
            rank: i + 1,
            score,
            folds: c.folds[..n]
                .iter()
                .enumerate()
                .map(|(j, f)| (j as i64, fold_score(f)))
                .collect(),
            parameters: parameters(c),
            fit_seconds: Some(c.folds[..n].iter().map(|f| f.fit_seconds).sum::<f64>() / n as f64),
        })
        .collect();
    let tie_set = crate::tieset::tie_set(&candidates, k, &race.ties);
    Ok(RaceReplay {
        left: live.iter().map(|(c, _)| c.config_id.clone()).collect(),
        folds: n,
        dropped,
        fold_fits,
        tie_set,
        ended,
    })
}

/// A configuration's curve cut to its first `k` folds (repeat 0), scored on them.
fn first_repeat(c: &Curve, rule: &ScoreRule, k: usize) -> Curve {
    let folds = c.folds[..k.min(c.folds.len())].to_vec();
    let n = folds.len().max(1) as f64;
    let train = folds.iter().map(|f| f.train_accuracy).sum::<f64>() / n;
    let val = folds.iter().map(|f| f.val_accuracy).sum::<f64>() / n;
    Curve {
        score: rule.score(train, val),
        folds,
        ..c.clone()
    }
}

/// A strategy judged against a held-out truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Judged {
    /// The study's way: one k-fold (repeat 0), the best mean score; or the k-fold
    /// repeated R times (the first R seen repeats), at R times its cost.
    Grid(usize),
    /// A race over the seen repeats; its pick.
    Race(crate::race::Race),
    /// Successive halving or Hyperband on repeat 0's folds, cut at its rungs (notebook
    /// protocol: see the module's doc); its winner. Its cost is counted in fold-epochs,
    /// as a share of the plain grid's, and given as fold-fits at that share.
    Halving(Strategy),
}

/// How a strategy did over many sub-samples against the held-out truth.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    pub repeats: usize,
    pub sample: usize,
    /// Regret: the sample's best held-out score − the pick's held-out score.
    pub mean_regret: f64,
    pub p95_regret: f64,
    /// Share of sub-samples whose pick is in the truth's tie set.
    pub pick_in_truth_ties: f64,
    /// Share whose truth's best is among what the strategy left (a race's tie set; the
    /// grid's pick).
    pub truth_best_kept: f64,
    /// Mean size of what the strategy left: a race's tie set, 1 for a single pick.
    pub mean_left: f64,
    /// Fold-fits spent, relative to the plain k-fold grid's (k per configuration).
    pub fold_fit_ratio: f64,
}

/// The folds every configuration has, where `seen` repeats leave at least one unseen.
fn check_seen(curves: &[Curve], k: usize, seen: usize) -> std::result::Result<usize, String> {
    let total = curves.iter().map(|c| c.folds.len()).min().unwrap_or(0);
    if seen == 0 || seen * k >= total {
        return Err(format!("--seen {seen}: the sweep's configurations have {total} folds ({} of {k}); the strategies must see at least one repeat and leave one unseen", crate::text::count(total / k.max(1), "repeat", "repeats")));
    }
    Ok(total)
}

/// `repeats` sub-samples of `sample` configurations: each judged by the study's rule
/// (the score of the mean accuracies) over the folds of repeats `seen..` (which no
/// strategy sees), strategies given only the
/// folds of repeats `..seen` (the grid, repeat 0's). A truth scored on the folds a
/// strategy chose by would flatter it (the winner's curse); this one cannot.
// The replay's settings, each a flag of `replay` passed through once; a struct for
// them would only rename the flags.
#[allow(clippy::too_many_arguments)]
pub fn held_out(
    judged: &Judged,
    curves: &[Curve],
    rule: &ScoreRule,
    k: usize,
    seen: usize,
    sample: usize,
    repeats: usize,
    seed: u64,
) -> std::result::Result<HeldOut, String> {
    let total = check_seen(curves, k, seen)?;
    if let Judged::Grid(r) = *judged {
        if r == 0 || r > seen {
            return Err(format!("--seen {seen} with a grid of {r} repeat(s): the grid may use from 1 to the {seen} seen repeat(s)"));
        }
    }
    if let Judged::Race(race) = judged {
        if let Some(m) = race.max_repeats.filter(|&m| m as usize > seen) {
            return Err(format!(
                "--seen {seen} with a race of max_repeats {m}: the race may see only the first {seen} repeat(s), which the truth leaves to it; give max_repeats ≤ {seen}, or --seen {m} where the sweep has repeats left to judge on"
            ));
        }
    }
    let fold_score = |f: &FoldResult| rule.score(f.train_accuracy, f.val_accuracy);
    let of_means = |folds: &[FoldResult]| {
        let (train, val): (Vec<f64>, Vec<f64>) = folds
            .iter()
            .map(|f| (f.train_accuracy, f.val_accuracy))
            .unzip();
        crate::race::score_of_means(rule, &train, &val).unwrap_or(f64::NEG_INFINITY)
    };
    let truth = |c: &Curve| of_means(&c.folds[seen * k..total]);
    let truth_ties = |set: &[&Curve]| -> Vec<String> {
        let mut r: Vec<(&Curve, f64)> = set.iter().map(|c| (*c, truth(c))).collect();
        r.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.position.cmp(&b.0.position)));
        let candidates: Vec<crate::tieset::Candidate> = r
            .iter()
            .enumerate()
            .map(|(i, (c, s))| crate::tieset::Candidate {
                config_id: c.config_id.clone(),
                rank: i + 1,
                score: *s,
                folds: c.folds[seen * k..total]
                    .iter()
                    .enumerate()
                    .map(|(j, f)| (j as i64, fold_score(f)))
                    .collect(),
                parameters: None,
                fit_seconds: None,
            })
            .collect();
        // (One configuration, nothing compared: it is its own tie set.)
        crate::tieset::tie_set(&candidates, k, &crate::tieset::Settings::default())
            .map(|t| t.members)
            .unwrap_or_else(|| candidates.iter().map(|c| c.config_id.clone()).collect())
    };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut regrets, mut in_ties, mut kept, mut ratio, mut left_sum) =
        (Vec::new(), 0usize, 0usize, 0.0, 0usize);
    for _ in 0..repeats {
        let set: Vec<&Curve> = curves
            .choose_multiple(&mut rng, sample.min(curves.len()))
            .collect();
        let best = set
            .iter()
            .map(|c| truth(c))
            .fold(f64::NEG_INFINITY, f64::max);
        let best_id = set
            .iter()
            .max_by(|a, b| {
                truth(a)
                    .total_cmp(&truth(b))
                    .then(b.position.cmp(&a.position))
            })
            .map(|c| c.config_id.clone());
        let (pick, left, fits) = match judged {
            Judged::Grid(r) => {
                let p = set
                    .iter()
                    .max_by(|a, b| {
                        let m = |c: &Curve| of_means(&c.folds[..r * k]);
                        m(a).total_cmp(&m(b)).then(b.position.cmp(&a.position))
                    })
                    .map(|c| c.config_id.clone())
                    .unwrap_or_default();
                (p.clone(), vec![p], set.len() * r * k)
            }
            Judged::Halving(strategy) => {
                let first: Vec<Curve> = set.iter().map(|c| first_repeat(c, rule, k)).collect();
                let refs: Vec<&Curve> = first.iter().collect();
                let o = replay(
                    strategy,
                    &refs,
                    rule,
                    seed.wrapping_add(regrets.len() as u64 + 1),
                )?;
                let p = o.winner.map(|w| w.0).unwrap_or_default();
                let share = o.fold_epochs as f64 / o.full_fold_epochs.max(1) as f64;
                (
                    p.clone(),
                    vec![p],
                    (share * (set.len() * k) as f64).round() as usize,
                )
            }
            Judged::Race(race) => {
                let r = replay_race(race, &set, rule, k, race.max_folds(k, seen), &|_| None)?;
                let pick = r
                    .tie_set
                    .as_ref()
                    .map(|t| t.pick.clone())
                    .or_else(|| r.left.first().cloned())
                    .unwrap_or_default();
                let left = r
                    .tie_set
                    .as_ref()
                    .map(|t| t.members.clone())
                    .unwrap_or_else(|| r.left.clone());
                (pick, left, r.fold_fits)
            }
        };
        let picked = set
            .iter()
            .find(|c| c.config_id == pick)
            .map(|c| truth(c))
            .unwrap_or(f64::NAN);
        regrets.push(best - picked);
        in_ties += truth_ties(&set).contains(&pick) as usize;
        kept += best_id.is_some_and(|b| left.contains(&b)) as usize;
        left_sum += left.len();
        ratio += fits as f64 / (set.len() * k) as f64;
    }
    let n = repeats.max(1) as f64;
    let mut sorted = regrets.clone();
    sorted.sort_by(f64::total_cmp);
    let p95 = sorted
        .get(((0.95 * sorted.len() as f64).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(f64::NAN);
    Ok(HeldOut {
        repeats,
        sample: sample.min(curves.len()),
        mean_regret: regrets.iter().sum::<f64>() / n,
        p95_regret: p95,
        pick_in_truth_ties: in_ties as f64 / n,
        truth_best_kept: kept as f64 / n,
        mean_left: left_sum as f64 / n,
        fold_fit_ratio: ratio / n,
    })
}

/// One held-out rotation: the repeats held out, and how the strategy did.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    pub held_out: Vec<usize>,
    #[serde(flatten)]
    pub result: HeldOut,
}

/// The ways to hold out `total − seen` of `total` repeats, in lexicographic order of
/// the held-out set; at most `most` of them, drawn with `seed` where there are more
/// (the same for every strategy, so that their rotations pair).
pub fn rotations(total: usize, seen: usize, most: usize, seed: u64) -> Vec<Vec<usize>> {
    fn choose(from: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in from..n {
            cur.push(i);
            choose(i + 1, n, k, cur, out);
            cur.pop();
        }
    }
    let mut all = Vec::new();
    if seen < total && total <= 20 {
        choose(0, total, total - seen, &mut Vec::new(), &mut all);
    }
    if all.len() > most {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut picked: Vec<usize> = rand::seq::index::sample(&mut rng, all.len(), most).into_vec();
        picked.sort_unstable();
        all = picked.into_iter().map(|i| all[i].clone()).collect();
    }
    all
}

/// [`held_out`] on each rotation ([`rotations`]): each configuration's repeats
/// reordered so that the seen ones come first (in order), the held-out ones after.
// `held_out`'s settings plus the rotations' count, passed through as `replay`'s flags
// (as for `held_out`).
#[allow(clippy::too_many_arguments)]
pub fn held_out_rotations(
    judged: &Judged,
    curves: &[Curve],
    rule: &ScoreRule,
    k: usize,
    seen: usize,
    sample: usize,
    repeats: usize,
    seed: u64,
    most: usize,
) -> std::result::Result<Vec<Rotation>, String> {
    let total = check_seen(curves, k, seen)? / k.max(1);
    let mut out = Vec::new();
    for held in rotations(total, seen, most, seed) {
        let order: Vec<usize> = (0..total)
            .filter(|r| !held.contains(r))
            .chain(held.iter().copied())
            .collect();
        let moved: Vec<Curve> = curves
            .iter()
            .map(|c| Curve {
                folds: order
                    .iter()
                    .flat_map(|&r| c.folds[r * k..(r + 1) * k].iter().cloned())
                    .collect(),
                ..c.clone()
            })
            .collect();
        let result = held_out(judged, &moved, rule, k, seen, sample, repeats, seed)?;
        out.push(Rotation {
            held_out: held,
            result,
        });
    }
    Ok(out)
}

/// Each curve's full-run score by `rule` (the score of its folds' mean accuracies), for
/// a replay ranked by another rule than the sweep's (`replay --w1/--w2/--delta`).
pub fn rescore(curves: &mut [Curve], rule: &ScoreRule) {
    for c in curves {
        let (train, val): (Vec<f64>, Vec<f64>) = c
            .folds
            .iter()
            .map(|f| (f.train_accuracy, f.val_accuracy))
            .unzip();
        if let Some(s) = crate::race::score_of_means(rule, &train, &val) {
            c.score = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_hold_out_every_choice_or_a_seeded_draw_of_them() {
        let all = rotations(5, 3, 100, 1);
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], vec![0, 1]);
        assert_eq!(all[9], vec![3, 4]);
        let some = rotations(10, 5, 10, 1);
        assert_eq!(some.len(), 10);
        assert!(some.iter().all(|h| h.len() == 5));
        assert_eq!(some, rotations(10, 5, 10, 1));
        assert_ne!(some, rotations(10, 5, 10, 2));
        assert!(rotations(3, 3, 10, 1).is_empty());
    }

    #[test]
    fn hyperband_brackets_are_the_runs() {
        let hb = Strategy::Hyperband {
            factor: 3,
            min_epochs: 5,
        };
        // The same brackets a run of the strategy has (ladder 5, 15, 45, 60).
        assert_eq!(hb.brackets(60), crate::search::hyperband(3, 5, 60));
        let starts: Vec<u32> = hb.brackets(60).iter().map(|(h, _)| h.min_epochs).collect();
        assert_eq!(starts, vec![5, 15, 45, 60]);
        assert_eq!(
            Strategy::Halving {
                factor: 3,
                min_epochs: 5
            }
            .brackets(60)
            .len(),
            1
        );
    }
}
