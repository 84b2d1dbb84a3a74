//! Helpers shared by the integration tests that drive the binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The gridsweep binary under test, with MKL's default kernels whatever the
/// environment says (tests that want `--mkl-avx512` or `--fp32-portable` ask for it).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsweep"));
    c.env_remove(gridsweep::mkl::ENV)
        .env_remove(gridsweep::mkl::PORTABLE_ENV)
        .env_remove(gridsweep::mkl::VENDOR_ENV)
        .env_remove(gridsweep::mkl::KERNELS_ENV)
        .env_remove("GRIDSWEEP_CPU_AVX512");
    c
}

/// The device label the binary records for CPU folds here by default:
/// `cpu+mkl-avx512` on a CPU with AVX-512 (whatever its vendor), else `cpu`.
pub fn cpu_label() -> String {
    gridsweep::mkl::Cpu::this()
        .default_kernels()
        .label()
        .to_string()
}

/// Runs a command; returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// A fresh folder for one test, removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    /// `<tmp>/gridsweep-<suite>-<pid>-<name>`, emptied.
    pub fn new(suite: &str, name: &str) -> Dir {
        let d =
            std::env::temp_dir().join(format!("gridsweep-{suite}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    pub fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }

    /// `data-<rows>.csv` of the built-in demo data in this folder, written once.
    pub fn demo_data(&self, rows: usize) -> PathBuf {
        let data = self.path(&format!("data-{rows}.csv"));
        if !data.exists() {
            let (code, _, err) = run(bin()
                .args(["demo-data", "--rows", &rows.to_string(), "--out"])
                .arg(&data));
            assert_eq!(code, 0, "{err}");
        }
        data
    }

    /// The test's results database.
    pub fn db(&self) -> String {
        self.path("g.db").to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The two stores a test body runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty PostgreSQL database named after the test, on the server
/// scripts/test.sh starts (GRIDSWEEP_TEST_POSTGRES); None, saying so, where there is
/// none (a plain `cargo test`).
pub fn postgres_db(name: &str) -> Option<String> {
    let Ok(admin) = std::env::var("GRIDSWEEP_TEST_POSTGRES") else {
        eprintln!("skipped on PostgreSQL: GRIDSWEEP_TEST_POSTGRES is unset (scripts/test.sh starts a server and sets it)");
        return None;
    };
    let db: String = format!("gs_{name}_{}", std::process::id())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("the test PostgreSQL server");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{db}"))
}

/// A fresh PostgreSQL database owned by role gs_password (password `s3cret`, made if
/// missing) on the test server: (host:port, database name); None, saying so, where
/// there is no server.
pub fn postgres_password_db(tag: &str) -> Option<(String, String)> {
    let Ok(admin) = std::env::var("GRIDSWEEP_TEST_POSTGRES") else {
        eprintln!("skipped on PostgreSQL: GRIDSWEEP_TEST_POSTGRES is unset (scripts/test.sh starts a server and sets it)");
        return None;
    };
    let db = format!("gs_{tag}_{}", std::process::id());
    rt().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_roles WHERE rolname = 'gs_password'")
                .fetch_optional(&mut c)
                .await
                .unwrap();
        if exists.is_none() {
            sqlx::query("CREATE ROLE gs_password LOGIN PASSWORD 's3cret'")
                .execute(&mut c)
                .await
                .unwrap();
        }
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {db} OWNER gs_password"))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let hostport = admin
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    Some((hostport, db))
}

impl Dir {
    /// The test's database on `backend` (`name` tells several apart); None where that
    /// backend cannot be had (the test then skips, having said so).
    pub fn db_on(&self, backend: Backend, name: &str) -> Option<String> {
        match backend {
            Backend::Sqlite => Some(
                self.path(&format!("{name}.db"))
                    .to_string_lossy()
                    .into_owned(),
            ),
            Backend::Postgres => postgres_db(&format!(
                "{}_{name}",
                self.0.file_name().unwrap().to_string_lossy()
            )),
        }
    }
}

// ---- reading a sweep's state through the store (both backends)

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// (config, fold, state, attempts) of every fold of sweep `name`.
pub fn folds(db: &str, name: &str) -> Vec<(String, i64, String, i64)> {
    rt().block_on(async {
        let store = gridsweep::store::Store::open(db).await.unwrap();
        let s = store.sweep_by_name(name).await.unwrap().unwrap();
        let a = store.attempts(s.id).await.unwrap();
        store.close().await;
        a.into_iter()
            .map(|f| (f.config_id, f.fold, f.state.to_string(), f.attempts))
            .collect()
    })
}

/// Whether the database can be looked at yet (a SQLite file appears with the run).
fn exists(db: &str) -> bool {
    db.starts_with("postgres") || std::path::Path::new(db).exists()
}

/// Folds of sweep `name` done (or running) now; 0 before the database exists.
pub fn done_count(db: &str, name: &str) -> usize {
    count(db, name, |c| c.done)
}

pub fn running_count(db: &str, name: &str) -> usize {
    count(db, name, |c| c.running)
}

fn count(db: &str, name: &str, which: fn(&gridsweep::domain::Counts) -> i64) -> usize {
    if !exists(db) {
        return 0;
    }
    rt().block_on(async {
        let Ok(store) = gridsweep::store::Store::open(db).await else {
            return 0;
        };
        let n = match store.sweep_by_name(name).await {
            Ok(Some(s)) => store
                .counts(s.id)
                .await
                .map(|c| which(&c) as usize)
                .unwrap_or(0),
            _ => 0,
        };
        store.close().await;
        n
    })
}

pub fn wait_for_done(db: &str, name: &str, at_least: usize, child: &mut std::process::Child) {
    let start = std::time::Instant::now();
    while done_count(db, name) < at_least {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {at_least} folds were done"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "timed out waiting for folds"
        );
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
}

pub fn cv_results(db: &str, name: &str) -> String {
    let (code, out, err) = run(bin().args(["export", name, "--db", db, "--format", "cv-results"]));
    assert_eq!(code, 0, "{err}");
    // Drop the timing columns (4 first): everything else must match exactly.
    out.lines()
        .map(|l| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            rec.iter().skip(4).collect::<Vec<_>>().join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Dir {
    /// Demo data (`rows`) and a spec over it (`extra`: more top-level keys, starting
    /// with a comma); returns the spec path.
    pub fn spec_with(
        &self,
        name: &str,
        rows: usize,
        fixed: &str,
        grid: &str,
        extra: &str,
    ) -> PathBuf {
        self.demo_data(rows);
        let spec = self.path(&format!("{name}.json"));
        std::fs::write(
            &spec,
            format!(
                r#"{{"name": "{name}", "dataset": {{"path": "data-{rows}.csv"}}, "cv": {{"folds": 3}}, "seed": 7,
                    "fixed": {fixed}, "grid": {grid}{extra}}}"#
            ),
        )
        .unwrap();
        spec
    }
}

/// Waits (up to 2 minutes) until `ready()` while `child` runs.
pub fn wait_until(child: &mut std::process::Child, what: &str, mut ready: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {what}"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every rung score of a sweep, for comparing runs (none when the database or the
/// sweep is not there yet).
pub fn rung_scores(db: &str, name: &str) -> Vec<gridsweep::domain::RungScore> {
    if !db.starts_with("postgres") && !std::path::Path::new(db).exists() {
        return Vec::new();
    }
    rt().block_on(async {
        let Ok(store) = gridsweep::store::Store::open(db).await else {
            return Vec::new();
        };
        let r = match store.sweep_by_name(name).await {
            Ok(Some(s)) => store.rung_scores(s.id).await.unwrap_or_default(),
            _ => Vec::new(),
        };
        store.close().await;
        r
    })
}

/// Every fold result of configuration `id`, bit for bit (timings left out).
pub fn exact_results(db: &str, sweep: &str, id: &str) -> Vec<String> {
    rt().block_on(async {
        let store = gridsweep::store::Store::open(db).await.unwrap();
        let s = store.sweep_by_name(sweep).await.unwrap().unwrap();
        let r = store.fold_results(s.id, id).await.unwrap();
        store.close().await;
        r.into_iter()
            .map(|mut f| {
                f.fit_seconds = 0.0;
                f.score_seconds = 0.0;
                format!("{f:?}")
            })
            .collect()
    })
}
