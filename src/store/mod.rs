//! The results database, written through sqlx: one SQLite file by default
//! (`sqlite.rs`), or a PostgreSQL database when a sweep spans machines
//! (`postgres.rs`). The schema is plain-SQL migrations in `migrations/<backend>/`,
//! embedded in the binary and applied on open; the tables and columns are the same on
//! both, and every query below is written once, with `$N` parameters both backends
//! read. Where the backends must differ (the clock, how a claim skips rows others
//! hold, how the last fold's transaction is serialised) the difference is a fragment
//! chosen in one place, [`Dialect`].
//!
//! The unit of work is a fold. A fold is claimed by one conditional UPDATE (atomic on
//! both backends), carries a lease that the claimant's heartbeat renews, and is written
//! in one transaction when it finishes, only while the claimant still holds it; the
//! configuration's summary is written in that same transaction when its last fold is
//! done. A claim whose lease has expired (by the database's clock), or whose owner
//! process on this host is gone (`kill -9`), is claimable again.

pub mod postgres;
pub mod sqlite;

use crate::config::Config;
use crate::fold::FoldResult;
use crate::score::CvSummary;
use sqlx::{PgPool, Row, SqlitePool};
use std::path::Path;
use std::time::Duration;

/// The connection pool of one backend.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code on whichever pool: the SQL is written once, and `$p` is the
/// backend's pool (its rows are read into the `FromRow` structs of `rows.rs`, which
/// both backends' rows fill).
macro_rules! with_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// Inside a transaction `$tx` of `$store`: summarises `$config_id`'s done folds
/// (`speculative = 0`) with `$summarize`, writes the summary with `completed_at` `$t`
/// (and to the configurations sharing its training); evaluates to the configuration's
/// `(position, params_json, summary, resource epochs)`. A macro because the statements
/// run on the one backend-typed `tx` of `with_pool!` (as the long transactions do).
macro_rules! write_summary {
    ($store:expr, $tx:expr, $sweep_id:expr, $config_id:expr, $summarize:expr, $t:expr) => {{
        let rows: Vec<FoldColumns> = sqlx::query_as(FOLD_RESULTS).bind($sweep_id).bind($config_id).fetch_all(&mut *$tx).await.in_db($store)?;
        let folds = rows.into_iter().map(|r| r.result($store)).collect::<Result<Vec<FoldResult>>>()?;
        let s = $summarize(&folds);
        // A rung's summary (some fold stopped at its budget) is partial: it says at how
        // many epochs it was taken.
        let resource = folds.iter().filter(|f| f.partial).map(|f| f.epochs_run as i64).max();
        let row = sqlx::query(
            "UPDATE configurations SET mean_train_accuracy = $1, std_train_accuracy = $2, mean_val_accuracy = $3,
                    std_val_accuracy = $4, mean_train_loss = $5, std_train_loss = $6, mean_val_loss = $7, std_val_loss = $8,
                    delta_accuracy = $9, score = $10, total_fit_seconds = $11, completed_at = $12, resource_epochs = $15
             WHERE sweep_id = $13 AND config_id = $14
             RETURNING position, params_json, config_id",
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
        .bind($t)
        .bind($sweep_id)
        .bind($config_id)
        .bind(resource)
        .fetch_all(&mut *$tx)
        .await
        .in_db($store)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt { db: $store.name.clone(), message: format!("configuration {} has folds but no row", $config_id) })?;
        // ... and every configuration that shares the training (by its index).
        sqlx::query(&copy_shared_summary_sql("sweep_id = $1 AND trained_by = $2"))
            .bind($sweep_id)
            .bind($config_id)
            .execute(&mut *$tx)
            .await
            .in_db($store)?;
        let position: i64 = row.get("position");
        let params_json: String = row.get("params_json");
        (position, params_json, s, resource)
    }};
}

/// Copies the summary of the configuration holding a training to the configurations
/// `selection` picks among those sharing it (`trained_by` set).
fn copy_shared_summary_sql(selection: &str) -> String {
    format!(
        "UPDATE configurations SET ({SUMMARY_COLUMNS}) = (SELECT {SUMMARY_COLUMNS} FROM configurations l
             WHERE l.sweep_id = configurations.sweep_id AND l.config_id = configurations.trained_by)
         WHERE {selection}"
    )
}

/// A configuration's summary, as `record_done` writes it.
const SUMMARY_COLUMNS: &str = "mean_train_accuracy, std_train_accuracy, mean_val_accuracy, std_val_accuracy,
        mean_train_loss, std_train_loss, mean_val_loss, std_val_loss, delta_accuracy, score, total_fit_seconds, completed_at,
        resource_epochs, rung, pruned";

