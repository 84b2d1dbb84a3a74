//! What a live view (`gridsweep serve`) shows of a database, as the CLI's `list`,
//! `status` and `rank` do: the sweeps with their progress, one sweep's state with its
//! leaderboard and tie set, and the folds finished since a cursor.
//!
//! The front end only formats these. The incremental read is the one that runs often
//! (every few seconds per open page), so it is one indexed query returning only new
//! rows, as optuna-dashboard's `?after=`; the heavier ones (a leaderboard with its tie
//! set) run when a page is opened or when new folds arrived.

use super::status::Status;
use super::Result;
use crate::domain::Counts;
use crate::store::{FinishedFold, FoldView, Store, SweepRow};

/// A sweep as the list shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Card {
    pub name: String,
    /// grid, random, halving, hyperband or race; "import" for results made elsewhere.
    pub strategy: String,
    /// An import's file.
    pub source: Option<String>,
    pub description: Option<String>,
    pub configurations: usize,
    pub counts: Counts,
    /// The best complete configuration: (id, score).
    pub best: Option<(String, f64)>,
}

/// The database's sweeps, newest last. Cheap: counts and the best, no tie set.
pub async fn cards(store: &Store) -> Result<Vec<Card>> {
    Ok(super::admin::overview(store)
        .await?
        .into_iter()
        .map(|o| Card {
            strategy: strategy(&o.sweep),
            description: super::stored_spec(&o.sweep)
                .ok()
                .and_then(|s| s.description),
            name: o.sweep.name,
            source: o.sweep.source,
            configurations: o.configurations,
            counts: o.counts,
            best: o.best,
        })
        .collect())
}

/// A sweep's search strategy as its stored spec names it.
pub fn strategy(sweep: &SweepRow) -> String {
    if sweep.source.is_some() {
        return "import".into();
    }
    super::stored_spec(sweep)
        .ok()
        .and_then(|s| serde_json::to_value(s.search).ok())
        .and_then(|v| v["strategy"].as_str().map(String::from))
        .unwrap_or_else(|| "grid".into())
}

/// One sweep's page: its status (progress, rate, ETA, workers, failures, rungs, the
/// ranking and tie set), and the hyperparameters that vary among its configurations.
pub struct Board {
    pub sweep: SweepRow,
    pub strategy: String,
    pub description: Option<String>,
    pub status: Status,
    pub varying: Vec<String>,
    /// Configurations a staged search stopped or holds at a rung (pruned, dropped from
    /// a race, or waiting), best first by the score of what they ran.
    pub partial: Vec<super::ranking::PartialRanked>,
}

/// None: no sweep of that name.
pub async fn board(store: &Store, name: &str) -> Result<Option<Board>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let status = super::status::status(store, &sweep).await?;
    let ranking = super::ranking::recorded(store, sweep.id)
        .await?
        .rank(&status.rule);
    let partial = ranking.partial_by_progress().into_iter().cloned().collect();
    Ok(Some(Board {
        strategy: strategy(&sweep),
        description: super::stored_spec(&sweep).ok().and_then(|s| s.description),
        sweep,
        status,
        varying: ranking.varying,
        partial,
    }))
}

/// What changed since `after` (Unix seconds, the last `cursor` a client was given):
/// the folds finished since then, the counts now, and the cursor to ask with next.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Update {
    pub folds: Vec<FinishedFold>,
    pub counts: Counts,
    pub cursor: f64,
}

/// Folds finish in transactions that can commit a little after the time they record
/// (and, on PostgreSQL, by clocks of other machines): each read looks back this far
/// before the cursor, and the client keeps the ids it has seen.
pub const LOOK_BACK_SECONDS: f64 = 30.0;

/// At most this many folds per update; a client far behind catches up over a few.
pub const UPDATE_LIMIT: i64 = 500;

/// None: no sweep of that name.
pub async fn update(store: &Store, name: &str, after: f64) -> Result<Option<Update>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let folds = store
        .finished_folds(sweep.id, after - LOOK_BACK_SECONDS, UPDATE_LIMIT)
        .await?;
    let counts = store.counts(sweep.id).await?;
    let cursor = folds.iter().map(|f| f.finished_at).fold(after, f64::max);
    Ok(Some(Update {
        folds,
        counts,
        cursor,
    }))
}

