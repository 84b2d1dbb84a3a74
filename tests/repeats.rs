//! Repeated cross-validation (`cv.repeats`) and `gridsweep rerun` (issue 22), through
//! the binary: repeats 1 is today's sweep bit for bit; more repeats keep the first
//! repeat's folds and add new splits; a rerun trains a sweep's best again with repeats,
//! and `analyze` tests them on all their folds.

mod common;
use common::{bin, exact_results, run, Dir};

use serde_json::Value;

const FIXED: &str = r#"{"epochs": 3, "neurons_1": 8, "neurons_2": 8, "batch_size": 64}"#;
const GRID: &str = r#"{"dropout": [0.0, 0.3], "activation": ["relu", "tanh"]}"#;

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn run_spec(spec: &std::path::Path, db: &str) {
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(spec)
        .args(["--db", db, "--quiet", "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
}

fn ids(db: &str, name: &str) -> Vec<String> {
    let r = json(bin().args(["rank", name, "--db", db, "--json", "--top", "0"]));
    r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["config_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn repeats_one_is_todays_sweep_and_more_repeats_add_new_splits() {
    let d = Dir::new("repeats", "splits");
    let plain = d.spec_with("t", 300, FIXED, GRID, "");
    let one = d.path("one.json");
    let two = d.path("two.json");
    let text = std::fs::read_to_string(&plain).unwrap();
    std::fs::write(
        &one,
        text.replace(
            r#""cv": {"folds": 3}"#,
            r#""cv": {"folds": 3, "repeats": 1}"#,
        ),
    )
    .unwrap();
    std::fs::write(
        &two,
        text.replace(
            r#""cv": {"folds": 3}"#,
            r#""cv": {"folds": 3, "repeats": 2}"#,
        ),
    )
    .unwrap();
    assert_ne!(
        std::fs::read_to_string(&two).unwrap(),
        text,
        "the spec was rewritten"
    );
    let (db0, db1, db2) = (d.path("plain.db"), d.path("one.db"), d.path("two.db"));
    let (db0, db1, db2) = (
        db0.to_str().unwrap(),
        db1.to_str().unwrap(),
        db2.to_str().unwrap(),
    );
    run_spec(&plain, db0);
    run_spec(&one, db1);
    run_spec(&two, db2);
    // repeats 1: the same ids, the same results bit for bit, the same exports.
    let ids0 = ids(db0, "t");
    assert_eq!(ids0.len(), 4);
    assert_eq!(ids(db1, "t"), ids0);
    for id in &ids0 {
        let a = exact_results(db0, "t", id);
        assert_eq!(a.len(), 3);
        assert_eq!(exact_results(db1, "t", id), a);
    }
    assert_eq!(common::cv_results(db1, "t"), common::cv_results(db0, "t"));
    // The stored spec of repeats 1 is today's: a sweep started before repeats existed
    // continues (running the plain spec against it trains nothing new).
    let (code, out, err) = run(bin().arg("run").arg(&plain).args(["--db", db1]));
    assert_eq!(code, 0, "{err}");
    let said = format!("{out}{err}");
    assert!(
        said.contains("12 of 12 folds done") && said.contains("this run: 0 done"),
        "{said}"
    );

    // repeats 2: 6 folds each; the first 3 are the plain sweep's, bit for bit; the
    // others are new splits of the same rows.
    for id in &ids0 {
        let r2 = exact_results(db2, "t", id);
        assert_eq!(r2.len(), 6, "{id}");
        assert_eq!(
            &r2[..3],
            &exact_results(db0, "t", id)[..],
            "{id}: the first repeat is today's folds"
        );
        assert_ne!(&r2[3..], &r2[..3], "{id}: the second repeat splits anew");
    }
    let (code, cv, err) = run(bin().args(["export", "t", "--db", db2, "--format", "cv-results"]));
    assert_eq!(code, 0, "{err}");
    let header = cv.lines().next().unwrap();
    assert!(
        header.contains("split5_test_score") && !header.contains("split6_test_score"),
        "{header}"
    );
    // A spec of other repeats cannot continue the sweep.
    let (code, _, err) = run(bin().arg("run").arg(&plain).args(["--db", db2]));
    assert_eq!(code, 2);
    assert!(
        err.contains("3 folds × 2 repeats") && err.contains("3 folds"),
        "{err}"
    );

    // analyze tests on all six folds, with 3-fold's n_test/n_train = 1/2.
    let a = json(bin().args(["analyze", "t", "--db", db2, "--json", "--top", "2"]));
    let t = &a["analysis"]["comparisons"][0]["test"];
    assert_eq!(t["n"], 6, "{a}");
    let (mean, sd) = (
        t["mean"].as_f64().unwrap(),
        t["corrected_std"].as_f64().unwrap(),
    );
    if let Some(tt) = t["t"].as_f64() {
        assert!((tt - mean / sd).abs() < 1e-9);
    }
    assert_eq!(a["folds"], 3);
}

#[test]
fn rerun_trains_the_best_again_with_repeats() {
    let d = Dir::new("repeats", "rerun");
    let spec = d.spec_with("t", 300, FIXED, GRID, "");
    let db = d.db();
    run_spec(&spec, &db);
    let best = ids(&db, "t");
    let (code, out, err) = run(bin().args([
        "rerun",
        "t",
        "--top",
        "2",
        "--repeats",
        "2",
        "--db",
        &db,
        "--jobs",
        "2",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rerunning the best 2 of sweep t as sweep t-rerun-2x2 (3-fold × 2 repeats: 6 folds each)"), "{out}");
    // The top two, in rank order, each with 6 folds; their first three folds are the
    // original sweep's (the same data, split and seed).
    let r = json(bin().args(["rank", "t-rerun-2x2", "--db", &db, "--json", "--top", "0"]));
    let mut rerun_ids: Vec<String> = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["config_id"].as_str().unwrap().to_string())
        .collect();
    rerun_ids.sort();
    let mut top2 = best[..2].to_vec();
    top2.sort();
    assert_eq!(rerun_ids, top2);
    for id in &top2 {
        let again = exact_results(&db, "t-rerun-2x2", id);
        assert_eq!(again.len(), 6);
        assert_eq!(&again[..3], &exact_results(&db, "t", id)[..]);
    }
    // analyze: one configuration per sub-grid is no grouping; --against tests the others
    // against a configuration other than rank 1.
    let a = json(bin().args([
        "analyze",
        "t-rerun-2x2",
        "--db",
        &db,
        "--json",
        "--against",
        &best[1],
    ]));
    assert_eq!(a["subgrids"].as_array().unwrap().len(), 0);
    assert_eq!(a["analysis"]["winner"], best[1].as_str());
    let c = a["analysis"]["comparisons"].as_array().unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["test"]["n"], 6);
    let (code, _, err) =
        run(bin().args(["analyze", "t-rerun-2x2", "--db", &db, "--against", "zzzz"]));
    assert_eq!(code, 2);
    assert!(err.contains("--against zzzz"), "{err}");
    // Again: it continues, trains nothing.
    let (code, out, err) =
        run(bin().args(["rerun", "t", "--top", "2", "--repeats", "2", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let said = format!("{out}{err}");
    assert!(
        said.contains("12 of 12 folds done") && said.contains("this run: 0 done"),
        "{said}"
    );
    // An imported sweep needs the data it was made on.
    let csv = d.path("x.csv");
    std::fs::write(&csv, "activation,activation_numerical,batch_size,delta_acc,dropout,early_stopping_patience,epochs,mean_train_score,mean_val_score,neurons_1,neurons_2,neurons_3,neurons_4,num_hidden_layers,optimizer,optimizer_numerical,reduce_lr_factor,reduce_lr_min_lr,reduce_lr_patience,std_train_score,std_val_score,weight_contraint\nrelu,0,64,0.1,0.2,15,3,0.7,0.6,8,8,8,8,2,adam,0,0.1,1e-07,5,0.01,0.01,10.0\n").unwrap();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&csv)
        .args(["--name", "imp", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(bin().args(["rerun", "imp", "--top", "1", "--repeats", "2", "--db", &db]));
    assert_eq!(code, 2);
    assert!(err.contains("--spec") && err.contains("imported"), "{err}");
    let (code, _, err) = run(bin()
        .args([
            "rerun",
            "imp",
            "--top",
            "1",
            "--repeats",
            "2",
            "--db",
            &db,
            "--jobs",
            "2",
            "--quiet",
            "--spec",
        ])
        .arg(&spec));
    assert_eq!(code, 0, "{err}");
    let r = json(bin().args(["rank", "imp-rerun-1x2", "--db", &db, "--json"]));
    assert_eq!(r["complete"], 1);
    assert_eq!(r["ranking"][0]["params"]["protocol"], "notebook");
}

/// The study's ways of splitting (issue 30): `dataset.stratify: "onehot"`,
/// `dataset.preshuffle` and `cv.splitter: "kfold"` run, change the sweep's results (other
/// rows, other folds), and a sweep cannot switch them once run; the plain spec, which
/// names none of them, stays the same sweep with the same ids and results.
#[test]
fn the_studys_splits_are_options_that_change_the_sweep_and_stay_with_it() {
    let d = Dir::new("repeats", "study-splits");
    let plain = d.spec_with("t", 300, FIXED, GRID, "");
    let text = std::fs::read_to_string(&plain).unwrap();
    let write = |name: &str, from: &str, to: &str| {
        let p = d.path(name);
        let t = text.replace(from, to);
        assert_ne!(t, text, "{name}: the spec was rewritten");
        std::fs::write(&p, t).unwrap();
        p
    };
    let onehot = write(
        "onehot.json",
        r#""path": "data-300.csv""#,
        r#""path": "data-300.csv", "stratify": "onehot", "preshuffle": 42"#,
    );
    let kfold = write(
        "kfold.json",
        r#""cv": {"folds": 3}"#,
        r#""cv": {"folds": 3, "splitter": "kfold"}"#,
    );
    let db = d.path("s.db").to_string_lossy().into_owned();
    let db2 = d.path("s2.db").to_string_lossy().into_owned();
    let db3 = d.path("s3.db").to_string_lossy().into_owned();
    run_spec(&plain, &db);
    run_spec(&onehot, &db2);
    run_spec(&kfold, &db3);
    let ids0 = ids(&db, "t");
    // The same configurations, other results: other rows in the splits, other folds.
    for other in [&db2, &db3] {
        assert_eq!(
            {
                let mut a = ids(other, "t");
                a.sort();
                a
            },
            {
                let mut a = ids0.clone();
                a.sort();
                a
            }
        );
        assert_ne!(
            exact_results(other, "t", &ids0[0]),
            exact_results(&db, "t", &ids0[0])
        );
    }
    // A sweep keeps its splits: the plain spec cannot continue either.
    let (code, _, err) = run(bin().arg("run").arg(&plain).args(["--db", &db2, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was run on different data") && err.contains("dataset options changed"),
        "{err}"
    );
    let (code, _, err) = run(bin().arg("run").arg(&plain).args(["--db", &db3, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("3 folds (KFold)") && err.contains("another `name`"),
        "{err}"
    );
    // The plain spec continues its own sweep: nothing new to train.
    let (code, out, err) = run(bin().arg("run").arg(&plain).args(["--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(format!("{out}{err}").contains("this run: 0 done"), "{err}");
    // A bad value is named by key.
    let bad = write(
        "bad.json",
        r#""cv": {"folds": 3}"#,
        r#""cv": {"folds": 3, "splitter": "shuffled"}"#,
    );
    let (code, _, err) = run(bin().arg("plan").arg(&bad));
    assert_eq!(code, 2);
    assert!(
        err.contains("cv.splitter") && err.contains("kfold"),
        "{err}"
    );
}
