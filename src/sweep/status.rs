//! A sweep's state for `status`: progress, rate and ETA, workers, rungs, the best.
//!
//! The rate is over the last ten minutes of finished folds, and the ETA is only given
//! while some live worker holds a fold (folds held by processes of this host that are
//! gone are not being worked on, whatever their leases say) and once
//! [`ETA_MIN_FOLDS`] folds have finished in the window: from one or two folds the
//! estimate swings by the fold's own length.

use super::Result;
use crate::config::ConfigRow;
use crate::domain::Counts;
use crate::domain::RungRow;
use crate::domain::RungScore;
use crate::rank::{self, Ranked};
use crate::score::ScoreRule;
use crate::search;
use crate::store::{now, Failure, Store, SweepRow, WorkerRow};

/// The window the rate is measured over, seconds.
pub const RATE_WINDOW: f64 = 600.0;

/// Folds finished in the window before an ETA is given.
pub const ETA_MIN_FOLDS: i64 = 5;

#[derive(Debug, Clone)]
pub struct Status {
    pub counts: Counts,
    /// Configurations the sweep holds (grid rows, or the ones a search drew).
    pub configurations: usize,
    /// The spec's grid rows, where the search drew fewer than all of them.
    pub grid_rows: Option<usize>,
    /// Folds finished within the rate's window.
    pub recent: i64,
    pub distinct_trainings: i64,
    /// Complete configurations, best first, by the sweep's score rule.
    pub ranked: Vec<Ranked>,
    pub rule: ScoreRule,
    /// Folds finished per minute over the window.
    pub rate_per_min: f64,
    /// The span the rate is over, seconds (shorter than the window early on).
    pub rate_span: f64,
    /// Seconds until the folds left are done at that rate, while a worker runs.
    pub eta: Option<f64>,
    /// Folds held by live workers.
    pub live_running: i64,
    pub workers: Vec<WorkerRow>,
    pub failures: Vec<Failure>,
    /// Where the done folds ran (device label, count): a sweep continued on other
    /// kernels or devices mixes results that differ in rounding.
    pub devices: Vec<(String, i64)>,
    /// Successive halving's rungs; a race's barriers (one per stage).
    pub rungs: Option<Vec<RungRow>>,
    /// The sweep is a race (its rungs are barriers: the first folds, then one fold each).
    pub race: bool,
    /// The tie set of the complete configurations, where there are fold scores.
    pub tie_set: Option<crate::tieset::TieSet>,
    /// Complete rungs that ranked their configurations unlike the rung before them,
    /// each with what to change.
    pub weak_rungs: Vec<String>,
}

impl Status {
    /// Folds pending or running.
    pub fn remaining(&self) -> i64 {
        self.counts.pending + self.counts.running
    }

    pub fn best(&self) -> Option<&Ranked> {
        self.ranked.first()
    }
}

pub async fn status(store: &Store, sweep: &SweepRow) -> Result<Status> {
    let counts = store.counts(sweep.id).await?;
    let (recent, first) = store.finished_since(sweep.id, now() - RATE_WINDOW).await?;
    let rate_span = first.map(|f| (now() - f).max(1.0)).unwrap_or(RATE_WINDOW);
    let rate_per_min = if recent > 0 {
        recent as f64 / rate_span * 60.0
    } else {
        0.0
    };
    let workers = store.workers(sweep.id).await?;
    let live_running = store.live_running(sweep.id).await?
        - workers
            .iter()
            .filter(|w| w.gone)
            .map(|w| w.running)
            .sum::<i64>();
    let remaining = counts.pending + counts.running;
    let eta = (rate_per_min > 0.0 && live_running > 0 && recent >= ETA_MIN_FOLDS)
        .then(|| remaining as f64 / rate_per_min * 60.0);
    let rule = super::score_rule(sweep)?;
    let rows = store.configurations(sweep.id).await?;
    let mut rungs = store.rungs(sweep.id).await?;
    // A decided rung's folds: every configuration's, all done (k per configuration; a
    // race's stage s: its first folds + s).
    if let (Some(rs), Ok(spec)) = (rungs.as_mut(), super::stored_spec(sweep)) {
        let per = |rung: i64| match spec.search.race() {
            Some(r) => r.first_folds(spec.cv.folds, spec.cv.repeats) as i64 + rung,
            None => spec.cv.folds as i64,
        };
        for r in rs.iter_mut().filter(|r| r.folds.is_none()) {
            let n = r.configurations * per(r.rung);
            (r.folds, r.folds_done) = (Some(n), Some(n));
        }
    }
    let weak_rungs = match rungs {
        Some(_) => weak_rungs(sweep, &rows, &store.rung_scores(sweep.id).await?),
        None => Vec::new(),
    };
    // A drawn search (random, a halving sample, Hyperband) holds fewer rows than its
    // grid has: say both. (Imports have no grid of their own.)
    let grid_rows = match (
        &sweep.source,
        super::stored_spec(sweep).ok().and_then(|s| s.expand().ok()),
    ) {
        (None, Some(g)) if g.configs.len() != rows.len() => Some(g.configs.len()),
        _ => None,
    };
    let ranked = rank::rank(&rows, &rule);
    // A race that prefers the smallest needs the data's shape to count parameters.
    let settings = super::ranking::tie_settings(sweep);
    let dims = (settings.prefer == crate::tieset::Prefer::Smallest)
        .then(|| super::ranking::data_dims(sweep))
        .flatten();
    let tie_set = super::ranking::tie_set(store, sweep, &ranked, &rule, &settings, dims).await?;
    Ok(Status {
        counts,
        configurations: rows.len(),
        grid_rows,
        recent,
        distinct_trainings: store.training_count(sweep.id).await?,
        ranked,
        rule,
        rate_per_min,
        rate_span,
        eta,
        live_running,
        workers,
        failures: store.failures(sweep.id).await?,
        devices: store.done_fold_devices(sweep.id).await?,
        rungs,
        weak_rungs,
        race: super::stored_spec(sweep).is_ok_and(|s| s.search.race().is_some()),
        tie_set,
    })
}

/// The complete rungs (from rung 1) of a staged sweep whose ranking disagrees with
/// the rung before theirs in their bracket (`search::rung_agreement` below
/// `search::WEAK_AGREEMENT`), as advice; `rows` are the sweep's configurations (their
/// epochs), `scores` its rung scores. Nothing for a sweep without rungs.
pub fn weak_rungs(sweep: &SweepRow, rows: &[ConfigRow], scores: &[RungScore]) -> Vec<String> {
    let Some(brackets) = super::stored_spec(sweep)
        .ok()
        .and_then(|s| super::brackets(&s).ok())
    else {
        return Vec::new();
    };
    let several = brackets.len() > 1;
    let epochs = rows
        .iter()
        .filter_map(|r| r.params.get("epochs")?.as_u64())
        .max()
        .unwrap_or(0) as u32;
    let mut out = Vec::new();
    for (b, h) in brackets.iter().enumerate() {
        let last = scores
            .iter()
            .filter(|s| s.bracket == b as i64)
            .map(|s| s.rung)
            .max()
            .unwrap_or(0);
        out.extend((1..=last).filter_map(|r| {
            let a = search::rung_agreement(scores, b as i64, r)?;
            (a < search::WEAK_AGREEMENT).then(|| {
                search::weak_rung_advice(h, several.then_some(b as u32), r as u32, a, epochs)
            })
        }));
    }
    out
}