// The store by concern; each adds its part of `impl Store` (the macros above are the
// row readers they share).
mod admin;
mod checkpoints;
mod copy;
mod dialect;
mod error;
mod evaluations;
pub mod location;
mod queue;
mod race;
mod reads;
mod rows;
mod rungs;
mod sweeps;

// The domain's vocabulary, for the store's own modules (others name `crate::domain`).
use crate::config::ConfigRow;
use crate::domain::{
    Ahead, Claim, CompletedConfig, Counts, FoldState, ImportedDetails, Owner, RaceDecision,
    RaceEntry, Recorded, RungCandidate, RungPlan, RungRow, RungScore, RungStep,
};
pub use admin::Removed;
pub use copy::{ConfigDump, CopyCounts, FoldDump, SweepDump};
use dialect::Dialect;
use error::{migrate, InDb};
pub use error::{Result, StoreError};
pub use location::DbLocation;
use queue::process_alive;
pub use queue::Summarize;
pub use reads::{Attempts, Failure, FinishedFold, FoldMetrics, FoldView, PartialConfig, WorkerRow};
use rows::{FoldColumns, SummaryColumns, CLAIM_RETURNING, FOLD_RESULTS, SUMMARY_READ, SWEEPS};
use rungs::{RungScoreColumns, RUNG_SCORES};
pub use sweeps::{ImportedConfig, Rung0Budget, SweepRow};

/// Why a database holding `tables` (and opened to be gridsweep's) is another
/// program's: tables, but no gridsweep schema (sqlx's `_sqlx_migrations`). An empty
/// database is new, and one with the schema is gridsweep's (of some version).
fn foreign(tables: &[String]) -> Option<StoreError> {
    if tables.is_empty() || tables.iter().any(|t| t == "_sqlx_migrations") {
        return None;
    }
    let mut shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    if tables.len() > 5 {
        shown.push("…");
    }
    Some(StoreError::Corrupt {
        db: String::new(),
        message: format!(
            "not a gridsweep database: it holds {} ({}) and no gridsweep schema (no _sqlx_migrations table); nothing was changed. \
             Give --db a new file or a gridsweep database (PostgreSQL: a database or schema of its own)",
            text_tables(tables.len()),
            shown.join(", ")
        ),
    })
}

