//! The report of a sweep: what it reads from the store and how it is put together,
//! for `gridsweep report` and `serve`'s download alike (`crate::report` only draws).
//!
//! The evaluation is an input: the command line trains one when none is stored; a
//! read-only front end passes the stored one, or none (the page then says how to make
//! one).

use super::Result;
use crate::evaluate::Evaluation;
use crate::plots::RungPoint;
use crate::rank::ConfigRow;
use crate::score::ScoreRule;
use crate::store::{Store, SweepRow};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Each configuration's score at each rung a staged search trained it to, for the rung
/// plot: whether it went on, and whether the rung was its configured end. A race's
/// stages: the folds run at each, and a configuration still in the race at its end is
/// finished there (the tie set's), not stopped.
pub async fn rung_points(
    store: &Store,
    sweep: &SweepRow,
    rows: &[ConfigRow],
) -> Result<Vec<RungPoint>> {
    let configured: HashMap<&str, i64> = rows
        .iter()
        .filter_map(|r| Some((r.config_id.as_str(), r.params.get("epochs")?.as_i64()?)))
        .collect();
    let spec = super::stored_spec(sweep)?;
    // A race's stage s: every configuration in it has run first_folds + s folds.
    let race = spec
        .search
        .race()
        .map(|r| r.first_folds(spec.cv.folds, spec.cv.repeats) as i64);
    let scores = store.rung_scores(sweep.id).await?;
    let complete: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.summary.is_some())
        .map(|r| r.config_id.as_str())
        .collect();
    let last_stage: HashMap<&str, i64> = scores.iter().fold(HashMap::new(), |mut m, r| {
        let e = m.entry(r.config_id.as_str()).or_insert(r.rung);
        *e = (*e).max(r.rung);
        m
    });
    Ok(scores
        .iter()
        .filter_map(|r| {
            let (resource, finished) = match race {
                Some(first) => (
                    first + r.rung,
                    complete.contains(r.config_id.as_str())
                        && last_stage.get(r.config_id.as_str()) == Some(&r.rung),
                ),
                None => {
                    let epochs = r.resource_epochs.unwrap_or(0);
                    let finished = configured
                        .get(r.config_id.as_str())
                        .is_some_and(|&e| epochs >= e);
                    (epochs, finished)
                }
            };
            Some(RungPoint {
                bracket: r.bracket,
                score: r.score?,
                config_id: r.config_id.clone(),
                rung: r.rung,
                resource,
                race: race.is_some(),
                promoted: r.promoted,
                finished,
            })
        })
        .collect())
}

/// What a report is about: its configuration, ranked by `rule`, with `evaluation` if
/// there is one; `top` configurations in its table.
pub struct Request<'a> {
    pub config_id: &'a str,
    pub rule: ScoreRule,
    pub evaluation: Option<&'a Evaluation>,
    pub top: usize,
}

/// Reads what the report of `sweep` shows and writes it (`index.html` and `img/`) into
/// `out`; returns the page's path.
pub async fn write(
    store: &Store,
    sweep: &SweepRow,
    r: &Request<'_>,
    out: &Path,
) -> Result<PathBuf> {
    let recorded = super::ranking::recorded(store, sweep.id).await?;
    let counts = store.counts(sweep.id).await?;
    // The workers' busy time (a fused group's folds share theirs).
    let fit_seconds: f64 = crate::bench::merged_spans(&store.fold_spans(sweep.id).await?)
        .iter()
        .map(|(_, start, end)| end - start)
        .sum();
    let devices = store.done_fold_devices(sweep.id).await?;
    let rung_scores = store.rung_scores(sweep.id).await?;
    let weak_rungs = super::status::weak_rungs(sweep, &recorded.rows, &rung_scores);
    let rungs = rung_points(store, sweep, &recorded.rows).await?;
    let analysis =
        super::analysis::analyze(store, sweep, &r.rule, None, 10, 0, Some(r.config_id)).await?;
    let spec = super::stored_spec(sweep)?;
    // The ranking by the rule the evaluation chose with; successive halving's stopped
    // configurations come at the epochs they reached.
    let rule = r.evaluation.map_or(r.rule, |e| e.score_rule());
    let ranking = recorded.rank(&rule);
    Ok(crate::report::write(
        &crate::report::ReportInput {
            spec: &spec,
            db: store.location(),
            dataset_fingerprint: &sweep.dataset_fingerprint,
            counts,
            created_at: sweep.created_at,
            updated_at: sweep.updated_at,
            fit_seconds,
            ranked: &ranking.complete,
            configurations: ranking.configurations,
            varying: &ranking.varying,
            evaluation: r.evaluation,
            chosen: r.config_id,
            rule,
            top: r.top,
            rungs: &rungs,
            partial: &ranking.partial,
            race: super::stored_spec(sweep)?.search.race().is_some(),
            weak_rungs: &weak_rungs,
            analysis: Some(&analysis.analysis),
            tie_set: analysis.tie_set.as_ref(),
            k: analysis.folds,
            imported: sweep.source.is_some(),
            devices: &devices,
        },
        out,
    )?)
}

/// The report as one HTML file (`crate::report::self_contained`), made in a temporary
/// folder that is removed afterwards.
pub async fn single_page(store: &Store, sweep: &SweepRow, r: &Request<'_>) -> Result<String> {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = std::env::temp_dir().join(format!("gridsweep-report-{}-{n}", std::process::id()));
    let written = write(store, sweep, r, &tmp).await;
    let page = written.and_then(|_| Ok(crate::report::self_contained(&tmp)?));
    let _ = std::fs::remove_dir_all(&tmp);
    page
}
