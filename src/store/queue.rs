//! The fold queue: claims with leases, heartbeats, release, and recording a finished
//! fold with its configuration's summary in one transaction (the summary itself is
//! the sweep logic's, handed in as a closure).

use super::*;

/// Is a process of this host alive? (Linux: /proc; elsewhere assume yes, and the lease
/// decides.)
pub(super) fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// A claim as its query returns it.
#[derive(sqlx::FromRow)]
struct ClaimColumns {
    fold_id: i64,
    config_id: String,
    fold: i64,
    budget: Option<i64>,
    checkpoint_epochs: Option<i64>,
}

impl From<ClaimColumns> for Claim {
    fn from(c: ClaimColumns) -> Self {
        Claim {
            fold_id: c.fold_id,
            config_id: c.config_id,
            fold: c.fold,
            budget: c.budget,
            checkpoint_epochs: c.checkpoint_epochs,
        }
    }
}

/// Turns a configuration's done folds into its summary: the sweep's score rule, handed
/// in by the sweep logic (the store stores; it does not score).
pub type Summarize<'a> = dyn Fn(&[FoldResult]) -> CvSummary + Sync + 'a;

impl Store {
    /// `--retry-failed`: failed folds become pending again.
    pub async fn requeue_failed(&self, sweep_id: i64) -> Result<u64> {
        with_pool!(self, p => {
            let r = sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL WHERE sweep_id = $1 AND state = 'failed'")
                .bind(sweep_id)
                .execute(p)
                .await
                .in_db(self)?;
            Ok(r.rows_affected())
        })
    }

    /// Running folds whose owner was a process of this host that no longer exists
    /// (killed, crashed) go back to pending at once, without waiting for the lease.
    /// Only this host's processes: another machine's are judged by their leases.
    pub async fn reclaim_dead(&self, sweep_id: i64, me: &Owner) -> Result<u64> {
        with_pool!(self, p => {
            let pids: Vec<i64> = sqlx::query_scalar(
                "SELECT DISTINCT owner_pid FROM folds WHERE sweep_id = $1 AND state = 'running' AND owner_host = $2 AND owner_pid != $3",
            )
            .bind(sweep_id)
            .bind(&me.host)
            .bind(me.pid as i64)
            .fetch_all(p)
            .await
            .in_db(self)?;
            let mut n = 0;
            for pid in pids.into_iter().filter(|p| !process_alive(*p)) {
                let r = sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL WHERE sweep_id = $1 AND state = 'running' AND owner_host = $2 AND owner_pid = $3")
                    .bind(sweep_id)
                    .bind(&me.host)
                    .bind(pid)
                    .execute(p)
                    .await
                    .in_db(self)?;
                n += r.rows_affected();
            }
            Ok(n)
        })
    }

    /// Claims the next fold: a pending one (through the partial index on pending folds),
    /// else a running one whose lease has expired by the database's clock. Atomic.
    /// The two claim statements: a pending fold, else an expired one.
    pub(super) fn claim_sql(&self) -> [String; 2] {
        let now = self.dialect.now();
        ["state = 'pending'".to_string(), format!("state = 'running' AND lease_until < {now}")].map(|which| {
            format!(
                "UPDATE folds SET state = 'running', attempts = attempts + 1, worker = $1, owner_host = $2, owner_pid = $3,
                        lease_until = {now} + $4, started_at = {now}, heartbeat_at = {now}, device = $5
                 WHERE id = (SELECT id FROM folds WHERE sweep_id = $6 AND {which} ORDER BY id LIMIT 1{skip})
                 {CLAIM_RETURNING}",
                skip = self.dialect.skip_locked()
            )
        })
    }

    pub async fn claim(
        &self,
        sweep_id: i64,
        owner: &Owner,
        worker: &str,
        lease: Duration,
        device: &str,
    ) -> Result<Option<Claim>> {
        for sql in self.claim_sql() {
            let row = with_pool!(self, p => sqlx::query_as::<_, ClaimColumns>(&sql)
                .bind(worker)
                .bind(&owner.host)
                .bind(owner.pid as i64)
                .bind(lease.as_secs_f64())
                .bind(device)
                .bind(sweep_id)
                .fetch_optional(p)
                .await
                .in_db(self))?;
            if row.is_some() {
                return Ok(row.map(Claim::from));
            }
        }
        Ok(None)
    }

