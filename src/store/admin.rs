//! Whole-sweep housekeeping: removing a sweep, and the sweep-wide best a running
//! process shows.
//!
//! Kept apart from the fold queue: nothing here is on a worker's hot path, and a
//! removal touches every table a sweep has rows in, in one transaction, so a sweep is
//! either wholly there or wholly gone.

use super::{InDb, Pool, Result, Store};
use sqlx::Row;

/// What [`Store::delete_sweep`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub configurations: u64,
    pub folds: u64,
    /// Folds that were done among them.
    pub done_folds: u64,
    pub checkpoints: u64,
    pub evaluations: u64,
    pub rung_scores: u64,
}

/// The tables of a sweep, children first (foreign keys), each with its selection.
const DELETIONS: [&str; 7] = [
    "DELETE FROM checkpoints WHERE fold_id IN (SELECT id FROM folds WHERE sweep_id = $1)",
    "DELETE FROM rung_scores WHERE sweep_id = $1",
    "DELETE FROM brackets WHERE sweep_id = $1",
    "DELETE FROM evaluations WHERE sweep_id = $1",
    "DELETE FROM folds WHERE sweep_id = $1",
    "DELETE FROM configurations WHERE sweep_id = $1",
    "DELETE FROM sweeps WHERE id = $1",
];

impl Store {
    /// Removes a sweep and everything recorded of it, in one transaction. The caller
    /// decides whether it may (see `sweep::delete`); this only removes.
    pub async fn delete_sweep(&self, sweep_id: i64) -> Result<Removed> {
        let removed = self.delete_sweep_in_one(sweep_id).await?;
        self.reclaim().await;
        Ok(removed)
    }

    async fn delete_sweep_in_one(&self, sweep_id: i64) -> Result<Removed> {
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state = 'done'")
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            let mut n = [0u64; 7];
            for (i, sql) in DELETIONS.iter().enumerate() {
                n[i] = sqlx::query(sql).bind(sweep_id).execute(&mut *tx).await.in_db(self)?.rows_affected();
            }
            tx.commit().await.in_db(self)?;
            Ok(Removed {
                checkpoints: n[0],
                rung_scores: n[1],
                evaluations: n[3],
                folds: n[4],
                configurations: n[5],
                done_folds: done as u64,
            })
        })
    }

    /// The sweep's best complete configuration by its stored score (the sweep's score
    /// rule), ties by grid position as `rank` breaks them: (config id, score). Cheap
    /// enough to ask on every heartbeat, so a process shows the sweep's best, not its own.
    pub async fn best(&self, sweep_id: i64) -> Result<Option<(String, f64)>> {
        with_pool!(self, p => {
            let row = sqlx::query(
                "SELECT config_id, score FROM configurations
                 WHERE sweep_id = $1 AND score IS NOT NULL AND completed_at IS NOT NULL AND resource_epochs IS NULL AND pruned = 0
                 ORDER BY score DESC, position LIMIT 1",
            )
            .bind(sweep_id)
            .fetch_optional(p)
            .await
            .in_db(self)?;
            Ok(row.map(|r| (r.get("config_id"), r.get("score"))))
        })
    }
}
