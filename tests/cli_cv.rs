//! `gridsweep demo-data` and `gridsweep cv` through the real binary.

mod common;
use common::{bin, run};

use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gridsweep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn demo(rows: usize) -> PathBuf {
    let path = tmp(&format!("demo-{rows}.csv"));
    let (code, _, err) = run(bin()
        .args(["demo-data", "--rows", &rows.to_string(), "--out"])
        .arg(&path));
    assert_eq!(code, 0, "{err}");
    path
}

fn cv(data: &Path, extra: &[&str]) -> (i32, String, String) {
    run(bin().arg("cv").arg("--data").arg(data).args(extra))
}

#[test]
fn demo_data_has_the_study_shape() {
    let path = demo(6446);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 21);
    assert_eq!(header[0], "Unnamed: 0");
    assert!(header.contains(&"Genre"));
    let genre = header.iter().position(|h| *h == "Genre").unwrap();
    let mut counts = std::collections::BTreeMap::new();
    let mut rows = 0;
    for l in lines {
        *counts
            .entry(l.split(',').nth(genre).unwrap().to_string())
            .or_insert(0usize) += 1;
        rows += 1;
    }
    assert_eq!(rows, 6446);
    let share = |g: &str| counts[g] as f64 / rows as f64;
    assert!((share("hip hop") - 0.37).abs() < 0.03, "{counts:?}");
    assert!((share("classic") - 0.03).abs() < 0.015, "{counts:?}");
    assert_eq!(counts.len(), 6);
    // Same seed, same file.
    let again = tmp("demo-again.csv");
    run(bin().args(["demo-data", "--out"]).arg(&again));
    assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
}

#[test]
fn cv_prints_folds_means_and_score() {
    let data = demo(900);
    let (code, out, err) = cv(
        &data,
        &[
            "--set",
            "epochs=3",
            "--set",
            "batch_size=128",
            "--set",
            "neurons_2=64",
            "--set",
            "neurons_3=64",
        ],
    );
    assert_eq!(code, 0, "{err}");
    for needle in [
        "fold",
        "train_acc",
        "val_acc",
        "mean  train",
        "Δacc",
        "score",
    ] {
        assert!(out.contains(needle), "missing {needle} in:\n{out}");
    }
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .count(),
        3,
        "{out}"
    );
}

