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

use crate::score::CvSummary;
use crate::config::Config;
use crate::train::FoldResult;
use crate::search::Halving;
use sqlx::{PgPool, Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the results live: `--db` as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A file path: SQLite.
    Sqlite(PathBuf),
    /// `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl DbLocation {
    pub fn parse(s: &str) -> DbLocation {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            DbLocation::Postgres(s.to_string())
        } else {
            DbLocation::Sqlite(PathBuf::from(s))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DbLocation::Postgres(_))
    }

    /// As `--db` takes it (a URL with its password: for child processes, not for
    /// messages).
    pub fn to_url(&self) -> String {
        match self {
            DbLocation::Sqlite(p) => p.to_string_lossy().into_owned(),
            DbLocation::Postgres(url) => url.clone(),
        }
    }

    /// The URL's password, if it carries one.
    pub fn password(&self) -> Option<&str> {
        let DbLocation::Postgres(url) = self else { return None };
        let (scheme, at) = (url.find("://")?, url.rfind('@')?);
        (at > scheme).then(|| &url[scheme + 3..at]).and_then(|userinfo| userinfo.split_once(':')).map(|(_, pw)| pw)
    }

    /// As `--db` takes it, without a password (for scripts and hints; the client then
    /// reads PGPASSWORD or ~/.pgpass).
    pub fn without_password(&self) -> String {
        match (self, self.password()) {
            (DbLocation::Postgres(url), Some(pw)) => url.replacen(&format!(":{pw}@"), "@", 1),
            _ => self.to_url(),
        }
    }

    /// A PostgreSQL URL's host when it is this machine only (localhost, a loopback
    /// address, no host at all, or a Unix socket folder).
    pub fn local_host(&self) -> Option<String> {
        let DbLocation::Postgres(url) = self else { return None };
        let rest = &url[url.find("://")? + 3..];
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let hostport = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
        let host = if let Some(v6) = hostport.strip_prefix('[') { v6.split(']').next().unwrap_or("") } else { hostport.split(':').next().unwrap_or("") };
        // A `host=` parameter overrides (a socket folder starts with '/').
        let host = rest
            .split_once('?')
            .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("host=")))
            .unwrap_or(host);
        let local = host.is_empty() || host.starts_with('/') || host.eq_ignore_ascii_case("localhost") || host == "::1" || host.starts_with("127.");
        local.then(|| if host.is_empty() { "not given (the local socket)".to_string() } else { host.to_string() })
    }

    /// The SQLite file, if it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            DbLocation::Sqlite(p) => Some(p),
            DbLocation::Postgres(_) => None,
        }
    }
}

impl std::fmt::Display for DbLocation {
    /// A URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::Sqlite(p) => write!(f, "{}", p.display()),
            DbLocation::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let userinfo = &url[scheme + 3..at];
                    let user = userinfo.split(':').next().unwrap_or("");
                    let hidden = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
                    write!(f, "{}{}{}", &url[..scheme + 3], hidden, &url[at..])
                }
                _ => write!(f, "{url}"),
            },
        }
    }
}

