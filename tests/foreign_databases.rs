//! `--db` names gridsweep's database or nothing: a URL of an unknown scheme is refused
//! (it never becomes a file of that name), and another program's database is refused
//! unchanged, by read and write commands alike, on SQLite and PostgreSQL.

mod common;
use common::{bin, postgres_db, rt, run, Dir};

use std::path::Path;

const TINY: &str =
    r#"{"epochs": 2, "neurons_1": 8, "neurons_2": 8, "neurons_3": 8, "batch_size": 64}"#;

fn spec(d: &Dir) -> std::path::PathBuf {
    let p = d.path("s.json");
    std::fs::write(&p, format!(r#"{{"name": "s", "dataset": {{"path": "builtin:demo"}}, "fixed": {TINY}, "grid": {{}}}}"#)).unwrap();
    p
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn an_unknown_url_scheme_is_refused_and_creates_nothing() {
    let d = Dir::new("foreign", "scheme");
    let spec = spec(&d);
    let before = files(&d.0);
    for db in ["postgress://me@dbhost/sweeps", "mysql://x"] {
        for args in [
            vec!["list", "--db", db],
            vec!["status", "--db", db],
            vec!["run", spec.to_str().unwrap(), "--db", db, "--quiet"],
        ] {
            let (code, _, err) = run(bin().current_dir(&d.0).args(&args));
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(
                err.contains("unknown database URL scheme") && err.contains("postgres://user@host"),
                "{args:?}: {err}"
            );
        }
    }
    assert_eq!(files(&d.0), before, "nothing was created");
    assert!(!d.path("postgress:").exists() && !d.path("mysql:").exists());
}

/// A SQLite file of another program, holding `tables` (each `CREATE TABLE …`).
fn other_program_file(path: &Path, tables: &[&str]) {
    rt().block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for t in tables {
            sqlx::query(t).execute(&mut c).await.unwrap();
        }
        sqlx::query("INSERT INTO customers (name) VALUES ('ada')")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
}

#[test]
fn another_programs_sqlite_file_is_refused_unchanged() {
    let d = Dir::new("foreign", "sqlite");
    let spec = spec(&d);
    for (file, tables) in [
        (
            "customers.db",
            vec!["CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"],
        ),
        (
            "own-sweeps.db",
            vec![
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
                "CREATE TABLE sweeps (id INTEGER PRIMARY KEY, what TEXT)",
            ],
        ),
        // In WAL mode (closed, so without its log): the look leaves no -wal/-shm behind.
        (
            "wal.db",
            vec![
                "PRAGMA journal_mode = wal",
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
            ],
        ),
    ] {
        let db = d.path(file);
        other_program_file(&db, &tables);
        let before = files(&d.0);
        let db = db.to_str().unwrap();
        for args in [
            vec!["list", "--db", db],
            vec!["status", "--db", db],
            vec!["rank", "--db", db],
            vec!["export", "--db", db, "--format", "hpo-combined"],
            vec!["run", spec.to_str().unwrap(), "--db", db, "--quiet"],
        ] {
            let (code, _, err) = run(bin().args(&args));
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(
                err.contains("not a gridsweep database")
                    && err.contains("customers")
                    && err.contains(file),
                "{args:?}: {err}"
            );
            assert_eq!(
                err.matches("not a gridsweep database").count(),
                1,
                "said once: {err}"
            );
        }
        assert_eq!(
            files(&d.0),
            before,
            "{file}: the file is unchanged and nothing was made beside it"
        );
    }
    // An empty file is a new database, and a gridsweep one opens as before.
    let fresh = d.path("fresh.db");
    std::fs::write(&fresh, b"").unwrap();
    let (code, _, err) =
        run(bin()
            .arg("run")
            .arg(&spec)
            .args(["--db", fresh.to_str().unwrap(), "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(bin().args(["list", "--db", fresh.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains('s'), "{out}");
}

#[test]
fn another_programs_postgres_database_is_refused_unchanged() {
    let Some(url) = postgres_db("foreign") else {
        return;
    };
    let tables = || -> Vec<String> {
        rt().block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let t = sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
                .fetch_all(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            t
        })
    };
    rt().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE customers (id serial PRIMARY KEY, name text)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let d = Dir::new("foreign", "postgres");
    let spec = spec(&d);
    for args in [
        vec!["list", "--db", &url],
        vec!["rank", "--db", &url],
        vec!["run", spec.to_str().unwrap(), "--db", &url, "--quiet"],
    ] {
        let (code, _, err) = run(bin().args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("not a gridsweep database") && err.contains("customers"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        tables(),
        vec!["customers".to_string()],
        "no table was added"
    );
}

/// A new SQLite file in directories that do not exist yet: they are made, and the
/// command says so, once (issue 41 frictions).
#[test]
fn directories_made_for_a_new_database_are_named() {
    let d = Dir::new("foreign", "mkdir");
    let p = spec(&d);
    let db = d.path("made/deeper/s.db");
    let (code, _, err) = run(bin().arg("run").arg(&p).arg("--db").arg(&db).arg("--quiet"));
    assert_eq!(code, 0, "{err}");
    let made = d.path("made/deeper");
    assert!(
        err.contains(&format!(
            "note: created the directory {} for the database",
            made.display()
        )),
        "{err}"
    );
    let (code, _, err) = run(bin().arg("run").arg(&p).arg("--db").arg(&db).arg("--quiet"));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("created the directory"), "{err}");
    // A directory named as the database: said so, and nothing is made in it.
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .arg("--db")
        .arg(&made)
        .arg("--quiet"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is a directory: --db names a database file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&made).unwrap().count(),
        1 + usize::from(d.path("made/deeper/s.db-wal").exists())
            + usize::from(d.path("made/deeper/s.db-shm").exists())
    );
}
