//! The rows an export writes (`gridsweep export`).
//!
//! By default only complete configurations. With `--include-partial`, successive
//! halving's stopped ones come with their rung's summary, and every row says the
//! epochs its numbers are of (`resource_epochs`): a complete configuration's are its
//! configured epochs.

use super::Result;
use crate::config::ConfigRow;
use crate::domain::ImportedDetails;
use crate::score::ScoreRule;
use crate::store::{FoldMetrics, PartialConfig, Store, SweepRow};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct ExportRows {
    pub rows: Vec<ConfigRow>,
    /// Per configuration, its folds' metrics (empty unless asked for).
    pub folds: HashMap<String, Vec<FoldMetrics>>,
    /// Per configuration without a summary, its failed folds (with the folds): a
    /// cv-results export writes them as scikit-learn does a failed fit (NaN).
    pub failed: HashMap<String, Vec<i64>>,
    /// With partial rows: the epochs each row's numbers are of, and which did not
    /// complete.
    pub resource: Option<crate::export::PartialRows>,
    /// The sweep's score rule (the export's `delta_acc`).
    pub rule: ScoreRule,
    /// The tie set of the complete configurations (added columns `in_tie_set`,
    /// `p_not_worse`), where the sweep has fold scores.
    pub ties: Option<HashMap<String, (bool, f64)>>,
    /// An imported sweep's rows: what their file stated beyond the scores.
    pub imported: HashMap<String, ImportedDetails>,
}

/// Hyperparameter keys of the rows that are not gridsweep's (a sweep imported with
/// `--foreign` holds another model's labels), sorted.
pub fn foreign_keys(rows: &[ConfigRow]) -> Vec<String> {
    foreign_keys_of(rows.iter().map(|r| &r.params))
}

/// [`foreign_keys`] of any configurations' hyperparameter objects (ranked rows too).
pub fn foreign_keys_of<'a>(
    params: impl IntoIterator<Item = &'a serde_json::Map<String, serde_json::Value>>,
) -> Vec<String> {
    let mut keys: Vec<String> = params
        .into_iter()
        .flat_map(|p| p.keys())
        .filter(|k| !crate::params::KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

pub async fn export_rows(
    store: &Store,
    sweep: &SweepRow,
    include_partial: bool,
    with_folds: bool,
) -> Result<ExportRows> {
    let mut rows = store.configurations(sweep.id).await?;
    let resource = if include_partial {
        let partial = store.partial_configurations(sweep.id).await?;
        let stopped = partial.iter().map(|p| p.config_id.clone()).collect();
        Some(crate::export::PartialRows {
            epochs: merge_partial(&mut rows, partial),
            stopped,
        })
    } else {
        None
    };
    let folds = if with_folds {
        store.fold_metrics(sweep.id).await?
    } else {
        HashMap::new()
    };
    let mut failed: HashMap<String, Vec<i64>> = HashMap::new();
    if with_folds {
        let unscored: std::collections::HashSet<&str> = rows
            .iter()
            .filter(|r| r.summary.is_none())
            .map(|r| r.config_id.as_str())
            .collect();
        for f in store.failures(sweep.id).await? {
            if unscored.contains(f.config_id.as_str()) {
                failed.entry(f.config_id).or_default().push(f.fold);
            }
        }
    }
    let rule = super::score_rule(sweep)?;
    let complete = crate::rank::rank(&store.configurations(sweep.id).await?, &rule);
    let ties = super::ranking::tie_set(
        store,
        sweep,
        &complete,
        &rule,
        &super::ranking::tie_settings(sweep),
        None,
    )
    .await?
    .map(|t| super::ranking::tie_columns(&t));
    let imported = store.imported_details(sweep.id).await?;
    Ok(ExportRows {
        rows,
        folds,
        failed,
        resource,
        rule,
        ties,
        imported,
    })
}

/// Gives each stopped configuration its rung's summary; returns the epochs every row
/// with a summary is of.
fn merge_partial(rows: &mut [ConfigRow], partial: Vec<PartialConfig>) -> HashMap<String, i64> {
    let partial: HashMap<String, PartialConfig> = partial
        .into_iter()
        .map(|p| (p.config_id.clone(), p))
        .collect();
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

/// `cv_results_`'s `param_*` columns: the hyperparameters the sweep's grid varies; for
/// a sweep imported without a spec, those its file stated, in the file's order (then
/// each row's cells and `params` hold only what it stated, as scikit-learn leaves a key
/// a sub-grid does not set empty).
pub fn cv_columns<'a>(sweep: &SweepRow, x: &'a ExportRows) -> Result<crate::export::CvColumns<'a>> {
    let spec = super::stored_spec(sweep)?;
    let expansion = spec.expand()?;
    let subgrids = spec.grid.subgrids();
    let subgrid_keys: HashMap<String, Vec<String>> = if subgrids.len() > 1 {
        expansion
            .configs
            .iter()
            .zip(&expansion.subgrid)
            .map(|(c, &g)| (c.id.clone(), subgrids[g].keys().cloned().collect()))
            .collect()
    } else {
        HashMap::new()
    };
    let mut keys = expansion.grid_keys;
    let stated_only = keys.is_empty() && !x.imported.is_empty();
    if stated_only {
        let mut rows: Vec<(&String, &ImportedDetails)> = x.imported.iter().collect();
        // (In the file's row order: the configurations' recorded order.)
        let position: HashMap<&str, usize> = x
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.config_id.as_str(), i))
            .collect();
        rows.sort_by_key(|(id, _)| position.get(id.as_str()).copied().unwrap_or(usize::MAX));
        for (_, d) in rows {
            for k in &d.stated {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    Ok(crate::export::CvColumns {
        n_folds: sweep.folds as usize,
        keys,
        imported: &x.imported,
        stated_only,
        subgrid_keys,
        failed: &x.failed,
    })
}