    /// Heartbeat: extends the leases of this process's running folds.
    pub async fn renew(&self, sweep_id: i64, owner: &Owner, lease: Duration) -> Result<()> {
        let now = self.dialect.now();
        let sql = format!(
            "UPDATE folds SET lease_until = {now} + $1, heartbeat_at = {now}
             WHERE sweep_id = $2 AND state = 'running' AND owner_host = $3 AND owner_pid = $4"
        );
        with_pool!(self, p => sqlx::query(&sql)
            .bind(lease.as_secs_f64())
            .bind(sweep_id)
            .bind(&owner.host)
            .bind(owner.pid as i64)
            .execute(p)
            .await
            .map(|_| ())
            .in_db(self))?;
        Ok(())
    }

    /// Puts every fold this process still holds back to pending (at the end of a run).
    pub async fn release_owned(&self, sweep_id: i64, owner: &Owner) -> Result<u64> {
        with_pool!(self, p => {
            let r = sqlx::query(
                "UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL,
                        attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
                 WHERE sweep_id = $1 AND state = 'running' AND owner_host = $2 AND owner_pid = $3",
            )
            .bind(sweep_id)
            .bind(&owner.host)
            .bind(owner.pid as i64)
            .execute(p)
            .await
            .in_db(self)?;
            Ok(r.rows_affected())
        })
    }

