//! The work a run hands the scheduler: every configuration of the sweep with its
//! hyperparameters, how the display names them, and the data's description.

use super::{Result, SweepError};
use crate::config::ConfigRow;
use crate::cv::CvSets;
use crate::params::HyperParams;
use crate::sched::SweepJob;
use crate::spec::Spec;
use crate::store::Store;
use std::collections::HashMap;

/// The scheduler's job for sweep `sweep_id` (registered from `spec`), over every
/// configuration the sweep holds, also those an earlier spec version added.
/// `resume_hint` is the command that continues it.
pub async fn job(
    store: &Store,
    spec: &Spec,
    data: &CvSets,
    sweep_id: i64,
    new_configs: usize,
    resume_hint: String,
) -> Result<SweepJob> {
    let rows = store.configurations(sweep_id).await?;
    let mut params = HashMap::new();
    for r in &rows {
        let p = HyperParams::from_object(&r.params).map_err(|source| SweepError::StoredParams {
            config_id: r.config_id.clone(),
            source,
        })?;
        params.insert(r.config_id.clone(), p);
    }
    let prepared = &data.base.prepared;
    let others: Vec<String> = data
        .others
        .iter()
        .map(|(_, d)| d.prepared.train.len().to_string())
        .collect();
    let training = match others.len() {
        0 => format!("{} training", prepared.train.len()),
        _ => format!(
            "{} training; {} on the sub-grids' own partitions",
            prepared.train.len(),
            others.join(", ")
        ),
    };
    Ok(SweepJob {
        sweep_id,
        name: spec.name.clone(),
        data_description: format!(
            "{} rows ({training}), {}",
            prepared.dataset.y.len(),
            prepared.dataset.describe_features()
        ),
        params,
        configs: rows.len(),
        new_configs,
        score: spec.score,
        labels: labels(&rows),
        brackets: super::brackets(spec)?,
        race: match spec.search.race() {
            Some(race) => Some(crate::race::Rules {
                race,
                k: spec.cv.folds,
                max_folds: race.max_folds(spec.cv.folds, spec.cv.repeats),
                rule: spec.score,
                dims: Some((data.base.n_features(), data.base.n_classes())),
                budget: race
                    .budget_fits(
                        rows.iter()
                            .filter(|r| r.shares_training_of.is_none())
                            .count(),
                        spec.cv.folds,
                        spec.cv.repeats,
                    )
                    .map_err(|why| SweepError::Spec(format!("search.{why}")))?,
            }),
            None => None,
        },
        resume_hint,
    })
}

/// Each configuration's varying hyperparameters, `key value` pairs as `rank` shows them.
pub fn labels(rows: &[ConfigRow]) -> HashMap<String, String> {
    let keys = crate::rank::varying_keys(rows.iter().map(|r| r.params.clone()));
    rows.iter()
        .map(|r| {
            let pairs: Vec<String> = keys
                .iter()
                .map(|k| format!("{k} {}", crate::export::param_cell(&r.params, k)))
                .collect();
            (r.config_id.clone(), pairs.join(", "))
        })
        .collect()
}

/// Done folds of the sweep that ran on the CPU with other MKL kernels than `here` (a
/// device label): (their label, how many). fp32 results differ in rounding between
/// them, so a sweep continued this way holds both.
pub async fn other_cpu_kernels(
    store: &Store,
    sweep_id: i64,
    here: &str,
) -> Result<Vec<(String, i64)>> {
    Ok(store
        .done_fold_devices(sweep_id)
        .await?
        .into_iter()
        .filter(|(there, _)| there.starts_with("cpu") && there != here)
        .collect())
}
