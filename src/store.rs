//! The results database: one SQLite file, written through sqlx.
//!
//! SQLite because a sweep's state must survive a crash at any instant and be readable
//! with `sqlite3` by a user; WAL mode so readers (`status`, `rank`) never block the
//! writer; a busy timeout so two `gridsweep run` processes on one file wait for each
//! other instead of failing. The schema is plain-SQL migrations in `migrations/`,
//! embedded in the binary and applied on open.
//!
//! The unit of work is a fold. A fold is claimed by one conditional UPDATE (atomic in
//! SQLite), carries a lease that the claimant's heartbeat renews, and is written in one
//! transaction when it finishes; the configuration's summary is written in that same
//! transaction when its last fold is done. A claim whose lease has expired, or whose
//! owner process on this host is gone (`kill -9`), is claimable again.

use crate::cv::{self, CvSummary};
use crate::spec::Config;
use crate::train::FoldResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("database {path}: migration failed: {source}")]
    Migrate {
        path: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("database {path}: cannot create its folder: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("database {path} does not exist (a sweep creates it: `gridsweep run SPEC --db {path}`; `--db` names another)")]
    Missing { path: PathBuf },
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    fn from_sql(source: sqlx::Error) -> Self {
        StoreError::Sql { path: PathBuf::new(), source }
    }

    fn from_migrate(source: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate { path: PathBuf::new(), source }
    }

    fn at(self, path: &Path) -> Self {
        match self {
            StoreError::Sql { source, .. } => StoreError::Sql { path: path.into(), source },
            StoreError::Migrate { source, .. } => StoreError::Migrate { path: path.into(), source },
            other => other,
        }
    }

    /// SQLITE_BUSY or SQLITE_LOCKED, also inside a migration error.
    fn is_busy(&self) -> bool {
        let text = match self {
            StoreError::Sql { source, .. } => source.to_string(),
            StoreError::Migrate { source, .. } => source.to_string(),
            _ => return false,
        };
        text.contains("database is locked") || text.contains("(code: 5)") || text.contains("(code: 6)") || text.contains("busy")
    }
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Who holds a claim: this host, this process, and the worker slot in it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
}

impl Owner {
    pub fn this_process() -> Owner {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".into());
        Owner { host, pid: std::process::id() }
    }

    pub fn worker(&self, slot: usize) -> String {
        format!("{}:{}:{}", self.host, self.pid, slot)
    }
}

/// Is a process of this host alive? (Linux: /proc; elsewhere assume yes, and the lease
/// decides.)
fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[derive(Debug, Clone)]
pub struct SweepRow {
    pub id: i64,
    pub name: String,
    pub spec_json: String,
    pub dataset_fingerprint: String,
    pub folds: i64,
    pub seed: i64,
    pub created_at: f64,
    pub updated_at: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl Counts {
    pub fn total(&self) -> i64 {
        self.pending + self.running + self.done + self.failed
    }
}

/// A claimed fold.
#[derive(Debug, Clone)]
pub struct Claim {
    pub fold_id: i64,
    pub config_id: String,
    pub fold: i64,
}

/// A configuration whose folds are all done.
#[derive(Debug, Clone)]
pub struct CompletedConfig {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    pub summary: CvSummary,
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub config_id: String,
    pub fold: i64,
    pub attempts: i64,
    pub error: String,
}

pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: path.into(), source })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(60))
            .foreign_keys(true);
        // Several processes opening a new file at once race to switch it to WAL and
        // to create the schema; the losers get SQLITE_BUSY at once (those steps do not
        // wait on the busy timeout) or a "table already exists", and succeed on a
        // later try.
        let mut attempt = 0u64;
        let pool = loop {
            let result = async {
                let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options.clone()).await.map_err(StoreError::from_sql)?;
                if let Err(e) = MIGRATOR.run(&pool).await {
                    pool.close().await;
                    return Err(StoreError::from_migrate(e));
                }
                Ok(pool)
            }
            .await;
            match result {
                Ok(pool) => break pool,
                // A migration error can be the loser of the schema race seeing the
                // winner's tables before its bookkeeping row: try a few times more.
                Err(e) if (attempt < 40 && e.is_busy()) || (attempt < 5 && matches!(e, StoreError::Migrate { .. })) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(25 * attempt.min(8))).await;
                }
                Err(e) => return Err(e.at(path)),
            }
        };
        Ok(Store { pool, path: path.into() })
    }

    /// Opens a database that must exist already (commands that only read a sweep):
    /// a mistyped path is an error, not a new empty database.
    pub async fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.into() });
        }
        Store::open(path).await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: sqlx::Error) -> StoreError {
        StoreError::Sql { path: self.path.clone(), source }
    }

    pub async fn close(self) {
        self.pool.close().await;
    }

    pub async fn sweep_by_name(&self, name: &str) -> Result<Option<SweepRow>> {
        let row = sqlx::query("SELECT id, name, spec_json, dataset_fingerprint, folds, seed, created_at, updated_at FROM sweeps WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(row.map(|r| sweep_row(&r)))
    }

    pub async fn sweeps(&self) -> Result<Vec<SweepRow>> {
        let rows = sqlx::query("SELECT id, name, spec_json, dataset_fingerprint, folds, seed, created_at, updated_at FROM sweeps ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(sweep_row).collect())
    }

    /// The sweep of this name, created with these values if absent (two processes
    /// starting the same sweep at once both get the one row).
    pub async fn ensure_sweep(&self, name: &str, spec_json: &str, fingerprint: &str, folds: usize, seed: u64) -> Result<SweepRow> {
        let t = now();
        sqlx::query("INSERT OR IGNORE INTO sweeps (name, spec_json, dataset_fingerprint, folds, seed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(name)
            .bind(spec_json)
            .bind(fingerprint)
            .bind(folds as i64)
            .bind(seed as i64)
            .bind(t)
            .bind(t)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        self.sweep_by_name(name).await?.ok_or_else(|| StoreError::Corrupt {
            path: self.path.clone(),
            message: format!("sweep `{name}` vanished right after it was created"),
        })
    }

    pub async fn update_spec(&self, sweep_id: i64, spec_json: &str) -> Result<()> {
        sqlx::query("UPDATE sweeps SET spec_json = ?, updated_at = ? WHERE id = ?")
            .bind(spec_json)
            .bind(now())
            .bind(sweep_id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Adds configurations not yet in the sweep, with their folds pending; returns how
    /// many were new. One transaction: all or nothing.
    pub async fn add_configs(&self, sweep_id: i64, configs: &[Config], folds: usize) -> Result<usize> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| self.err(e))?;
        let start: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM configurations WHERE sweep_id = ?")
            .bind(sweep_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let mut added = 0usize;
        for c in configs {
            let r = sqlx::query("INSERT OR IGNORE INTO configurations (sweep_id, config_id, position, params_json) VALUES (?, ?, ?, ?)")
                .bind(sweep_id)
                .bind(&c.id)
                .bind(start + added as i64)
                .bind(&c.canonical_json)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            if r.rows_affected() == 0 {
                continue;
            }
            for k in 0..folds {
                sqlx::query("INSERT INTO folds (sweep_id, config_id, fold) VALUES (?, ?, ?)")
                    .bind(sweep_id)
                    .bind(&c.id)
                    .bind(k as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            added += 1;
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(added)
    }

    /// `--retry-failed`: failed folds become pending again.
    pub async fn requeue_failed(&self, sweep_id: i64) -> Result<u64> {
        let r = sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL WHERE sweep_id = ? AND state = 'failed'")
            .bind(sweep_id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(r.rows_affected())
    }

    /// Running folds whose owner was a process of this host that no longer exists
    /// (killed, crashed) go back to pending at once, without waiting for the lease.
    pub async fn reclaim_dead(&self, sweep_id: i64, me: &Owner) -> Result<u64> {
        let pids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT owner_pid FROM folds WHERE sweep_id = ? AND state = 'running' AND owner_host = ? AND owner_pid != ?",
        )
        .bind(sweep_id)
        .bind(&me.host)
        .bind(me.pid as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut n = 0;
        for pid in pids.into_iter().filter(|p| !process_alive(*p)) {
            let r = sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL WHERE sweep_id = ? AND state = 'running' AND owner_host = ? AND owner_pid = ?")
                .bind(sweep_id)
                .bind(&me.host)
                .bind(pid)
                .execute(&self.pool)
                .await
                .map_err(|e| self.err(e))?;
            n += r.rows_affected();
        }
        Ok(n)
    }

    /// Claims the next fold: pending, or running with an expired lease. Atomic.
    pub async fn claim(&self, sweep_id: i64, owner: &Owner, worker: &str, lease: Duration, device: &str) -> Result<Option<Claim>> {
        let t = now();
        let row = sqlx::query(
            "UPDATE folds SET state = 'running', attempts = attempts + 1, worker = ?1, owner_host = ?2, owner_pid = ?3,
                    lease_until = ?4, started_at = ?5, device = ?6
             WHERE id = (SELECT id FROM folds
                         WHERE sweep_id = ?7 AND (state = 'pending' OR (state = 'running' AND lease_until < ?5))
                         ORDER BY id LIMIT 1)
             RETURNING id, config_id, fold",
        )
        .bind(worker)
        .bind(&owner.host)
        .bind(owner.pid as i64)
        .bind(t + lease.as_secs_f64())
        .bind(t)
        .bind(device)
        .bind(sweep_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| Claim { fold_id: r.get(0), config_id: r.get(1), fold: r.get(2) }))
    }

    /// Heartbeat: extends the leases of this process's running folds.
    pub async fn renew(&self, sweep_id: i64, owner: &Owner, lease: Duration) -> Result<()> {
        sqlx::query("UPDATE folds SET lease_until = ? WHERE sweep_id = ? AND state = 'running' AND owner_host = ? AND owner_pid = ?")
            .bind(now() + lease.as_secs_f64())
            .bind(sweep_id)
            .bind(&owner.host)
            .bind(owner.pid as i64)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Puts folds this worker holds back to pending (abandoned by a second Ctrl-C).
    pub async fn release(&self, fold_id: i64, worker: &str) -> Result<()> {
        sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL, attempts = MAX(attempts - 1, 0) WHERE id = ? AND state = 'running' AND worker = ?")
            .bind(fold_id)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a finished fold, and its configuration's summary when it was the last
    /// one, in one transaction. Returns the completed configuration, if any. A fold
    /// whose claim was lost (lease expired and taken over) is not written.
    pub async fn record_done(&self, fold_id: i64, worker: &str, r: &FoldResult, rule: &cv::ScoreRule) -> Result<Option<CompletedConfig>> {
        let history = serde_json::to_string(&r.history).unwrap_or_else(|_| "[]".into());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| self.err(e))?;
        let updated = sqlx::query(
            "UPDATE folds SET state = 'done', finished_at = ?, lease_until = NULL, error = NULL,
                    train_accuracy = ?, train_loss = ?, val_accuracy = ?, val_loss = ?, epochs_run = ?,
                    final_learning_rate = ?, fit_seconds = ?, score_seconds = ?, history_json = ?, scored_epoch = ?
             WHERE id = ? AND state = 'running' AND worker = ?
             RETURNING sweep_id, config_id",
        )
        .bind(now())
        .bind(r.train_accuracy)
        .bind(r.train_loss)
        .bind(r.val_accuracy)
        .bind(r.val_loss)
        .bind(r.epochs_run as i64)
        .bind(r.final_learning_rate)
        .bind(r.fit_seconds)
        .bind(r.score_seconds)
        .bind(history)
        .bind(r.scored_epoch as i64)
        .bind(fold_id)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let Some(row) = updated else {
            tx.rollback().await.map_err(|e| self.err(e))?;
            return Ok(None);
        };
        let (sweep_id, config_id): (i64, String) = (row.get(0), row.get(1));
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = ? AND config_id = ? AND state != 'done'")
            .bind(sweep_id)
            .bind(&config_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        let mut completed = None;
        if open == 0 {
            let folds = fold_results(&mut tx, sweep_id, &config_id).await.map_err(|e| self.err(e))?;
            let s = cv::summarize(&folds, rule);
            let row = sqlx::query(
                "UPDATE configurations SET mean_train_accuracy = ?, std_train_accuracy = ?, mean_val_accuracy = ?,
                        std_val_accuracy = ?, mean_train_loss = ?, std_train_loss = ?, mean_val_loss = ?, std_val_loss = ?,
                        delta_accuracy = ?, score = ?, total_fit_seconds = ?, completed_at = ?
                 WHERE sweep_id = ? AND config_id = ? RETURNING position, params_json",
            )
            .bind(s.mean_train_accuracy)
            .bind(s.std_train_accuracy)
            .bind(s.mean_val_accuracy)
            .bind(s.std_val_accuracy)
            .bind(s.mean_train_loss)
            .bind(s.std_train_loss)
            .bind(s.mean_val_loss)
            .bind(s.std_val_loss)
            .bind(s.delta_accuracy)
            .bind(s.score)
            .bind(s.total_fit_seconds)
            .bind(now())
            .bind(sweep_id)
            .bind(&config_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            completed = Some(CompletedConfig { config_id: config_id.clone(), position: row.get(0), params_json: row.get(1), summary: s });
        }
        sqlx::query("UPDATE sweeps SET updated_at = ? WHERE id = ?")
            .bind(now())
            .bind(sweep_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(completed)
    }

    pub async fn record_failed(&self, fold_id: i64, worker: &str, error: &str) -> Result<()> {
        sqlx::query("UPDATE folds SET state = 'failed', finished_at = ?, lease_until = NULL, error = ? WHERE id = ? AND state = 'running' AND worker = ?")
            .bind(now())
            .bind(error)
            .bind(fold_id)
            .bind(worker)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn counts(&self, sweep_id: i64) -> Result<Counts> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM folds WHERE sweep_id = ? GROUP BY state")
            .bind(sweep_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let mut c = Counts::default();
        for r in rows {
            let n: i64 = r.get(1);
            match r.get::<String, _>(0).as_str() {
                "pending" => c.pending = n,
                "running" => c.running = n,
                "done" => c.done = n,
                "failed" => c.failed = n,
                _ => {}
            }
        }
        Ok(c)
    }

    /// Folds finished since `since` (Unix seconds), for rates.
    pub async fn finished_since(&self, sweep_id: i64, since: f64) -> Result<(i64, Option<f64>)> {
        let row = sqlx::query("SELECT COUNT(*), MIN(finished_at) FROM folds WHERE sweep_id = ? AND state IN ('done', 'failed') AND finished_at >= ?")
            .bind(sweep_id)
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok((row.get(0), row.get(1)))
    }

    pub async fn failures(&self, sweep_id: i64) -> Result<Vec<Failure>> {
        let rows = sqlx::query("SELECT config_id, fold, attempts, COALESCE(error, '') FROM folds WHERE sweep_id = ? AND state = 'failed' ORDER BY id")
            .bind(sweep_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(|r| Failure { config_id: r.get(0), fold: r.get(1), attempts: r.get(2), error: r.get(3) }).collect())
    }

    /// Configurations of a sweep with their summary when complete, in grid order.
    pub async fn configurations(&self, sweep_id: i64) -> Result<Vec<(String, i64, String, Option<CvSummary>)>> {
        let rows = sqlx::query(
            "SELECT config_id, position, params_json, completed_at, mean_train_accuracy, std_train_accuracy,
                    mean_val_accuracy, std_val_accuracy, mean_train_loss, std_train_loss, mean_val_loss,
                    std_val_loss, delta_accuracy, score, total_fit_seconds
             FROM configurations WHERE sweep_id = ? ORDER BY position",
        )
        .bind(sweep_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let done: Option<f64> = r.get(3);
                let summary = done.map(|_| CvSummary {
                    mean_train_accuracy: r.get(4),
                    std_train_accuracy: r.get(5),
                    mean_val_accuracy: r.get(6),
                    std_val_accuracy: r.get(7),
                    mean_train_loss: r.get(8),
                    std_train_loss: r.get(9),
                    mean_val_loss: r.get(10),
                    std_val_loss: r.get(11),
                    delta_accuracy: r.get(12),
                    score: r.get(13),
                    total_fit_seconds: r.get(14),
                });
                (r.get(0), r.get(1), r.get(2), summary)
            })
            .collect())
    }

    /// Records an evaluation; returns its id.
    pub async fn add_evaluation(
        &self,
        sweep_id: i64,
        config_id: &str,
        test_accuracy: f64,
        model_dir: Option<&str>,
        evaluation_json: &str,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO evaluations (sweep_id, config_id, created_at, test_accuracy, model_dir, evaluation_json)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(sweep_id)
        .bind(config_id)
        .bind(now())
        .bind(test_accuracy)
        .bind(model_dir)
        .bind(evaluation_json)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.get(0))
    }

    /// The newest evaluation's JSON of a sweep (of one configuration, if given).
    pub async fn latest_evaluation(&self, sweep_id: i64, config_id: Option<&str>) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT evaluation_json FROM evaluations WHERE sweep_id = ? AND (? IS NULL OR config_id = ?)
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(sweep_id)
        .bind(config_id)
        .bind(config_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Per-fold metrics of every done fold of a sweep, keyed by configuration.
    pub async fn fold_metrics(&self, sweep_id: i64) -> Result<std::collections::HashMap<String, Vec<FoldMetrics>>> {
        let rows = sqlx::query(
            "SELECT config_id, fold, train_accuracy, val_accuracy, fit_seconds, score_seconds
             FROM folds WHERE sweep_id = ? AND state = 'done' ORDER BY config_id, fold",
        )
        .bind(sweep_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        let mut map: std::collections::HashMap<String, Vec<FoldMetrics>> = Default::default();
        for r in rows {
            map.entry(r.get(0)).or_default().push(FoldMetrics {
                fold: r.get(1),
                train_accuracy: r.get(2),
                val_accuracy: r.get(3),
                fit_seconds: r.get(4),
                score_seconds: r.get(5),
            });
        }
        Ok(map)
    }

    /// Per-fold results of one configuration (for tests and `cv` comparisons).
    pub async fn fold_results(&self, sweep_id: i64, config_id: &str) -> Result<Vec<FoldResult>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.err(e))?;
        fold_results(&mut conn, sweep_id, config_id).await.map_err(|e| self.err(e))
    }

    /// Seconds each done fold spent with its worker (claim to result), for the share
    /// of wall time spent outside training.
    pub async fn fold_durations(&self, sweep_id: i64) -> Result<Vec<f64>> {
        sqlx::query_scalar("SELECT finished_at - started_at FROM folds WHERE sweep_id = ? AND state = 'done'")
            .bind(sweep_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    /// (worker, claimed at, recorded at) of every done fold of a sweep.
    pub async fn fold_spans(&self, sweep_id: i64) -> Result<Vec<(String, f64, f64)>> {
        sqlx::query_as("SELECT worker, started_at, finished_at FROM folds WHERE sweep_id = ? AND state = 'done'")
            .bind(sweep_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    /// Done folds per recorded device label (`cpu`, `cpu+mkl-avx512`, `cuda:0`, ...).
    pub async fn done_fold_devices(&self, sweep_id: i64) -> Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT COALESCE(device, ''), COUNT(*) FROM folds WHERE sweep_id = ? AND state = 'done' GROUP BY 1 ORDER BY 1",
        )
        .bind(sweep_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    /// Running folds whose lease is still valid: some worker is alive on them.
    pub async fn live_running(&self, sweep_id: i64) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = ? AND state = 'running' AND lease_until >= ?")
            .bind(sweep_id)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    /// How many times each fold was claimed (attempts), for the exactly-once checks.
    pub async fn attempts(&self, sweep_id: i64) -> Result<Vec<(String, i64, String, i64)>> {
        let rows = sqlx::query("SELECT config_id, fold, state, attempts FROM folds WHERE sweep_id = ? ORDER BY id")
            .bind(sweep_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }
}

fn sweep_row(r: &sqlx::sqlite::SqliteRow) -> SweepRow {
    SweepRow {
        id: r.get(0),
        name: r.get(1),
        spec_json: r.get(2),
        dataset_fingerprint: r.get(3),
        folds: r.get(4),
        seed: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
    }
}

async fn fold_results(
    conn: &mut sqlx::SqliteConnection,
    sweep_id: i64,
    config_id: &str,
) -> std::result::Result<Vec<FoldResult>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT train_accuracy, train_loss, val_accuracy, val_loss, epochs_run, final_learning_rate,
                fit_seconds, score_seconds, history_json, COALESCE(scored_epoch, epochs_run)
         FROM folds WHERE sweep_id = ? AND config_id = ? AND state = 'done' ORDER BY fold",
    )
    .bind(sweep_id)
    .bind(config_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| FoldResult {
            train_accuracy: r.get(0),
            train_loss: r.get(1),
            val_accuracy: r.get(2),
            val_loss: r.get(3),
            epochs_run: r.get::<i64, _>(4) as u32,
            final_learning_rate: r.get(5),
            fit_seconds: r.get(6),
            score_seconds: r.get(7),
            scored_epoch: r.get::<i64, _>(9) as u32,
            history: serde_json::from_str(&r.get::<String, _>(8)).unwrap_or_default(),
        })
        .collect())
}
