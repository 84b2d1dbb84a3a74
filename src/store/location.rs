//! Where the results live (`--db`): a SQLite file or a PostgreSQL URL, and how a URL
//! is shown without its password.

use std::path::{Path, PathBuf};

/// Where the results live: `--db` as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A file path: SQLite.
    Sqlite(PathBuf),
    /// `postgres://` or `postgresql://` URL.
    Postgres(String),
}

/// The URL schemes `--db` takes, as messages list them.
pub const ACCEPTED: &str = "a SQLite file path (results/x.db) or a PostgreSQL URL (postgres://user@host:port/dbname, or postgresql://…)";

impl DbLocation {
    /// `--db` as given, checked: a URL of another scheme (`postgress://`, `mysql://`)
    /// is refused, naming the ones taken, instead of becoming a file of that name.
    /// `sqlite:` URLs are refused too: their slashes mean other paths in SQLAlchemy
    /// (Optuna's `sqlite:///x.db`) and in sqlx, so the file's path is asked for.
    pub fn try_parse(s: &str) -> Result<DbLocation, String> {
        let location = DbLocation::parse(s);
        if let DbLocation::Sqlite(_) = location {
            let scheme = s
                .split_once(':')
                .map(|(head, rest)| (head, rest.starts_with("//")))
                .filter(|(head, slashes)| {
                    let url_like = head.len() > 1
                        && head.starts_with(|c: char| c.is_ascii_alphabetic())
                        && head
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
                    url_like
                        && (*slashes
                            || head.eq_ignore_ascii_case("sqlite")
                            || head.eq_ignore_ascii_case("file"))
                });
            if let Some((scheme, _)) = scheme {
                if scheme.eq_ignore_ascii_case("sqlite") || scheme.eq_ignore_ascii_case("file") {
                    // Suggested as Optuna's users mean it (SQLAlchemy: `sqlite:///rel.db`,
                    // `sqlite:////abs.db`).
                    let rest = &s[s.find(':').map_or(0, |i| i + 1)..];
                    let path = rest
                        .strip_prefix("///")
                        .or_else(|| rest.strip_prefix("//"))
                        .unwrap_or(rest);
                    return Err(format!(
                        "`{s}`: a {}: URL names its file differently in SQLAlchemy (Optuna), SQLite and sqlx; give the file's path instead (--db {})",
                        scheme.to_ascii_lowercase(),
                        if path.is_empty() { "results/x.db" } else { path }
                    ));
                }
                return Err(format!(
                    "`{}`: unknown database URL scheme `{scheme}://`; --db takes {ACCEPTED}",
                    DbLocation::Sqlite(s.into())
                ));
            }
        }
        Ok(location)
    }

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
        let DbLocation::Postgres(url) = self else {
            return None;
        };
        let (scheme, at) = (url.find("://")?, url.rfind('@')?);
        (at > scheme)
            .then(|| &url[scheme + 3..at])
            .and_then(|userinfo| userinfo.split_once(':'))
            .map(|(_, pw)| pw)
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
        let DbLocation::Postgres(url) = self else {
            return None;
        };
        let rest = &url[url.find("://")? + 3..];
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let hostport = authority
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(authority);
        let host = if let Some(v6) = hostport.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            hostport.split(':').next().unwrap_or("")
        };
        // A `host=` parameter overrides (a socket folder starts with '/').
        let host = rest
            .split_once('?')
            .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("host=")))
            .unwrap_or(host);
        let local = host.is_empty()
            || host.starts_with('/')
            || host.eq_ignore_ascii_case("localhost")
            || host == "::1"
            || host.starts_with("127.");
        local.then(|| {
            if host.is_empty() {
                "not given (the local socket)".to_string()
            } else {
                host.to_string()
            }
        })
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
                    let hidden = if userinfo.contains(':') {
                        format!("{user}:***")
                    } else {
                        user.to_string()
                    };
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
    fn unknown_schemes_are_refused_naming_the_accepted_ones() {
        for bad in [
            "postgress://me@dbhost/sweeps",
            "mysql://x",
            "MySQL://x/y",
            "http://host/db",
        ] {
            let e = DbLocation::try_parse(bad).unwrap_err();
            assert!(
                e.contains("unknown database URL scheme")
                    && e.contains("postgres://")
                    && e.contains("SQLite file path"),
                "{e}"
            );
        }
        let e = DbLocation::try_parse("sqlite:///results/x.db").unwrap_err();
        assert!(e.contains("--db results/x.db"), "{e}");
        let e = DbLocation::try_parse("sqlite:////tmp/x.db").unwrap_err();
        assert!(e.contains("--db /tmp/x.db"), "{e}");
        let e = DbLocation::try_parse("file:x.db").unwrap_err();
        assert!(e.contains("a file: URL") && e.contains("--db x.db"), "{e}");
        for good in [
            "results/x.db",
            "x.db",
            "./a:b.db",
            "C:\\runs\\x.db",
            "/tmp/x.db",
        ] {
            assert_eq!(
                DbLocation::try_parse(good),
                Ok(DbLocation::Sqlite(good.into())),
                "{good}"
            );
        }
        assert!(DbLocation::try_parse("postgresql://me@h/x")
            .unwrap()
            .is_postgres());
    }

    #[test]
    fn local_hosts_are_recognised() {
        let local = |u: &str| DbLocation::parse(u).local_host();
        assert_eq!(
            local("postgres://me@127.0.0.1:5432/x").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            local("postgres://me:pw@localhost/x").as_deref(),
            Some("localhost")
        );
        assert_eq!(local("postgres://me@[::1]:5432/x").as_deref(), Some("::1"));
        assert!(local("postgres:///x").is_some());
        assert_eq!(
            local("postgres://me@db/x?host=/var/run/postgresql").as_deref(),
            Some("/var/run/postgresql")
        );
        assert_eq!(local("postgres://me@db.cluster:5432/x"), None);
        assert_eq!(local("postgres://me@10.0.0.5/x"), None);
        assert_eq!(local("results/x.db"), None);
    }
}
