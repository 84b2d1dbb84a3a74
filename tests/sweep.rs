//! Sweeps through the real binary: run, resume after kill -9 and Ctrl-C, two processes
//! on one database, extended grids, refusals, rank and exports.

mod common;
use common::{bin, cv_results, folds, rt, run, running_count, wait_for_done, Backend, Dir};

use gridsweep::store::Store;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

impl Dir {
    /// Writes demo data (`rows`) and a spec over it; returns the spec path.
    fn spec(&self, name: &str, rows: usize, fixed: &str, grid: &str) -> PathBuf {
        self.spec_with(name, rows, fixed, grid, "")
    }
}

fn json(cmd: &mut Command) -> Value {
    let (code, out, err) = run(cmd);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

const SMALL: &str =
    r#"{"epochs": 3, "neurons_1": 32, "neurons_2": 32, "neurons_3": 32, "batch_size": 64}"#;
/// Long enough per fold that a signal lands while folds run.
const SLOWER: &str = r#"{"epochs": 60, "early_stopping_patience": 100, "neurons_1": 128, "neurons_2": 128, "neurons_3": 128, "batch_size": 32}"#;

fn spawn_run(spec: &Path, db: &str, extra: &[&str]) -> Child {
    bin()
        .arg("run")
        .arg(spec)
        .args(["--db", db, "--jobs", "2"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn run_rank_export_and_extend_sqlite() {
    run_rank_export_and_extend(Backend::Sqlite);
}

#[test]
fn run_rank_export_and_extend_postgres() {
    run_rank_export_and_extend(Backend::Postgres);
}

fn run_rank_export_and_extend(backend: Backend) {
    let d = Dir::new("sweep", &format!("basic-{backend:?}"));
    let spec = d.spec("basic", 600, SMALL, r#"[{"optimizer": ["adam", "nadam"], "dropout": [0.2, 0.4]}, {"optimizer": ["Adam"], "dropout": [0.2]}]"#);
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };

    // plan changes nothing
    let (code, out, _) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "5 grid rows from 2 sub-grid(s), 4 distinct configurations, 4 distinct trainings"
        ),
        "{out}"
    );
    assert!(
        out.contains("(1 duplicate row(s); 0 configuration(s) train the same network"),
        "{out}"
    );
    assert!(out.contains("12 fold-fits"), "{out}");
    assert!(backend == Backend::Postgres || !Path::new(&db).exists());

    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("12 of 12 folds done"), "{err}");

    let st = json(bin().args(["status", "--db", &db, "--json"]));
    assert_eq!(st["counts"]["done"], 12);
    assert_eq!(st["failures"].as_array().unwrap().len(), 0);
    assert_eq!(
        st["done_fold_devices"],
        serde_json::json!([{"device": common::cpu_label(), "folds": 12}])
    );
    let (code, out, err) = run(bin().args(["status", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("done folds: 12 on {}", common::cpu_label())),
        "{out}"
    );
    assert!(
        !out.contains("kernel paths"),
        "one path is not a mix: {out}"
    );

    let r = json(bin().args([
        "rank", "basic", "--db", &db, "--json", "--w1", "0.2", "--w2", "1.5",
    ]));
    let ranking = r["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 4);
    assert_eq!(r["varying"], serde_json::json!(["dropout", "optimizer"]));
    let mut prev = f64::INFINITY;
    for (i, row) in ranking.iter().enumerate() {
        let s = &row["summary"];
        let (t, v) = (
            s["mean_train_accuracy"].as_f64().unwrap(),
            s["mean_val_accuracy"].as_f64().unwrap(),
        );
        let score = 0.5 * (0.2 * (1.0 - (t - v)) + 1.5 * v);
        assert!((row["score"].as_f64().unwrap() - score).abs() < 1e-12);
        assert!(score <= prev);
        assert_eq!(row["rank"], i + 1);
        prev = score;
    }

    let hpo = d.path("hpo.csv");
    let (code, _, err) = run(bin()
        .args(["export", "--db", &db, "--format", "hpo-combined", "--out"])
        .arg(&hpo));
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&hpo).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "activation,activation_numerical,batch_size,delta_acc,dropout,early_stopping_patience,epochs,mean_train_score,mean_val_score,neurons_1,neurons_2,neurons_3,neurons_4,num_hidden_layers,optimizer,optimizer_numerical,reduce_lr_factor,reduce_lr_min_lr,reduce_lr_patience,std_train_score,std_val_score,weight_contraint,in_tie_set,p_not_worse");
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 4);
    // The tie set's columns, after the study's: as many in it as `rank --json` says (by
    // the sweep's own rule, as the export ranks).
    let own = json(bin().args(["rank", "basic", "--db", &db, "--json"]));
    let members = own["tie_set"]["members"].as_array().unwrap().len();
    let st = json(bin().args(["status", "basic", "--db", &db, "--json"]));
    assert_eq!(st["tie_set"]["members"], own["tie_set"]["members"]);
    assert_eq!(st["tie_set"]["pick"], own["tie_set"]["pick"]);
    let (code, out, _) = run(bin().args(["status", "basic", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("tie set: {members} of 4 not credibly worse")),
        "{out}"
    );
    assert_eq!(
        rows.iter().filter(|r| r[22] == "True").count(),
        members,
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .all(|r| ["True", "False"].contains(&r[22].as_str())
            && (0.0..=1.0).contains(&r[23].parse::<f64>().unwrap())));
    for r in &rows {
        assert_eq!(r[0], "LeakyReLU");
        assert_eq!(r[1], "1");
        assert_eq!(r[15], if r[14] == "adam" { "0.0" } else { "1.0" });
        assert_eq!(r[17], "1e-07");
        assert_eq!(r[21], "10.0");
        let (t, v, delta): (f64, f64, f64) = (
            r[7].parse().unwrap(),
            r[8].parse().unwrap(),
            r[3].parse().unwrap(),
        );
        assert!((t - v - delta).abs() < 1e-12);
    }

    let (code, out, _) = run(bin().args(["export", "--db", &db, "--format", "cv-results"]));
    assert_eq!(code, 0);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "mean_fit_time",
            "std_fit_time",
            "mean_score_time",
            "std_score_time",
            "param_dropout",
            "param_optimizer",
            "params",
            "split0_test_score",
            "split1_test_score",
            "split2_test_score",
            "mean_test_score",
            "std_test_score",
            "rank_test_score",
            "split0_train_score",
            "split1_train_score",
            "split2_train_score",
            "mean_train_score",
            "std_train_score",
            "folds_run",
            "in_tie_set",
            "p_not_worse"
        ]
    );
    let recs: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 4);
    assert_eq!(&recs[0][6], "{'dropout': 0.2, 'optimizer': 'adam'}");
    let mut ranks: Vec<usize> = recs.iter().map(|r| r[12].parse().unwrap()).collect();
    ranks.sort();
    assert_eq!(ranks[0], 1);
    for r in &recs {
        let splits: Vec<f64> = (7..10).map(|i| r[i].parse().unwrap()).collect();
        let mean = splits.iter().sum::<f64>() / 3.0;
        let std = (splits.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((r[10].parse::<f64>().unwrap() - mean).abs() < 1e-12);
        assert!((r[11].parse::<f64>().unwrap() - std).abs() < 1e-12);
    }

    // Extend the grid: only the new configuration runs; done folds stay as they were.
    let before = folds(&db, "basic");
    let spec2 = d.spec(
        "basic",
        600,
        SMALL,
        r#"[{"optimizer": ["adam", "nadam"], "dropout": [0.2, 0.4, 0.3]}]"#,
    );
    assert_eq!(spec, spec2);
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("6 configurations (2 new)"), "{err}");
    let after = folds(&db, "basic");
    assert_eq!(after.len(), 18);
    assert_eq!(&after[..12], &before[..]);
    assert!(after.iter().all(|f| f.2 == "done" && f.3 == 1), "{after:?}");

    let list = json(bin().args(["list", "--db", &db, "--json"]));
    assert_eq!(list[0]["name"], "basic");
    assert_eq!(list[0]["configurations"], 6);
}

