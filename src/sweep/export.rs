//! The rows an export writes (`gridsweep export`).
//!
//! By default only complete configurations. With `--include-partial`, successive
//! halving's stopped ones come with their rung's summary, and every row says the
//! epochs its numbers are of (`resource_epochs`): a complete configuration's are its
//! configured epochs.

use super::Result;
use crate::config::ConfigRow;
use crate::score::ScoreRule;
use crate::store::{FoldMetrics, PartialConfig, Store, SweepRow};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ExportRows {
    pub rows: Vec<ConfigRow>,
    /// Per configuration, its folds' metrics (empty unless asked for).
    pub folds: HashMap<String, Vec<FoldMetrics>>,
    /// With partial rows: the epochs each row's numbers are of.
    pub resource: Option<HashMap<String, i64>>,
    /// The sweep's score rule (the export's `delta_acc`).
    pub rule: ScoreRule,
    /// The tie set of the complete configurations (added columns `in_tie_set`,
    /// `p_not_worse`), where the sweep has fold scores.
    pub ties: Option<HashMap<String, (bool, f64)>>,
}

pub async fn export_rows(store: &Store, sweep: &SweepRow, include_partial: bool, with_folds: bool) -> Result<ExportRows> {
    let mut rows = store.configurations(sweep.id).await?;
    let resource = if include_partial {
        let partial = store.partial_configurations(sweep.id).await?;
        Some(merge_partial(&mut rows, partial))
    } else {
        None
    };
    let folds = if with_folds { store.fold_metrics(sweep.id).await? } else { HashMap::new() };
    let rule = super::score_rule(sweep)?;
    let complete = crate::rank::rank(&store.configurations(sweep.id).await?, &rule);
    let ties = super::ranking::tie_set(store, sweep, &complete, &rule, &super::ranking::tie_settings(sweep), None)
        .await?
        .map(|t| super::ranking::tie_columns(&t));
    Ok(ExportRows { rows, folds, resource, rule, ties })
}

/// Gives each stopped configuration its rung's summary; returns the epochs every row
/// with a summary is of.
fn merge_partial(rows: &mut [ConfigRow], partial: Vec<PartialConfig>) -> HashMap<String, i64> {
    let partial: HashMap<String, PartialConfig> = partial.into_iter().map(|p| (p.config_id.clone(), p)).collect();
    let mut resource = HashMap::new();
    for r in rows.iter_mut() {
        match partial.get(&r.config_id) {
            Some(p) => {
                r.summary = Some(p.summary.clone());
                // (A race's dropped configurations ran their folds at full epochs.)
                let full = r.params.get("epochs").and_then(Value::as_i64).unwrap_or(0);
                resource.insert(r.config_id.clone(), p.resource_epochs.unwrap_or(full));
            }
            None if r.summary.is_some() => {
                let epochs = r.params.get("epochs").and_then(Value::as_i64).unwrap_or(0);
                resource.insert(r.config_id.clone(), epochs);
            }
            None => {}
        }
    }
    resource
}

/// The hyperparameters the sweep's grid varies (`cv_results_`'s `param_*` columns).
pub fn grid_keys(sweep: &SweepRow) -> Result<Vec<String>> {
    Ok(super::stored_spec(sweep)?.expand()?.grid_keys)
}
