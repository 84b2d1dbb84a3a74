//! Read-only views of a sweep: counts, rates, summaries, fold metrics, workers.

use super::*;

/// A configuration whose summary is of a rung (successive halving), not of its end.
#[derive(Debug, Clone)]
pub struct PartialConfig {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    /// The same, decoded.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The epochs (budget) its summary was taken at.
    pub resource_epochs: Option<i64>,
    pub pruned: bool,
    pub summary: CvSummary,
    /// Its done folds (a race's dropped configurations ran fewer than the others).
    pub folds: i64,
}

/// One fold's recorded metrics (for exports).
#[derive(Debug, Clone)]
pub struct FoldMetrics {
    pub fold: i64,
    pub train_accuracy: f64,
    pub val_accuracy: f64,
    pub fit_seconds: f64,
    pub score_seconds: f64,
}

/// (configuration, fold, train accuracy, val accuracy, fit seconds, score seconds) as
/// read; an import may not know the times.
type FoldMetricRow = (String, i64, f64, f64, Option<f64>, Option<f64>);

/// A fold and how many times it was claimed.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Attempts {
    pub config_id: String,
    pub fold: i64,
    #[sqlx(try_from = "String")]
    pub state: FoldState,
    pub attempts: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub config_id: String,
    pub fold: i64,
    pub attempts: i64,
    pub error: String,
}

/// A finished fold, as a live view lists them (`serve`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct FinishedFold {
    pub id: i64,
    pub config_id: String,
    pub fold: i64,
    pub device: Option<String>,
    pub worker: Option<String>,
    pub finished_at: f64,
    pub train_accuracy: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub epochs_run: Option<i64>,
    pub fit_seconds: Option<f64>,
}

/// One fold of a configuration as its page shows it (`serve`): where and when it ran,
/// its scores and its per-epoch history (JSON, as stored).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FoldView {
    pub fold: i64,
    pub state: String,
    pub device: Option<String>,
    pub worker: Option<String>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub train_accuracy: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub epochs_run: Option<i64>,
    pub fit_seconds: Option<f64>,
    pub history_json: Option<String>,
    pub error: Option<String>,
}

/// A worker process as its folds' leases show it (for `status`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkerRow {
    pub host: String,
    pub pid: i64,
    /// Folds it holds with a valid lease.
    pub running: i64,
    /// (configuration, fold) of one of them.
    pub example: String,
    /// Seconds since its last heartbeat, by the database's clock.
    pub heartbeat_age: Option<f64>,
    /// Seconds until the last of its leases expires.
    pub lease_left: Option<f64>,
    /// A process of this host that no longer exists: its folds return to pending when
    /// their leases expire (or at once, when a run on this host starts).
    pub gone: bool,
}

impl Store {
    pub async fn counts(&self, sweep_id: i64) -> Result<Counts> {
        let rows: Vec<(String, i64)> = with_pool!(self, p => sqlx::query_as("SELECT state, COUNT(*) FROM folds WHERE sweep_id = $1 GROUP BY state")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .in_db(self))?;
        let mut c = Counts::default();
        for (state, n) in rows {
            match FoldState::try_from(state) {
                Ok(FoldState::Pending) => c.pending = n,
                Ok(FoldState::Running) => c.running = n,
                Ok(FoldState::Done) => c.done = n,
                Ok(FoldState::Failed) => c.failed = n,
                // The schema's CHECK admits no other.
                Err(_) => {}
            }
        }
        Ok(c)
    }

    /// Folds finished since `since` (Unix seconds), for rates.
    pub async fn finished_since(&self, sweep_id: i64, since: f64) -> Result<(i64, Option<f64>)> {
        with_pool!(self, p => sqlx::query_as("SELECT COUNT(*), MIN(finished_at) FROM folds WHERE sweep_id = $1 AND state IN ('done', 'failed') AND finished_at >= $2")
            .bind(sweep_id)
            .bind(since)
            .fetch_one(p)
            .await
            .in_db(self))
    }

    pub async fn failures(&self, sweep_id: i64) -> Result<Vec<Failure>> {
        let rows: Vec<(String, i64, i64, String)> = with_pool!(self, p => sqlx::query_as("SELECT config_id, fold, attempts, COALESCE(error, '') FROM folds WHERE sweep_id = $1 AND state = 'failed' ORDER BY id")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .in_db(self))?;
        Ok(rows
            .into_iter()
            .map(|(config_id, fold, attempts, error)| Failure {
                config_id,
                fold,
                attempts,
                error,
            })
            .collect())
    }

