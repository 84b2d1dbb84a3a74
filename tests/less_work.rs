//! Less work for the same answer (issue 14), through the binary: grid rows that train
//! the same network share one training.

mod common;
use common::{bin, folds, rt, run, Backend, Dir};

use serde_json::Value;
use std::path::PathBuf;

impl Dir {
    /// Demo data (`rows`) and a spec over it; returns the spec path.
    fn spec(&self, name: &str, rows: usize, fixed: &str, grid: &str, extra: &str) -> PathBuf {
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

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

const TINY: &str = r#"{"epochs": 4, "neurons_1": 16, "neurons_2": 16, "neurons_3": 16, "neurons_4": 16, "batch_size": 64}"#;

/// Every fold result of configuration `id`, bit for bit (timings left out).
fn results(db: &str, sweep: &str, id: &str) -> Vec<String> {
    rt().block_on(async {
        let store = gridsweep::store::Store::open(db).await.unwrap();
        let s = store.sweep_by_name(sweep).await.unwrap().unwrap();
        let r = store.fold_results(s.id, id).await.unwrap();
        store.close().await;
        r.into_iter()
            .map(|mut f| {
                f.fit_seconds = 0.0;
                f.score_seconds = 0.0;
                format!("{:?}", f)
            })
            .collect()
    })
}

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
    let grid = r#"[{"num_hidden_layers": [1], "neurons_3": [16, 48]}, {"num_hidden_layers": [3, 4]}]"#;
    let spec = d.spec("shared", 400, TINY, grid, "");
    let Some(db) = d.db_on(backend, "g") else { return };

    let plan = json(bin().arg("plan").arg(&spec).arg("--json"));
    assert_eq!(plan["distinct_configurations"], 4);
    assert_eq!(plan["distinct_trainings"], 2);
    assert_eq!(plan["fold_fits"], 6);
    let (code, out, _) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 0);
    assert!(out.contains("4 distinct configurations, 2 distinct trainings"), "{out}");

    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(folds(&db, "shared").len(), 6, "one training per distinct network");
    let (code, out, err) = run(bin().args(["status", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 grid rows, 2 distinct trainings; 6 folds — 6 done"), "{out}");

    // Every grid row is ranked, with its training's numbers.
    let ranked = json(bin().args(["rank", "shared", "--db", &db, "--json"]));
    let rows = ranked["ranking"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let by_layers = |n: i64| -> Vec<&Value> { rows.iter().filter(|r| r["params"]["num_hidden_layers"] == n).collect() };
    for pair in [by_layers(1), [by_layers(3), by_layers(4)].concat()] {
        assert_eq!(pair.len(), 2);
        assert_ne!(pair[0]["config_id"], pair[1]["config_id"]);
        for k in ["score", "mean_val_accuracy", "mean_train_accuracy", "std_val_accuracy", "delta_accuracy"] {
            assert_eq!(pair[0][k], pair[1][k], "{k}");
        }
    }
    assert_ne!(by_layers(1)[0]["score"], by_layers(3)[0]["score"], "two trainings, two results");

    // Both exports have every row, the shared numbers identical.
    let (code, out, err) = run(bin().args(["export", "shared", "--db", &db, "--format", "cv-results"]));
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let head = r.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(recs.len(), 4);
    let split = |rec: &csv::StringRecord| (0..3).map(|k| rec[col(&format!("split{k}_test_score"))].to_string()).collect::<Vec<_>>();
    let layers = |rec: &csv::StringRecord| rec[col("param_num_hidden_layers")].to_string();
    let one: Vec<_> = recs.iter().filter(|x| layers(x) == "1").collect();
    assert_eq!(split(one[0]), split(one[1]));
    let (code, out, err) = run(bin().args(["export", "shared", "--db", &db, "--format", "hpo-combined"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 5, "{out}");

    // The shared numbers are what the row gets trained on its own.
    let own = d.spec("own", 400, TINY, r#"[{"num_hidden_layers": [1], "neurons_3": [48]}]"#, "");
    let (code, _, err) = run(bin().arg("run").arg(&own).args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let id = by_layers(1).iter().find(|r| r["params"]["neurons_3"] == 48).unwrap()["config_id"].as_str().unwrap().to_string();
    let shared = results(&db, "shared", &id);
    assert_eq!(shared.len(), 3);
    assert_eq!(shared, results(&db, "own", &id));

    // A row added later that trains a network already trained gets its results at
    // once: no fold is added.
    let grid2 = r#"[{"num_hidden_layers": [1], "neurons_3": [16, 48, 80]}, {"num_hidden_layers": [3, 4]}]"#;
    let spec = d.spec("shared", 400, TINY, grid2, "");
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(folds(&db, "shared").len(), 6);
    let ranked = json(bin().args(["rank", "shared", "--db", &db, "--json"]));
    let rows = ranked["ranking"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let scores: Vec<&Value> = rows.iter().filter(|r| r["params"]["num_hidden_layers"] == 1).map(|r| &r["score"]).collect();
    assert_eq!(scores.len(), 3);
    assert!(scores.iter().all(|s| *s == scores[0]));
}