impl From<&str> for DbLocation {
    fn from(s: &str) -> Self {
        DbLocation::parse(s)
    }
}
impl From<&String> for DbLocation {
    fn from(s: &String) -> Self {
        DbLocation::parse(s)
    }
}
impl From<&Path> for DbLocation {
    fn from(p: &Path) -> Self {
        DbLocation::parse(&p.to_string_lossy())
    }
}
impl From<&PathBuf> for DbLocation {
    fn from(p: &PathBuf) -> Self {
        DbLocation::parse(&p.to_string_lossy())
    }
}
impl From<&DbLocation> for DbLocation {
    fn from(d: &DbLocation) -> Self {
        d.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {db}: {source}")]
    Sql {
        db: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database {db}: migration failed: {source}")]
    Migrate {
        db: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("database {db} was written by a newer gridsweep (its schema has migration {version}; this gridsweep knows up to {known}): use that version, or another database")]
    Newer { db: String, version: i64, known: i64 },
    #[error("database {db}: {source}")]
    Io {
        db: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database {db}: {message}")]
    Corrupt { db: String, message: String },
    #[error("database {db} unreachable for {seconds:.0} s, gave up ({last}); nothing recorded is lost: the folds this process held return to pending when their leases expire, and `gridsweep resume` continues")]
    Unreachable { db: String, seconds: f64, last: String },
    #[error("stopped by Ctrl-C while waiting {seconds:.0} s for database {db}: the folds this process held return to pending when their leases expire, and `gridsweep resume` continues (results finished while it waited were not recorded and train again)")]
    Interrupted { db: String, seconds: f64 },
    #[error("database {db}: {why}")]
    Connect { db: String, why: String },
    #[error("database {db} does not exist (a sweep creates it: `gridsweep run SPEC --db {db}`; `--db` names another)")]
    Missing { db: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    fn from_sql(source: sqlx::Error) -> Self {
        StoreError::Sql { db: String::new(), source }
    }

    fn at(self, db: &str) -> Self {
        match self {
            StoreError::Sql { source, .. } => StoreError::Sql { db: db.into(), source },
            StoreError::Migrate { source, .. } => StoreError::Migrate { db: db.into(), source },
            StoreError::Newer { version, known, .. } => StoreError::Newer { db: db.into(), version, known },
            other => other,
        }
    }

    /// The connection was lost (the server restarted or is unreachable, the network
    /// failed): worth waiting for, unlike a refused statement.
    pub fn is_connection_lost(&self) -> bool {
        let StoreError::Sql { source, .. } = self else { return false };
        match source {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
            // PostgreSQL: connection exceptions (08…), the server shutting down or
            // starting (57P01-57P03).
            sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")),
            _ => false,
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

/// Applies the pending migrations; a database that has a migration this binary does
/// not know was written by a newer gridsweep and is refused as such.
async fn migrate<'a, A>(m: &sqlx::migrate::Migrator, conn: A) -> Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    m.run(conn).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(version) => {
            StoreError::Newer { db: String::new(), version, known: m.iter().map(|x| x.version).max().unwrap_or(0) }
        }
        e => StoreError::Migrate { db: String::new(), source: e },
    })
}

/// The connection pool of one backend.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code on whichever pool: the SQL is written once, and `$p` is the
/// backend's pool (its rows are read by column index, as both backends allow).
macro_rules! with_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

mod admin;
pub use admin::Removed;

/// The SQL that differs between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The database's current time, Unix seconds.
    fn now(self) -> &'static str {
        match self {
            Dialect::Sqlite => sqlite::NOW,
            Dialect::Postgres => postgres::NOW,
        }
    }

    /// Appended to the claim's row selection: PostgreSQL skips rows other claimants
    /// hold; SQLite serialises writers anyway.
    fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// How a writing transaction begins: SQLite takes the write lock at once (no
    /// upgrade deadlock between two writers).
    fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
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

/// A configuration whose summary is of a rung (successive halving), not of its end.
#[derive(Debug, Clone)]
pub struct PartialConfig {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    /// The epochs (budget) its summary was taken at.
    pub resource_epochs: Option<i64>,
    pub pruned: bool,
    pub summary: CvSummary,
}

/// A configuration of a complete rung, as the store hands it to the rung's planner.
#[derive(Debug, Clone, PartialEq)]
pub struct RungCandidate {
    pub config_id: String,
    pub position: i64,
    /// Its hyperparameters (canonical JSON, as stored).
    pub params_json: String,
    /// All its folds are done and summarised (a failed fold leaves it unscored).
    pub scored: bool,
    /// The sweep's score at this rung (None when unscored).
    pub score: Option<f64>,
    pub mean_val_accuracy: Option<f64>,
    /// The epochs its rung summary was taken at; None: it trained to its end.
    pub resource_epochs: Option<i64>,
}

/// The sweep logic's decision on a complete rung.
#[derive(Debug, Clone, PartialEq)]
pub struct RungPlan {
    /// Nothing goes on: the rung's scores are recorded and the search is over.
    pub last: bool,
    /// One per candidate, in the candidates' order.
    pub decisions: Vec<RungDecision>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RungDecision {
    /// The epochs its rung score is of.
    pub epochs: i64,
    /// It goes on, its folds trained next to this many epochs; None: it stops here.
    pub next_budget: Option<i64>,
}

/// What [`Store::advance_rung_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RungStep {
    /// The rung was complete: `configurations` went on to rung `rung`, `pruned` stopped.
    Promoted { rung: u32, configurations: usize, pruned: usize, folds: u64 },
    /// Folds of the current rung are still pending or running.
    Waiting,
    /// Nothing is left to train.
    Finished,
}

/// One rung of a halving sweep, for `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RungRow {
    pub rung: i64,
    pub configurations: i64,
    /// The largest epoch budget of the rung.
    pub epochs: Option<i64>,
    /// For the rung in progress: folds done of all.
    pub folds_done: Option<i64>,
    pub folds: Option<i64>,
    /// For a complete rung: how many went on (None for the rung in progress and for
    /// the last one).
    pub promoted: Option<i64>,
}

/// A claimed fold.
#[derive(Debug, Clone)]
pub struct Claim {
    pub fold_id: i64,
    pub config_id: String,
    pub fold: i64,
    /// Train to this many epochs (a rung's budget); None: all of them.
    pub budget: Option<i64>,
    /// Epochs of the saved training state to continue from, if there is one.
    pub checkpoint_epochs: Option<i64>,
}

/// A [`Claim`] from a row of the claim statement's `RETURNING`.
macro_rules! claim_row {
    ($r:expr) => {
        Claim { fold_id: $r.get(0), config_id: $r.get(1), fold: $r.get(2), budget: $r.get(3), checkpoint_epochs: $r.get(4) }
    };
}

/// A configuration whose folds are all done.
#[derive(Debug, Clone)]
pub struct CompletedConfig {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    pub summary: CvSummary,
}

/// Turns a configuration's done folds into its summary: the sweep's score rule, handed
/// in by the sweep logic (the store stores; it does not score).
pub type Summarize<'a> = dyn Fn(&[FoldResult]) -> CvSummary + Sync + 'a;

/// What recording a fold's result did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// False when the worker no longer held the fold (its lease expired and another
    /// worker took it over): nothing was written.
    pub written: bool,
    /// The configuration, if this was its last fold.
    pub completed: Option<CompletedConfig>,
    /// The worker's next claim, made in the same transaction.
    pub next: Option<Claim>,
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

/// A sweep with everything recorded of it (`gridsweep copy`).
#[derive(Debug, Clone)]
pub struct SweepDump {
    pub sweep: SweepRow,
    pub configs: Vec<ConfigDump>,
    pub folds: Vec<FoldDump>,
    /// (config_id, created_at, test_accuracy, model_dir, evaluation_json)
    pub evaluations: Vec<(String, f64, f64, Option<String>, String)>,
    /// Successive halving: the sweep's current rung, and every rung score
    /// (config_id, rung, resource_epochs, score, mean_val_accuracy, promoted).
    pub rung: Option<i64>,
    pub rung_scores: Vec<RungScoreRow>,
}

#[derive(Debug, Clone)]
pub struct ConfigDump {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    /// The summary columns in table order, completed_at last (None: not complete).
    pub summary: Vec<Option<f64>>,
    pub training_key: Option<String>,
    pub trained_by: Option<String>,
    /// Successive halving: rung, pruned (0/1), and the epochs of a partial summary.
    pub rung: Option<i64>,
    pub pruned: i64,
    pub resource_epochs: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct FoldDump {
    pub config_id: String,
    pub fold: i64,
    pub state: String,
    pub attempts: i64,
    pub device: Option<String>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    /// train_accuracy, train_loss, val_accuracy, val_loss
    pub metrics: Vec<Option<f64>>,
    pub epochs_run: Option<i64>,
    pub final_learning_rate: Option<f64>,
    pub fit_seconds: Option<f64>,
    pub score_seconds: Option<f64>,
    pub history_json: Option<String>,
    pub error: Option<String>,
    pub scored_epoch: Option<i64>,
    pub worker: Option<String>,
    pub budget: Option<i64>,
    pub partial: i64,
}

/// A `rung_scores` row: (config_id, rung, resource_epochs, score, mean_val_accuracy,
/// promoted).
pub type RungScoreRow = (String, i64, Option<i64>, Option<f64>, Option<f64>, i64);

/// What a copy added or wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyCounts {
    pub configurations: usize,
    pub folds_added: usize,
    /// Folds whose result (done or failed) was written.
    pub folds_written: usize,
    pub evaluations: usize,
}

pub struct Store {
    pool: Pool,
    dialect: Dialect,
    location: DbLocation,
    /// `location` as errors show it.
    name: String,
}

/// Builds a [`FoldResult`] from a row of `FOLD_RESULT_COLUMNS`.
macro_rules! fold_result {
    ($r:expr) => {
        FoldResult {
            train_accuracy: $r.get(0),
            train_loss: $r.get(1),
            val_accuracy: $r.get(2),
            val_loss: $r.get(3),
            epochs_run: $r.get::<i64, _>(4) as u32,
            final_learning_rate: $r.get(5),
            fit_seconds: $r.get(6),
            score_seconds: $r.get(7),
            scored_epoch: $r.get::<i64, _>(9) as u32,
            history: serde_json::from_str(&$r.get::<String, _>(8)).unwrap_or_default(),
            partial: $r.get::<i64, _>(10) != 0,
        }
    };
}

/// The done folds of configuration `$2` of sweep `$1`: its own, or those of the
/// configuration whose training it shares.
const FOLD_RESULT_COLUMNS: &str = "SELECT train_accuracy, train_loss, val_accuracy, val_loss, epochs_run, final_learning_rate,
        fit_seconds, score_seconds, history_json, COALESCE(scored_epoch, epochs_run), partial
 FROM folds WHERE sweep_id = $1 AND state = 'done'
   AND config_id = (SELECT COALESCE(trained_by, config_id) FROM configurations WHERE sweep_id = $1 AND config_id = $2)
 ORDER BY fold";

/// A [`CvSummary`] from `SUMMARY_READ` columns starting at index `$at`.
macro_rules! summary_row {
    ($r:expr, $at:expr) => {
        CvSummary {
            mean_train_accuracy: $r.get($at),
            std_train_accuracy: $r.get($at + 1),
            mean_val_accuracy: $r.get($at + 2),
            std_val_accuracy: $r.get($at + 3),
            mean_train_loss: $r.get($at + 4),
            std_train_loss: $r.get($at + 5),
            mean_val_loss: $r.get($at + 6),
            std_val_loss: $r.get($at + 7),
            delta_accuracy: $r.get($at + 8),
            score: $r.get($at + 9),
            total_fit_seconds: $r.get($at + 10),
        }
    };
}

/// The summary columns [`summary_row`] reads, in its order.
const SUMMARY_READ: &str = "mean_train_accuracy, std_train_accuracy, mean_val_accuracy, std_val_accuracy, mean_train_loss,
        std_train_loss, mean_val_loss, std_val_loss, delta_accuracy, score, total_fit_seconds";

/// Copies the summary of the configuration holding a training to the configurations
/// `selection` picks among those sharing it (`trained_by` set).
fn copy_shared_summary_sql(selection: &str) -> String {
    format!(
        "UPDATE configurations SET ({SUMMARY_COLUMNS}) = (SELECT {SUMMARY_COLUMNS} FROM configurations l
             WHERE l.sweep_id = configurations.sweep_id AND l.config_id = configurations.trained_by)
         WHERE {selection}"
    )
}