fn text_tables(n: usize) -> String {
    if n == 1 {
        "1 table".into()
    } else {
        format!("{n} tables")
    }
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub struct Store {
    pool: Pool,
    dialect: Dialect,
    location: DbLocation,
    /// `location` as errors show it.
    name: String,
    /// The directory `open` created for a new SQLite file (the outermost), if any.
    created_dir: Option<std::path::PathBuf>,
}

impl Store {
    /// Opens (creating a SQLite file if needed) the database and applies pending
    /// migrations: a file path or a `postgres://` URL.
    pub async fn open(db: impl Into<DbLocation>) -> Result<Store> {
        let location = db.into();
        // A URL of a scheme not taken never becomes a file of that name.
        DbLocation::try_parse(&location.to_url()).map_err(StoreError::Location)?;
        let name = location.to_string();
        let (pool, dialect, created_dir) = match &location {
            DbLocation::Sqlite(path) => {
                let (pool, created) = sqlite::open(path).await?;
                (Pool::Sqlite(pool), Dialect::Sqlite, created)
            }
            DbLocation::Postgres(url) => (
                Pool::Postgres(postgres::open(url, &name).await?),
                Dialect::Postgres,
                None,
            ),
        };
        Ok(Store {
            pool,
            dialect,
            location,
            name,
            created_dir,
        })
    }

    /// The directory [`Store::open`] created for a new SQLite file (the outermost of
    /// those it made), so that a front end can say so.
    pub fn created_dir(&self) -> Option<&std::path::Path> {
        self.created_dir.as_deref()
    }

    /// Opens a database that must exist already (commands that only read a sweep): a
    /// mistyped file path is an error, not a new empty database. (A PostgreSQL
    /// database exists or the connection says so.)
    pub async fn open_existing(db: impl Into<DbLocation>) -> Result<Store> {
        let location = db.into();
        if let Some(file) = location.file() {
            if !file.exists() {
                return Err(StoreError::Missing {
                    db: location.to_string(),
                });
            }
        }
        Store::open(location).await
    }

    /// Opens an existing database for reading only (`serve`): a SQLite file read-only,
    /// PostgreSQL in READ ONLY transactions; no migration, nothing created.
    pub async fn open_read_only(db: impl Into<DbLocation>) -> Result<Store> {
        let location = db.into();
        DbLocation::try_parse(&location.to_url()).map_err(StoreError::Location)?;
        let name = location.to_string();
        let (pool, dialect) = match &location {
            DbLocation::Sqlite(path) => {
                if !path.exists() {
                    return Err(StoreError::Missing { db: name });
                }
                (
                    Pool::Sqlite(sqlite::open_read_only(path).await?),
                    Dialect::Sqlite,
                )
            }
            DbLocation::Postgres(url) => (
                Pool::Postgres(postgres::open_read_only(url, &name).await?),
                Dialect::Postgres,
            ),
        };
        let store = Store {
            pool,
            dialect,
            location,
            name,
            created_dir: None,
        };
        store.check_schema().await?;
        Ok(store)
    }

    /// The CPU kernel paths (device labels `cpu…`) of sweep `name`'s done folds, most
    /// folds first, read without migrating or checking the schema (any gridsweep
    /// version's database has these columns): what a `run` continuing the sweep keeps.
    /// Empty where the database or the sweep does not exist yet.
    pub async fn recorded_cpu_paths(
        db: impl Into<DbLocation>,
        name: &str,
    ) -> Result<Vec<(String, i64)>> {
        let location: DbLocation = db.into();
        if location.file().is_some_and(|f| !f.exists()) {
            return Ok(Vec::new());
        }
        let store = match &location {
            DbLocation::Sqlite(path) => Store {
                pool: Pool::Sqlite(sqlite::open_probe(path).await?),
                dialect: Dialect::Sqlite,
                name: location.to_string(),
                location,
                created_dir: None,
            },
            DbLocation::Postgres(url) => {
                let name = location.to_string();
                Store {
                    pool: Pool::Postgres(postgres::open_read_only(url, &name).await?),
                    dialect: Dialect::Postgres,
                    name,
                    location,
                    created_dir: None,
                }
            }
        };
        let rows: std::result::Result<Vec<(String, i64)>, sqlx::Error> = with_pool!(store, p => sqlx::query_as(
            "SELECT f.device, COUNT(*) FROM folds f JOIN sweeps s ON s.id = f.sweep_id
             WHERE s.name = $1 AND f.state = 'done' AND f.device LIKE 'cpu%' GROUP BY f.device ORDER BY COUNT(*) DESC, f.device",
        )
        .bind(name)
        .fetch_all(p)
        .await);
        store.close().await;
        // A database without gridsweep's tables yet (a new or foreign one) records none.
        Ok(rows.unwrap_or_default())
    }

    /// A database opened without migrating must be at this binary's schema: an older
    /// one lacks columns the reads name, a newer one may mean other things by them.
    async fn check_schema(&self) -> Result<()> {
        let known = error::newest(match self.dialect {
            Dialect::Sqlite => &sqlite::MIGRATOR,
            Dialect::Postgres => &postgres::MIGRATOR,
        });
        let version: Option<i64> = with_pool!(self, p => sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(p)
        .await
        .map_err(|e| match e.to_string().contains("_sqlx_migrations") {
            true => StoreError::Corrupt { db: self.name.clone(), message: "it holds no gridsweep schema (no _sqlx_migrations table): not a gridsweep database".into() },
            false => StoreError::from_sql(e).at(&self.name),
        }))?;
        let (db, version) = (self.name.clone(), version.unwrap_or(0));
        match version.cmp(&known) {
            std::cmp::Ordering::Less => Err(StoreError::Older { db, version, known }),
            std::cmp::Ordering::Greater => Err(StoreError::Newer { db, version, known }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    pub fn location(&self) -> &DbLocation {
        &self.location
    }

    /// The database as messages name it (a URL without its password).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn close(self) {
        with_pool!(self, p => p.close().await)
    }

    /// Gives the pages that deleted training states leave free back to the file system
    /// (SQLite files made with incremental auto-vacuum; a no-op for older files and for
    /// PostgreSQL, whose autovacuum does this). Called after each transaction that
    /// deletes saved states, so that a halving sweep's file shrinks as its states are
    /// dropped instead of keeping its peak size. A short write of its own: a failure
    /// (a busy file) is left to the next call.
    pub(crate) async fn reclaim(&self) {
        if let Pool::Sqlite(p) = &self.pool {
            let _ = sqlx::query("PRAGMA incremental_vacuum").execute(p).await;
            // The file itself shrinks when the write-ahead log is copied back into it: a
            // passive checkpoint, which waits for no reader or writer (it copies what it
            // can, and the automatic ones do the rest).
            let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(p)
                .await;
        }
    }

    /// A SQLite file's pages in all and free ones (None for PostgreSQL): what
    /// `reclaim` gives back shows in the second.
    pub async fn sqlite_pages(&self) -> Result<Option<(i64, i64)>> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(p)
                    .await
                    .in_db(self)?;
                let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                    .fetch_one(p)
                    .await
                    .in_db(self)?;
                Ok(Some((pages, free)))
            }
            Pool::Postgres(_) => Ok(None),
        }
    }
}
