//! Evaluating a sweep's chosen configuration: the final training on the sweep's own
//! split, the test, the baselines on the same split, the saved model, and the record
//! of it all in the database (which `report` and `serve` read back).
//!
//! One use case for `evaluate` and `report` alike, so a report made on a machine
//! without a stored evaluation trains exactly what `evaluate` would.

use super::ranking::Chosen;
use super::{Result, SweepError};
use crate::baselines::BaselineOptions;
use crate::evaluate::{self, Evaluation, FinalTraining};
use crate::params::HyperParams;
use crate::score::ScoreRule;
use crate::store::{now, DbLocation, Store, SweepRow};
use crate::train::FoldObserver;
use std::path::{Path, PathBuf};

/// How the final training runs.
#[derive(Debug, Clone)]
pub struct Final {
    pub device: tch::Device,
    pub threads_per_job: usize,
    /// Epochs of the final training (the callbacks may stop it earlier); at least 1.
    pub epochs: u32,
    /// Where to save the model (None: `<sweep>-<config id>-model` beside the database).
    pub model_dir: Option<PathBuf>,
    pub baselines: BaselineOptions,
}

/// `name` in the database's folder: where models and reports go by default.
pub fn beside_db(db: &DbLocation, name: &str) -> PathBuf {
    match db.file() {
        Some(file) => file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(name),
        // A PostgreSQL database has no folder: results/ of the current one.
        None => Path::new("results").join(name),
    }
}

/// Trains `chosen` of `sweep` on the sweep's data, tests it, fits the baselines, saves
/// the model and records the evaluation. `note` gets what a user watching should read.
pub async fn evaluate(
    store: &Store,
    sweep: &SweepRow,
    chosen: Chosen,
    rule: &ScoreRule,
    f: &Final,
    observer: &mut dyn FoldObserver,
    note: &mut dyn FnMut(String),
) -> Result<Evaluation> {
    let Chosen {
        config_id,
        rank,
        params: chosen,
        summary,
    } = chosen;
    let mut params = HyperParams::default();
    params
        .apply_object(&chosen)
        .map_err(|source| SweepError::StoredParams {
            config_id: config_id.clone(),
            source,
        })?;
    let params = evaluate::final_params(params, f.epochs.max(1));
    crate::device::check_precision(params.precision, f.device)?;
    tch::set_num_threads(f.threads_per_job as i32);
    // On the configuration's own partition, where its sub-grid gave one.
    let data = super::evaluation_data(sweep, params.split.as_ref())?;
    note(format!(
        "evaluating configuration {config_id}{} of sweep `{}`: final training on {} rows, val_loss watched on {} rows, test on {} rows",
        rank.map(|r| format!(" (rank {r})")).unwrap_or_default(),
        sweep.name,
        data.cv.train_y.len(),
        data.val_y.len(),
        data.test_y.len()
    ));
    let (model, final_run) = evaluate::train_and_test(
        &data,
        FinalTraining {
            params: params.clone(),
            seed: sweep.seed as u64,
            device: f.device,
            observer,
        },
    )?;
    note("baselines (SVM, KNN, most frequent, random) on the same split".into());
    let baselines = data
        .baselines(f.baselines)
        .map_err(evaluate::EvalError::from)?;
    let model_dir = f.model_dir.clone().unwrap_or_else(|| {
        beside_db(
            store.location(),
            &format!("{}-{}-model", sweep.name, config_id),
        )
    });
    model.save(&model_dir)?;
    let evaluation = Evaluation {
        sweep: sweep.name.clone(),
        config_id: config_id.clone(),
        rank,
        w1: rule.w1,
        w2: rule.w2,
        delta: rule.delta,
        cv: summary,
        params: params
            .canonical()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        seed: sweep.seed as u64,
        feature_names: data.cv.prepared.dataset.feature_names.clone(),
        class_names: data.class_names().to_vec(),
        class_counts: data.class_counts(),
        final_run,
        baselines,
        model_dir: Some(model_dir.clone()),
        created_at: now(),
    };
    let json = serde_json::to_string(&evaluation).map_err(|e| {
        SweepError::Conflict(format!("the evaluation cannot be written as JSON: {e}"))
    })?;
    store
        .add_evaluation(
            sweep.id,
            &config_id,
            evaluation.final_run.test.accuracy,
            Some(&model_dir.to_string_lossy()),
            &json,
        )
        .await?;
    Ok(evaluation)
}

/// The evaluation of `config_id` stored last, if any.
pub async fn stored(
    store: &Store,
    sweep: &SweepRow,
    config_id: &str,
) -> Result<Option<Evaluation>> {
    match store.latest_evaluation(sweep.id, Some(config_id)).await? {
        None => Ok(None),
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| SweepError::Conflict(format!("the stored evaluation of {config_id} is unreadable ({e}); evaluate it again (report --fresh)"))),
    }
}
