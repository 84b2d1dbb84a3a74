//! Every SQL difference between the backends, in one place.

use super::{postgres, sqlite};

/// The SQL that differs between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The database's current time, Unix seconds.
    pub(super) fn now(self) -> &'static str {
        match self {
            Dialect::Sqlite => sqlite::NOW,
            Dialect::Postgres => postgres::NOW,
        }
    }

    /// Appended to the claim's row selection: PostgreSQL skips rows other claimants
    /// hold; SQLite serialises writers anyway.
    pub(super) fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// How a writing transaction begins: SQLite takes the write lock at once (no
    /// upgrade deadlock between two writers).
    pub(super) fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Appended to a selection whose rows the transaction must hold until it commits
    /// (PostgreSQL: a row lock that the next writer queues on; SQLite: nothing, the
    /// transaction's `BEGIN IMMEDIATE` already holds the whole database).
    pub(super) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// A statement that only takes row locks (`select` with [`for_update`]), or None
    /// where the backend needs none.
    ///
    /// [`for_update`]: Self::for_update
    pub(super) fn lock_rows(self, select: &str) -> Option<String> {
        let lock = self.for_update();
        (!lock.is_empty()).then(|| format!("{select}{lock}"))
    }
}
