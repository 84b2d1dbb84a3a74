//! Hyperband as a run strategy (issue 21), through the binary: brackets of successive
//! halving in one sweep, running at once, resumable, on both backends; whatever reaches
//! its end has bit for bit a grid run's results, and replaying the strategy on the
//! grid run's curves gives the real run's rung scores.

mod common;
use common::{bin, exact_results as results, run, rung_scores, Backend, Dir};

use gridsweep::domain::RungScore;
use serde_json::Value;

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// 12 distinct trainings under the notebook protocol, some early-stopping; the ladder
/// 2, 6, 12 epochs gives three brackets of the paper's sizes 9, 5 and 3 (Σ 17 > 12: the
/// whole grid is dealt, in proportion).
const FIXED: &str = r#"{"protocol": "notebook", "epochs": 12, "early_stopping_patience": 3, "neurons_1": 64, "neurons_2": 64, "neurons_3": 64, "batch_size": 16}"#;
const GRID: &str =
    r#"{"dropout": [0.1, 0.4, 0.6], "learning_rate": [0.03, 0.003], "num_hidden_layers": [1, 2]}"#;
const HYPERBAND: &str = r#"{"strategy": "hyperband", "factor": 3, "min_epochs": 2, "seed": 5}"#;

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["config_id"].as_str().unwrap().to_string())
        .collect()
}

fn ranking(db: &str, name: &str) -> Value {
    json(bin().args(["rank", name, "--db", db, "--json", "--top", "0"]))
}

#[test]
fn hyperband_survivors_equal_a_grid_run_through_a_kill_sqlite() {
    hyperband(Backend::Sqlite);
}

#[test]
fn hyperband_survivors_equal_a_grid_run_through_a_kill_postgres() {
    hyperband(Backend::Postgres);
}