#[test]
fn cv_json_is_consistent() {
    let data = demo(900);
    let cfg = tmp("cfg.json");
    std::fs::write(
        &cfg,
        r#"{"epochs": 3, "optimizer": "Adam", "neurons_1": 64, "neurons_2": 64, "neurons_3": 64}"#,
    )
    .unwrap();
    let (code, out, err) = cv(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--json",
            "--folds",
            "4",
            "--w1",
            "0.3",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["params"]["optimizer"], "adam");
    let folds = v["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    let val: Vec<f64> = folds
        .iter()
        .map(|f| f["val_accuracy"].as_f64().unwrap())
        .collect();
    let train: Vec<f64> = folds
        .iter()
        .map(|f| f["train_accuracy"].as_f64().unwrap())
        .collect();
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let s = &v["summary"];
    assert!((s["mean_val_accuracy"].as_f64().unwrap() - mean(&val)).abs() < 1e-12);
    let delta = mean(&train) - mean(&val);
    assert!((s["delta_accuracy"].as_f64().unwrap() - delta).abs() < 1e-12);
    let score = 0.5 * (0.3 * (1.0 - delta) + 1.0 * mean(&val));
    assert!((s["score"].as_f64().unwrap() - score).abs() < 1e-12);
    assert_eq!(folds[0]["history"].as_array().unwrap().len(), 3);
}

#[test]
fn bad_hyperparameters_are_rejected_with_what_is_accepted() {
    let data = demo(300);
    let (code, _, err) = cv(&data, &["--set", "dropuot=0.2"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown hyperparameter `dropuot`") && err.contains("did you mean `dropout`"),
        "{err}"
    );
    let (code, _, err) = cv(&data, &["--set", "activation=softplus"]);
    assert_eq!(code, 2);
    assert!(err.contains("relu, LeakyReLU"), "{err}");
    let (code, _, err) = cv(&data, &["--device", "tpu"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected cpu, cuda"), "{err}");
}

#[test]
fn bad_data_errors_name_file_line_and_column() {
    let bad = tmp("bad.csv");
    std::fs::write(&bad, "a,b,Genre\n1,2,x\n3,oops,y\n5,6,x\n").unwrap();
    let (code, _, err) = cv(&bad, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.csv")
            && err.contains("line 3")
            && err.contains("column `b`")
            && err.contains("`oops`"),
        "{err}"
    );

    let (code, _, err) = cv(&bad, &["--label", "Class"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no column `Class`") && err.contains("a, b, Genre"),
        "{err}"
    );

    let data = demo(300);
    let (code, _, err) = cv(&data, &["--keep-labels", "jazz"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("jazz") && err.contains("match no row"),
        "{err}"
    );

    // Few rows of one label: fewer than the folds in the training part. scikit-learn's
    // StratifiedKFold warns and goes on; so does gridsweep, naming both counts.
    let mut text = String::from("f1,f2,Genre\n");
    for i in 0..40 {
        text.push_str(&format!(
            "{i},{},{}\n",
            i * 2,
            if i < 4 { "rare" } else { "common" }
        ));
    }
    let few = tmp("few.csv");
    std::fs::write(&few, text).unwrap();
    let (code, _, err) = cv(&few, &["--folds", "3", "--set", "epochs=2"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: label `rare` has only 2 row(s) in the training part (4 in the file), fewer than the 3 folds"), "{err}");

    // Two rows of a label: the validation split cannot be stratified. The message names
    // the counts and the option that leaves the label out.
    let mut text = String::from("f1,f2,Genre\n");
    for i in 0..60 {
        text.push_str(&format!(
            "{i},{},{}\n",
            i * 2,
            if i < 2 {
                "polka"
            } else if i % 2 == 0 {
                "rock"
            } else {
                "pop"
            }
        ));
    }
    let tiny = tmp("tiny.csv");
    std::fs::write(&tiny, text).unwrap();
    let (code, _, err) = cv(&tiny, &["--test-fraction", "0.5"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("tiny.csv")
            && err.contains("label `polka` has 2 row(s) in the file, 1 left after the test split"),
        "{err}"
    );
    assert!(err.contains("--keep-labels \"pop,rock\""), "{err}");

    let (code, _, err) = cv(Path::new("/nonexistent/x.csv"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.csv"), "{err}");
}

#[test]
fn missing_cells_are_imputed() {
    let data = demo(600);
    let text = std::fs::read_to_string(&data).unwrap();
    // Blank every 7th row's Energy cell.
    let holey: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i > 0 && i % 7 == 0 {
                let mut cells: Vec<&str> = l.split(',').collect();
                cells[2] = "";
                cells.join(",")
            } else {
                l.to_string()
            }
        })
        .collect();
    let path = tmp("holey.csv");
    std::fs::write(&path, holey.join("\n")).unwrap();
    let (code, out, err) = cv(&path, &["--set", "epochs=2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["summary"]["mean_val_accuracy"]
        .as_f64()
        .unwrap()
        .is_finite());
}

#[test]
fn a_diverging_configuration_exits_1_with_the_reason() {
    let data = demo(300);
    let (code, out, _) = cv(
        &data,
        &[
            "--set",
            "optimizer=sgd",
            "--set",
            "learning_rate=1e12",
            "--set",
            "dropout=0",
            "--set",
            "weight_constraint=0",
            "--set",
            "activation=relu",
            "--set",
            "epochs=5",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed: diverged at epoch"), "{out}");
}

/// Each cause once: a missing file, a spec's typo with its suggestion, a file that is
/// not a database.
#[test]
fn errors_print_each_cause_once() {
    let (code, _, err) = cv(Path::new("/nonexistent/x.csv"), &[]);
    assert_eq!(code, 2);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let spec = tmp("typo.json");
    std::fs::write(
        &spec,
        r#"{"name": "t", "dataset": {"path": "builtin:demo"}, "grid": {"optimiser": ["adam"]}}"#,
    )
    .unwrap();
    let (code, _, err) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 2);
    assert!(err.contains("grid[0].optimiser"), "{err}");
    assert_eq!(err.matches("did you mean `optimizer`").count(), 1, "{err}");

    let not_db = tmp("not-a-db.db");
    std::fs::write(&not_db, "this is text, not SQLite\n".repeat(200)).unwrap();
    let (code, _, err) = run(bin().args(["list", "--db"]).arg(&not_db));
    assert_eq!(code, 2);
    assert_eq!(err.matches("file is not a database").count(), 1, "{err}");
    assert!(err.contains("not-a-db.db"), "{err}");
}

/// Every argument and option of a command is described; counts must be at least 1.
#[test]
fn help_describes_every_argument_and_zero_jobs_are_refused() {
    for cmd in [
        "cv",
        "plan",
        "run",
        "resume",
        "status",
        "list",
        "rank",
        "export",
        "evaluate",
        "baselines",
        "predict",
        "report",
        "bench",
        "demo-data",
    ] {
        let (code, out, _) = run(bin().args([cmd, "--help"]));
        assert_eq!(code, 0);
        // An item is described on its own line (short layout: after two spaces) or on
        // the lines below it (long layout: indented further).
        let lines: Vec<&str> = out.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let item = l.starts_with("  -") || l.starts_with("  [") || l.starts_with("  <");
            if item {
                let same_line = l.trim().contains("  ");
                let below = lines
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("          ") && !n.trim().is_empty());
                assert!(
                    same_line || below,
                    "`gridsweep {cmd} --help`: `{}` has no description",
                    l.trim()
                );
            }
        }
        assert!(
            !out.contains("cannot run its recorded path"),
            "the long --kernels text belongs to the top-level help only ({cmd})"
        );
    }
    let (_, top, _) = run(bin().arg("--help"));
    assert!(
        top.contains("cannot run its recorded path") && top.contains("130"),
        "{top}"
    );
    let data = demo(200);
    for bad in [["--jobs", "0"], ["--threads-per-job", "0"]] {
        let (code, _, err) = cv(&data, &bad);
        assert_eq!(code, 2);
        assert!(err.contains("must be at least 1"), "{err}");
    }
}

/// `--set split={…}` cuts the rows as a sweep's sub-grid split does, its keys set over
/// the command's own partition: it equals the dataset options it names, a one-hot,
/// unshuffled k-fold partition trains on other rows, and a wrong key is refused.
#[test]
fn a_split_set_on_cv_cuts_its_rows() {
    let data = demo(300);
    let base = ["--set", "epochs=2", "--json"];
    let folds = |extra: &[&str]| -> Vec<f64> {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (code, out, err) = cv(&data, &args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["folds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["val_accuracy"].as_f64().unwrap())
            .collect()
    };
    let by_options = folds(&["--test-fraction", "0.25", "--validation-fraction", "0.25"]);
    let by_split = folds(&[
        "--set",
        r#"split={"test_fraction": 0.25, "validation_fraction": 0.25}"#,
    ]);
    assert_eq!(by_options, by_split);
    let plain = folds(&[]);
    let onehot = folds(&[
        "--set",
        r#"split={"stratify": "onehot", "splitter": "kfold"}"#,
    ]);
    assert_ne!(plain, onehot);
    let (code, _, err) = cv(&data, &["--set", r#"split={"folds": 3}"#]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("split.folds: not a split key"), "{err}");
}
