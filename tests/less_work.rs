//! Less work for the same answer (issue 14), through the binary: grid rows that train
//! the same network share one training.

mod common;
use common::{bin, exact_results as results, folds, rt, run, rung_scores, Backend, Dir};

use serde_json::Value;
use std::path::PathBuf;

impl Dir {
    fn spec(&self, name: &str, rows: usize, fixed: &str, grid: &str, extra: &str) -> PathBuf {
        self.spec_with(name, rows, fixed, grid, extra)
    }
}

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

const TINY: &str = r#"{"epochs": 4, "neurons_1": 16, "neurons_2": 16, "neurons_3": 16, "neurons_4": 16, "batch_size": 64}"#;

#[test]
fn rows_that_train_the_same_network_share_one_training_sqlite() {
    shared_trainings(Backend::Sqlite);
}

#[test]
fn rows_that_train_the_same_network_share_one_training_postgres() {
    shared_trainings(Backend::Postgres);
}

fn shared_trainings(backend: Backend) {
    let d = Dir::new("less-work", &format!("shared-{backend:?}"));
    // 1 extra hidden layer: neurons_3 is not built; 3 and 4 extra layers build the same net.
    let grid =
        r#"[{"num_hidden_layers": [1], "neurons_3": [16, 48]}, {"num_hidden_layers": [3, 4]}]"#;
    let spec = d.spec("shared", 400, TINY, grid, "");
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };

    let plan = json(bin().arg("plan").arg(&spec).arg("--json"));
    assert_eq!(plan["distinct_configurations"], 4);
    assert_eq!(plan["distinct_trainings"], 2);
    assert_eq!(plan["fold_fits"], 6);
    let (code, out, _) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 0);
    assert!(
        out.contains("4 distinct configurations, 2 distinct trainings"),
        "{out}"
    );

    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        folds(&db, "shared").len(),
        6,
        "one training per distinct network"
    );
    let (code, out, err) = run(bin().args(["status", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("4 grid rows, 2 distinct trainings; 6 folds — 6 done"),
        "{out}"
    );

    // Every grid row is ranked, with its training's numbers.
    let ranked = json(bin().args(["rank", "shared", "--db", &db, "--json"]));
    let rows = ranked["ranking"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let by_layers = |n: i64| -> Vec<&Value> {
        rows.iter()
            .filter(|r| r["params"]["num_hidden_layers"] == n)
            .collect()
    };
    for pair in [by_layers(1), [by_layers(3), by_layers(4)].concat()] {
        assert_eq!(pair.len(), 2);
        assert_ne!(pair[0]["config_id"], pair[1]["config_id"]);
        for k in [
            "score",
            "mean_val_accuracy",
            "mean_train_accuracy",
            "std_val_accuracy",
            "delta_accuracy",
        ] {
            assert_eq!(pair[0][k], pair[1][k], "{k}");
        }
    }
    assert_ne!(
        by_layers(1)[0]["score"],
        by_layers(3)[0]["score"],
        "two trainings, two results"
    );

    // Both exports have every row, the shared numbers identical.
    let (code, out, err) =
        run(bin().args(["export", "shared", "--db", &db, "--format", "cv-results"]));
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let head = r.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(recs.len(), 4);
    let split = |rec: &csv::StringRecord| {
        (0..3)
            .map(|k| rec[col(&format!("split{k}_test_score"))].to_string())
            .collect::<Vec<_>>()
    };
    let layers = |rec: &csv::StringRecord| rec[col("param_num_hidden_layers")].to_string();
    let one: Vec<_> = recs.iter().filter(|x| layers(x) == "1").collect();
    assert_eq!(split(one[0]), split(one[1]));
    let (code, out, err) =
        run(bin().args(["export", "shared", "--db", &db, "--format", "hpo-combined"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 5, "{out}");

    // The shared numbers are what the row gets trained on its own.
    let own = d.spec(
        "own",
        400,
        TINY,
        r#"[{"num_hidden_layers": [1], "neurons_3": [48]}]"#,
        "",
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&own)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let id = by_layers(1)
        .iter()
        .find(|r| r["params"]["neurons_3"] == 48)
        .unwrap()["config_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shared = results(&db, "shared", &id);
    assert_eq!(shared.len(), 3);
    assert_eq!(shared, results(&db, "own", &id));

    // A row added later that trains a network already trained gets its results at
    // once: no fold is added.
    let grid2 =
        r#"[{"num_hidden_layers": [1], "neurons_3": [16, 48, 80]}, {"num_hidden_layers": [3, 4]}]"#;
    let spec = d.spec("shared", 400, TINY, grid2, "");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(folds(&db, "shared").len(), 6);
    let ranked = json(bin().args(["rank", "shared", "--db", &db, "--json"]));
    let rows = ranked["ranking"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let scores: Vec<&Value> = rows
        .iter()
        .filter(|r| r["params"]["num_hidden_layers"] == 1)
        .map(|r| &r["score"])
        .collect();
    assert_eq!(scores.len(), 3);
    assert!(scores.iter().all(|s| *s == scores[0]));
}

// ---- successive halving

/// 12 configurations, some early-stopping; halving from 2 epochs by 3: rungs at 2, 6
/// and 12 epochs.
const HALVING_FIXED: &str = r#"{"epochs": 12, "early_stopping_patience": 3, "neurons_1": 24, "neurons_2": 24, "neurons_3": 24, "batch_size": 32}"#;
const HALVING_GRID: &str =
    r#"{"dropout": [0.1, 0.4, 0.6], "learning_rate": [0.03, 0.003], "num_hidden_layers": [1, 2]}"#;
const HALVING: &str = r#", "search": {"strategy": "halving", "factor": 3, "min_epochs": 2}"#;

fn ranking(db: &str, name: &str) -> Value {
    json(bin().args(["rank", name, "--db", db, "--json", "--top", "0"]))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["config_id"].as_str().unwrap().to_string())
        .collect()
}

/// Epochs trained by a sweep, counted from its folds' histories (each epoch once).
fn fold_epochs(db: &str, name: &str) -> usize {
    let r = ranking(db, name);
    let all: Vec<String> = [ids(&r["ranking"]), ids(&r["partial"])].concat();
    all.iter().map(|id| results_epochs(db, name, id)).sum()
}

fn results_epochs(db: &str, sweep: &str, id: &str) -> usize {
    rt().block_on(async {
        let store = gridsweep::store::Store::open(db).await.unwrap();
        let s = store.sweep_by_name(sweep).await.unwrap().unwrap();
        let r = store.fold_results(s.id, id).await.unwrap();
        store.close().await;
        r.iter().map(|f| f.epochs_run as usize).sum()
    })
}

#[test]
fn halving_survivors_equal_a_grid_run_bit_for_bit_sqlite() {
    halving_survivors(Backend::Sqlite);
}

#[test]
fn halving_survivors_equal_a_grid_run_bit_for_bit_postgres() {
    halving_survivors(Backend::Postgres);
}

fn halving_survivors(backend: Backend) {
    let d = Dir::new("less-work", &format!("halving-{backend:?}"));
    let grid = d.spec("grid", 600, HALVING_FIXED, HALVING_GRID, "");
    let halving = d.spec("halving", 600, HALVING_FIXED, HALVING_GRID, HALVING);
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };

    let plan = json(bin().arg("plan").arg(&halving).arg("--json"));
    assert_eq!(
        plan["rungs"],
        serde_json::json!([{"configurations": 12, "epochs": 2}, {"configurations": 4, "epochs": 6}, {"configurations": 2, "epochs": 12}])
    );
    // 12·2 + 4·4 + 2·6 = 52 of 144 epochs per fold.
    assert_eq!(plan["fold_epochs_at_most"], 52 * 3);
    assert_eq!(plan["fold_epochs_of_full_runs"], 144 * 3);

    for spec in [&grid, &halving] {
        let (code, _, err) = run(bin()
            .arg("run")
            .arg(spec)
            .args(["--db", &db, "--jobs", "2"]));
        assert_eq!(code, 0, "{err}");
        // The end line counts folds (36) and, for halving, what this run trained:
        // rung spans, 12·3 + 4·3 + 2·3 = 54, named as such.
        if spec == &halving {
            assert!(
                err.contains("36 of 36 folds done")
                    && err.contains(
                        "this run: 54 done (rung spans: a fold trains once per rung it reaches)"
                    ),
                "{err}"
            );
        } else {
            assert!(
                err.contains("36 of 36 folds done") && err.contains("this run: 36 done,"),
                "{err}"
            );
        }
    }
    // The SQLite file the binary made gives deleted states' pages back: incremental
    // auto-vacuum, and at the end at most twice its live pages.
    if backend == Backend::Sqlite {
        rt().block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{db}"))
                .await
                .unwrap();
            let q = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
            let mode = q("PRAGMA auto_vacuum").fetch_one(&mut c).await.unwrap();
            let pages = q("PRAGMA page_count").fetch_one(&mut c).await.unwrap();
            let free = q("PRAGMA freelist_count").fetch_one(&mut c).await.unwrap();
            assert_eq!(mode, 2, "incremental auto-vacuum");
            assert!(pages <= 2 * (pages - free), "{pages} pages, {free} free");
        });
    }
    let r = ranking(&db, "halving");
    let complete = ids(&r["ranking"]);
    let partial = r["partial"].as_array().unwrap();
    assert!(!complete.is_empty());
    assert_eq!(complete.len() + partial.len(), 12, "{r}");
    assert!(partial.iter().any(|p| p["pruned"] == true));
    assert!(partial
        .iter()
        .all(|p| p["resource_epochs"].as_i64().unwrap() < 12));
    // Whatever reached the end has exactly the grid run's results: every fold, every
    // metric, every epoch of the history.
    for id in &complete {
        assert_eq!(
            results(&db, "halving", id),
            results(&db, "grid", id),
            "configuration {id}"
        );
    }
    // A pruned one's numbers are its rung's: a prefix of the grid run's history.
    let grid_rank = ranking(&db, "grid");
    assert_eq!(ids(&grid_rank["ranking"]).len(), 12);
    let spent = fold_epochs(&db, "halving");
    let full = fold_epochs(&db, "grid");
    assert!(
        spent * 10 < full * 6,
        "halving trained {spent} fold-epochs, the grid {full}"
    );

    // The rungs in status: 12 configurations in rung 0, 4 went on.
    let st = json(bin().args(["status", "halving", "--db", &db, "--json"]));
    assert_eq!(st["rungs"][0]["configurations"], 12, "{st}");
    assert_eq!(st["rungs"][0]["promoted"], 4, "{st}");
    assert_eq!(st["rungs"][1]["configurations"], 4, "{st}");
    let (code, out, _) = run(bin().args(["status", "halving", "--db", &db]));
    assert_eq!(code, 0);
    assert!(out.contains("successive halving:"), "{out}");

    // Exports: complete ones only, unless --include-partial (with resource_epochs).
    let (code, out, err) =
        run(bin().args(["export", "halving", "--db", &db, "--format", "hpo-combined"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1 + complete.len());
    assert!(!out.lines().next().unwrap().contains("resource_epochs"));
    let (code, out, err) = run(bin().args([
        "export",
        "halving",
        "--db",
        &db,
        "--format",
        "cv-results",
        "--include-partial",
    ]));
    assert_eq!(code, 0, "{err}");
    let mut rd = csv::Reader::from_reader(out.as_bytes());
    let head = rd.headers().unwrap().clone();
    let col = head
        .iter()
        .position(|h| h == "resource_epochs")
        .expect("a resource_epochs column");
    let epochs: Vec<i64> = rd
        .records()
        .map(|x| x.unwrap()[col].parse().unwrap())
        .collect();
    assert_eq!(epochs.len(), 12);
    assert_eq!(epochs.iter().filter(|&&e| e == 12).count(), complete.len());
    // The text ranking puts the complete ones first, the stopped ones after.
    let (code, out, _) = run(bin().args(["rank", "halving", "--db", &db]));
    assert_eq!(code, 0);
    assert!(out.contains("stopped by successive halving"), "{out}");
    assert!(out.find(&complete[0]).unwrap() < out.find("stopped by successive halving").unwrap());

    // The rung state is in the database: running again trains nothing more.
    let before = rung_scores(&db, "halving");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&halving)
        .args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("this run: 0 done"), "{err}");
    assert_eq!(rung_scores(&db, "halving"), before);

    // `copy` carries the rung state: home as one SQLite file, the same ranking and rungs.
    let home = d.path("home.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().args(["copy", "halving", "--from", &db, "--to", &home]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(rung_scores(&home, "halving"), before);
    assert_eq!(ranking(&home, "halving"), ranking(&db, "halving"));
    let (code, _, err) = run(bin()
        .arg("resume")
        .arg("halving")
        .args(["--db", &home, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("this run: 0 done"), "{err}");
}

/// Two processes on one halving sweep, one of them killed (-9) in the middle of a
/// rung: the other takes over its folds when their leases expire, the promotions are
/// the same as one process's, and the survivors equal the grid run's.
#[test]
fn halving_with_two_processes_and_a_kill_sqlite() {
    halving_kill(Backend::Sqlite);
}

#[test]
fn halving_with_two_processes_and_a_kill_postgres() {
    halving_kill(Backend::Postgres);
}

fn halving_kill(backend: Backend) {
    let d = Dir::new("less-work", &format!("halving-kill-{backend:?}"));
    let fixed = r#"{"epochs": 12, "early_stopping_patience": 3, "neurons_1": 128, "neurons_2": 128, "neurons_3": 128, "batch_size": 16}"#;
    let grid = d.spec("grid", 1500, fixed, HALVING_GRID, "");
    let halving = d.spec("halving", 1500, fixed, HALVING_GRID, HALVING);
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let Some(clean) = d.db_on(backend, "clean") else {
        return;
    };
    for (spec, db) in [(&grid, &db), (&halving, &clean)] {
        let (code, _, err) = run(bin().arg("run").arg(spec).args(["--db", db, "--jobs", "2"]));
        assert_eq!(code, 0, "{err}");
    }
    let spawn = || {
        bin()
            .arg("run")
            .arg(&halving)
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
    // Past rung 0 (its scores recorded) and into rung 1, then kill one process.
    common::wait_until(&mut a, "rung 0 was complete", || {
        !rung_scores(&db, "halving").is_empty()
    });
    common::wait_for_done(&db, "halving", 26, &mut a);
    a.kill().unwrap();
    a.wait().unwrap();
    let out = b.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Anything the killed process held is finished by a last run.
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&halving)
        .args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        rung_scores(&db, "halving"),
        rung_scores(&clean, "halving"),
        "the same promotions as one uninterrupted process"
    );
    let complete = ids(&ranking(&db, "halving")["ranking"]);
    assert_eq!(complete, ids(&ranking(&clean, "halving")["ranking"]));
    for id in &complete {
        assert_eq!(
            results(&db, "halving", id),
            results(&db, "grid", id),
            "configuration {id}"
        );
    }
}

// ---- folds that resume mid-training

/// Saved training states left in the database: (count, bytes).
fn checkpoint_storage(db: &str, name: &str) -> (i64, i64) {
    if !db.starts_with("postgres") && !std::path::Path::new(db).exists() {
        return (0, 0);
    }
    rt().block_on(async {
        let Ok(store) = gridsweep::store::Store::open(db).await else {
            return (0, 0);
        };
        let r = match store.sweep_by_name(name).await {
            Ok(Some(s)) => store.checkpoint_storage(s.id).await.unwrap_or((0, 0)),
            _ => (0, 0),
        };
        store.close().await;
        r
    })
}

#[test]
fn a_fold_killed_mid_training_continues_from_its_saved_state_sqlite() {
    mid_fold_kill(Backend::Sqlite);
}

#[test]
fn a_fold_killed_mid_training_continues_from_its_saved_state_postgres() {
    mid_fold_kill(Backend::Postgres);
}

fn mid_fold_kill(backend: Backend) {
    let d = Dir::new("less-work", &format!("midfold-{backend:?}"));
    let fixed = r#"{"epochs": 80, "early_stopping_patience": 100, "neurons_1": 256, "neurons_2": 256, "neurons_3": 256, "batch_size": 16}"#;
    let spec = d.spec("slow", 1500, fixed, r#"{"dropout": [0.3]}"#, "");
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    let Some(clean) = d.db_on(backend, "clean") else {
        return;
    };
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");

    let mut child = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--checkpoint-every", "5"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(&mut child, "two states were saved", || {
        checkpoint_storage(&db, "slow").0 >= 2
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (n, bytes) = checkpoint_storage(&db, "slow");
    assert!(n >= 2 && bytes > 100_000, "{n} states, {bytes} bytes");

    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("continues from its saved state at epoch"),
        "{err}"
    );
    assert_eq!(
        common::cv_results(&db, "slow"),
        common::cv_results(&clean, "slow")
    );
    let id = ids(&ranking(&db, "slow")["ranking"])[0].clone();
    assert_eq!(results(&db, "slow", &id), results(&clean, "slow", &id));
    assert_eq!(
        checkpoint_storage(&db, "slow"),
        (0, 0),
        "states are deleted when their fold is done"
    );
}

// ---- random search

#[test]
fn random_search_is_reproducible_and_prefix_stable() {
    let d = Dir::new("less-work", "random");
    let grid = r#"{"dropout": [0.1, 0.2, 0.3, 0.4], "learning_rate": [0.01, 0.001, 0.0001], "num_hidden_layers": [1, 2]}"#;
    let five = d.spec(
        "rnd",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "random", "n": 5, "seed": 1}"#,
    );
    let plan = |spec: &PathBuf| -> Vec<String> {
        let p = json(bin().arg("plan").arg(spec).arg("--json"));
        p["configurations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = plan(&five);
    assert_eq!(first.len(), 5);
    assert_eq!(first, plan(&five), "reproducible");
    let db = d.db();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&five)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(folds(&db, "rnd").len(), 15);

    let eight = d.spec(
        "rnd",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "random", "n": 8, "seed": 1}"#,
    );
    let more = plan(&eight);
    assert_eq!(&more[..5], &first[..], "raising n keeps the first ones");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&eight)
        .args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("8 configurations (3 new)"), "{err}");
    assert_eq!(folds(&db, "rnd").len(), 24);
    // status: the draw and the grid both named; finished, so no rate, no ETA.
    let (code, out, _) = run(bin().args(["status", "rnd", "--db", &db]));
    assert_eq!(code, 0);
    assert!(out.contains("sweep rnd: 8 drawn of 24 grid rows"), "{out}");
    assert!(
        out.contains("complete: every fold is done")
            && !out.contains("folds/min")
            && !out.contains("ETA"),
        "{out}"
    );
    let mut ranked = ids(&ranking(&db, "rnd")["ranking"]);
    ranked.sort();
    let mut want = more.clone();
    want.sort();
    assert_eq!(ranked, want);

    // Another seed draws others; a halving sweep refuses a changed set.
    let other = d.spec(
        "rnd2",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "random", "n": 5, "seed": 2}"#,
    );
    assert_ne!(plan(&other), first);
    let h = d.spec(
        "h",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "halving", "min_epochs": 1, "sample": 4}"#,
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&h)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let h6 = d.spec(
        "h",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "halving", "min_epochs": 1, "sample": 6}"#,
    );
    let (code, _, err) = run(bin().arg("run").arg(&h6).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("successive-halving sweep already under way"),
        "{err}"
    );
    let g = d.spec("h", 400, TINY, grid, "");
    let (code, _, err) = run(bin().arg("run").arg(&g).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("was run with search"), "{err}");
    let bad = d.spec(
        "bad",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "halving", "factor": 1, "min_epochs": 1}"#,
    );
    let (code, _, err) = run(bin().arg("plan").arg(&bad));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("search.factor (line 2): expected an integer ≥ 2, got 1"),
        "{err}"
    );
}