/// One configuration's page: its hyperparameters and summary, every fold (those of the
/// configuration whose training it shares, when it shares one), and its newest
/// evaluation's JSON, if `evaluate` ran on it.
pub struct ConfigPage {
    pub sweep: String,
    pub config_id: String,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub summary: Option<crate::score::CvSummary>,
    pub shares_training_of: Option<String>,
    pub folds: Vec<FoldView>,
    pub evaluation: Option<String>,
}

/// None: no such sweep or configuration.
pub async fn config_page(store: &Store, name: &str, config_id: &str) -> Result<Option<ConfigPage>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let Some(row) = store
        .configurations(sweep.id)
        .await?
        .into_iter()
        .find(|c| c.config_id == config_id)
    else {
        return Ok(None);
    };
    let trained = row
        .shares_training_of
        .clone()
        .unwrap_or_else(|| row.config_id.clone());
    let folds = store.config_folds(sweep.id, &trained).await?;
    let evaluation = store.latest_evaluation(sweep.id, Some(config_id)).await?;
    Ok(Some(ConfigPage {
        sweep: sweep.name,
        config_id: row.config_id,
        params: row.params,
        summary: row.summary,
        shares_training_of: row.shares_training_of,
        folds,
        evaluation,
    }))
}

/// The two CSV exports, as `export --format` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvFormat {
    HpoCombined,
    CvResults,
}

/// What a download gives.
pub enum Csv {
    NoSweep,
    /// Nothing complete yet: why.
    Nothing(String),
    File(Vec<u8>),
}

pub async fn export_csv(store: &Store, name: &str, format: CsvFormat) -> Result<Csv> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(Csv::NoSweep);
    };
    let x =
        super::export::export_rows(store, &sweep, false, format == CsvFormat::CvResults).await?;
    if !x.rows.iter().any(|r| r.summary.is_some()) {
        return Ok(Csv::Nothing(format!(
            "sweep `{name}`: no configuration is complete yet, so there is nothing to export"
        )));
    }
    let mut out = Vec::new();
    let written = match format {
        CsvFormat::HpoCombined => crate::export::hpo_combined(
            &mut out,
            &x.rows,
            &x.rule,
            x.resource.as_ref(),
            x.ties.as_ref(),
        ),
        CsvFormat::CvResults => {
            let columns = super::export::cv_columns(&sweep, &x)?;
            crate::export::cv_results(
                &mut out,
                &x.rows,
                &x.folds,
                &columns,
                x.resource.as_ref(),
                x.ties.as_ref(),
            )
        }
    };
    written
        .map_err(|e| super::SweepError::Conflict(format!("writing the export of `{name}`: {e}")))?;
    Ok(Csv::File(out))
}

/// A configuration's learning curve: per epoch, the mean over its folds of the
/// accuracy on the training fold and on the CV fold (over the folds that reached the
/// epoch: early stopping ends folds at different epochs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigCurve {
    pub config_id: String,
    /// (epoch, mean training accuracy, mean CV-fold accuracy, folds that reached it).
    pub epochs: Vec<(u32, f64, Option<f64>, usize)>,
}

/// At most this many configurations' curves are overlaid.
pub const CURVES_AT_MOST: usize = 10;

/// The learning curves of `ids` in sweep `name` (unknown ids are left out; the first
/// [`CURVES_AT_MOST`]). None: no sweep of that name.
pub async fn curves(store: &Store, name: &str, ids: &[String]) -> Result<Option<Vec<ConfigCurve>>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let rows = store.configurations(sweep.id).await?;
    let mut out = Vec::new();
    for id in ids.iter().take(CURVES_AT_MOST) {
        let Some(row) = rows.iter().find(|c| &c.config_id == id) else {
            continue;
        };
        let trained = row.shares_training_of.as_deref().unwrap_or(&row.config_id);
        let folds = store.config_folds(sweep.id, trained).await?;
        let histories: Vec<Vec<crate::fold::EpochRecord>> = folds
            .iter()
            .filter_map(|f| serde_json::from_str(f.history_json.as_deref()?).ok())
            .collect();
        out.push(ConfigCurve {
            config_id: id.clone(),
            epochs: mean_curve(&histories),
        });
    }
    Ok(Some(out))
}

