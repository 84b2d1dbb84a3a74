//! The database's sweeps as a whole: the overview `list` shows, and removing one.

use super::Result;
use crate::domain::Counts;
use crate::store::{Removed, Store, SweepRow};

/// One line of `list`.
#[derive(Debug, Clone)]
pub struct Overview {
    pub sweep: SweepRow,
    pub counts: Counts,
    pub configurations: usize,
    /// The best complete configuration by the sweep's score rule: (id, score).
    pub best: Option<(String, f64)>,
}

pub async fn overview(store: &Store) -> Result<Vec<Overview>> {
    let mut out = Vec::new();
    for sweep in store.sweeps().await? {
        let counts = store.counts(sweep.id).await?;
        let rows = store.configurations(sweep.id).await?;
        let best = crate::rank::rank(&rows, &super::score_rule(&sweep)?)
            .first()
            .map(|r| (r.config_id.clone(), r.score));
        out.push(Overview {
            sweep,
            counts,
            configurations: rows.len(),
            best,
        });
    }
    Ok(out)
}

/// What `delete` did.
#[derive(Debug, Clone)]
pub enum Deletion {
    Removed(Removed),
    /// Refused: running workers hold this many of its folds (host:pid of each).
    Busy {
        folds: i64,
        workers: Vec<String>,
    },
}

/// Removes a sweep, unless a live worker holds one of its folds (then only with
/// `force`: that worker's results are lost and its process ends with an error).
/// "Live" is what `status` says: a worker of this host whose process is gone (kill -9,
/// a crash) holds nothing, whatever its leases say.
pub async fn delete(store: &Store, sweep: &SweepRow, force: bool) -> Result<Deletion> {
    let live: Vec<_> = store
        .workers(sweep.id)
        .await?
        .into_iter()
        .filter(|w| !w.gone)
        .collect();
    let folds: i64 = live.iter().map(|w| w.running).sum();
    if folds > 0 && !force {
        let workers = live
            .iter()
            .map(|w| format!("{}:{}", w.host, w.pid))
            .collect();
        return Ok(Deletion::Busy { folds, workers });
    }
    Ok(Deletion::Removed(store.delete_sweep(sweep.id).await?))
}