/// `"stratify": true` draws each sub-grid's share: a plain draw of 4 from sub-grids of
/// 9 and 3 trainings may take no row of the small one, a stratified one takes 3 and 1,
/// keeps them when `n` grows, and a run trains exactly what `plan` shows.
#[test]
fn a_stratified_sample_takes_each_subgrids_share() {
    let d = Dir::new("less-work", "stratified");
    let grid = r#"[{"dropout": [0.1, 0.2, 0.3], "learning_rate": [0.01, 0.001, 0.0001]},
                   {"num_hidden_layers": [3], "learning_rate": [0.02, 0.002, 0.0002]}]"#;
    let small = |c: &Value| c["params"]["num_hidden_layers"] == 3;
    let plan = |n: usize| -> (Vec<String>, usize, String) {
        let spec = d.spec(
            "strat",
            400,
            TINY,
            grid,
            &format!(
                r#", "search": {{"strategy": "random", "n": {n}, "seed": 3, "stratify": true}}"#
            ),
        );
        let p = json(bin().arg("plan").arg(&spec).arg("--json"));
        let list = p["configurations"].as_array().unwrap();
        let (_, text, _) = run(bin().arg("plan").arg(&spec));
        (
            list.iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect(),
            list.iter().filter(|c| small(c)).count(),
            text,
        )
    };
    let (four, in_small, text) = plan(4);
    assert_eq!((four.len(), in_small), (4, 1), "{text}");
    assert!(
        text.contains("stratified by sub-grid") && text.contains("grid[0] 3 of 9, grid[1] 1 of 3"),
        "{text}"
    );
    let (eight, in_small, _) = plan(8);
    assert_eq!(&eight[..4], &four[..], "prefix-stable");
    assert_eq!(in_small, 2);
    assert_eq!(plan(12).1, 3);

    let spec = d.spec(
        "strat",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "random", "n": 4, "seed": 3, "stratify": true}"#,
    );
    let db = d.db();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let mut ranked = ids(&ranking(&db, "strat")["ranking"]);
    ranked.sort();
    let mut want = four.clone();
    want.sort();
    assert_eq!(ranked, want);

    let bad = d.spec(
        "bad",
        400,
        TINY,
        grid,
        r#", "search": {"strategy": "random", "n": 4, "stratify": "yes"}"#,
    );
    let (code, _, err) = run(bin().arg("plan").arg(&bad));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("search.stratify") && err.contains("expected true or false, got \"yes\""),
        "{err}"
    );
}

/// A second Ctrl-C abandons the running folds after saving their training states
/// (with periodic saving off): the next run continues them and ends as an
/// uninterrupted run.
#[test]
fn a_second_ctrl_c_saves_the_running_folds_states() {
    let d = Dir::new("less-work", "ctrlc-state");
    let fixed = r#"{"epochs": 80, "early_stopping_patience": 100, "neurons_1": 256, "neurons_2": 256, "neurons_3": 256, "batch_size": 16}"#;
    let spec = d.spec("slow", 1500, fixed, r#"{"dropout": [0.3]}"#, "");
    let db = d.db();
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");

    let mut child = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--checkpoint-every", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until(&mut child, "two folds ran", || {
        common::running_count(&db, "slow") >= 2
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    for _ in 0..2 {
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (n, _) = checkpoint_storage(&db, "slow");
    assert!(n >= 1, "the abandoned folds' states are saved");

    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("continues from its saved state at epoch"),
        "{err}"
    );
    assert_eq!(
        common::cv_results(&db, "slow"),
        common::cv_results(&clean, "slow")
    );
    assert_eq!(checkpoint_storage(&db, "slow"), (0, 0));
}
