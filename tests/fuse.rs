//! `run --fuse N` through the real binary: folds of one network shape trained as one
//! stacked model record exactly what they record trained one at a time, on both
//! backends, through kill -9 and resume, two processes on one database, and a halving
//! sweep's rungs (spans continued from saved states).

mod common;
use common::{bin, cv_results, folds, run, rung_scores, wait_for_done, Backend, Dir};
use std::process::Stdio;

/// Two network shapes, two batch sizes, ReLU and LeakyReLU with their dropout rates,
/// two optimizers; tanh (which cannot fuse) rides along; early stopping ends some
/// folds before the others in their group.
const GRID: &str = r#"[
    {"neurons_1": [32, 48], "batch_size": [32, 64], "activation": ["relu", "LeakyReLU"], "dropout": [0.2, 0.4], "optimizer": ["adam", "nadam"]},
    {"neurons_1": [32], "activation": ["tanh"], "dropout": [0.3]}
]"#;
const FIXED: &str = r#"{"epochs": 6, "early_stopping_patience": 1, "monitor": "loss", "neurons_2": 24, "num_hidden_layers": 2, "batch_size": 64}"#;

#[test]
fn fused_runs_record_the_unfused_results_sqlite() {
    fused_runs_record_the_unfused_results(Backend::Sqlite);
}

#[test]
fn fused_runs_record_the_unfused_results_postgres() {
    fused_runs_record_the_unfused_results(Backend::Postgres);
}