/// Per epoch, the mean over the histories that reached it.
pub fn mean_curve(
    histories: &[Vec<crate::fold::EpochRecord>],
) -> Vec<(u32, f64, Option<f64>, usize)> {
    let mut by_epoch: std::collections::BTreeMap<u32, (f64, f64, usize, usize)> =
        Default::default();
    for h in histories {
        for e in h {
            let s = by_epoch.entry(e.epoch).or_default();
            s.0 += e.accuracy;
            s.2 += 1;
            if let Some(v) = e.val_accuracy {
                s.1 += v;
                s.3 += 1;
            }
        }
    }
    by_epoch
        .into_iter()
        .map(|(epoch, (t, v, n, nv))| (epoch, t / n as f64, (nv > 0).then(|| v / nv as f64), n))
        .collect()
}

/// What `analyze` says of a sweep, for the live view's analysis section: the analysis,
/// the ranking it was made of, and the done folds it saw (a cache key: a new fold
/// makes it stale).
pub struct AnalysisView {
    pub analyzed: super::analysis::Analyzed,
    pub ranked: Vec<crate::rank::Ranked>,
    pub rule: crate::score::ScoreRule,
    pub done: i64,
}

/// The sweep's done folds now (None: no such sweep): whether a cached
/// [`AnalysisView`] is stale.
pub async fn done_folds(store: &Store, name: &str) -> Result<Option<i64>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    Ok(Some(store.counts(sweep.id).await?.done))
}

/// None: no sweep of that name.
pub async fn analysis(store: &Store, name: &str) -> Result<Option<AnalysisView>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let done = store.counts(sweep.id).await?.done;
    let rule = super::score_rule(&sweep)?;
    let recorded = super::ranking::recorded(store, sweep.id).await?;
    let ranked = crate::rank::rank(&recorded.rows, &rule);
    let analyzed = super::analysis::analyze(store, &sweep, &rule, None, 10, 0, None).await?;
    Ok(Some(AnalysisView {
        analyzed,
        ranked,
        rule,
        done,
    }))
}

/// A staged search's scores per rung, for the rung plot (empty for other sweeps).
/// None: no sweep of that name.
pub async fn rungs(store: &Store, name: &str) -> Result<Option<Vec<crate::plots::RungPoint>>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let rows = store.configurations(sweep.id).await?;
    Ok(Some(
        super::report::rung_points(store, &sweep, &rows).await?,
    ))
}

/// The report of sweep `name` as one HTML file, about `config` (default: the newest
/// evaluated configuration, else rank 1), with its stored evaluation if there is one.
/// Read-only: nothing is trained. None: no sweep of that name, or no such
/// configuration; Err(Conflict) when nothing is complete yet.
pub async fn report(store: &Store, name: &str, config: Option<&str>) -> Result<Option<String>> {
    let Some(sweep) = store.sweep_by_name(name).await? else {
        return Ok(None);
    };
    let rule = super::score_rule(&sweep)?;
    let rows = store.configurations(sweep.id).await?;
    let config_id = match config {
        Some(c) => match rows.iter().find(|r| r.config_id == c) {
            Some(r) => r.config_id.clone(),
            None => return Ok(None),
        },
        None => {
            let newest = store
                .latest_evaluation(sweep.id, None)
                .await?
                .and_then(|j| serde_json::from_str::<crate::evaluate::Evaluation>(&j).ok());
            match newest {
                Some(e) => e.config_id,
                None => match super::ranking::choose(&rows, &rule, super::ranking::Choice::Rank(1))
                {
                    Ok(c) => c.config_id,
                    Err(_) => {
                        return Err(super::SweepError::Conflict(format!(
                        "sweep `{name}`: no configuration is complete yet, so there is no report"
                    )))
                    }
                },
            }
        }
    };
    let evaluation = if sweep.source.is_some() {
        None
    } else {
        super::evaluation::stored(store, &sweep, &config_id).await?
    };
    let request = super::report::Request {
        config_id: &config_id,
        rule,
        evaluation: evaluation.as_ref(),
        top: 10,
    };
    super::report::single_page(store, &sweep, &request)
        .await
        .map(Some)
}