fn hyperband(backend: Backend) {
    let d = Dir::new("hyperband", &format!("{backend:?}"));
    let grid = d.spec_with("grid", 1200, FIXED, GRID, "");
    let hb = d.spec_with(
        "hb",
        1200,
        FIXED,
        GRID,
        &format!(r#", "search": {HYPERBAND}"#),
    );
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let Some(clean) = d.db_on(backend, "clean") else {
        return;
    };

    // The plan shows the brackets and what they cost.
    let plan = json(bin().arg("plan").arg(&hb).arg("--json"));
    let brackets = plan["brackets"].as_array().unwrap();
    let starts: Vec<i64> = brackets
        .iter()
        .map(|b| b["min_epochs"].as_i64().unwrap())
        .collect();
    assert_eq!(starts, vec![2, 6, 12], "{plan}");
    let sizes: Vec<i64> = brackets
        .iter()
        .map(|b| b["rungs"][0]["configurations"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<i64>(), 12, "{plan}");
    assert!(
        sizes[0] > sizes[1] && sizes[1] > sizes[2],
        "the paper's proportions: {plan}"
    );
    assert!(
        plan["fold_epochs_at_most"].as_u64().unwrap()
            < plan["fold_epochs_of_full_runs"].as_u64().unwrap()
    );

    for (spec, db) in [(&grid, &db), (&hb, &clean)] {
        let (code, _, err) = run(bin().arg("run").arg(spec).args(["--db", db, "--jobs", "2"]));
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = run(bin().args(["status", "hb", "--db", &clean]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("hyperband:") && out.contains("bracket"),
        "{out}"
    );
    let st = json(bin().args(["status", "hb", "--db", &clean, "--json"]));
    let in_brackets: std::collections::BTreeSet<i64> = st["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["bracket"].as_i64().unwrap())
        .collect();
    assert_eq!(in_brackets.len(), 3, "{st}");

    // Two processes, one killed (-9) in the middle: the other takes over its folds
    // when their leases expire, and the brackets promote as one process's did.
    let spawn = || {
        bin()
            .arg("run")
            .arg(&hb)
            .args([
                "--db",
                &db,
                "--jobs",
                "1",
                "--lease-seconds",
                "3",
                "--checkpoint-every",
                "2",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut a = spawn();
    let b = spawn();
    common::wait_until(&mut a, "a rung was complete", || {
        !rung_scores(&db, "hb").is_empty()
    });
    common::wait_for_done(&db, "hb", 24, &mut a);
    a.kill().unwrap();
    a.wait().unwrap();
    let out = b.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, _, err) = run(bin().arg("run").arg(&hb).args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    let real = rung_scores(&db, "hb");
    assert_eq!(
        real,
        rung_scores(&clean, "hb"),
        "the same promotions as one uninterrupted process"
    );
    let brackets: std::collections::BTreeSet<i64> = real.iter().map(|s| s.bracket).collect();
    assert_eq!(brackets.len(), 3, "{real:?}");

    // Whatever reached its end has exactly the grid run's results.
    let r = ranking(&db, "hb");
    let complete = ids(&r["ranking"]);
    assert!(!complete.is_empty());
    assert_eq!(complete, ids(&ranking(&clean, "hb")["ranking"]));
    for id in &complete {
        assert_eq!(
            results(&db, "hb", id),
            results(&db, "grid", id),
            "configuration {id}"
        );
    }
    // Every configuration is in the ranking or among the stopped ones, once.
    let partial = ids(&r["partial"]);
    assert_eq!(complete.len() + partial.len(), 12, "{r}");
    let (code, out, err) = run(bin().args([
        "export",
        "hb",
        "--db",
        &db,
        "--format",
        "cv-results",
        "--include-partial",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1 + 12);

    // Replaying hyperband (same seed) on the grid run's curves gives the real run's
    // rung scores, bit for bit, and its winner.
    if matches!(backend, Backend::Sqlite) {
        let replayed = json(bin().args([
            "replay",
            "grid",
            "--db",
            &db,
            "--strategy",
            HYPERBAND.replace(r#", "seed": 5"#, "").as_str(),
            "--seed",
            "5",
            "--json",
        ]));
        let mut got: Vec<RungScore> =
            serde_json::from_value(replayed["outcome"]["rung_scores"].clone()).unwrap();
        let mut want = real.clone();
        got.sort_by(|a, b| {
            (a.bracket, a.rung, &a.config_id).cmp(&(b.bracket, b.rung, &b.config_id))
        });
        want.sort_by(|a, b| {
            (a.bracket, a.rung, &a.config_id).cmp(&(b.bracket, b.rung, &b.config_id))
        });
        assert_eq!(got, want);
        assert_eq!(
            replayed["outcome"]["winner"][0].as_str().unwrap(),
            complete[0]
        );
    }

    // `copy` carries every bracket's rung state: nothing left to train at home.
    let home = d.path("home.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().args(["copy", "hb", "--from", &db, "--to", &home]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(rung_scores(&home, "hb"), real);
    assert_eq!(ranking(&home, "hb"), r);
    let (code, _, err) = run(bin()
        .arg("resume")
        .arg("hb")
        .args(["--db", &home, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("this run: 0 done"), "{err}");
    let st = json(bin().args(["status", "hb", "--db", &home, "--json"]));
    assert_eq!(
        st["rungs"],
        json(bin().args(["status", "hb", "--db", &db, "--json"]))["rungs"]
    );
}

/// The scheduler benchmark on a simulated Hyperband: every rung span trained once, no
/// fold claimed more often than its rungs, and exactly the fold-epochs the brackets
/// call for (20 trainings dealt 11 : 6 : 3 to brackets from 1, 3 and 9 epochs:
/// 11·1 + 4·2 + 2·6 + 6·3 + 2·6 + 3·9 = 88 per fold, 4 folds each).
#[test]
fn the_scheduler_benchmark_simulates_hyperband() {
    let out = json(bin().args([
        "bench-scheduler",
        "--processes",
        "2",
        "--workers-per-process",
        "2",
        "--folds",
        "80",
        "--work-ms",
        "90",
        "--epochs",
        "9",
        "--search",
        r#"{"strategy": "hyperband", "factor": 3, "min_epochs": 1}"#,
        "--json",
    ]));
    let c = &out["cases"][0];
    assert_eq!(c["double_claims"], 0, "{out}");
    assert_eq!(c["not_done"], 0, "{out}");
    assert_eq!(c["fold_epochs"], 88 * 4, "{out}");
    let idle = c["idle_share_after_start"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&idle), "{out}");
    // A search that is not staged is refused, named.
    let (code, _, err) = run(bin().args([
        "bench-scheduler",
        "--folds",
        "8",
        "--search",
        r#"{"strategy": "random", "n": 2}"#,
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--search") && err.contains("halving, hyperband or race"),
        "{err}"
    );
}