fn fused_runs_record_the_unfused_results(backend: Backend) {
    let d = Dir::new("fuse", &format!("same-{backend:?}"));
    let spec = d.spec_with("fused", 500, FIXED, GRID, "");
    let (Some(plain), Some(fused), Some(shared)) = (
        d.db_on(backend, "plain"),
        d.db_on(backend, "fused"),
        d.db_on(backend, "shared"),
    ) else {
        return;
    };
    // `plan` shows the groups: 2 widths × 2 batch sizes of 8 trainings each, and tanh's.
    let (code, out, err) = run(bin().arg("plan").arg(&spec).arg("--json"));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let groups = plan["fusion_groups"].as_array().unwrap();
    let sizes: Vec<u64> = groups
        .iter()
        .map(|g| g["trainings"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [8, 8, 8, 8, 1], "{out}");
    assert!(
        groups[..4].iter().all(|g| g["fuses"] == true) && groups[4]["fuses"] == false,
        "{out}"
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &plain, "--jobs", "1", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &fused, "--jobs", "2", "--fuse", "8"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("fused"), "the run says it fuses: {err}");
    let want = cv_results(&plain, "fused");
    assert_eq!(want.lines().count(), 34, "a header and 33 configurations");
    assert_eq!(
        cv_results(&fused, "fused"),
        want,
        "fused folds record their unfused results"
    );
    let f = folds(&fused, "fused");
    assert!(
        f.len() == 99 && f.iter().all(|x| x.2 == "done" && x.3 == 1),
        "{f:?}"
    );
    // A fused fold's span is its group's: `plan --calibrate` does not time from it,
    // and says so; the unfused run calibrates.
    let (code, _, err) = run(bin().arg("plan").arg(&spec).args(["--calibrate", &fused]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fused ran under run --fuse"), "{err}");
    let (code, out, err) = run(bin().arg("plan").arg(&spec).args(["--calibrate", &plain]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("calibrated on 99 fold(s) of fused"), "{out}");

    // Two processes on one database, each fusing: every fold once, the same results.
    let spawn = || {
        bin()
            .arg("run")
            .arg(&spec)
            .args(["--db", &shared, "--jobs", "1", "--fuse", "5"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
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
    let f = folds(&shared, "fused");
    assert!(
        f.len() == 99 && f.iter().all(|x| x.2 == "done" && x.3 == 1),
        "a fold ran twice: {f:?}"
    );
    assert_eq!(cv_results(&shared, "fused"), want);
}

/// Killed with kill -9 while groups train (their folds holding saved states from
/// epoch 10 on), then resumed with `--fuse`: every fold done, those done before the
/// kill untouched, and the results those of an unfused run.
#[test]
fn kill_9_mid_group_then_resume_fused() {
    let d = Dir::new("fuse", "kill");
    let db = d.db();
    let slower = r#"{"epochs": 40, "early_stopping_patience": 100, "neurons_1": 96, "neurons_2": 96, "num_hidden_layers": 2, "batch_size": 32}"#;
    let spec = d.spec_with(
        "killed",
        900,
        slower,
        r#"{"dropout": [0.1, 0.2, 0.3, 0.4], "optimizer": ["adam", "nadam"]}"#,
        "",
    );
    let mut child = bin()
        .arg("run")
        .arg(&spec)
        .args([
            "--db",
            &db,
            "--jobs",
            "1",
            "--fuse",
            "6",
            "--checkpoint-every",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_done(&db, "killed", 6, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = folds(&db, "killed");
    let done_before: Vec<_> = at_kill.iter().filter(|f| f.2 == "done").cloned().collect();
    assert!(
        done_before.len() >= 6 && done_before.len() < 24,
        "{at_kill:?}"
    );
    assert!(
        at_kill.iter().any(|f| f.2 == "running"),
        "the kill should land mid-group: {at_kill:?}"
    );

    let (code, _, err) = run(bin().args([
        "resume", "killed", "--db", &db, "--jobs", "1", "--fuse", "6",
    ]));
    assert_eq!(code, 0, "{err}");
    let after = folds(&db, "killed");
    assert!(
        after.len() == 24 && after.iter().all(|f| f.2 == "done"),
        "{after:?}"
    );
    for f in &done_before {
        assert!(after.contains(f), "{f:?} changed");
    }
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cv_results(&db, "killed"), cv_results(&clean, "killed"));

    // SIGTERM mid-group: every member saves its state and returns to pending at once;
    // the next fused run continues from those states to the same results. Where the
    // signal lands is timing: between two groups there is no state to continue from
    // (and nothing to check), so it is sent at other moments until one lands mid-group;
    // every try must end with the clean run's results.
    let mut continued = false;
    for (attempt, wait_ms) in [1500u64, 700, 300, 1100, 2000].into_iter().enumerate() {
        let termed = d
            .path(&format!("term-{attempt}.db"))
            .to_string_lossy()
            .into_owned();
        let mut child = bin()
            .arg("run")
            .arg(&spec)
            .args([
                "--db",
                &termed,
                "--jobs",
                "1",
                "--fuse",
                "6",
                "--checkpoint-every",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::wait_until(&mut child, "a group is running", || {
            common::running_count(&termed, "killed") >= 6
        });
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        assert!(std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(0) {
            continue; // it ended before the signal: nothing was interrupted
        }
        assert_eq!(out.status.code(), Some(143), "{err}");
        let f = folds(&termed, "killed");
        assert!(f.iter().all(|x| x.2 == "pending" || x.2 == "done"), "{f:?}");
        let (code, _, err) = run(bin().args([
            "resume", "killed", "--db", &termed, "--jobs", "1", "--fuse", "6",
        ]));
        assert_eq!(code, 0, "{err}");
        assert_eq!(cv_results(&termed, "killed"), cv_results(&clean, "killed"));
        if err.contains("continues from its saved state at epoch") {
            continued = true;
            break;
        }
    }
    assert!(continued, "no SIGTERM landed mid-group in 5 tries");
}

/// A halving sweep fused: its rungs continue folds from their saved states in groups,
/// and every rung score is the unfused run's.
#[test]
fn a_fused_halving_sweep_scores_its_rungs_as_unfused() {
    let d = Dir::new("fuse", "halving");
    let spec = d.spec_with(
        "halved",
        500,
        r#"{"epochs": 9, "early_stopping_patience": 100, "neurons_2": 24, "num_hidden_layers": 2}"#,
        r#"{"neurons_1": [32, 48], "dropout": [0.2, 0.3, 0.4], "batch_size": [32, 64]}"#,
        r#", "search": {"strategy": "halving", "factor": 3, "min_epochs": 1}"#,
    );
    let (plain, fused) = (
        d.path("plain.db").to_string_lossy().into_owned(),
        d.path("fused.db").to_string_lossy().into_owned(),
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &plain, "--jobs", "1", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &fused, "--jobs", "2", "--fuse", "4", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (a, b) = (rung_scores(&plain, "halved"), rung_scores(&fused, "halved"));
    assert!(a.len() > 12, "rungs beyond the first: {}", a.len());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(cv_results(&plain, "halved"), cv_results(&fused, "halved"));
    // Beside an unfused full run, `plan --calibrate` learns survivors from the fused
    // run's rung scores but leaves its wall time out of the staged factor.
    let full = d.spec_with(
        "full",
        500,
        r#"{"epochs": 4, "neurons_2": 24, "num_hidden_layers": 2}"#,
        r#"{"batch_size": [32, 64]}"#,
        "",
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&full)
        .args(["--db", &fused, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        run(bin()
            .arg("plan")
            .arg(&spec)
            .args(["--json", "--calibrate", &fused]));
    assert_eq!(code, 0, "{err}");
    let c = &serde_json::from_str::<serde_json::Value>(&out).unwrap()["calibration"];
    assert_eq!(c["sweeps"], serde_json::json!(["full"]), "{c}");
    assert_eq!(c["staged_sweeps"], serde_json::json!([]), "{c}");
    assert_eq!(c["left_out_fused"], serde_json::json!(["halved"]), "{c}");
    assert!(c["staged_factor"].is_null(), "{c}");
    assert_eq!(
        c["survivor_scores"],
        b.iter().filter(|r| r.score.is_some()).count(),
        "{c}"
    );
    // `copy` carries the mark.
    let copied = d.path("copied.db").to_string_lossy().into_owned();
    for sweep in ["halved", "full"] {
        let (code, _, err) = run(bin().args(["copy", "--from", &fused, "--to", &copied, sweep]));
        assert_eq!(code, 0, "{err}");
    }
    let (code, again, err) =
        run(bin()
            .arg("plan")
            .arg(&spec)
            .args(["--json", "--calibrate", &copied]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again).unwrap()["calibration"]["left_out_fused"],
        c["left_out_fused"]
    );
}
