//! Saved training states of running folds, so an interrupted fold continues where it
//! stopped.

use super::*;

impl Store {
    /// Saves a running fold's training state (replacing its previous one), if this
    /// worker still holds the fold; returns whether it did.
    pub async fn save_checkpoint(
        &self,
        fold_id: i64,
        worker: &str,
        epochs: u32,
        state: &[u8],
    ) -> Result<bool> {
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            let held = sqlx::query("UPDATE folds SET checkpoint_epochs = $1 WHERE id = $2 AND state = 'running' AND worker = $3")
                .bind(epochs as i64)
                .bind(fold_id)
                .bind(worker)
                .execute(&mut *tx)
                .await
                .in_db(self)?
                .rows_affected()
                == 1;
            if held {
                sqlx::query(
                    "INSERT INTO checkpoints (fold_id, epochs, saved_at, state) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (fold_id) DO UPDATE SET epochs = excluded.epochs, saved_at = excluded.saved_at, state = excluded.state",
                )
                .bind(fold_id)
                .bind(epochs as i64)
                .bind(now())
                .bind(state)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            }
            tx.commit().await.in_db(self)?;
            Ok(held)
        })
    }

    /// A fold's saved training state: (epochs, encoded state).
    pub async fn checkpoint(&self, fold_id: i64) -> Result<Option<(i64, Vec<u8>)>> {
        with_pool!(self, p => sqlx::query_as("SELECT epochs, state FROM checkpoints WHERE fold_id = $1")
            .bind(fold_id)
            .fetch_optional(p)
            .await
            .in_db(self))
    }

    /// Saved training states of a sweep: how many, and their total size in bytes.
    pub async fn checkpoint_storage(&self, sweep_id: i64) -> Result<(i64, i64)> {
        with_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(c.state)), 0) AS BIGINT) FROM checkpoints c JOIN folds f ON f.id = c.fold_id WHERE f.sweep_id = $1",
        )
        .bind(sweep_id)
        .fetch_one(p)
        .await
        .in_db(self))
    }
}
