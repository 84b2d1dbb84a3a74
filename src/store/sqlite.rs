//! The embedded backend: one SQLite file.
//!
//! SQLite because a sweep's state must survive a crash at any instant and be readable
//! with `sqlite3` by a user; WAL mode so readers (`status`, `rank`) never block the
//! writer; a busy timeout so two `gridsweep run` processes on one file wait for each
//! other instead of failing. Processes on several machines must not share a file this
//! way (network file systems do not honour SQLite's locks): that is PostgreSQL's job.

use super::{Result, StoreError};
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The current time in SQL, Unix seconds: the database's clock (on SQLite, this host's).
pub const NOW: &str = "((julianday('now') - 2440587.5) * 86400.0)";

/// Opens an existing file for reading only (`serve`): SQLite refuses every write on
/// such a connection, no migration is applied, and in WAL mode its reads never block
/// the writers (each read sees the last commit before it started).
/// A directory named as the database file is said to be one (SQLite would answer
/// "disk I/O error").
fn not_a_directory(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(StoreError::Io {
            db: path.display().to_string(),
            source: std::io::Error::other(
                "is a directory: --db names a database file (e.g. DIR/gridsweep.db) or a postgres:// URL",
            ),
        });
    }
    Ok(())
}

pub async fn open_read_only(path: &Path) -> Result<SqlitePool> {
    not_a_directory(path)?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::from_sql(e).at(&path.display().to_string()))
}

/// A look into an existing file that leaves it as it was: read-only, and immutable
/// where no write-ahead log lies beside it (a reader of a WAL file would make its
/// -wal/-shm files); a file with a log is open or was left open, and is read through
/// it. For a quick look only (which tables, which kernel paths), never for a view of a
/// database that may change under it.
pub async fn open_probe(path: &Path) -> Result<SqlitePool> {
    not_a_directory(path)?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let logged = Path::new(&wal).exists();
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(!logged)
        .busy_timeout(Duration::from_secs(60));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::from_sql(e).at(&path.display().to_string()))
}

/// Opens (creating if needed) the file and applies pending migrations. Also returns
/// the outermost directory it created for the file, if any.
pub async fn open(path: &Path) -> Result<(SqlitePool, Option<std::path::PathBuf>)> {
    let at = |e: StoreError| e.at(&path.display().to_string());
    not_a_directory(path)?;
    let mut created = None;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // (Named whole: every directory of it that did not exist is made.)
        created = (!dir.exists()).then(|| dir.to_path_buf());
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            db: path.display().to_string(),
            source,
        })?;
    }
    // Another program's file is refused before anything touches it (switching it to
    // WAL would already change its header): a look that leaves it as it was.
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        let probe = open_probe(path).await?;
        let tables: Result<Vec<String>> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .fetch_all(&probe)
            .await
            .map_err(|e| at(StoreError::from_sql(e)));
        probe.close().await;
        let tables = tables?;
        if let Some(e) = super::foreign(&tables) {
            return Err(at(e));
        }
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        // A new file can give the pages of deleted training states back (see
        // `Store::reclaim`); an older file, made without, keeps its peak size until a
        // VACUUM (docs/database.md): SQLite fixes this mode when the first table is made.
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(60))
        .foreign_keys(true);
    // Several processes opening a new file at once race to switch it to WAL and to
    // create the schema; the losers get SQLITE_BUSY at once (those steps do not wait on
    // the busy timeout) or a "table already exists", and succeed on a later try.
    let mut attempt = 0u64;
    loop {
        let result = async {
            // One connection first, alone: on a new file it sets incremental auto-vacuum
            // and then WAL, in that order, before the pool's connections (opened
            // concurrently) can switch the file to WAL first, which would fix the mode
            // at none.
            let first = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
                .await
                .map_err(StoreError::from_sql)?;
            sqlx::Connection::close(first)
                .await
                .map_err(StoreError::from_sql)?;
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options.clone())
                .await
                .map_err(StoreError::from_sql)?;
            if let Err(e) = super::migrate(&MIGRATOR, &pool).await {
                pool.close().await;
                return Err(e);
            }
            Ok(pool)
        }
        .await;
        match result {
            Ok(pool) => return Ok((pool, created)),
            // A migration error can be the loser of the schema race seeing the winner's
            // tables before its bookkeeping row: try a few times more.
            Err(e)
                if (attempt < 40 && e.is_busy())
                    || (attempt < 5 && matches!(e, StoreError::Migrate { .. })) =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25 * attempt.min(8))).await;
            }
            Err(e) => return Err(at(e)),
        }
    }
}
