//! What the benchmark reads back from a benchmark sweep's database: the fold-fits, the
//! training arithmetic they did, each fold's time with its worker, and the
//! configurations' mean validation accuracies (`gridsweep bench`).

use super::{Result, SweepError};
use crate::params::HyperParams;
use crate::store::Store;

/// A benchmark sweep as its database records it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub fits: usize,
    /// Training FLOPs of every fold-fit (`bench::fold_fit_flops`).
    pub flops: f64,
    /// (worker, claimed at, recorded at) of each fold: training, scoring, and moving
    /// its data to tensors; the rest of the wall time is outside training.
    pub spans: Vec<(String, f64, f64)>,
    /// (optimizer, dropout, mean val accuracy) of each complete configuration.
    pub val: Vec<(String, f64, f64)>,
    /// Epochs trained, over every fold.
    pub epochs: u64,
}

/// The sweep `name` of `store`, as [`Recorded`].
pub async fn recorded(store: &Store, name: &str) -> Result<Recorded> {
    let sweep = store.sweep_by_name(name).await?.ok_or_else(|| {
        SweepError::Conflict(format!(
            "benchmark sweep `{name}` is missing from {}",
            store.name()
        ))
    })?;
    let rows = store.configurations(sweep.id).await?;
    let spec = super::stored_spec(&sweep)?;
    let data = crate::cv::CvData::load(&spec.dataset, spec.cv.folds)?;
    let mut r = Recorded {
        fits: 0,
        flops: 0.0,
        spans: Vec::new(),
        val: Vec::new(),
        epochs: 0,
    };
    for row in &rows {
        let p =
            HyperParams::from_object(&row.params).map_err(|source| SweepError::StoredParams {
                config_id: row.config_id.clone(),
                source,
            })?;
        for (k, f) in store
            .fold_results(sweep.id, &row.config_id)
            .await?
            .iter()
            .enumerate()
        {
            let fit_rows = data.fold_of.iter().filter(|&&x| x != k).count();
            r.flops += crate::bench::fold_fit_flops(
                &p,
                data.n_features(),
                data.n_classes(),
                fit_rows,
                f.epochs_run,
            );
            r.fits += 1;
            r.epochs += f.epochs_run as u64;
        }
        if let Some(s) = &row.summary {
            r.val.push((
                p.optimizer.name().to_string(),
                p.dropout,
                s.mean_val_accuracy,
            ));
        }
    }
    r.spans = store.fold_spans(sweep.id).await?;
    Ok(r)
}