/// Every rung score of a sweep, as [`RungScoreRow`]s.
const RUNG_SCORES: &str =
    "SELECT config_id, rung, resource_epochs, score, mean_val_accuracy, promoted FROM rung_scores WHERE sweep_id = $1 ORDER BY rung, config_id";

/// A configuration's summary, as `record_done` writes it.
const SUMMARY_COLUMNS: &str = "mean_train_accuracy, std_train_accuracy, mean_val_accuracy, std_val_accuracy,
        mean_train_loss, std_train_loss, mean_val_loss, std_val_loss, delta_accuracy, score, total_fit_seconds, completed_at,
        resource_epochs, rung, pruned";

/// A sweep's `updated_at` is its spec's last change or its last finished fold, whichever
/// is later.
const SWEEP_COLUMNS: &str = "SELECT id, name, spec_json, dataset_fingerprint, folds, seed, created_at,
        CASE WHEN (SELECT MAX(finished_at) FROM folds WHERE folds.sweep_id = sweeps.id) > updated_at
             THEN (SELECT MAX(finished_at) FROM folds WHERE folds.sweep_id = sweeps.id) ELSE updated_at END
 FROM sweeps";

macro_rules! sweep_row {
    ($r:expr) => {
        SweepRow {
            id: $r.get(0),
            name: $r.get(1),
            spec_json: $r.get(2),
            dataset_fingerprint: $r.get(3),
            folds: $r.get(4),
            seed: $r.get(5),
            created_at: $r.get(6),
            updated_at: $r.get(7),
        }
    };
}

impl Store {
    /// Opens (creating a SQLite file if needed) the database and applies pending
    /// migrations: a file path or a `postgres://` URL.
    pub async fn open(db: impl Into<DbLocation>) -> Result<Store> {
        let location = db.into();
        let name = location.to_string();
        let (pool, dialect) = match &location {
            DbLocation::Sqlite(path) => (Pool::Sqlite(sqlite::open(path).await?), Dialect::Sqlite),
            DbLocation::Postgres(url) => (Pool::Postgres(postgres::open(url, &name).await?), Dialect::Postgres),
        };
        Ok(Store { pool, dialect, location, name })
    }

    /// Opens a database that must exist already (commands that only read a sweep): a
    /// mistyped file path is an error, not a new empty database. (A PostgreSQL
    /// database exists or the connection says so.)
    pub async fn open_existing(db: impl Into<DbLocation>) -> Result<Store> {
        let location = db.into();
        if let Some(file) = location.file() {
            if !file.exists() {
                return Err(StoreError::Missing { db: location.to_string() });
            }
        }
        Store::open(location).await
    }

    pub fn location(&self) -> &DbLocation {
        &self.location
    }

