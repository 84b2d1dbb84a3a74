//! The study's two HPO protocols and its two Δacc kinds, through the real binary:
//! `protocol: notebook` scores a fold at its best-val_accuracy epoch with the
//! checkpoint's train accuracy; a spec's `score` section sets Δacc and the weights of
//! the stored score, `rank`, `status` and the HPO_combined export.

mod common;
use common::{bin, run, Dir};

use serde_json::Value;
use std::path::Path;

fn cv_json(data: &Path, sets: &[&str]) -> Value {
    let mut cmd = bin();
    cmd.arg("cv")
        .arg("--data")
        .arg(data)
        .args(["--json", "--jobs", "2", "--seed", "5"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

const NET: [&str; 5] = [
    "neurons_1=48",
    "neurons_2=48",
    "neurons_3=48",
    "batch_size=32",
    "learning_rate=0.003",
];

/// The fold's validation score is the maximum of its epoch-end val_accuracy (the first
/// epoch reaching it), its val_loss that epoch's; and its train score is the
/// checkpoint's: a run stopped at the scored epoch (same seed, so the same training up
/// to there, and there the checkpoint is its last weights) gives the same train score.
#[test]
fn notebook_scores_come_from_the_best_val_accuracy_epoch_and_its_checkpoint() {
    let dir = Dir::new("protocols", "notebook-cv");
    let data = dir.demo_data(700);
    let mut sets = NET.to_vec();
    sets.extend([
        "protocol=notebook",
        "epochs=14",
        "early_stopping_patience=30",
    ]);
    let full = cv_json(&data, &sets);
    assert_eq!(full["params"]["protocol"], "notebook");
    let mut continued_past_checkpoint = 0;
    for (k, f) in full["folds"].as_array().unwrap().iter().enumerate() {
        let hist = f["history"].as_array().unwrap();
        assert_eq!(hist.len() as u64, f["epochs_run"].as_u64().unwrap());
        let accs: Vec<f64> = hist
            .iter()
            .map(|h| {
                h["val_accuracy"]
                    .as_f64()
                    .expect("val_accuracy every epoch")
            })
            .collect();
        assert!(
            hist.iter().all(|h| h["val_loss"].is_f64()),
            "val_loss every epoch"
        );
        let best = accs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let first = accs.iter().position(|&a| a == best).unwrap();
        let scored = f["scored_epoch"].as_u64().unwrap() as usize;
        assert_eq!(
            scored,
            first + 1,
            "fold {k}: scored epoch is the first maximum of {accs:?}"
        );
        assert_eq!(f["val_accuracy"].as_f64().unwrap(), best);
        assert_eq!(f["val_loss"], hist[first]["val_loss"]);
        if scored < hist.len() {
            continued_past_checkpoint += 1;
        }
        // The same fold trained only up to the scored epoch.
        let mut upto = NET.to_vec();
        let epochs = format!("epochs={scored}");
        upto.extend([
            "protocol=notebook",
            "early_stopping_patience=30",
            epochs.as_str(),
        ]);
        let short = cv_json(&data, &upto);
        let g = &short["folds"][k];
        assert_eq!(g["scored_epoch"].as_u64().unwrap() as usize, scored);
        assert_eq!(g["epochs_run"].as_u64().unwrap() as usize, scored);
        assert_eq!(
            g["train_accuracy"], f["train_accuracy"],
            "fold {k}: the checkpoint's train score"
        );
        assert_eq!(g["train_loss"], f["train_loss"]);
    }
    assert!(continued_past_checkpoint > 0, "no fold trained past its checkpoint: the test would not tell final from checkpoint weights");
}

/// Under gridsearchcv the scores are the last epoch's model's (no val_* monitor), and
/// the history has no validation metrics; the two protocols give different numbers.
#[test]
fn gridsearchcv_scores_the_final_model() {
    let dir = Dir::new("protocols", "gridsearchcv-cv");
    let data = dir.demo_data(500);
    let mut sets = NET.to_vec();
    sets.push("epochs=6");
    let g = cv_json(&data, &sets);
    assert!(
        g["params"].get("protocol").is_none(),
        "the default protocol keeps earlier ids"
    );
    assert_eq!(g["params"]["monitor"], "loss");
    for f in g["folds"].as_array().unwrap() {
        assert_eq!(f["scored_epoch"], f["epochs_run"]);
        assert!(f["history"][0].get("val_accuracy").is_none());
    }
    sets.push("protocol=notebook");
    let n = cv_json(&data, &sets);
    assert_ne!(
        g["summary"]["mean_val_accuracy"],
        n["summary"]["mean_val_accuracy"]
    );
}

#[test]
fn contradictory_settings_are_refused_once() {
    let dir = Dir::new("protocols", "refusals");
    let data = dir.demo_data(300);
    for (set, key) in [
        ("monitor=val_loss", "monitor"),
        ("weight_constraint=3", "weight_constraint"),
        ("inner_validation=0.2", "inner_validation"),
    ] {
        let (code, _, err) = run(bin().arg("cv").arg("--data").arg(&data).args([
            "--set",
            set,
            "--set",
            "protocol=notebook",
        ]));
        assert_eq!(code, 2, "{err}");
        let needle = format!("`{key}` does not apply under protocol notebook");
        assert_eq!(err.matches(&needle).count(), 1, "{err}");
    }
    let (code, _, err) = run(bin()
        .arg("cv")
        .arg("--data")
        .arg(&data)
        .args(["--set", "protocol=keras"]));
    assert_eq!(code, 2);
    assert!(err.contains("gridsearchcv, notebook"), "{err}");
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A sweep with both protocols and `"score": {"delta": "relative"}`: the stored score,
/// `rank`, `status` and the HPO_combined export use the relative Δacc and |Δacc|; the
/// export appends the `protocol` column so the rows differ; `rank --delta` overrides.
#[test]
fn sweep_with_both_protocols_and_relative_delta() {
    let dir = Dir::new("protocols", "sweep");
    dir.demo_data(500);
    let spec = dir.path("both.json");
    std::fs::write(
        &spec,
        r#"{"name": "both", "dataset": {"path": "data-500.csv", "test_fraction": 0.2, "validation_fraction": 0.2},
            "seed": 3, "score": {"delta": "relative"},
            "fixed": {"epochs": 5, "neurons_1": 32, "neurons_2": 32, "neurons_3": 32, "batch_size": 64},
            "grid": [{"protocol": ["gridsearchcv"], "weight_constraint": [2]},
                     {"protocol": ["notebook"], "dropout": [0.2, 0.4]}]}"#,
    )
    .unwrap();
    let db = dir.db();
    let (code, out, err) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("3 grid rows") && out.contains("3 distinct configurations"),
        "{out}"
    );
    assert!(out.contains("Δacc = (train − val) / val"), "{out}");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run(bin().args(["rank", "both", "--db", &db, "--json"]));
    assert_eq!(code, 0, "{err}");
    let ranked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ranked["delta"], "relative");
    let list = ranked["ranking"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for r in list {
        let s = &r["summary"];
        let (t, v) = (
            s["mean_train_accuracy"].as_f64().unwrap(),
            s["mean_val_accuracy"].as_f64().unwrap(),
        );
        let delta = (t - v) / v;
        assert!((s["delta_accuracy"].as_f64().unwrap() - delta).abs() < 1e-12);
        let score = 0.5 * (0.5 * (1.0 - delta.abs()) + v);
        assert!((r["score"].as_f64().unwrap() - score).abs() < 1e-12, "{r}");
    }
    let (code, out, _) = run(bin().args([
        "rank", "both", "--db", &db, "--json", "--delta", "absolute", "--w1", "1",
    ]));
    assert_eq!(code, 0);
    let abs: Value = serde_json::from_str(&out).unwrap();
    for r in abs["ranking"].as_array().unwrap() {
        let s = &r["summary"];
        let (t, v) = (
            s["mean_train_accuracy"].as_f64().unwrap(),
            s["mean_val_accuracy"].as_f64().unwrap(),
        );
        assert!((r["score"].as_f64().unwrap() - 0.5 * (1.0 - (t - v).abs() + v)).abs() < 1e-12);
    }
    let (code, out, _) = run(bin().args(["status", "both", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("best of 3 complete configurations") && out.contains("(train − val) / val"),
        "{out}"
    );

    let (code, out, err) =
        run(bin().args(["export", "both", "--db", &db, "--format", "hpo-combined"]));
    assert_eq!(code, 0, "{err}");
    let (header, rows) = csv_rows(&out);
    assert_eq!(header.len(), 22 + 3 + 2, "{header:?}");
    assert_eq!(
        &header[..3],
        ["activation", "activation_numerical", "batch_size"]
    );
    // The keys the study's columns lack, after them: the protocol, and the gridsearchcv
    // row's monitor and inner hold-out, which do not apply to notebook rows.
    assert_eq!(&header[22..25], ["inner_validation", "monitor", "protocol"]);
    // The tie set's columns come last (the study's stay as they are).
    assert_eq!(&header[25..], ["in_tie_set", "p_not_worse"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut protocols: Vec<&str> = rows.iter().map(|r| r[col("protocol")].as_str()).collect();
    protocols.sort();
    assert_eq!(protocols, ["gridsearchcv", "notebook", "notebook"]);
    for r in &rows {
        let (t, v): (f64, f64) = (
            r[col("mean_train_score")].parse().unwrap(),
            r[col("mean_val_score")].parse().unwrap(),
        );
        let d: f64 = r[col("delta_acc")].parse().unwrap();
        assert!((d - (t - v) / v).abs() < 1e-12, "{r:?}");
        assert!(
            ["True", "False"].contains(&r[col("in_tie_set")].as_str()),
            "{r:?}"
        );
        let p: f64 = r[col("p_not_worse")].parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{r:?}");
        let wc = &r[col("weight_contraint")];
        if r[col("protocol")] == "notebook" {
            assert_eq!(wc, "0.0");
            assert_eq!(r[col("monitor")], "");
        } else {
            assert_eq!(wc, "2.0");
            assert_eq!(r[col("monitor")], "loss");
        }
    }
    let (code, out, _) = run(bin().args(["export", "both", "--db", &db, "--format", "cv-results"]));
    assert_eq!(code, 0);
    let (header, rows) = csv_rows(&out);
    let p = header
        .iter()
        .position(|h| h == "param_protocol")
        .expect("param_protocol");
    assert!(rows.iter().any(|r| r[p] == "gridsearchcv") && rows.iter().any(|r| r[p] == "notebook"));
    let params = header.iter().position(|h| h == "params").unwrap();
    assert!(
        rows.iter()
            .any(|r| r[params].contains("'protocol': 'notebook'")),
        "{rows:?}"
    );

    // The final training of a notebook configuration: validation part watched, no
    // weight constraint; its evaluation ranks by the sweep's relative Δacc.
    let nb = list
        .iter()
        .find(|r| r["params"]["protocol"] == "notebook")
        .unwrap();
    let id = nb["config_id"].as_str().unwrap();
    let (code, out, err) = run(bin().args([
        "evaluate", "both", "--db", &db, "--config", id, "--epochs", "3", "--quiet", "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let e: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["params"]["protocol"], "notebook");
    assert_eq!(e["delta"], "relative");
    assert!(e["params"].get("weight_constraint").is_none());
    assert!(
        e["history"][0]["val_loss"].is_f64(),
        "the final training watches the validation part"
    );
}

/// The shipped spec is the study's real search space as its authors' code ran it:
/// 960 + 1,024 + 48 grid rows, all distinct (grid B's four configurations that grid A
/// also lists ran 30 epochs on B's own partition); notebook rows for grids A and B,
/// gridsearchcv with the real callback values for grid C; grid B and C on their own
/// partitions; relative Δacc.
#[test]
fn genre_factor_spec_is_the_study_space() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("search-spaces/genre-factor.json");
    // `plan` reads the data as `run` would. The built-in demo data has the study's
    // columns and genres, so the plan is the same without the study's file.
    let d = Dir::new("protocols", "genre-factor-plan");
    let data = d.demo_data(6446);
    let (code, out, err) = run(bin()
        .arg("plan")
        .arg(&spec)
        .arg("--data")
        .arg(&data)
        .arg("--json"));
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["grid_rows"], 2032);
    let configs = plan["configurations"].as_array().unwrap();
    assert_eq!(configs.len(), 2032);
    // Grid B's rows with 2 hidden layers differ only in neurons_4, which is not built:
    // 256 configurations share another's training (about one eighth of the work).
    assert_eq!(plan["distinct_trainings"], 1776);
    assert_eq!(plan["fold_fits"], 1776 * 3);
    assert_eq!(plan["score"]["delta"], "relative");
    let count = |f: &dyn Fn(&Value) -> bool| configs.iter().filter(|c| f(&c["params"])).count();
    assert_eq!(count(&|p| p["protocol"] == "notebook"), 1984);
    assert_eq!(count(&|p| p.get("protocol").is_none()), 48);
    // The partitions: grid A on the spec's own, B pre-shuffled 0.3 twice, C with KFold.
    assert_eq!(count(&|p| p.get("split").is_none()), 960);
    assert_eq!(
        count(&|p| p["split"]["preshuffle"] == 42
            && p["split"]["test_fraction"] == 0.3
            && p["split"]["stratify"] == "onehot"
            && p["epochs"] == 30),
        1024
    );
    assert_eq!(
        count(&|p| p["split"]["splitter"] == "kfold"
            && p["split"]["test_fraction"] == 0.2
            && p["split"].get("preshuffle").is_none_or(Value::is_null)),
        48
    );
    assert_eq!(
        count(&|p| p.get("protocol").is_none()
            && p["early_stopping_patience"] == 20
            && p["reduce_lr_min_lr"] == 1e-5
            && p["monitor"] == "loss"
            && p["epochs"] == 100),
        48
    );
    assert_eq!(
        count(&|p| p["protocol"] == "notebook"
            && p.get("weight_constraint").is_none()
            && p["epochs"] == 60),
        960
    );
}