#[test]
fn different_data_or_folds_under_the_same_name_is_refused() {
    let d = Dir::new("sweep", "refuse");
    let db = d.db();
    let spec = d.spec("same", 300, SMALL, "{}");
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db]));
    assert_eq!(code, 0, "{err}");
    let spec_other = d.spec("same", 360, SMALL, "{}");
    let (code, _, err) = run(bin().arg("run").arg(&spec_other).args(["--db", &db]));
    assert_eq!(code, 2);
    assert!(
        err.contains("different data") && err.contains("same"),
        "{err}"
    );
    let before = folds(&db, "same");
    assert!(before.iter().all(|f| f.2 == "done"));

    let (code, _, err) = run(bin()
        .args(["run", "--db", &db, "--data"])
        .arg(d.path("data-360.csv"))
        .arg(&spec));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn spec_errors_name_the_subgrid_and_key() {
    let d = Dir::new("sweep", "badspec");
    let spec = d.spec(
        "bad",
        300,
        SMALL,
        r#"[{"dropout": [0.1]}, {"optimiser": ["adam"]}]"#,
    );
    let (code, _, err) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 2);
    assert!(
        err.contains("grid[1].optimiser") && err.contains("did you mean `optimizer`"),
        "{err}"
    );
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &d.db()]));
    assert_eq!(code, 2);
    assert!(err.contains("bad.json"), "{err}");
    assert!(
        !Path::new(&d.db()).exists(),
        "nothing may be recorded for an invalid spec"
    );
}

