//! The shared backend: a PostgreSQL database, for sweeps whose workers run on several
//! machines (as Optuna's RDB storage does).
//!
//! What differs from SQLite is only how a fold is claimed and how its last fold's
//! summary is written: claims take the first claimable fold with `FOR UPDATE SKIP
//! LOCKED`, so concurrent claimants skip each other's rows instead of queueing on them,
//! and the transaction that records a configuration's last fold first locks the
//! configuration's row, so two workers finishing its last two folds at once cannot
//! both miss the other's (READ COMMITTED would let them). Leases are reckoned by the
//! database's clock, so the machines' clocks need not agree.

use super::{Result, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long the server lets a session of gridsweep's sit idle inside a transaction.
pub const IDLE_IN_TRANSACTION: &str = "10s";

/// The current time in SQL, Unix seconds, by the database server's clock.
pub const NOW: &str = "(extract(epoch from clock_timestamp())::double precision)";

/// Connects and applies pending migrations. `display` names the database in errors
/// (the URL without its password).
pub async fn open(url: &str, display: &str) -> Result<PgPool> {
    connect(url, display, false).await
}

/// Connects for reading only (`serve`): every transaction is READ ONLY, so nothing it
/// does can write, and no migration is applied.
pub async fn open_read_only(url: &str, display: &str) -> Result<PgPool> {
    connect(url, display, true).await
}

async fn connect(url: &str, display: &str, read_only: bool) -> Result<PgPool> {
    let at = |e: StoreError| e.at(display);
    // A process frozen (SIGSTOP, a hung machine) inside one of its transactions, which
    // all take milliseconds, would hold its row locks for as long as it stays frozen,
    // and claims skip locked rows: the server ends such a session after 10 s idle in a
    // transaction, so that the fold's lease can expire and another worker take it over.
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| at(StoreError::from_sql(e)))?
        .options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)]);
    let options = if read_only {
        options.options([("default_transaction_read_only", "on")])
    } else {
        options
    };
    // One plain connection first: a closed port or an unknown host is then said as
    // such at once, where the pool would retry until its timeout and report only that.
    match tokio::time::timeout(
        Duration::from_secs(10),
        <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
    )
    .await
    {
        Ok(Ok(c)) => {
            let _ = sqlx::Connection::close(c).await;
        }
        Ok(Err(sqlx::Error::Io(e))) => {
            let place = format!("{}:{}", options.get_host(), options.get_port());
            let why = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => format!("connection refused at {place} (is a PostgreSQL server running there, on that port?)"),
                // Something answered, but not in PostgreSQL's protocol (a web server
                // replies to the startup message and hangs up; sqlx reads its text as a
                // message length).
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => {
                    format!("the server at {place} is not a PostgreSQL server: it answered outside PostgreSQL's protocol and closed the connection (is the port right?)")
                }
                _ => format!("cannot connect to {place}: {e}"),
            };
            return Err(StoreError::Connect {
                db: display.to_string(),
                why,
            });
        }
        Ok(Err(e)) => return Err(at(StoreError::from_sql(e))),
        Err(_) => {
            let place = format!("{}:{}", options.get_host(), options.get_port());
            return Err(StoreError::Connect { db: display.to_string(), why: format!("no answer from {place} within 10 s (is a PostgreSQL server running there, on that port?)") });
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(4)
        // Short: a lost server surfaces soon as an error, which the dispatcher waits
        // through (saying so) for as long as --db-timeout allows.
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(options)
        .await
        .map_err(|e| at(StoreError::from_sql(e)))?;
    // Several processes starting at once on a new database: migrations take a lock of
    // their own (sqlx's advisory lock), so one applies them and the others wait.
    if read_only {
        return Ok(pool);
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name")
            .fetch_all(&pool)
            .await
            .map_err(|e| at(StoreError::from_sql(e)))?;
    if let Some(e) = super::foreign(&tables) {
        pool.close().await;
        return Err(at(e));
    }
    if let Err(e) = super::migrate(&MIGRATOR, &pool).await {
        pool.close().await;
        return Err(at(e));
    }
    Ok(pool)
}
