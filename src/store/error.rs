//! The store's errors: each names the database (a URL without its password), and says
//! whether waiting may help (a lost connection) or not.

use super::Store;

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
    Newer {
        db: String,
        version: i64,
        known: i64,
    },
    #[error("database {db} was written by an earlier gridsweep (its schema is at migration {version}; this gridsweep's is {known}) and is opened read-only here, so it is not upgraded: run `gridsweep status --db {db}` once (it upgrades the database; a run on it does too), then try again")]
    Older {
        db: String,
        version: i64,
        known: i64,
    },
    #[error("database {db}: {source}")]
    Io {
        db: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database {db}: {message}")]
    Corrupt { db: String, message: String },
    #[error("database {db} unreachable for {seconds:.0} s, gave up ({last}); nothing recorded is lost: the folds this process held return to pending when their leases expire, and `gridsweep resume` continues")]
    Unreachable {
        db: String,
        seconds: f64,
        last: String,
    },
    #[error("stopped by Ctrl-C while waiting {seconds:.0} s for database {db}: the folds this process held return to pending when their leases expire, and `gridsweep resume` continues (results finished while it waited were not recorded and train again)")]
    Interrupted { db: String, seconds: f64 },
    #[error("database {db}: {why}")]
    Connect { db: String, why: String },
    #[error("{0}")]
    Location(String),
    #[error("database {db} does not exist (a sweep creates it: `gridsweep run SPEC --db {db}`; `--db` names another)")]
    Missing { db: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The one way a failed statement becomes a [`StoreError`]: `….await.in_db(self)?`
/// names the database (without its password) in the error.
pub(super) trait InDb<T> {
    fn in_db(self, store: &Store) -> Result<T>;
}

impl<T> InDb<T> for std::result::Result<T, sqlx::Error> {
    fn in_db(self, store: &Store) -> Result<T> {
        self.map_err(|source| StoreError::Sql {
            db: store.name().to_string(),
            source,
        })
    }
}

impl StoreError {
    pub(super) fn from_sql(source: sqlx::Error) -> Self {
        StoreError::Sql {
            db: String::new(),
            source,
        }
    }

    pub(super) fn at(self, db: &str) -> Self {
        match self {
            StoreError::Sql { source, .. } => StoreError::Sql {
                db: db.into(),
                source,
            },
            StoreError::Migrate { source, .. } => StoreError::Migrate {
                db: db.into(),
                source,
            },
            StoreError::Newer { version, known, .. } => StoreError::Newer {
                db: db.into(),
                version,
                known,
            },
            StoreError::Corrupt { db: d, message } if d.is_empty() => StoreError::Corrupt {
                db: db.into(),
                message,
            },
            other => other,
        }
    }

    /// The connection was lost (the server restarted or is unreachable, the network
    /// failed): worth waiting for, unlike a refused statement.
    pub fn is_connection_lost(&self) -> bool {
        let StoreError::Sql { source, .. } = self else {
            return false;
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Tls(_) => true,
            // PostgreSQL: connection exceptions (08…), the server shutting down or
            // starting (57P01-57P03), and the server ending a session that sat idle
            // (in a transaction, 25P03, as a frozen worker's does; or at all, 57P05):
            // a new connection carries on.
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("08")
                    || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "57P05" | "25P03")
            }),
            _ => false,
        }
    }

    /// SQLITE_BUSY or SQLITE_LOCKED, also inside a migration error.
    pub(super) fn is_busy(&self) -> bool {
        let text = match self {
            StoreError::Sql { source, .. } => source.to_string(),
            StoreError::Migrate { source, .. } => source.to_string(),
            _ => return false,
        };
        text.contains("database is locked")
            || text.contains("(code: 5)")
            || text.contains("(code: 6)")
            || text.contains("busy")
    }
}

/// The newest migration `m` knows.
pub(super) fn newest(m: &sqlx::migrate::Migrator) -> i64 {
    m.iter().map(|x| x.version).max().unwrap_or(0)
}

/// Applies the pending migrations; a database that has a migration this binary does
/// not know was written by a newer gridsweep and is refused as such.
pub(super) async fn migrate<'a, A>(m: &sqlx::migrate::Migrator, conn: A) -> Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    m.run(conn).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Newer {
            db: String::new(),
            version,
            known: newest(m),
        },
        e => StoreError::Migrate {
            db: String::new(),
            source: e,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// A session the server ended for sitting idle in a transaction (what happens to a
    /// worker frozen inside one) is a lost connection, waited out like a restart; a
    /// refused statement is not. Needs the PostgreSQL scripts/test.sh starts.
    #[test]
    fn a_session_ended_for_idling_in_a_transaction_is_a_lost_connection() {
        let Ok(url) = std::env::var("GRIDSWEEP_TEST_POSTGRES") else {
            eprintln!("skipped: GRIDSWEEP_TEST_POSTGRES is unset (scripts/test.sh starts a server and sets it)");
            return;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::{Connection, Executor};
            use std::str::FromStr;
            let options = sqlx::postgres::PgConnectOptions::from_str(&url)
                .unwrap()
                .options([("idle_in_transaction_session_timeout", "300ms")]);
            let mut c = sqlx::PgConnection::connect_with(&options).await.unwrap();
            let refused = c.execute("SELEC 1").await.unwrap_err();
            assert!(!StoreError::from_sql(refused).is_connection_lost());
            c.execute("BEGIN").await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(900)).await;
            let ended = c.execute("SELECT 1").await.unwrap_err();
            let e = StoreError::from_sql(ended);
            assert!(e.to_string().contains("idle-in-transaction"), "{e}");
            assert!(e.is_connection_lost(), "{e}");
        });
    }
}
