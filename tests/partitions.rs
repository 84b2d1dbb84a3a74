//! Sub-grids with partitions of their own (`"split"`, issue 30 part 2), through the
//! binary: a sub-grid's configurations train on its partition exactly as a sweep whose
//! spec has that partition does; the partition is part of their ids (and only theirs);
//! `rank` says when a ranking mixes partitions and `--subgrid` ranks one alone;
//! `evaluate` tests on the configuration's own partition; mistakes are named by key.

mod common;
use common::{bin, exact_results, run, Dir};

use serde_json::Value;

const FIXED: &str = r#"{"epochs": 3, "neurons_1": 8, "neurons_2": 8, "batch_size": 64}"#;
const SPLIT: &str =
    r#"{"preshuffle": 42, "stratify": "onehot", "test_fraction": 0.25, "splitter": "kfold"}"#;

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn run_spec(spec: &std::path::Path, db: &str) -> String {
    let (code, out, err) = run(bin().arg("run").arg(spec).args(["--db", db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    format!("{out}{err}")
}

/// (id, dropout, split) of every ranked configuration.
fn ranked(db: &str, name: &str, extra: &[&str]) -> Vec<(String, f64, Value)> {
    let r = json(
        bin()
            .args(["rank", name, "--db", db, "--json", "--top", "0"])
            .args(extra),
    );
    r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["config_id"].as_str().unwrap().to_string(),
                x["params"]["dropout"].as_f64().unwrap(),
                x["params"].get("split").cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[test]
fn a_subgrids_partition_trains_as_a_spec_of_that_partition_and_is_part_of_its_ids() {
    let d = Dir::new("partitions", "exact");
    let mixed = d.spec_with(
        "mixed",
        300,
        FIXED,
        &format!(r#"[{{"dropout": [0.0, 0.3]}}, {{"split": {SPLIT}, "dropout": [0.0, 0.2]}}, {{"split": {{"test_fraction": 0.3}}, "dropout": [0.1]}}]"#),
        "",
    );
    // The same partition as a whole spec's: dataset and cv sections.
    let own = d.spec_with("own", 300, FIXED, r#"{"dropout": [0.0, 0.2]}"#, "");
    let text = std::fs::read_to_string(&own).unwrap();
    let text = text
        .replace(r#""path": "data-300.csv""#, r#""path": "data-300.csv", "preshuffle": 42, "stratify": "onehot", "test_fraction": 0.25"#)
        .replace(r#""cv": {"folds": 3}"#, r#""cv": {"folds": 3, "splitter": "kfold"}"#);
    std::fs::write(&own, text).unwrap();
    let plain = d.spec_with("plain", 300, FIXED, r#"{"dropout": [0.0, 0.3, 0.1]}"#, "");
    let db_path = |f: &str| d.path(f).to_string_lossy().into_owned();
    let (db, db_own, db_plain) = (db_path("m.db"), db_path("o.db"), db_path("p.db"));
    let out = run_spec(&mixed, &db);
    assert!(out.contains("on the sub-grids' own partitions"), "{out}");
    run_spec(&own, &db_own);
    run_spec(&plain, &db_plain);

    let mixed_rows = ranked(&db, "mixed", &[]);
    assert_eq!(mixed_rows.len(), 5);
    // Dropout 0.0 is in two sub-grids on two partitions: two configurations.
    assert_eq!(mixed_rows.iter().filter(|r| r.1 == 0.0).count(), 2);
    // The spec's own partition: the ids a spec without the key gives ("test_fraction":
    // 0.3 is the data's default, so the third sub-grid is on the spec's own too).
    let plain_ids: Vec<String> = ranked(&db_plain, "plain", &[])
        .into_iter()
        .map(|r| r.0)
        .collect();
    for (id, dropout, split) in mixed_rows.iter().filter(|r| r.2.is_null()) {
        assert!(
            plain_ids.contains(id),
            "{id} (dropout {dropout}) kept its id"
        );
        assert_eq!(
            exact_results(&db, "mixed", id),
            exact_results(&db_plain, "plain", id)
        );
        let _ = split;
    }
    // The sub-grid's partition: the folds of a spec of that partition, bit for bit,
    // under other ids.
    let own_rows = ranked(&db_own, "own", &[]);
    for (id, dropout, split) in mixed_rows.iter().filter(|r| !r.2.is_null()) {
        assert_eq!(split["preshuffle"], 42);
        assert_eq!(split["splitter"], "kfold");
        assert_eq!(
            split["validation_fraction"], 0.3,
            "the keys not given are the spec's"
        );
        let twin = own_rows.iter().find(|r| r.1 == *dropout).unwrap();
        assert_ne!(&twin.0, id, "the partition is part of the id");
        assert_eq!(
            exact_results(&db, "mixed", id),
            exact_results(&db_own, "own", &twin.0),
            "dropout {dropout}"
        );
    }

    // rank says that it mixes partitions; --subgrid ranks one alone.
    let (code, out, err) = run(bin().args(["rank", "mixed", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("measured on 2 partitions")
            && out.contains("t0.25 v0.3 s42 pre42 onehot kfold")
            && out.contains("--subgrid"),
        "{out}"
    );
    let one = ranked(&db, "mixed", &["--subgrid", "1"]);
    assert_eq!(one.len(), 2);
    assert!(one.iter().all(|r| !r.2.is_null()));
    let zero = ranked(&db, "mixed", &["--subgrid", "0"]);
    assert_eq!(
        zero.iter().map(|r| r.1).collect::<Vec<_>>().len(),
        2,
        "grid[0] lists dropout 0.0 and 0.3 on the spec's partition only"
    );
    let (code, out, _) = run(bin().args(["rank", "mixed", "--db", &db, "--subgrid", "1"]));
    assert_eq!(code, 0);
    assert!(!out.contains("measured on"), "{out}");
    let (code, _, err) = run(bin().args(["rank", "mixed", "--db", &db, "--subgrid", "3"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no grid[3]"), "{err}");

    // Resuming changes nothing: the stored spec reads back with the same partitions.
    let out = run_spec(&mixed, &db);
    assert!(out.contains("this run: 0 done"), "{out}");

    // evaluate trains and tests on the configuration's own partition: 25 % of 300 rows.
    let split_id = &mixed_rows.iter().find(|r| !r.2.is_null()).unwrap().0;
    let (code, _, err) = run(bin()
        .args([
            "evaluate",
            "mixed",
            "--db",
            &db,
            "--config",
            split_id,
            "--epochs",
            "2",
            "--model-dir",
        ])
        .arg(d.path("model")));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("test on 75 rows"), "{err}");
    let plain_id = &mixed_rows.iter().find(|r| r.2.is_null()).unwrap().0;
    let (code, _, err) = run(bin()
        .args([
            "evaluate",
            "mixed",
            "--db",
            &db,
            "--config",
            plain_id,
            "--epochs",
            "2",
            "--model-dir",
        ])
        .arg(d.path("model2")));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("test on 90 rows"), "{err}");
}

#[test]
fn split_mistakes_are_named_by_key_all_at_once() {
    let d = Dir::new("partitions", "mistakes");
    let spec = d.spec_with(
        "bad",
        300,
        FIXED,
        r#"[{"dropout": [0.0]}, {"split": {"folds": 5}, "dropout": [0.1]}, {"split": {"test_fraction": 2}, "dropout": [0.2]}, {"split": 3, "dropout": [0.3]}]"#,
        "",
    );
    let (code, _, err) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3 mistakes"), "{err}");
    assert!(
        err.contains("grid[1].split.folds") && err.contains("folds and repeats are the spec's"),
        "{err}"
    );
    assert!(
        err.contains("grid[2].split.test_fraction")
            && err.contains("expected a fraction in (0, 1)"),
        "{err}"
    );
    assert!(
        err.contains("grid[3].split") && err.contains("expected an object of split keys"),
        "{err}"
    );
    assert_eq!(
        err.matches("gridsweep: error").count(),
        1,
        "said once: {err}"
    );
}

/// The spec's partition keys reach the real data path (issue 41): `plan --partitions`
/// lists, for the spec's own partition and each sub-grid's, the rows of every part and
/// CV fold as a run cuts them (`CvSets`, as `run` loads them), and they are the rows
/// scikit-learn and pandas give on the same file (`tests/reference/partitions_reference.py`
/// wrote the fixture and the expected rows: one-hot strata, a pre-shuffle, 0.3 twice,
/// `StratifiedKFold` and an unshuffled `KFold`).
#[test]
fn plan_lists_each_partitions_rows_as_scikit_learn_cuts_them() {
    let d = Dir::new("partitions", "listed");
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
    std::fs::copy(reference.join("partitions_data.csv"), d.path("data.csv")).unwrap();
    let spec = d.path("p.json");
    std::fs::write(
        &spec,
        r#"{"name": "p", "dataset": {"path": "data.csv", "label": "Genre", "stratify": "onehot",
            "test_fraction": 0.2, "validation_fraction": 0.2, "seed": 42}, "cv": {"folds": 3},
            "fixed": {"epochs": 1},
            "grid": [{"dropout": [0.0]},
                     {"dropout": [0.1], "split": {"preshuffle": 42, "test_fraction": 0.3, "validation_fraction": 0.3}},
                     {"dropout": [0.2], "split": {"splitter": "kfold"}}]}"#,
    )
    .unwrap();
    let (code, out, err) = run(bin().arg("plan").arg(&spec).args(["--partitions", "-"]));
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(reference.join("partitions_expected.csv")).unwrap();
    let lines = |t: &str| t.lines().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(lines(&out), lines(&want));
    // To a file, with a line saying what it wrote; the plan itself writes nothing else.
    let (code, out, err) = run(bin()
        .arg("plan")
        .arg(&spec)
        .arg("--partitions")
        .arg(d.path("parts.csv")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote 450 rows of 3 partitions"), "{out}");
    assert_eq!(
        lines(&std::fs::read_to_string(d.path("parts.csv")).unwrap()),
        lines(&want)
    );
    // Never over the spec's data file (nor the spec).
    let (code, _, err) = run(bin()
        .arg("plan")
        .arg(&spec)
        .arg("--partitions")
        .arg(d.path("data.csv")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("that is the spec's data file"), "{err}");
    assert_eq!(
        std::fs::read(d.path("data.csv")).unwrap(),
        std::fs::read(reference.join("partitions_data.csv")).unwrap()
    );
}