    /// Configurations of a sweep with their summary when complete (all folds trained to
    /// their end; a rung's partial summary is left out), in grid order.
    pub async fn configurations(&self, sweep_id: i64) -> Result<Vec<ConfigRow>> {
        #[derive(sqlx::FromRow)]
        struct Columns {
            config_id: String,
            position: i64,
            params_json: String,
            complete: Option<f64>,
            trained_by: Option<String>,
            #[sqlx(flatten)]
            summary: SummaryColumns,
        }
        let sql = format!(
            "SELECT config_id, position, params_json, CASE WHEN resource_epochs IS NULL AND pruned = 0 THEN completed_at END AS complete, trained_by, {SUMMARY_READ}
             FROM configurations WHERE sweep_id = $1 ORDER BY position"
        );
        let rows: Vec<Columns> = with_pool!(self, p => sqlx::query_as(&sql).bind(sweep_id).fetch_all(p).await.in_db(self))?;
        rows.into_iter()
            .map(|r| {
                Ok(ConfigRow {
                    params: self.params_of(&r.config_id, &r.params_json)?,
                    summary: r.complete.map(|_| r.summary.summary()),
                    shares_training_of: r.trained_by,
                    config_id: r.config_id,
                    position: r.position,
                    params_json: r.params_json,
                })
            })
            .collect()
    }

    /// A stored configuration's hyperparameters, decoded; unreadable ones are a damaged
    /// database, said with the configuration's id.
    pub(super) fn params_of(
        &self,
        config_id: &str,
        json: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        crate::config::params_object(json).map_err(|e| StoreError::Corrupt {
            db: self.name().to_string(),
            message: format!("configuration {config_id}: {e}"),
        })
    }

    /// Configurations with a partial summary (successive halving's rungs; a race's
    /// dropped configurations, over the folds they ran): each with its summary, the
    /// epochs it was taken at (None: full epochs, a race's), and whether the
    /// configuration was pruned.
    pub async fn partial_configurations(&self, sweep_id: i64) -> Result<Vec<PartialConfig>> {
        #[derive(sqlx::FromRow)]
        struct Columns {
            config_id: String,
            position: i64,
            params_json: String,
            resource_epochs: Option<i64>,
            pruned: i64,
            folds_done: i64,
            #[sqlx(flatten)]
            summary: SummaryColumns,
        }
        let sql = format!(
            "SELECT config_id, position, params_json, resource_epochs, pruned,
                    (SELECT COUNT(*) FROM folds f WHERE f.sweep_id = c.sweep_id AND f.config_id = COALESCE(c.trained_by, c.config_id) AND f.state = 'done' AND f.speculative = 0) AS folds_done,
                    {SUMMARY_READ}
             FROM configurations c WHERE sweep_id = $1 AND (resource_epochs IS NOT NULL OR pruned = 1) AND completed_at IS NOT NULL ORDER BY position"
        );
        let rows: Vec<Columns> = with_pool!(self, p => sqlx::query_as(&sql).bind(sweep_id).fetch_all(p).await.in_db(self))?;
        rows.into_iter()
            .map(|r| {
                Ok(PartialConfig {
                    params: self.params_of(&r.config_id, &r.params_json)?,
                    summary: r.summary.summary(),
                    config_id: r.config_id,
                    position: r.position,
                    params_json: r.params_json,
                    resource_epochs: r.resource_epochs,
                    pruned: r.pruned != 0,
                    folds: r.folds_done,
                })
            })
            .collect()
    }