    /// Puts folds this worker holds back to pending (abandoned by a second Ctrl-C).
    pub async fn release(&self, fold_id: i64, worker: &str) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL,
                    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
             WHERE id = $1 AND state = 'running' AND worker = $2",
        )
        .bind(fold_id)
        .bind(worker)
        .execute(p)
        .await
        .map(|_| ())
        .in_db(self))?;
        Ok(())
    }

    /// Records a finished fold, and its configuration's summary when it was the last
    /// one, in one transaction; `summarize` (the sweep logic: the score rule) turns the
    /// configuration's done folds into that summary. Returns the completed
    /// configuration, if any. A fold whose claim was lost (lease expired and taken
    /// over) is not written: the new owner's result stands.
    pub async fn record_done(
        &self,
        fold_id: i64,
        worker: &str,
        r: &FoldResult,
        summarize: &Summarize<'_>,
    ) -> Result<Option<CompletedConfig>> {
        Ok(self
            .record_done_then_claim(fold_id, worker, r, summarize, None)
            .await?
            .completed)
    }

    /// [`record_done`](Self::record_done), and in the same transaction the worker's next
    /// claim (`next`: sweep, owner, lease, device): one round trip and one write lock
    /// per fold instead of two.
    // Long on purpose: one transaction, whose statements run on the one `tx` that
    // `with_pool!` types per backend; helpers would each need to be generic over
    // sqlx's `Database` to share it.
    pub async fn record_done_then_claim(
        &self,
        fold_id: i64,
        worker: &str,
        r: &FoldResult,
        summarize: &Summarize<'_>,
        next: Option<(i64, &Owner, Duration, &str)>,
    ) -> Result<Recorded> {
        let history = serde_json::to_string(&r.history).unwrap_or_else(|_| "[]".into());
        let t = now();
        let claim_sql = self.claim_sql();
        let mut freed = false;
        let recorded = with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            let updated = sqlx::query(
                "UPDATE folds SET state = 'done', finished_at = $1, lease_until = NULL, error = NULL,
                        train_accuracy = $2, train_loss = $3, val_accuracy = $4, val_loss = $5, epochs_run = $6,
                        final_learning_rate = $7, fit_seconds = $8, score_seconds = $9, history_json = $10, scored_epoch = $11,
                        partial = $14, checkpoint_epochs = CASE WHEN $14 = 1 THEN checkpoint_epochs END, fused = $15
                 WHERE id = $12 AND state = 'running' AND worker = $13
                 RETURNING sweep_id, config_id, speculative",
            )
            .bind(t)
            .bind(r.train_accuracy)
            .bind(r.train_loss)
            .bind(r.val_accuracy)
            .bind(r.val_loss)
            .bind(r.epochs_run as i64)
            .bind(r.final_learning_rate)
            .bind(r.fit_seconds)
            .bind(r.score_seconds)
            .bind(&history)
            .bind(r.scored_epoch as i64)
            .bind(fold_id)
            .bind(worker)
            .bind(r.partial as i64)
            .bind(r.fused.max(1) as i64)
            .fetch_optional(&mut *tx)
            .await
            .in_db(self)?;
            let Some(row) = updated else {
                // Taken over by another worker after its lease expired, or gone: a
                // speculative fold of a configuration that left its race.
                let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE id = $1").bind(fold_id).fetch_one(&mut *tx).await.in_db(self)?;
                tx.rollback().await.in_db(self)?;
                return Ok(Recorded { written: false, gone: exists == 0, completed: None, rung_summary: false, next: None });
            };
            if !r.partial {
                // A complete fold needs no saved state any more.
                freed = sqlx::query("DELETE FROM checkpoints WHERE fold_id = $1").bind(fold_id).execute(&mut *tx).await.in_db(self)?.rows_affected() > 0;
            }
            let (sweep_id, config_id): (i64, String) = (row.get("sweep_id"), row.get("config_id"));
            let speculative = row.get::<i64, _>("speculative") != 0;
            if let Some(lock) = self.dialect.lock_rows("SELECT config_id FROM configurations WHERE sweep_id = $1 AND config_id = $2") {
                // Two workers recording a configuration's last two folds at once queue
                // here, so the second sees the first's fold done (READ COMMITTED).
                sqlx::query(&lock)
                    .bind(sweep_id)
                    .bind(&config_id)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
            }
            // A race's speculative fold (trained ahead while a barrier waits) completes
            // nothing: its barrier decides whether it counts. Nor does one keep a
            // configuration's stage from completing.
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND config_id = $2 AND state != 'done' AND speculative = 0")
                .bind(sweep_id)
                .bind(&config_id)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            let (mut completed, mut rung_summary) = (None, false);
            if open == 0 && !speculative {
                let (position, params_json, s, resource) = write_summary!(self, tx, sweep_id, &config_id, summarize, t);
                rung_summary = resource.is_some();
                if resource.is_none() {
                    completed = Some(CompletedConfig { config_id: config_id.clone(), position, params_json, summary: s });
                }
            }
            // (No `updated_at` of the sweep here: one row every worker would update is a
            // lock all of them queue on. A sweep's last update is read from its folds.)
            let mut claim = None;
            if let Some((next_sweep, owner, lease, device)) = next {
                for sql in &claim_sql {
                    let row = sqlx::query_as::<_, ClaimColumns>(sql)
                        .bind(worker)
                        .bind(&owner.host)
                        .bind(owner.pid as i64)
                        .bind(lease.as_secs_f64())
                        .bind(device)
                        .bind(next_sweep)
                        .fetch_optional(&mut *tx)
                        .await
                        .in_db(self)?;
                    if row.is_some() {
                        claim = row.map(Claim::from);
                        break;
                    }
                }
            }
            tx.commit().await.in_db(self)?;
            Ok(Recorded { written: true, gone: false, completed, rung_summary, next: claim })
        });
        if freed {
            self.reclaim().await;
        }
        recorded
    }

    pub async fn record_failed(&self, fold_id: i64, worker: &str, error: &str) -> Result<()> {
        with_pool!(self, p => sqlx::query("UPDATE folds SET state = 'failed', finished_at = $1, lease_until = NULL, error = $2 WHERE id = $3 AND state = 'running' AND worker = $4")
            .bind(now())
            .bind(error)
            .bind(fold_id)
            .bind(worker)
            .execute(p)
            .await
            .map(|_| ())
            .in_db(self))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::FoldState;

    /// The four states are the schema's: its CHECK lists the same names, in order, on
    /// both backends.
    #[test]
    fn fold_states_are_the_schemas() {
        for schema in [
            include_str!("../../migrations/sqlite/20261124170000_initial.sql"),
            include_str!("../../migrations/postgres/20261124170000_initial.sql"),
        ] {
            let check = schema
                .split("CHECK (state IN (")
                .nth(1)
                .expect("the folds' state CHECK")
                .split("))")
                .next()
                .unwrap_or_default();
            let names: Vec<&str> = check
                .split(',')
                .map(|s| s.trim().trim_matches('\''))
                .collect();
            assert_eq!(names, FoldState::ALL.map(FoldState::as_str));
            for s in FoldState::ALL {
                assert_eq!(FoldState::try_from(s.as_str().to_string()).ok(), Some(s));
            }
        }
        assert!(FoldState::try_from("paused".to_string()).is_err());
    }
}