    /// The database as messages name it (a URL without its password).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, source: sqlx::Error) -> StoreError {
        StoreError::Sql { db: self.name.clone(), source }
    }

    pub async fn close(self) {
        with_pool!(self, p => p.close().await)
    }

    pub async fn sweep_by_name(&self, name: &str) -> Result<Option<SweepRow>> {
        let sql = format!("{SWEEP_COLUMNS} WHERE name = $1");
        with_pool!(self, p => {
            let row = sqlx::query(&sql).bind(name).fetch_optional(p).await.map_err(|e| self.err(e))?;
            Ok(row.map(|r| sweep_row!(r)))
        })
    }

    pub async fn sweeps(&self) -> Result<Vec<SweepRow>> {
        let sql = format!("{SWEEP_COLUMNS} ORDER BY id");
        with_pool!(self, p => {
            let rows = sqlx::query(&sql).fetch_all(p).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| sweep_row!(r)).collect())
        })
    }

    /// The sweep of this name, created with these values if absent (two processes
    /// starting the same sweep at once both get the one row).
    pub async fn ensure_sweep(&self, name: &str, spec_json: &str, fingerprint: &str, folds: usize, seed: u64) -> Result<SweepRow> {
        let t = now();
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO sweeps (name, spec_json, dataset_fingerprint, folds, seed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(spec_json)
            .bind(fingerprint)
            .bind(folds as i64)
            .bind(seed as i64)
            .bind(t)
            .bind(t)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
        })?;
        self.sweep_by_name(name).await?.ok_or_else(|| StoreError::Corrupt {
            db: self.name.clone(),
            message: format!("sweep `{name}` vanished right after it was created"),
        })
    }

    pub async fn update_spec(&self, sweep_id: i64, spec_json: &str) -> Result<()> {
        with_pool!(self, p => sqlx::query("UPDATE sweeps SET spec_json = $1, updated_at = $2 WHERE id = $3")
            .bind(spec_json)
            .bind(now())
            .bind(sweep_id)
            .execute(p)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e)))?;
        Ok(())
    }

    /// Adds configurations not yet in the sweep; returns how many were new. A
    /// configuration gets its folds, pending, unless one already in the sweep trains the
    /// same network (same training key): then it shares that one's folds (`trained_by`)
    /// and, when they are done, its summary. One transaction: all or nothing.
    pub async fn add_configs(&self, sweep_id: i64, configs: &[Config], folds: usize) -> Result<usize> {
        self.add_configs_with(sweep_id, configs, folds, None).await
    }

    /// [`add_configs`](Self::add_configs) for a sweep of successive halving: the folds
    /// start at rung 0's budget, and the sweep's current rung is set to 0 (if unset).
    pub async fn add_configs_with(&self, sweep_id: i64, configs: &[Config], folds: usize, halving: Option<Halving>) -> Result<usize> {
        // Every worker of a sweep starts by adding the spec's configurations: read which
        // are there first, so that a sweep already registered costs one query, not a
        // write transaction of no-op inserts that all the workers would queue on.
        let known: std::collections::HashSet<String> = with_pool!(self, p => sqlx::query_scalar("SELECT config_id FROM configurations WHERE sweep_id = $1")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e)))?
        .into_iter()
        .collect();
        let configs: Vec<&Config> = configs.iter().filter(|c| !known.contains(&c.id)).collect();
        if configs.is_empty() {
            return Ok(0);
        }
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.map_err(|e| self.err(e))?;
            if self.dialect == Dialect::Postgres {
                // Positions are handed out under the sweep's row lock: two processes
                // adding configurations at once queue here.
                sqlx::query("SELECT id FROM sweeps WHERE id = $1 FOR UPDATE").bind(sweep_id).execute(&mut *tx).await.map_err(|e| self.err(e))?;
            }
            let start: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM configurations WHERE sweep_id = $1")
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            // The training each key already has (configurations of databases older than
            // shared trainings have no key and keep their own folds).
            let mut leads: std::collections::HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
                "SELECT training_key, COALESCE(trained_by, config_id) FROM configurations
                 WHERE sweep_id = $1 AND training_key IS NOT NULL ORDER BY position",
            )
            .bind(sweep_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .into_iter()
            .rev()
            .collect();
            let mut added = 0usize;
            for c in &configs {
                let lead = leads.get(&c.training_key).cloned();
                let r = sqlx::query(
                    "INSERT INTO configurations (sweep_id, config_id, position, params_json, training_key, trained_by, rung)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sweep_id, config_id) DO NOTHING",
                )
                .bind(sweep_id)
                .bind(&c.id)
                .bind(start + added as i64)
                .bind(&c.canonical_json)
                .bind(&c.training_key)
                .bind(&lead)
                .bind(halving.map(|_| 0i64))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                if r.rows_affected() == 0 {
                    continue;
                }
                added += 1;
                if lead.is_some() {
                    continue;
                }
                leads.insert(c.training_key.clone(), c.id.clone());
                let budget = halving.map(|h| h.budget(0, c.params.epochs) as i64);
                for k in 0..folds {
                    sqlx::query("INSERT INTO folds (sweep_id, config_id, fold, budget) VALUES ($1, $2, $3, $4)")
                        .bind(sweep_id)
                        .bind(&c.id)
                        .bind(k as i64)
                        .bind(budget)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                }
            }
            if halving.is_some() {
                sqlx::query("UPDATE sweeps SET rung = 0 WHERE id = $1 AND rung IS NULL").bind(sweep_id).execute(&mut *tx).await.map_err(|e| self.err(e))?;
            }
            // A configuration joining a training that is already complete takes its summary.
            sqlx::query(&copy_shared_summary_sql("sweep_id = $1 AND trained_by IS NOT NULL AND completed_at IS NULL"))
            .bind(sweep_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            tx.commit().await.map_err(|e| self.err(e))?;
            Ok(added)
        })
    }

    /// `--retry-failed`: failed folds become pending again.
    pub async fn requeue_failed(&self, sweep_id: i64) -> Result<u64> {
        with_pool!(self, p => {
            let r = sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL WHERE sweep_id = $1 AND state = 'failed'")
                .bind(sweep_id)
                .execute(p)
                .await
                .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))?;
            let mut n = 0;
            for pid in pids.into_iter().filter(|p| !process_alive(*p)) {
                let r = sqlx::query("UPDATE folds SET state = 'pending', worker = NULL, lease_until = NULL WHERE sweep_id = $1 AND state = 'running' AND owner_host = $2 AND owner_pid = $3")
                    .bind(sweep_id)
                    .bind(&me.host)
                    .bind(pid)
                    .execute(p)
                    .await
                    .map_err(|e| self.err(e))?;
                n += r.rows_affected();
            }
            Ok(n)
        })
    }

    /// Claims the next fold: a pending one (through the partial index on pending folds),
    /// else a running one whose lease has expired by the database's clock. Atomic.
    /// The two claim statements: a pending fold, else an expired one.
    fn claim_sql(&self) -> [String; 2] {
        let now = self.dialect.now();
        ["state = 'pending'".to_string(), format!("state = 'running' AND lease_until < {now}")].map(|which| {
            format!(
                "UPDATE folds SET state = 'running', attempts = attempts + 1, worker = $1, owner_host = $2, owner_pid = $3,
                        lease_until = {now} + $4, started_at = {now}, heartbeat_at = {now}, device = $5
                 WHERE id = (SELECT id FROM folds WHERE sweep_id = $6 AND {which} ORDER BY id LIMIT 1{skip})
                 RETURNING id, config_id, fold, budget, checkpoint_epochs",
                skip = self.dialect.skip_locked()
            )
        })
    }

    pub async fn claim(&self, sweep_id: i64, owner: &Owner, worker: &str, lease: Duration, device: &str) -> Result<Option<Claim>> {
        for sql in self.claim_sql() {
            let row = with_pool!(self, p => sqlx::query(&sql)
                .bind(worker)
                .bind(&owner.host)
                .bind(owner.pid as i64)
                .bind(lease.as_secs_f64())
                .bind(device)
                .bind(sweep_id)
                .fetch_optional(p)
                .await
                .map_err(|e| self.err(e))
                .map(|r| r.map(|r| claim_row!(r))))?;
            if row.is_some() {
                return Ok(row);
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
            .map_err(|e| self.err(e)))?;
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
            .map_err(|e| self.err(e))?;
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
        .map_err(|e| self.err(e)))?;
        Ok(())
    }

    /// Records a finished fold, and its configuration's summary when it was the last
    /// one, in one transaction; `summarize` (the sweep logic: the score rule) turns the
    /// configuration's done folds into that summary. Returns the completed
    /// configuration, if any. A fold whose claim was lost (lease expired and taken
    /// over) is not written: the new owner's result stands.
    pub async fn record_done(&self, fold_id: i64, worker: &str, r: &FoldResult, summarize: &Summarize<'_>) -> Result<Option<CompletedConfig>> {
        Ok(self.record_done_then_claim(fold_id, worker, r, summarize, None).await?.completed)
    }

    /// [`record_done`](Self::record_done), and in the same transaction the worker's next
    /// claim (`next`: sweep, owner, lease, device): one round trip and one write lock
    /// per fold instead of two.
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
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.map_err(|e| self.err(e))?;
            let updated = sqlx::query(
                "UPDATE folds SET state = 'done', finished_at = $1, lease_until = NULL, error = NULL,
                        train_accuracy = $2, train_loss = $3, val_accuracy = $4, val_loss = $5, epochs_run = $6,
                        final_learning_rate = $7, fit_seconds = $8, score_seconds = $9, history_json = $10, scored_epoch = $11,
                        partial = $14, checkpoint_epochs = CASE WHEN $14 = 1 THEN checkpoint_epochs END
                 WHERE id = $12 AND state = 'running' AND worker = $13
                 RETURNING sweep_id, config_id",
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
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            let Some(row) = updated else {
                tx.rollback().await.map_err(|e| self.err(e))?;
                return Ok(Recorded { written: false, completed: None, next: None });
            };
            if !r.partial {
                // A complete fold needs no saved state any more.
                sqlx::query("DELETE FROM checkpoints WHERE fold_id = $1").bind(fold_id).execute(&mut *tx).await.map_err(|e| self.err(e))?;
            }
            let (sweep_id, config_id): (i64, String) = (row.get(0), row.get(1));
            if self.dialect == Dialect::Postgres {
                // Two workers recording a configuration's last two folds at once queue
                // here, so the second sees the first's fold done (READ COMMITTED).
                sqlx::query("SELECT config_id FROM configurations WHERE sweep_id = $1 AND config_id = $2 FOR UPDATE")
                    .bind(sweep_id)
                    .bind(&config_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND config_id = $2 AND state != 'done'")
                .bind(sweep_id)
                .bind(&config_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            let mut completed = None;
            if open == 0 {
                let rows = sqlx::query(FOLD_RESULT_COLUMNS).bind(sweep_id).bind(&config_id).fetch_all(&mut *tx).await.map_err(|e| self.err(e))?;
                let folds: Vec<FoldResult> = rows.iter().map(|r| fold_result!(r)).collect();
                let s = summarize(&folds);
                // A rung's summary (some fold stopped at its budget) is partial: it says
                // at how many epochs it was taken.
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
                .bind(t)
                .bind(sweep_id)
                .bind(&config_id)
                .bind(resource)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Corrupt { db: self.name.clone(), message: format!("configuration {config_id} has folds but no row") })?;
                // ... and every configuration that shares the training (by its index).
                sqlx::query(&copy_shared_summary_sql("sweep_id = $1 AND trained_by = $2"))
                .bind(sweep_id)
                .bind(&config_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                if resource.is_none() {
                    completed = Some(CompletedConfig { config_id: config_id.clone(), position: row.get(0), params_json: row.get(1), summary: s });
                }
            }
            // (No `updated_at` of the sweep here: one row every worker would update is a
            // lock all of them queue on. A sweep's last update is read from its folds.)
            let mut claim = None;
            if let Some((next_sweep, owner, lease, device)) = next {
                for sql in &claim_sql {
                    let row = sqlx::query(sql)
                        .bind(worker)
                        .bind(&owner.host)
                        .bind(owner.pid as i64)
                        .bind(lease.as_secs_f64())
                        .bind(device)
                        .bind(next_sweep)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    if let Some(r) = row {
                        claim = Some(claim_row!(r));
                        break;
                    }
                }
            }
            tx.commit().await.map_err(|e| self.err(e))?;
            Ok(Recorded { written: true, completed, next: claim })
        })
    }

    /// Saves a running fold's training state (replacing its previous one), if this
    /// worker still holds the fold; returns whether it did.
    pub async fn save_checkpoint(&self, fold_id: i64, worker: &str, epochs: u32, state: &[u8]) -> Result<bool> {
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.map_err(|e| self.err(e))?;
            let held = sqlx::query("UPDATE folds SET checkpoint_epochs = $1 WHERE id = $2 AND state = 'running' AND worker = $3")
                .bind(epochs as i64)
                .bind(fold_id)
                .bind(worker)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
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
                .map_err(|e| self.err(e))?;
            }
            tx.commit().await.map_err(|e| self.err(e))?;
            Ok(held)
        })
    }

    /// A fold's saved training state: (epochs, encoded state).
    pub async fn checkpoint(&self, fold_id: i64) -> Result<Option<(i64, Vec<u8>)>> {
        with_pool!(self, p => sqlx::query_as("SELECT epochs, state FROM checkpoints WHERE fold_id = $1")
            .bind(fold_id)
            .fetch_optional(p)
            .await
            .map_err(|e| self.err(e)))
    }

    /// Saved training states of a sweep: how many, and their total size in bytes.
    pub async fn checkpoint_storage(&self, sweep_id: i64) -> Result<(i64, i64)> {
        with_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(c.state)), 0) AS BIGINT) FROM checkpoints c JOIN folds f ON f.id = c.fold_id WHERE f.sweep_id = $1",
        )
        .bind(sweep_id)
        .fetch_one(p)
        .await
        .map_err(|e| self.err(e)))
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
            .map_err(|e| self.err(e)))?;
        Ok(())
    }

    pub async fn counts(&self, sweep_id: i64) -> Result<Counts> {
        let rows: Vec<(String, i64)> = with_pool!(self, p => sqlx::query_as("SELECT state, COUNT(*) FROM folds WHERE sweep_id = $1 GROUP BY state")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e)))?;
        let mut c = Counts::default();
        for (state, n) in rows {
            match state.as_str() {
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
        with_pool!(self, p => sqlx::query_as("SELECT COUNT(*), MIN(finished_at) FROM folds WHERE sweep_id = $1 AND state IN ('done', 'failed') AND finished_at >= $2")
            .bind(sweep_id)
            .bind(since)
            .fetch_one(p)
            .await
            .map_err(|e| self.err(e)))
    }

    pub async fn failures(&self, sweep_id: i64) -> Result<Vec<Failure>> {
        let rows: Vec<(String, i64, i64, String)> = with_pool!(self, p => sqlx::query_as("SELECT config_id, fold, attempts, COALESCE(error, '') FROM folds WHERE sweep_id = $1 AND state = 'failed' ORDER BY id")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e)))?;
        Ok(rows.into_iter().map(|(config_id, fold, attempts, error)| Failure { config_id, fold, attempts, error }).collect())
    }

    /// Configurations of a sweep with their summary when complete (all folds trained to
    /// their end; a rung's partial summary is left out), in grid order.
    pub async fn configurations(&self, sweep_id: i64) -> Result<Vec<(String, i64, String, Option<CvSummary>)>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                &format!(
                    "SELECT config_id, position, params_json, CASE WHEN resource_epochs IS NULL THEN completed_at END, {SUMMARY_READ}
                     FROM configurations WHERE sweep_id = $1 ORDER BY position"
                ),
            )
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| {
                    let done: Option<f64> = r.get(3);
                    let summary = done.map(|_| summary_row!(r, 4));
                    (r.get(0), r.get(1), r.get(2), summary)
                })
                .collect())
        })
    }

    /// Configurations with a partial summary (successive halving's rungs): each with its
    /// summary, the epochs it was taken at, and whether the configuration was pruned.
    pub async fn partial_configurations(&self, sweep_id: i64) -> Result<Vec<PartialConfig>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                &format!(
                    "SELECT config_id, position, params_json, resource_epochs, pruned, {SUMMARY_READ}
                     FROM configurations WHERE sweep_id = $1 AND resource_epochs IS NOT NULL AND completed_at IS NOT NULL ORDER BY position"
                ),
            )
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?;
            Ok(rows
                .iter()
                .map(|r| PartialConfig {
                    config_id: r.get(0),
                    position: r.get(1),
                    params_json: r.get(2),
                    resource_epochs: r.get(3),
                    pruned: r.get::<i64, _>(4) != 0,
                    summary: summary_row!(r, 5),
                })
                .collect())
        })
    }

    /// After a claim found nothing, in a sweep of successive halving: when the current
    /// rung is complete (no fold pending or running), hands its configurations to
    /// `plan` (the sweep logic: which go on, and to how many epochs), records every
    /// one's rung score, sends the promoted on (their partial folds become pending with
    /// the next budget, continuing from their saved states) and prunes the others (their
    /// saved states are deleted). One transaction, conditional on the sweep's rung:
    /// several processes may call it at once and the rung advances once. A plan that
    /// fails (unreadable stored hyperparameters) changes nothing and is an error.
    pub async fn advance_rung_with(&self, sweep_id: i64, plan: impl FnOnce(u32, &[RungCandidate]) -> std::result::Result<RungPlan, String>) -> Result<RungStep> {
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.map_err(|e| self.err(e))?;
            let lock = if self.dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
            let rung: Option<i64> = sqlx::query_scalar(&format!("SELECT rung FROM sweeps WHERE id = $1{lock}"))
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            let Some(r) = rung else {
                tx.rollback().await.map_err(|e| self.err(e))?;
                return Ok(RungStep::Finished);
            };
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state IN ('pending', 'running')")
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            if open > 0 {
                tx.rollback().await.map_err(|e| self.err(e))?;
                return Ok(RungStep::Waiting);
            }
            let rows = sqlx::query(
                "SELECT config_id, position, score, resource_epochs, params_json, completed_at, mean_val_accuracy
                 FROM configurations WHERE sweep_id = $1 AND trained_by IS NULL AND pruned = 0 AND rung = $2 ORDER BY position",
            )
            .bind(sweep_id)
            .bind(r)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            let candidates: Vec<RungCandidate> = rows
                .iter()
                .map(|row| {
                    let scored = row.get::<Option<f64>, _>(5).is_some();
                    RungCandidate {
                        config_id: row.get(0),
                        position: row.get(1),
                        params_json: row.get(4),
                        scored,
                        score: if scored { row.get(2) } else { None },
                        mean_val_accuracy: row.get(6),
                        resource_epochs: row.get(3),
                    }
                })
                .collect();
            // The decision is the sweep logic's, taken inside this transaction.
            let decided = match plan(r as u32, &candidates) {
                Ok(d) => d,
                Err(message) => {
                    tx.rollback().await.map_err(|e| self.err(e))?;
                    return Err(StoreError::Corrupt { db: self.name.clone(), message });
                }
            };
            let (mut pending, mut pruned, mut kept) = (0u64, 0usize, 0usize);
            for (c, d) in candidates.iter().zip(&decided.decisions) {
                sqlx::query(
                    "INSERT INTO rung_scores (sweep_id, config_id, rung, resource_epochs, score, mean_val_accuracy, promoted)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sweep_id, config_id, rung) DO NOTHING",
                )
                .bind(sweep_id)
                .bind(&c.config_id)
                .bind(r)
                .bind(d.epochs)
                .bind(c.score)
                .bind(c.mean_val_accuracy)
                .bind(d.next_budget.is_some() as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                if decided.last {
                    continue;
                }
                if let Some(budget) = d.next_budget {
                    kept += 1;
                    for which in ["config_id", "trained_by"] {
                        sqlx::query(&format!("UPDATE configurations SET rung = $1 WHERE sweep_id = $2 AND {which} = $3"))
                            .bind(r + 1)
                            .bind(sweep_id)
                            .bind(&c.config_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| self.err(e))?;
                    }
                    if c.resource_epochs.is_some() {
                        pending += sqlx::query(
                            "UPDATE folds SET state = 'pending', budget = $1, worker = NULL, lease_until = NULL
                             WHERE sweep_id = $2 AND config_id = $3 AND state = 'done' AND partial = 1",
                        )
                        .bind(budget)
                        .bind(sweep_id)
                        .bind(&c.config_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?
                        .rows_affected();
                    }
                } else if c.resource_epochs.is_some() || !c.scored {
                    pruned += 1;
                    // Marked pruned (with whatever shares its training), and its saved
                    // states deleted: it will not continue.
                    for sql in [
                        "UPDATE configurations SET pruned = 1 WHERE sweep_id = $1 AND config_id = $2",
                        "UPDATE configurations SET pruned = 1 WHERE sweep_id = $1 AND trained_by = $2",
                        "DELETE FROM checkpoints WHERE fold_id IN (SELECT id FROM folds WHERE sweep_id = $1 AND config_id = $2)",
                        "UPDATE folds SET checkpoint_epochs = NULL WHERE sweep_id = $1 AND config_id = $2",
                    ] {
                        sqlx::query(sql).bind(sweep_id).bind(&c.config_id).execute(&mut *tx).await.map_err(|e| self.err(e))?;
                    }
                }
            }
            if decided.last {
                tx.commit().await.map_err(|e| self.err(e))?;
                return Ok(RungStep::Finished);
            }
            sqlx::query("UPDATE sweeps SET rung = $1 WHERE id = $2 AND rung = $3")
                .bind(r + 1)
                .bind(sweep_id)
                .bind(r)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            tx.commit().await.map_err(|e| self.err(e))?;
            Ok(if pending > 0 { RungStep::Promoted { rung: r as u32 + 1, configurations: kept, pruned, folds: pending } } else { RungStep::Finished })
        })
    }

    /// A halving sweep's rungs: per rung, the configurations trained in it, their epoch
    /// budget (the largest), how many of its folds are done, and how many went on.
    pub async fn rungs(&self, sweep_id: i64) -> Result<Option<Vec<RungRow>>> {
        with_pool!(self, p => {
            let current: Option<i64> = sqlx::query_scalar("SELECT rung FROM sweeps WHERE id = $1")
                .bind(sweep_id)
                .fetch_optional(p)
                .await
                .map_err(|e| self.err(e))?
                .flatten();
            let Some(current) = current else { return Ok(None) };
            let done: Vec<(i64, i64, i64, Option<i64>)> = sqlx::query_as(
                "SELECT rung, COUNT(*), CAST(SUM(promoted) AS BIGINT), MAX(resource_epochs) FROM rung_scores WHERE sweep_id = $1 GROUP BY rung ORDER BY rung",
            )
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?;
            let mut out: Vec<RungRow> = done
                .into_iter()
                .map(|(rung, n, promoted, epochs)| RungRow {
                    rung,
                    configurations: n,
                    epochs,
                    folds_done: None,
                    folds: None,
                    // The current rung with recorded scores is the last one.
                    promoted: (rung < current).then_some(promoted),
                })
                .collect();
            if !out.iter().any(|r| r.rung == current) {
                let (n, folds, fdone, epochs): (i64, i64, i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(DISTINCT c.config_id), COUNT(f.id), COALESCE(SUM(CASE WHEN f.state = 'done' THEN 1 ELSE 0 END), 0), MAX(f.budget)
                     FROM configurations c JOIN folds f ON f.sweep_id = c.sweep_id AND f.config_id = c.config_id
                     WHERE c.sweep_id = $1 AND c.trained_by IS NULL AND c.pruned = 0 AND c.rung = $2",
                )
                .bind(sweep_id)
                .bind(current)
                .fetch_one(p)
                .await
                .map_err(|e| self.err(e))?;
                if n > 0 {
                    out.push(RungRow { rung: current, configurations: n, epochs, folds_done: Some(fdone), folds: Some(folds), promoted: None });
                }
            }
            Ok(Some(out))
        })
    }

    /// Every recorded rung score of a sweep: (config, rung, epochs, score, promoted).
    pub async fn rung_scores(&self, sweep_id: i64) -> Result<Vec<(String, i64, Option<i64>, Option<f64>, bool)>> {
        let rows: Vec<RungScoreRow> = with_pool!(self, p => sqlx::query_as(RUNG_SCORES)
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .map_err(|e| self.err(e)))?;
        Ok(rows.into_iter().map(|(c, r, e, s, _, p)| (c, r, e, s, p != 0)).collect())
    }

    /// Configurations of a sweep.
    pub async fn config_count(&self, sweep_id: i64) -> Result<i64> {
        with_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM configurations WHERE sweep_id = $1")
            .bind(sweep_id)
            .fetch_one(p)
            .await
            .map_err(|e| self.err(e)))
    }

    /// Distinct trainings of a sweep: configurations that hold their own folds.
    pub async fn training_count(&self, sweep_id: i64) -> Result<i64> {
        with_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM configurations WHERE sweep_id = $1 AND trained_by IS NULL")
            .bind(sweep_id)
            .fetch_one(p)
            .await
            .map_err(|e| self.err(e)))
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
        with_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO evaluations (sweep_id, config_id, created_at, test_accuracy, model_dir, evaluation_json)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(sweep_id)
        .bind(config_id)
        .bind(now())
        .bind(test_accuracy)
        .bind(model_dir)
        .bind(evaluation_json)
        .fetch_one(p)
        .await
        .map_err(|e| self.err(e)))
    }

    /// The newest evaluation's JSON of a sweep (of one configuration, if given).
    pub async fn latest_evaluation(&self, sweep_id: i64, config_id: Option<&str>) -> Result<Option<String>> {
        with_pool!(self, p => sqlx::query_scalar(
            "SELECT evaluation_json FROM evaluations WHERE sweep_id = $1 AND (config_id = $2 OR $3)
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(sweep_id)
        .bind(config_id.unwrap_or(""))
        .bind(config_id.is_none())
        .fetch_optional(p)
        .await
        .map_err(|e| self.err(e)))
    }

    /// Per-fold metrics of every done fold of a sweep, keyed by configuration (a
    /// configuration that shares a training has that training's folds).
    pub async fn fold_metrics(&self, sweep_id: i64) -> Result<std::collections::HashMap<String, Vec<FoldMetrics>>> {
        let rows: Vec<(String, i64, f64, f64, f64, f64)> = with_pool!(self, p => sqlx::query_as(
            "SELECT c.config_id, f.fold, f.train_accuracy, f.val_accuracy, f.fit_seconds, f.score_seconds
             FROM configurations c JOIN folds f ON f.sweep_id = c.sweep_id AND f.config_id = COALESCE(c.trained_by, c.config_id)
             WHERE c.sweep_id = $1 AND f.state = 'done' ORDER BY c.config_id, f.fold",
        )
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .map_err(|e| self.err(e)))?;
        let mut map: std::collections::HashMap<String, Vec<FoldMetrics>> = Default::default();
        for (id, fold, train_accuracy, val_accuracy, fit_seconds, score_seconds) in rows {
            map.entry(id).or_default().push(FoldMetrics { fold, train_accuracy, val_accuracy, fit_seconds, score_seconds });
        }
        Ok(map)
    }

    /// Per-fold results of one configuration (for tests and `cv` comparisons).
    pub async fn fold_results(&self, sweep_id: i64, config_id: &str) -> Result<Vec<FoldResult>> {
        with_pool!(self, p => {
            let rows = sqlx::query(FOLD_RESULT_COLUMNS).bind(sweep_id).bind(config_id).fetch_all(p).await.map_err(|e| self.err(e))?;
            Ok(rows.iter().map(|r| fold_result!(r)).collect())
        })
    }

    /// Seconds each done fold spent with its worker (claim to result), for the share
    /// of wall time spent outside training.
    pub async fn fold_durations(&self, sweep_id: i64) -> Result<Vec<f64>> {
        with_pool!(self, p => sqlx::query_scalar("SELECT finished_at - started_at FROM folds WHERE sweep_id = $1 AND state = 'done'")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e)))
    }

    /// (worker, claimed at, recorded at) of every done fold of a sweep.
    pub async fn fold_spans(&self, sweep_id: i64) -> Result<Vec<(String, f64, f64)>> {
        with_pool!(self, p => sqlx::query_as("SELECT worker, started_at, finished_at FROM folds WHERE sweep_id = $1 AND state = 'done'")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e)))
    }

    /// Done folds per recorded device label (`cpu`, `cpu+mkl-avx512`, `cuda:0`, ...).
    pub async fn done_fold_devices(&self, sweep_id: i64) -> Result<Vec<(String, i64)>> {
        with_pool!(self, p => sqlx::query_as(
            "SELECT COALESCE(device, '') AS d, COUNT(*) FROM folds WHERE sweep_id = $1 AND state = 'done' GROUP BY d ORDER BY d",
        )
        .bind(sweep_id)
        .fetch_all(p)
        .await
        .map_err(|e| self.err(e)))
    }

    /// Running folds whose lease is still valid (by the database's clock): some worker
    /// is alive on them.
    pub async fn live_running(&self, sweep_id: i64) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM folds WHERE sweep_id = $1 AND state = 'running' AND lease_until >= {}", self.dialect.now());
        with_pool!(self, p => sqlx::query_scalar(&sql).bind(sweep_id).fetch_one(p).await.map_err(|e| self.err(e)))
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
        let rows: Vec<Row> =
            with_pool!(self, p => sqlx::query_as(&sql).bind(sweep_id).fetch_all(p).await.map_err(|e| self.err(e)))?;
        let here = Owner::this_process().host;
        Ok(rows
            .into_iter()
            .map(|(host, pid, running, example, heartbeat_age, lease_left)| {
                // A process of this host can be looked at: one that is gone (kill -9, a
                // crash) holds its folds only until their leases expire.
                let gone = host == here && !process_alive(pid);
                WorkerRow { host, pid, running, example, heartbeat_age, lease_left, gone }
            })
            .collect())
    }

    /// Everything of a sweep, for `gridsweep copy`.
    pub async fn dump_sweep(&self, sweep: &SweepRow) -> Result<SweepDump> {
        with_pool!(self, p => {
            let configs = sqlx::query(
                "SELECT config_id, position, params_json, mean_train_accuracy, std_train_accuracy, mean_val_accuracy,
                        std_val_accuracy, mean_train_loss, std_train_loss, mean_val_loss, std_val_loss, delta_accuracy,
                        score, total_fit_seconds, completed_at, training_key, trained_by, rung, pruned, resource_epochs
                 FROM configurations WHERE sweep_id = $1 ORDER BY position",
            )
            .bind(sweep.id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| ConfigDump {
                config_id: r.get(0),
                position: r.get(1),
                params_json: r.get(2),
                summary: (3..15).map(|i| r.get::<Option<f64>, _>(i)).collect(),
                training_key: r.get(15),
                trained_by: r.get(16),
                rung: r.get(17),
                pruned: r.get(18),
                resource_epochs: r.get(19),
            })
            .collect();
            let folds = sqlx::query(
                "SELECT config_id, fold, state, attempts, device, started_at, finished_at, train_accuracy, train_loss,
                        val_accuracy, val_loss, epochs_run, final_learning_rate, fit_seconds, score_seconds, history_json,
                        error, scored_epoch, worker, budget, partial
                 FROM folds WHERE sweep_id = $1 ORDER BY id",
            )
            .bind(sweep.id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?
            .iter()
            .map(|r| FoldDump {
                config_id: r.get(0),
                fold: r.get(1),
                state: r.get(2),
                attempts: r.get(3),
                device: r.get(4),
                started_at: r.get(5),
                finished_at: r.get(6),
                metrics: (7..11).map(|i| r.get::<Option<f64>, _>(i)).collect(),
                epochs_run: r.get(11),
                final_learning_rate: r.get(12),
                fit_seconds: r.get(13),
                score_seconds: r.get(14),
                history_json: r.get(15),
                error: r.get(16),
                scored_epoch: r.get(17),
                worker: r.get(18),
                budget: r.get(19),
                partial: r.get(20),
            })
            .collect();
            let evaluations = sqlx::query_as(
                "SELECT config_id, created_at, test_accuracy, model_dir, evaluation_json FROM evaluations WHERE sweep_id = $1 ORDER BY id",
            )
            .bind(sweep.id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?;
            let rung: Option<i64> = sqlx::query_scalar("SELECT rung FROM sweeps WHERE id = $1")
                .bind(sweep.id)
                .fetch_one(p)
                .await
                .map_err(|e| self.err(e))?;
            let rung_scores = sqlx::query_as(RUNG_SCORES)
            .bind(sweep.id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e))?;
            Ok(SweepDump { sweep: sweep.clone(), configs, folds, evaluations, rung, rung_scores })
        })
    }

    /// Writes a dumped sweep into this database, idempotently: the sweep is created if
    /// absent (and refused if one of that name ran on other data, folds or seed);
    /// configurations, summaries and evaluations that are missing are added; a fold
    /// takes the dump's state unless it is already done here. Running folds arrive as
    /// pending (their process belongs to the other database). One transaction.
    pub async fn load_sweep(&self, d: &SweepDump) -> Result<CopyCounts> {
        let s = &d.sweep;
        let existing = self.ensure_sweep(&s.name, &s.spec_json, &s.dataset_fingerprint, s.folds as usize, s.seed as u64).await?;
        if existing.dataset_fingerprint != s.dataset_fingerprint || existing.folds != s.folds || existing.seed != s.seed {
            return Err(StoreError::Corrupt {
                db: self.name.clone(),
                message: format!(
                    "sweep `{}` here ran on other data, folds or seed (fingerprint {}…, {} folds, seed {}; the copy has {}…, {} folds, seed {}): give one of them another name",
                    s.name, &existing.dataset_fingerprint[..12.min(existing.dataset_fingerprint.len())], existing.folds, existing.seed,
                    &s.dataset_fingerprint[..12.min(s.dataset_fingerprint.len())], s.folds, s.seed
                ),
            });
        }
        let id = existing.id;
        let mut counts = CopyCounts::default();
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.map_err(|e| self.err(e))?;
            for c in &d.configs {
                let r = sqlx::query(
                    "INSERT INTO configurations (sweep_id, config_id, position, params_json, training_key, trained_by, rung, pruned)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sweep_id, config_id) DO NOTHING",
                )
                .bind(id)
                .bind(&c.config_id)
                .bind(c.position)
                .bind(&c.params_json)
                .bind(&c.training_key)
                .bind(&c.trained_by)
                .bind(c.rung)
                .bind(c.pruned)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                counts.configurations += r.rows_affected() as usize;
                if c.summary.last().copied().flatten().is_some() {
                    let mut q = sqlx::query(
                        "UPDATE configurations SET mean_train_accuracy = $1, std_train_accuracy = $2, mean_val_accuracy = $3,
                                std_val_accuracy = $4, mean_train_loss = $5, std_train_loss = $6, mean_val_loss = $7,
                                std_val_loss = $8, delta_accuracy = $9, score = $10, total_fit_seconds = $11, completed_at = $12,
                                resource_epochs = $15, rung = $16, pruned = $17
                         WHERE sweep_id = $13 AND config_id = $14 AND (completed_at IS NULL OR resource_epochs IS NOT NULL)",
                    );
                    for v in &c.summary {
                        q = q.bind(*v);
                    }
                    q.bind(id).bind(&c.config_id).bind(c.resource_epochs).bind(c.rung).bind(c.pruned)
                        .execute(&mut *tx).await.map_err(|e| self.err(e))?;
                }
            }
            for f in &d.folds {
                let state = if f.state == "running" { "pending" } else { f.state.as_str() };
                let r = sqlx::query(
                    "INSERT INTO folds (sweep_id, config_id, fold, state, budget) VALUES ($1, $2, $3, 'pending', $4)
                     ON CONFLICT (sweep_id, config_id, fold) DO NOTHING",
                )
                .bind(id)
                .bind(&f.config_id)
                .bind(f.fold)
                .bind(f.budget)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                counts.folds_added += r.rows_affected() as usize;
                if state == "pending" {
                    continue;
                }
                let r = sqlx::query(
                    "UPDATE folds SET state = $1, attempts = $2, device = $3, started_at = $4, finished_at = $5,
                            train_accuracy = $6, train_loss = $7, val_accuracy = $8, val_loss = $9, epochs_run = $10,
                            final_learning_rate = $11, fit_seconds = $12, score_seconds = $13, history_json = $14, error = $15,
                            scored_epoch = $16, worker = $17, lease_until = NULL, budget = $21, partial = $22
                     WHERE sweep_id = $18 AND config_id = $19 AND fold = $20 AND state != 'done' AND state != 'running'",
                )
                .bind(state)
                .bind(f.attempts)
                .bind(&f.device)
                .bind(f.started_at)
                .bind(f.finished_at)
                .bind(f.metrics[0])
                .bind(f.metrics[1])
                .bind(f.metrics[2])
                .bind(f.metrics[3])
                .bind(f.epochs_run)
                .bind(f.final_learning_rate)
                .bind(f.fit_seconds)
                .bind(f.score_seconds)
                .bind(&f.history_json)
                .bind(&f.error)
                .bind(f.scored_epoch)
                .bind(&f.worker)
                .bind(id)
                .bind(&f.config_id)
                .bind(f.fold)
                .bind(f.budget)
                .bind(f.partial)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                counts.folds_written += r.rows_affected() as usize;
            }
            // Successive halving's state: the rung and the rung scores (saved training
            // states are not copied: a fold promoted there trains from its start, which
            // gives the same result).
            if let Some(rung) = d.rung {
                sqlx::query("UPDATE sweeps SET rung = $1 WHERE id = $2 AND (rung IS NULL OR rung < $1)")
                    .bind(rung)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
            }
            for (config_id, rung, epochs, score, val, promoted) in &d.rung_scores {
                sqlx::query(
                    "INSERT INTO rung_scores (sweep_id, config_id, rung, resource_epochs, score, mean_val_accuracy, promoted)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sweep_id, config_id, rung) DO NOTHING",
                )
                .bind(id)
                .bind(config_id)
                .bind(*rung)
                .bind(*epochs)
                .bind(*score)
                .bind(*val)
                .bind(*promoted)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
            }
            for (config_id, created_at, test_accuracy, model_dir, json) in &d.evaluations {
                let present: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evaluations WHERE sweep_id = $1 AND config_id = $2 AND created_at = $3")
                    .bind(id)
                    .bind(config_id)
                    .bind(*created_at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                if present == 0 {
                    sqlx::query(
                        "INSERT INTO evaluations (sweep_id, config_id, created_at, test_accuracy, model_dir, evaluation_json)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(config_id)
                    .bind(*created_at)
                    .bind(*test_accuracy)
                    .bind(model_dir)
                    .bind(json)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?;
                    counts.evaluations += 1;
                }
            }
            tx.commit().await.map_err(|e| self.err(e))?;
            Ok(counts)
        })
    }

    /// How many times each fold was claimed (attempts), for the exactly-once checks.
    pub async fn attempts(&self, sweep_id: i64) -> Result<Vec<(String, i64, String, i64)>> {
        with_pool!(self, p => sqlx::query_as("SELECT config_id, fold, state, attempts FROM folds WHERE sweep_id = $1 ORDER BY id")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .map_err(|e| self.err(e)))
    }
}

