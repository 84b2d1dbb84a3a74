//! The application layer: what a sweep is and what its commands compute.
//!
//! Between the command line and the store. `cli/` parses arguments, calls in here and
//! prints; the store only stores. What lives here is the sweep logic every command
//! shares: registering a spec's sweep and refusing one that cannot continue
//! ([`register`]), what a plan costs ([`plan`]), the work a run hands the scheduler
//! ([`job`]), and the views: status with rate and ETA ([`status`]), the ranking with
//! successive halving's unfinished configurations ([`ranking`]), the rows an export
//! writes ([`export`]), the database's sweeps ([`admin`]), and replays of search
//! strategies on recorded learning curves ([`replay`]). No clap and no SQL here, and no printing: the results
//! are values, so the binary's tests and any other front end read the same numbers.

pub mod admin;
pub mod analysis;
pub mod bench;
pub mod evaluation;
pub mod export;
pub mod import;
pub mod job;
pub mod live;
pub mod plan;
pub mod ranking;
pub mod register;
pub mod replay;
pub mod report;
pub mod rerun;
pub mod run;
pub mod status;
pub mod study;

use crate::data::DataError;
use crate::params::ParamError;
use crate::score::ScoreRule;
use crate::spec::Spec;
use crate::store::{Store, StoreError, SweepRow};

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(transparent)]
    Eval(#[from] crate::evaluate::EvalError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// The spec cannot continue the recorded sweep of its name (the message says why
    /// and what to do).
    #[error("{0}")]
    Conflict(String),
    /// The spec cannot be run as written (the message names the key).
    #[error("{0}")]
    Spec(String),
    /// The sweep was deleted (`gridsweep delete --force`) while a run trained it.
    #[error("sweep `{name}` was deleted from {db} while this run trained it (`gridsweep delete`): the run stopped, and what it trained after that was not recorded")]
    Deleted { name: String, db: String },
    #[error("sweep `{name}`: the stored spec is unreadable ({why})")]
    StoredSpec { name: String, why: String },
    /// An imported sweep has results only: no data, split or trained network.
    #[error("sweep `{name}` was imported from {source_file}: it holds results made elsewhere, with no data set or split of its own, so there is nothing to train or score here{hint}")]
    Imported {
        name: String,
        source_file: String,
        hint: String,
    },
    #[error("the data of sweep `{name}` ({file}) changed since the sweep ran (sha256 {now} now, {then} then); its split would differ")]
    DataChanged {
        name: String,
        file: String,
        now: String,
        then: String,
    },
    /// A file to import that cannot be read as its format: where, and what was expected
    /// (line 0: the file itself; an empty column: the whole line).
    #[error("{file}{}{}: {why}", if *line > 0 { format!(", line {line}") } else { String::new() }, if column.is_empty() { String::new() } else { format!(", column {column}") })]
    Import {
        file: String,
        line: u64,
        column: String,
        why: String,
    },
    /// `plan --calibrate` found nothing to measure.
    #[error("--calibrate {db}: no sweep there was run here on this spec's data file (under any dataset options; this spec's fingerprint {fingerprint}…) with folds trained whole from the first epoch to their end{fused}; calibrate from a grid or random sweep on the same data, run without --fuse")]
    NoCalibration {
        db: String,
        fingerprint: String,
        fused: String,
    },
    #[error("sweep `{name}` has {n} sub-grid(s), grid[0]..grid[{}]: there is no grid[{g}]", .n.saturating_sub(1))]
    NoSuchSubgrid { name: String, g: usize, n: usize },
    #[error("stored configuration {config_id}: {source} (a sweep imported with --foreign holds another model's hyperparameters as labels: it can be ranked, exported, analysed and replayed, not trained, rerun or evaluated)")]
    StoredParams {
        config_id: String,
        #[source]
        source: ParamError,
    },
}

pub type Result<T> = std::result::Result<T, SweepError>;

/// Which sweep a command names.
#[derive(Debug)]
pub enum Pick {
    Found(SweepRow),
    /// No sweep of the name given.
    NoSuchName,
    /// No name given, and the database has no sweep.
    Empty,
    /// No name given, and the database has these.
    Several(Vec<String>),
}

/// The sweep named, or the only one in the database.
pub async fn pick(store: &Store, name: Option<&str>) -> Result<Pick> {
    if let Some(n) = name {
        return Ok(store
            .sweep_by_name(n)
            .await?
            .map_or(Pick::NoSuchName, Pick::Found));
    }
    let mut all = store.sweeps().await?;
    Ok(match all.len() {
        0 => Pick::Empty,
        1 => Pick::Found(all.remove(0)),
        _ => Pick::Several(all.into_iter().map(|s| s.name).collect()),
    })
}

/// The spec a sweep was recorded with.
pub fn stored_spec(sweep: &SweepRow) -> Result<Spec> {
    serde_json::from_str(&sweep.spec_json).map_err(|e| SweepError::StoredSpec {
        name: sweep.name.clone(),
        why: e.to_string(),
    })
}

/// A staged search's brackets, each a successive halving (empty for grid and random
/// search): Hyperband's depend on the largest configured epochs of the spec's grid.
pub fn brackets(spec: &Spec) -> Result<Vec<crate::search::Halving>> {
    if spec.search.halving().is_none() {
        return Ok(Vec::new());
    }
    let grid = spec.expand()?;
    Ok(spec
        .search
        .brackets(crate::search::max_epochs(&grid.configs))
        .into_iter()
        .map(|b| b.0)
        .collect())
}

/// The score rule a sweep was run with: its spec's `score` section (absent in sweeps
/// of versions before it existed, which used the default rule). Read on its own, so
/// that a stored spec an older version wrote ranks even where other fields changed.
pub fn score_rule(sweep: &SweepRow) -> Result<ScoreRule> {
    #[derive(serde::Deserialize)]
    struct ScoreOnly {
        #[serde(default)]
        score: ScoreRule,
    }
    serde_json::from_str::<ScoreOnly>(&sweep.spec_json)
        .map(|s| s.score)
        .map_err(|e| SweepError::StoredSpec {
            name: sweep.name.clone(),
            why: e.to_string(),
        })
}

/// The sweep's data, for evaluating one of its configurations: its stored spec's
/// dataset, cut as the configuration's partition says (`None`: the spec's own),
/// checked against the fingerprint recorded when the sweep ran (an evaluation of other
/// data would not be of the same split).
pub fn evaluation_data(
    sweep: &SweepRow,
    partition: Option<&crate::data::partition::Partition>,
) -> Result<crate::evaluate::EvalData> {
    if let Some(source) = &sweep.source {
        return Err(SweepError::Imported {
            name: sweep.name.clone(),
            source_file: source.clone(),
            hint: String::new(),
        });
    }
    let spec = stored_spec(sweep)?;
    let fingerprint = crate::data::fingerprint(&spec.dataset)?;
    if fingerprint != sweep.dataset_fingerprint {
        let short = |s: &str| crate::domain::short_id(s).to_string();
        return Err(SweepError::DataChanged {
            name: sweep.name.clone(),
            file: spec.dataset.path.display().to_string(),
            now: short(&fingerprint),
            then: short(&sweep.dataset_fingerprint),
        });
    }
    let dataset = partition.map_or_else(|| spec.dataset.clone(), |p| p.apply(&spec.dataset));
    Ok(crate::evaluate::EvalData::load(&dataset, spec.cv.folds)?)
}
