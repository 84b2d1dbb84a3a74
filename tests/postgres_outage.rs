//! PostgreSQL going away in the middle of a sweep. In a test binary of its own: cargo
//! runs test binaries one after another, so no other test's database goes away with it.

mod common;
use common::{bin, cv_results, folds, run, wait_for_done, Backend, Dir};

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn spec(d: &Dir) -> PathBuf {
    d.demo_data(900);
    let spec = d.path("pgaway.json");
    std::fs::write(
        &spec,
        r#"{"name": "pgaway", "dataset": {"path": "data-900.csv"}, "seed": 7,
            "fixed": {"epochs": 25, "early_stopping_patience": 100, "neurons_1": 128, "neurons_2": 128, "neurons_3": 128, "batch_size": 32},
            "grid": {"dropout": [0.1, 0.2, 0.3, 0.4]}}"#,
    )
    .unwrap();
    spec
}

/// pg_ctl as the server's owner (`nobody` when the tests run as root).
fn pg_ctl(args: &[&str]) -> bool {
    let (Ok(ctl), Ok(data)) = (std::env::var("GRIDSWEEP_TEST_PG_CTL"), std::env::var("GRIDSWEEP_TEST_POSTGRES_DATA")) else {
        return false;
    };
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", &ctl]);
        c
    } else {
        Command::new(&ctl)
    };
    cmd.args(["-D", &data]).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false)
}

/// The PostgreSQL server goes away for eight seconds in the middle of a two-process
/// sweep: the dispatchers wait for it (saying so), keep their finished results, and
/// the sweep ends with every fold done exactly once and the same results as an
/// uninterrupted run.
#[test]
fn postgres_going_away_mid_sweep_loses_nothing() {
    let d = Dir::new("sweep", "pgaway");
    let Some(db) = d.db_on(Backend::Postgres, "g") else { return };
    let (Ok(opts), Ok(log)) = (std::env::var("GRIDSWEEP_TEST_PG_OPTS"), std::env::var("GRIDSWEEP_TEST_PG_LOG")) else {
        eprintln!("skipped: the test PostgreSQL's pg_ctl options are unknown (scripts/test.sh sets them)");
        return;
    };
    let spec = spec(&d);
    let a = bin().arg("run").arg(&spec).args(["--db", &db, "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut b = bin().arg("run").arg(&spec).args(["--db", &db, "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_done(&db, "pgaway", 2, &mut b);
    assert!(pg_ctl(&["-m", "fast", "-w", "stop"]), "stopping the test server");
    std::thread::sleep(Duration::from_secs(8));
    assert!(pg_ctl(&["-w", "-l", &log, "-o", &opts, "start"]), "starting the test server again");
    let (oa, ob) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (String::from_utf8_lossy(&oa.stderr), String::from_utf8_lossy(&ob.stderr));
    assert!(oa.status.success() && ob.status.success(), "{ea}\n---\n{eb}");
    assert!(ea.contains("the database is unreachable") || eb.contains("the database is unreachable"), "{ea}\n---\n{eb}");
    assert!(ea.contains("the database is back") || eb.contains("the database is back"), "{ea}\n---\n{eb}");
    let f = folds(&db, "pgaway");
    assert_eq!(f.len(), 12);
    assert!(f.iter().all(|x| x.2 == "done" && x.3 == 1), "every fold once: {f:?}");
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &clean, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&db, "pgaway"), cv_results(&clean, "pgaway"), "PostgreSQL and SQLite hold the same results");
}