#[cfg(test)]
mod location_tests {
    use super::DbLocation;

    #[test]
    fn passwords_are_found_and_left_out() {
        let d = DbLocation::parse("postgres://me:pw@db.example:5432/sweeps");
        assert_eq!(d.password(), Some("pw"));
        assert_eq!(d.without_password(), "postgres://me@db.example:5432/sweeps");
        assert_eq!(d.to_string(), "postgres://me:***@db.example:5432/sweeps");
        let d = DbLocation::parse("postgres://me@db.example/sweeps");
        assert_eq!(d.password(), None);
        assert_eq!(d.without_password(), "postgres://me@db.example/sweeps");
        assert_eq!(DbLocation::parse("results/x.db").password(), None);
    }

    #[test]
    fn local_hosts_are_recognised() {
        let local = |u: &str| DbLocation::parse(u).local_host();
        assert_eq!(local("postgres://me@127.0.0.1:5432/x").as_deref(), Some("127.0.0.1"));
        assert_eq!(local("postgres://me:pw@localhost/x").as_deref(), Some("localhost"));
        assert_eq!(local("postgres://me@[::1]:5432/x").as_deref(), Some("::1"));
        assert!(local("postgres:///x").is_some());
        assert_eq!(local("postgres://me@db/x?host=/var/run/postgresql").as_deref(), Some("/var/run/postgresql"));
        assert_eq!(local("postgres://me@db.cluster:5432/x"), None);
        assert_eq!(local("postgres://me@10.0.0.5/x"), None);
        assert_eq!(local("results/x.db"), None);
    }
}
