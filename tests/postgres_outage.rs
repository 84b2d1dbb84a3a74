//! PostgreSQL going away in the middle of a sweep. In a test binary of its own: cargo
//! runs test binaries one after another, so no other test's database goes away with it;
//! and the tests here take turns (`ONE_AT_A_TIME`), as each stops the server.

mod common;
use common::{bin, cv_results, folds, run, wait_for_done, Backend, Dir};

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Each test stops the one server: they run one after another.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn spec(d: &Dir) -> PathBuf {
    d.demo_data(900);
    // Named after the test's folder (pgaway, pgctrlc).
    let name =
        d.0.file_name()
            .unwrap()
            .to_string_lossy()
            .rsplit('-')
            .next()
            .unwrap()
            .to_string();
    let spec = d.path(&format!("{name}.json"));
    std::fs::write(
        &spec,
        r#"{"name": "NAME", "dataset": {"path": "data-900.csv"}, "seed": 7,
            "fixed": {"epochs": 25, "early_stopping_patience": 100, "neurons_1": 128, "neurons_2": 128, "neurons_3": 128, "batch_size": 32},
            "grid": {"dropout": [0.1, 0.2, 0.3, 0.4]}}"#
            .replace("NAME", &name),
    )
    .unwrap();
    spec
}

/// pg_ctl as the server's owner (`nobody` when the tests run as root).
fn pg_ctl(args: &[&str]) -> bool {
    let (Ok(ctl), Ok(data)) = (
        std::env::var("GRIDSWEEP_TEST_PG_CTL"),
        std::env::var("GRIDSWEEP_TEST_POSTGRES_DATA"),
    ) else {
        return false;
    };
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", &ctl]);
        c
    } else {
        Command::new(&ctl)
    };
    cmd.args(["-D", &data])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The PostgreSQL server goes away for eight seconds in the middle of a two-process
/// sweep: the dispatchers wait for it (saying so), keep their finished results, and
/// the sweep ends with every fold done exactly once and the same results as an
/// uninterrupted run.
#[test]
fn postgres_going_away_mid_sweep_loses_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Dir::new("sweep", "pgaway");
    let Some(db) = d.db_on(Backend::Postgres, "g") else {
        return;
    };
    let (Ok(opts), Ok(log)) = (
        std::env::var("GRIDSWEEP_TEST_PG_OPTS"),
        std::env::var("GRIDSWEEP_TEST_PG_LOG"),
    ) else {
        eprintln!(
            "skipped: the test PostgreSQL's pg_ctl options are unknown (scripts/test.sh sets them)"
        );
        return;
    };
    let spec = spec(&d);
    let a = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut b = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_done(&db, "pgaway", 2, &mut b);
    assert!(
        pg_ctl(&["-m", "fast", "-w", "stop"]),
        "stopping the test server"
    );
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        pg_ctl(&["-w", "-l", &log, "-o", &opts, "start"]),
        "starting the test server again"
    );
    let (oa, ob) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (
        String::from_utf8_lossy(&oa.stderr),
        String::from_utf8_lossy(&ob.stderr),
    );
    assert!(
        oa.status.success() && ob.status.success(),
        "{ea}\n---\n{eb}"
    );
    assert!(
        ea.contains("the database is unreachable") || eb.contains("the database is unreachable"),
        "{ea}\n---\n{eb}"
    );
    assert!(
        ea.contains("the database is back") || eb.contains("the database is back"),
        "{ea}\n---\n{eb}"
    );
    let f = folds(&db, "pgaway");
    assert_eq!(f.len(), 12);
    assert!(
        f.iter().all(|x| x.2 == "done" && x.3 == 1),
        "every fold once: {f:?}"
    );
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        cv_results(&db, "pgaway"),
        cv_results(&clean, "pgaway"),
        "PostgreSQL and SQLite hold the same results"
    );
}

/// Ctrl-C while a run waits for an unreachable database ends the wait at once (exit
/// 130, saying why), instead of after `--db-timeout`; `resume`, once the server is
/// back, finishes the sweep with the results of an uninterrupted run.
#[test]
fn ctrl_c_while_waiting_for_the_database_stops_the_run() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let d = Dir::new("sweep", "pgctrlc");
    let Some(db) = d.db_on(Backend::Postgres, "g") else {
        return;
    };
    let (Ok(opts), Ok(log)) = (
        std::env::var("GRIDSWEEP_TEST_PG_OPTS"),
        std::env::var("GRIDSWEEP_TEST_PG_LOG"),
    ) else {
        eprintln!(
            "skipped: the test PostgreSQL's pg_ctl options are unknown (scripts/test.sh sets them)"
        );
        return;
    };
    let spec = spec(&d);
    let mut child = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "1", "--lease-seconds", "3"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read its messages as they come.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                said.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    wait_for_done(&db, "pgctrlc", 1, &mut child);
    assert!(
        pg_ctl(&["-m", "fast", "-w", "stop"]),
        "stopping the test server"
    );
    let start = std::time::Instant::now();
    while !said.lock().unwrap().contains("the database is unreachable") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never waited for the database: {}",
            said.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let stopped = std::time::Instant::now();
    let status = child.wait().unwrap();
    let waited = stopped.elapsed();
    reader.join().unwrap();
    assert!(
        pg_ctl(&["-w", "-l", &log, "-o", &opts, "start"]),
        "starting the test server again"
    );
    let text = said.lock().unwrap().clone();
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("stopped by Ctrl-C while waiting"), "{text}");
    assert!(waited < Duration::from_secs(20), "took {waited:?} to stop");

    std::thread::sleep(Duration::from_secs(4));
    let (code, _, err) = run(bin().args(["resume", "pgctrlc", "--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    let f = folds(&db, "pgctrlc");
    assert!(f.iter().all(|x| x.2 == "done"), "{f:?}");
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&db, "pgctrlc"), cv_results(&clean, "pgctrlc"));
}