    /// Per-fold metrics of every done fold of a sweep, keyed by configuration (a
    /// configuration that shares a training has that training's folds).
    pub async fn fold_metrics(
        &self,
        sweep_id: i64,
    ) -> Result<std::collections::HashMap<String, Vec<FoldMetrics>>> {
        let rows: Vec<FoldMetricRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT c.config_id, f.fold, f.train_accuracy, f.val_accuracy, f.fit_seconds, f.score_seconds
             FROM configurations c JOIN folds f ON f.sweep_id = c.sweep_id AND f.config_id = COALESCE(c.trained_by, c.config_id)
             WHERE c.sweep_id = $1 AND f.state = 'done' AND f.speculative = 0 ORDER BY c.config_id, f.fold",
        )
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .in_db(self))?;
        let mut map: std::collections::HashMap<String, Vec<FoldMetrics>> = Default::default();
        for (id, fold, train_accuracy, val_accuracy, fit_seconds, score_seconds) in rows {
            // (An import may not know the times: NaN.)
            let (fit_seconds, score_seconds) = (
                fit_seconds.unwrap_or(f64::NAN),
                score_seconds.unwrap_or(f64::NAN),
            );
            map.entry(id).or_default().push(FoldMetrics {
                fold,
                train_accuracy,
                val_accuracy,
                fit_seconds,
                score_seconds,
            });
        }
        Ok(map)
    }

    /// The details an import stored of its rows (`configurations.imported_json`), by
    /// configuration: empty for a sweep run here. A value this build cannot read is an
    /// error naming the configuration.
    pub async fn imported_details(
        &self,
        sweep_id: i64,
    ) -> Result<std::collections::HashMap<String, ImportedDetails>> {
        let rows: Vec<(String, String)> = with_pool!(self, p => sqlx::query_as(
            "SELECT config_id, imported_json FROM configurations WHERE sweep_id = $1 AND imported_json IS NOT NULL",
        )
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .in_db(self))?;
        rows.into_iter()
            .map(|(id, json)| match serde_json::from_str(&json) {
                Ok(d) => Ok((id, d)),
                Err(e) => Err(StoreError::Corrupt {
                    db: self.name.clone(),
                    message: format!(
                        "configuration {id}: imported_json is not what an import writes: {e}"
                    ),
                }),
            })
            .collect()
    }

    /// Per-fold results of one configuration (for tests and `cv` comparisons).
    pub async fn fold_results(&self, sweep_id: i64, config_id: &str) -> Result<Vec<FoldResult>> {
        with_pool!(self, p => {
            let rows: Vec<FoldColumns> = sqlx::query_as(FOLD_RESULTS).bind(sweep_id).bind(config_id).fetch_all(p).await.in_db(self)?;
            rows.into_iter().map(|r| r.result(self)).collect()
        })
    }

    /// Folds trained in one go from epoch 0 to their end (done, claimed once, not a
    /// rung's partial result nor a race's speculation, not under `run --fuse`): each configuration's
    /// hyperparameters, the epochs it ran and the seconds from claim to record. What
    /// `plan` calibrates its estimate from.
    pub async fn whole_fold_times(
        &self,
        sweep_id: i64,
    ) -> Result<Vec<(serde_json::Map<String, serde_json::Value>, i64, f64)>> {
        let rows: Vec<(String, String, i64, f64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT f.config_id, c.params_json, f.epochs_run, f.finished_at - f.started_at
             FROM folds f JOIN configurations c ON c.sweep_id = f.sweep_id AND c.config_id = f.config_id
             WHERE f.sweep_id = $1 AND f.state = 'done' AND f.attempts = 1 AND f.partial = 0 AND f.speculative = 0 AND f.fused = 1
               AND f.budget IS NULL AND f.epochs_run IS NOT NULL AND f.started_at IS NOT NULL AND f.finished_at IS NOT NULL
             ORDER BY f.id",
        )
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .in_db(self))?;
        rows.into_iter()
            .map(|(id, json, epochs, secs)| Ok((self.params_of(&id, &json)?, epochs, secs)))
            .collect()
    }

    /// How many of a sweep's done folds were trained under `run --fuse` (their spans
    /// are their groups').
    pub async fn fused_folds(&self, sweep_id: i64) -> Result<i64> {
        with_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state = 'done' AND fused > 1")
            .bind(sweep_id)
            .fetch_one(p)
            .await
            .in_db(self))
    }

    /// From the first claim to the last record of a sweep's done folds (seconds since
    /// the epoch); None without done folds.
    pub async fn active_span(&self, sweep_id: i64) -> Result<Option<(f64, f64)>> {
        let row: (Option<f64>, Option<f64>) = with_pool!(self, p => sqlx::query_as(
            "SELECT MIN(started_at), MAX(finished_at) FROM folds WHERE sweep_id = $1 AND state = 'done'",
        )
        .bind(sweep_id)
        .fetch_one(p)
        .await
        .in_db(self))?;
        Ok(row.0.zip(row.1))
    }

    /// (worker, claimed at, recorded at) of every done fold of a sweep.
    pub async fn fold_spans(&self, sweep_id: i64) -> Result<Vec<(String, f64, f64)>> {
        with_pool!(self, p => sqlx::query_as("SELECT COALESCE(worker, ''), started_at, finished_at FROM folds
             WHERE sweep_id = $1 AND state = 'done' AND started_at IS NOT NULL AND finished_at IS NOT NULL")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .in_db(self))
    }

    /// Done folds per recorded device label (`cpu`, `cpu+mkl-avx512`, `cuda:0`, ...).
    pub async fn done_fold_devices(&self, sweep_id: i64) -> Result<Vec<(String, i64)>> {
        with_pool!(self, p => sqlx::query_as(
            "SELECT COALESCE(device, '') AS d, COUNT(*) FROM folds WHERE sweep_id = $1 AND state = 'done' GROUP BY d ORDER BY d",
        )
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .in_db(self))
    }

    /// Running folds whose lease is still valid (by the database's clock): some worker
    /// is alive on them.
    pub async fn live_running(&self, sweep_id: i64) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state = 'running' AND lease_until >= {}", self.dialect.now());
        with_pool!(self, p => sqlx::query_scalar(&sql).bind(sweep_id).fetch_one(p).await.in_db(self))
    }

    /// The processes holding folds of a sweep with a valid lease: host, pid, how many,
    /// one of them, and the age of their last heartbeat.
    pub async fn workers(&self, sweep_id: i64) -> Result<Vec<WorkerRow>> {
        let now = self.dialect.now();
        let sql = format!(
            "SELECT owner_host, owner_pid, COUNT(*), MIN(config_id || ' fold ' || CAST(fold AS TEXT)), {now} - MAX(heartbeat_at),
                    MAX(lease_until) - {now}
             FROM folds WHERE sweep_id = $1 AND state = 'running' AND lease_until >= {now}
             GROUP BY owner_host, owner_pid ORDER BY owner_host, owner_pid"
        );
        // host, pid, running folds, one of them, heartbeat age, lease left
        type Row = (String, i64, i64, String, Option<f64>, Option<f64>);
        let rows: Vec<Row> = with_pool!(self, p => sqlx::query_as(&sql).bind(sweep_id).fetch_all(p).await.in_db(self))?;
        let here = Owner::this_process().host;
        Ok(rows
            .into_iter()
            .map(|(host, pid, running, example, heartbeat_age, lease_left)| {
                // A process of this host can be looked at: one that is gone (kill -9, a
                // crash) holds its folds only until their leases expire.
                let gone = host == here && !process_alive(pid);
                WorkerRow {
                    host,
                    pid,
                    running,
                    example,
                    heartbeat_age,
                    lease_left,
                    gone,
                }
            })
            .collect())
    }

    /// How many times each fold was claimed, for the exactly-once checks.
    pub async fn attempts(&self, sweep_id: i64) -> Result<Vec<Attempts>> {
        with_pool!(self, p => sqlx::query_as("SELECT config_id, fold, state, attempts FROM folds WHERE sweep_id = $1 ORDER BY id")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .in_db(self))
    }

    /// The sweep's done folds finished after `after` (Unix seconds), oldest first, at
    /// most `limit`: what a live view has not seen yet. One short read; no history.
    pub async fn finished_folds(
        &self,
        sweep_id: i64,
        after: f64,
        limit: i64,
    ) -> Result<Vec<FinishedFold>> {
        with_pool!(self, p => {
            sqlx::query_as::<_, FinishedFold>(
                "SELECT id, config_id, fold, device, worker, finished_at, train_accuracy, val_accuracy, epochs_run, fit_seconds \
                 FROM folds WHERE sweep_id = $1 AND state = 'done' AND finished_at > $2 ORDER BY finished_at, id LIMIT $3",
            )
            .bind(sweep_id)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await
            .in_db(self)
        })
    }

    /// Every fold of one configuration, by fold (`serve`'s configuration page).
    pub async fn config_folds(&self, sweep_id: i64, config_id: &str) -> Result<Vec<FoldView>> {
        with_pool!(self, p => sqlx::query_as::<_, FoldView>(
            "SELECT fold, state, device, worker, started_at, finished_at, train_accuracy, val_accuracy, epochs_run, fit_seconds, history_json, error \
             FROM folds WHERE sweep_id = $1 AND config_id = $2 ORDER BY fold",
        )
        .bind(sweep_id)
        .bind(config_id)
        .fetch_all(p)
        .await
        .in_db(self))
    }
}