#[test]
fn failed_folds_are_recorded_and_retried_on_request_sqlite() {
    failed_folds_are_recorded_and_retried_on_request(Backend::Sqlite);
}

#[test]
fn failed_folds_are_recorded_and_retried_on_request_postgres() {
    failed_folds_are_recorded_and_retried_on_request(Backend::Postgres);
}

fn failed_folds_are_recorded_and_retried_on_request(backend: Backend) {
    let d = Dir::new("sweep", &format!("fail-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let spec = d.spec("fail", 300, r#"{"epochs": 3, "optimizer": "sgd", "dropout": 0, "weight_constraint": 0, "activation": "relu"}"#,
                      r#"{"learning_rate": [0.01, 1e12]}"#);
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("FAILED: diverged at epoch"), "{err}");
    let st = json(bin().args(["status", "--db", &db, "--json"]));
    assert_eq!(st["counts"]["done"], 3);
    assert_eq!(st["counts"]["failed"], 3);
    assert!(st["failures"][0]["error"]
        .as_str()
        .unwrap()
        .starts_with("diverged at epoch"));
    // The good configuration is ranked; the failed one is not.
    let r = json(bin().args(["rank", "--db", &db, "--json"]));
    assert_eq!(r["ranking"].as_array().unwrap().len(), 1);

    let (code, _, _) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--retry-failed"]));
    assert_eq!(code, 1);
    let f = folds(&db, "fail");
    assert!(
        f.iter().filter(|x| x.2 == "failed").all(|x| x.3 == 2),
        "{f:?}"
    );
    assert!(
        f.iter().filter(|x| x.2 == "done").all(|x| x.3 == 1),
        "{f:?}"
    );
}

#[test]
fn kill_9_mid_fold_then_resume_runs_every_fold_exactly_once_sqlite() {
    kill_9_mid_fold_then_resume_runs_every_fold_exactly_once(Backend::Sqlite);
}

#[test]
fn kill_9_mid_fold_then_resume_runs_every_fold_exactly_once_postgres() {
    kill_9_mid_fold_then_resume_runs_every_fold_exactly_once(Backend::Postgres);
}

fn kill_9_mid_fold_then_resume_runs_every_fold_exactly_once(backend: Backend) {
    let d = Dir::new("sweep", &format!("kill-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let grid = r#"{"dropout": [0.1, 0.2, 0.3, 0.4]}"#;
    let spec = d.spec("killed", 900, SLOWER, grid);

    let mut child = spawn_run(&spec, &db, &[]);
    wait_for_done(&db, "killed", 2, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = folds(&db, "killed");
    let done_before: Vec<_> = at_kill.iter().filter(|f| f.2 == "done").cloned().collect();
    assert!(
        done_before.len() >= 2 && done_before.len() < 12,
        "{at_kill:?}"
    );
    assert!(
        at_kill.iter().any(|f| f.2 == "running"),
        "the kill should land mid-fold: {at_kill:?}"
    );

    let (code, _, err) = run(bin().args(["resume", "killed", "--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    let after = folds(&db, "killed");
    assert_eq!(after.len(), 12);
    assert!(after.iter().all(|f| f.2 == "done"), "{after:?}");
    // Folds done before the kill were not run again.
    for f in &done_before {
        assert!(after.contains(f), "{f:?} changed");
    }
    // Folds that were pending ran once; those the kill interrupted, once more.
    for f in &after {
        let was = at_kill.iter().find(|g| g.0 == f.0 && g.1 == f.1).unwrap();
        let expected = if was.2 == "running" { 2 } else { 1 };
        assert_eq!(f.3, expected, "{f:?} was {was:?}");
    }

    // The results equal an uninterrupted run's.
    let Some(clean_db) = d.db_on(backend, "clean") else {
        return;
    };
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean_db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&db, "killed"), cv_results(&clean_db, "killed"));
}

#[test]
fn two_processes_never_run_the_same_fold_sqlite() {
    two_processes_never_run_the_same_fold(Backend::Sqlite);
}

#[test]
fn two_processes_never_run_the_same_fold_postgres() {
    two_processes_never_run_the_same_fold(Backend::Postgres);
}

fn two_processes_never_run_the_same_fold(backend: Backend) {
    let d = Dir::new("sweep", &format!("two-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let spec = d.spec(
        "shared",
        600,
        SMALL,
        r#"{"dropout": [0.1, 0.2, 0.3, 0.4, 0.5], "batch_size": [32, 64]}"#,
    );
    let a = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (oa, ob) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        oa.status.success(),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert!(
        ob.status.success(),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );
    let f = folds(&db, "shared");
    assert_eq!(f.len(), 30);
    assert!(
        f.iter().all(|x| x.2 == "done" && x.3 == 1),
        "a fold was claimed twice: {f:?}"
    );
    let ran = |o: &std::process::Output| {
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        e.lines()
            .filter(|l| l.contains("] ") && l.contains(" fold "))
            .count()
    };
    assert_eq!(ran(&oa) + ran(&ob), 30);
}

#[test]
fn ctrl_c_once_finishes_running_folds_twice_abandons_them() {
    let d = Dir::new("sweep", "sigint");
    let db = d.db();
    let spec = d.spec(
        "sigint",
        900,
        SLOWER,
        r#"{"dropout": [0.1, 0.2, 0.3, 0.4]}"#,
    );
    let sigint = |c: &Child| {
        assert!(Command::new("kill")
            .args(["-INT", &c.id().to_string()])
            .status()
            .unwrap()
            .success());
    };

    // Once: running folds finish, nothing new starts, nothing is left running.
    let mut child = spawn_run(&spec, &db, &[]);
    wait_for_done(&db, "sigint", 1, &mut child);
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Stopped before the end: exit 130, as a shell reports SIGINT, so `run && export`
    // does not carry on with partial results.
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("Ctrl-C: no new folds")
            && err.contains("interrupted before the end (exit code 130)"),
        "{err}"
    );
    let f = folds(&db, "sigint");
    assert!(f.iter().all(|x| x.2 == "done" || x.2 == "pending"), "{f:?}");
    assert!(f.iter().any(|x| x.2 == "pending"), "{f:?}");
    // Nobody works on it now: status says so instead of an ETA.
    let (code, out, _) = run(bin().args(["status", "sigint", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("no worker is running") && !out.contains("ETA"),
        "{out}"
    );
    assert!(f.iter().filter(|x| x.2 == "done").all(|x| x.3 == 1));

    // Twice: running folds are abandoned and return to pending. (Folds long enough that
    // none can finish between the signals.)
    let slow = d.spec(
        "sigint-slow",
        900,
        r#"{"epochs": 2000, "early_stopping_patience": 5000, "neurons_1": 128, "batch_size": 32}"#,
        "{}",
    );
    let slow_db = d.path("slow.db").to_string_lossy().into_owned();
    let mut child = spawn_run(&slow, &slow_db, &[]);
    let start = Instant::now();
    while running_count(&slow_db, "sigint-slow") == 0 {
        assert!(
            child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60),
            "no fold started"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    std::thread::sleep(Duration::from_millis(300));
    sigint(&child);
    std::thread::sleep(Duration::from_millis(300));
    sigint(&child);
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Ctrl-C again: abandoning"), "{err}");
    let f = folds(&slow_db, "sigint-slow");
    assert_eq!(f.len(), 3);
    assert!(f.iter().all(|x| x.2 == "pending"), "{f:?}");
    assert!(
        f.iter().all(|x| x.3 == 0),
        "abandoned claims are not counted as attempts: {f:?}"
    );

    let (code, _, err) = run(bin().args(["resume", "sigint", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let f = folds(&db, "sigint");
    assert!(f.iter().all(|x| x.2 == "done"), "{f:?}");
}

#[test]
fn device_options_are_checked_before_anything_is_recorded() {
    let d = Dir::new("sweep", "device");
    let spec = d.spec("dev", 300, SMALL, "{}");
    let (code, _, err) =
        run(bin()
            .arg("run")
            .arg(&spec)
            .args(["--db", &d.db(), "--jobs-per-device", "2"]));
    assert_eq!(code, 2);
    assert!(err.contains("--jobs-per-device is for GPUs"), "{err}");
    if !tch::Cuda::is_available() {
        let (code, _, err) =
            run(bin()
                .arg("run")
                .arg(&spec)
                .args(["--db", &d.db(), "--device", "cuda"]));
        assert_eq!(code, 2);
        assert!(err.contains("no CUDA device"), "{err}");
    }
    // Nothing was recorded: not even the database file.
    let (code, _, err) = run(bin().args(["list", "--db", &d.db(), "--json"]));
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
}

/// `copy` moves a sweep between databases (a SQLite file, PostgreSQL, and back):
/// the same exports, rank and evaluations there; again, nothing more is written;
/// a fold running in the source arrives pending, and resuming there completes the
/// sweep with the same results.
fn copy_moves_a_sweep(backend: Backend) {
    let d = Dir::new("sweep", &format!("copy-{backend:?}"));
    let spec = d.spec("cp", 500, SMALL, r#"{"dropout": [0.1, 0.3]}"#);
    let src = d.path("src.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &src, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(bin().args(["evaluate", "cp", "--db", &src, "--epochs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let Some(dst) = d.db_on(backend, "dst") else {
        return;
    };
    let (code, out, err) = run(bin().args(["copy", "cp", "--from", &src, "--to", &dst]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "2 configuration(s) and 6 fold(s) added, 6 fold result(s) and 1 evaluation(s) written"
        ),
        "{out}"
    );
    assert_eq!(cv_results(&src, "cp"), cv_results(&dst, "cp"));
    let rank = |db: &str| json(bin().args(["rank", "cp", "--db", db, "--json"]))["ranking"].clone();
    assert_eq!(rank(&src), rank(&dst));
    let (code, out, _) = run(bin().args(["copy", "cp", "--from", &src, "--to", &dst]));
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "0 configuration(s) and 0 fold(s) added, 0 fold result(s) and 0 evaluation(s) written"
        ),
        "idempotent: {out}"
    );
    // And back into a fresh file: the same again.
    let back = d.path("back.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().args(["copy", "cp", "--from", &dst, "--to", &back]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&back, "cp"), cv_results(&src, "cp"));

    // A sweep with a fold running (claimed by a live process elsewhere) and others
    // pending: copied, the running one is pending there; resuming there finishes it.
    let spec2 = d.spec("part", 500, SMALL, r#"{"dropout": [0.2, 0.4]}"#);
    let part = d.path("part.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().arg("plan").arg(&spec2));
    assert_eq!(code, 0, "{err}");
    rt().block_on(async {
        let store = Store::open(part.as_str()).await.unwrap();
        let s = gridsweep::spec::Spec::load(&spec2).unwrap();
        let fp = gridsweep::data::fingerprint(&s.dataset).unwrap();
        let row = store
            .ensure_sweep("part", &serde_json::to_string(&s).unwrap(), &fp, 3, s.seed)
            .await
            .unwrap();
        store
            .add_configs(row.id, &s.expand().unwrap().configs, 3)
            .await
            .unwrap();
        let me = gridsweep::domain::Owner {
            host: "elsewhere".into(),
            pid: 1,
        };
        store
            .claim(
                row.id,
                &me,
                "elsewhere:1:0",
                Duration::from_secs(3600),
                "cpu",
            )
            .await
            .unwrap()
            .unwrap();
        store.close().await;
    });
    let Some(dst2) = d.db_on(backend, "dst2") else {
        return;
    };
    let (code, out, err) = run(bin().args(["copy", "--from", &part, "--to", &dst2]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("(1 running in the source arrive pending)")
            && out.contains("0 of 6 folds done, 0 failed, 6 pending"),
        "{out}"
    );
    let (code, _, err) = run(bin().args(["resume", "part", "--db", &dst2, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec2)
        .args(["--db", &clean, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&dst2, "part"), cv_results(&clean, "part"));
}

#[test]
fn copy_moves_a_sweep_sqlite() {
    copy_moves_a_sweep(Backend::Sqlite);
}

#[test]
fn copy_moves_a_sweep_postgres() {
    copy_moves_a_sweep(Backend::Postgres);
}

/// A copy that fails inside its transaction (here a trigger refuses the folds) says
/// why, exits non-zero and leaves no empty sweep of that name behind; copied again
/// once the cause is gone, it arrives whole.
#[test]
fn a_failed_copy_leaves_nothing_behind() {
    let d = Dir::new("sweep", "copy-fails");
    let spec = d.spec("cp", 400, SMALL, r#"{"dropout": [0.1, 0.3]}"#);
    let src = d.path("src.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &src, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let dst = d.path("dst.db").to_string_lossy().into_owned();
    let sql = |q: &'static str| {
        rt().block_on(async {
            Store::open(dst.as_str()).await.unwrap().close().await;
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{dst}"))
                .await
                .unwrap();
            sqlx::query(q).execute(&mut c).await.unwrap();
        })
    };
    sql("CREATE TRIGGER refuse_folds BEFORE INSERT ON folds BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    let (code, _, err) = run(bin().args(["copy", "cp", "--from", &src, "--to", &dst]));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("injected failure"), "{err}");
    let sweeps = rt().block_on(async {
        let store = Store::open(dst.as_str()).await.unwrap();
        let s = store.sweeps().await.unwrap();
        store.close().await;
        s
    });
    assert!(
        sweeps.is_empty(),
        "an empty sweep was left: {:?}",
        sweeps.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    sql("DROP TRIGGER refuse_folds");
    let (code, _, err) = run(bin().args(["copy", "cp", "--from", &src, "--to", &dst]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&src, "cp"), cv_results(&dst, "cp"));
}

/// A worker frozen (SIGSTOP) past its lease while training: another process takes its
/// fold over and finishes the sweep; when the frozen one wakes, its result for that
/// fold is not written over the new owner's. Every fold ends done; the taken-over one
/// was claimed twice, the others once; the results are an uninterrupted run's.
fn frozen_worker_loses_its_fold(backend: Backend) {
    let d = Dir::new("sweep", &format!("frozen-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let conf = r#"{"epochs": 40, "early_stopping_patience": 100, "neurons_1": 128, "neurons_2": 128, "neurons_3": 128, "batch_size": 32}"#;
    let spec = d.spec("frozen", 900, conf, r#"{"dropout": [0.1, 0.2]}"#);
    let mut a = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "1", "--lease-seconds", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while running_count(&db, "frozen") == 0 {
        assert!(
            a.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60),
            "no fold started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = a.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    // Past the lease (2 s); on PostgreSQL also past the server's end of a session left
    // idle in a transaction (10 s): frozen inside one, the worker would hold its fold's
    // row lock, which claims skip.
    std::thread::sleep(Duration::from_secs(if backend == Backend::Postgres {
        11
    } else {
        3
    }));
    let (code, _, err) =
        run(bin()
            .arg("run")
            .arg(&spec)
            .args(["--db", &db, "--jobs", "1", "--lease-seconds", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let out = a.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = folds(&db, "frozen");
    assert_eq!(f.len(), 6);
    assert!(f.iter().all(|x| x.2 == "done"), "{f:?}");
    assert_eq!(
        f.iter().filter(|x| x.3 == 2).count(),
        1,
        "the frozen worker's fold was taken over once: {f:?}"
    );
    assert!(f.iter().all(|x| x.3 <= 2), "{f:?}");
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&db, "frozen"), cv_results(&clean, "frozen"));
}

#[test]
fn frozen_worker_loses_its_fold_sqlite() {
    frozen_worker_loses_its_fold(Backend::Sqlite);
}

#[test]
fn frozen_worker_loses_its_fold_postgres() {
    frozen_worker_loses_its_fold(Backend::Postgres);
}
