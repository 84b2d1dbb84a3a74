//! Real-world CSVs through the binary: the row-index column is never a feature, text
//! columns are encoded (one-hot, ordinal, dropped), separators are guessed, decimal
//! commas are named, and `predict` carries ids and applies the learned encoding.

mod common;
use common::{bin, run, Dir};

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Rows with a row index, three numeric features, a colour that carries signal, and the
/// label. `sep` separates fields; `comma` writes decimals with a comma.
fn table(rows: usize, sep: char, comma: bool) -> String {
    let colours = ["red", "green", "blue"];
    let mut s = format!("Unnamed: 0{sep}f1{sep}f2{sep}f3{sep}colour{sep}Genre\n");
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / (1u64 << 31) as f64
    };
    for i in 0..rows {
        let (a, b, c) = (next() * 4.0 - 2.0, next() * 4.0 - 2.0, next());
        let colour = colours[(next() * 3.0) as usize % 3];
        let shift = match colour {
            "red" => 0.8,
            "green" => 0.0,
            _ => -0.8,
        };
        let s_ = a + 0.5 * b + shift + (next() - 0.5) * 0.6;
        let label = if s_ < -0.6 {
            "low"
        } else if s_ < 0.6 {
            "mid"
        } else {
            "high"
        };
        let num = |x: f64| {
            if comma {
                format!("{x:.4}").replace('.', ",")
            } else {
                format!("{x:.4}")
            }
        };
        s.push_str(&format!(
            "{i}{sep}{}{sep}{}{sep}{}{sep}{colour}{sep}{label}\n",
            num(a),
            num(b),
            num(c)
        ));
    }
    s
}

fn write(dir: &Dir, name: &str, text: &str) -> PathBuf {
    let p = dir.path(name);
    std::fs::write(&p, text).unwrap();
    p
}

const QUICK: [&str; 8] = [
    "--set",
    "epochs=3",
    "--set",
    "neurons_1=16",
    "--set",
    "neurons_2=16",
    "--set",
    "neurons_3=16",
];

fn cv(data: &Path, extra: &[&str]) -> (i32, String, String) {
    run(bin()
        .arg("cv")
        .arg("--data")
        .arg(data)
        .args(["--label", "Genre"])
        .args(QUICK)
        .args(extra))
}

/// The summary without its timing.
fn summary(v: &Value) -> Value {
    let mut s = v["summary"].clone();
    s.as_object_mut().unwrap().remove("total_fit_seconds");
    s
}

fn cv_json(data: &Path, extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.push("--json");
    let (code, out, err) = cv(data, &args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_row_index_is_never_a_feature_and_drop_adds_to_it() {
    let d = Dir::new("data", "index");
    let data = write(&d, "t.csv", &table(400, ',', false));
    let v = cv_json(&data, &["--drop", "f3", "--drop", "colour"]);
    assert_eq!(v["data"]["features"], serde_json::json!(["f1", "f2"]));
    // The same rows without the index column at all: the same numbers.
    let text = table(400, ',', false);
    let no_index: String = text
        .lines()
        .map(|l| l.split_once(',').unwrap().1.to_string() + "\n")
        .collect();
    let plain = write(&d, "plain.csv", &no_index);
    let w = cv_json(&plain, &["--drop", "f3", "--drop", "colour"]);
    assert_eq!(summary(&v), summary(&w));
    // pandas' unnamed index under an empty header, too; the header says what is left out.
    let empty_header = text.replacen("Unnamed: 0", "", 1);
    let e = write(&d, "empty.csv", &empty_header);
    let (code, out, err) = cv(&e, &["--drop", "f3"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("features: 5 features from 3 columns (text: colour one-hot (3 categories)); not features: `` (row index), `f3` (dropped)"), "{out}");
}

#[test]
fn text_columns_are_encoded_and_stray_text_is_named() {
    let d = Dir::new("data", "text");
    let data = write(&d, "t.csv", &table(500, ',', false));
    let v = cv_json(&data, &[]);
    assert_eq!(
        v["data"]["features"],
        serde_json::json!([
            "f1",
            "f2",
            "f3",
            "colour=blue",
            "colour=green",
            "colour=red"
        ])
    );
    let o = cv_json(&data, &["--encode", "colour=ordinal"]);
    assert_eq!(
        o["data"]["features"],
        serde_json::json!(["f1", "f2", "f3", "colour"])
    );
    let x = cv_json(&data, &["--encode", "colour=drop"]);
    assert_eq!(x["data"]["features"], serde_json::json!(["f1", "f2", "f3"]));
    // The colour carries signal: with it, validation accuracy is higher.
    let acc = |v: &Value| v["summary"]["mean_val_accuracy"].as_f64().unwrap();
    assert!(
        acc(&v) > acc(&x),
        "one-hot {} vs dropped {}",
        acc(&v),
        acc(&x)
    );

    // A numeric column with one word in it: an error naming the cell, not a category.
    let text = table(300, ',', false);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[7].split(',').map(String::from).collect();
    cells[2] = "oops".into();
    lines[7] = cells.join(",");
    let bad = write(&d, "bad.csv", &(lines.join("\n") + "\n"));
    let (code, _, err) = cv(&bad, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.csv: line 8, column `f2`: `oops` is not a number"),
        "{err}"
    );
    assert_eq!(
        err.matches("is not a number").count(),
        1,
        "printed once: {err}"
    );
    let (code, _, err) = cv(&data, &["--encode", "shade=onehot"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no column `shade` (listed in `encode`)"),
        "{err}"
    );
}

#[test]
fn separators_are_guessed_and_decimal_commas_named() {
    let d = Dir::new("data", "sep");
    let commas = write(&d, "c.csv", &table(400, ',', false));
    let semis = write(&d, "s.csv", &table(400, ';', true));
    let tabs = write(&d, "t.tsv", &table(400, '\t', false));
    let reference = cv_json(&commas, &[]);
    // Tabs: guessed, the same numbers.
    assert_eq!(summary(&cv_json(&tabs, &[])), summary(&reference));
    // Semicolons with decimal commas: named, then read with the option.
    let (code, _, err) = cv(&semis, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("s.csv: line 2, column `f1`")
            && err.contains("decimal comma")
            && err.contains("--decimal-comma"),
        "{err}"
    );
    assert_eq!(
        summary(&cv_json(&semis, &["--decimal-comma"])),
        summary(&reference)
    );
    // Forcing the wrong separator: the label is not found, and the message says why.
    let (code, _, err) = cv(&semis, &["--delimiter", ",", "--decimal-comma"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cv(&semis, &["--delimiter", ","]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no column `Genre`")
            && err.contains("the header holds `;`")
            && err.contains("--delimiter ';'"),
        "{err}"
    );
}

#[test]
fn predict_applies_the_encoding_and_carries_ids() {
    let d = Dir::new("data", "predict");
    write(&d, "t.csv", &table(500, ',', false));
    let spec = write(
        &d,
        "s.json",
        r#"{"name": "s", "dataset": {"path": "t.csv", "drop": ["f3"]}, "seed": 1,
            "fixed": {"epochs": 3, "neurons_1": 16, "neurons_2": 16, "neurons_3": 16}, "grid": {}}"#,
    );
    let db = d.db();
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let model = d.path("model");
    let (code, _, err) = run(bin()
        .args([
            "evaluate",
            "s",
            "--db",
            &db,
            "--epochs",
            "3",
            "--quiet",
            "--model-dir",
        ])
        .arg(&model));
    assert_eq!(code, 0, "{err}");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    assert_eq!(meta["encoder"]["columns"][2]["kind"], "onehot");

    // New rows: an id, an extra column, an unseen colour.
    let new = write(
        &d,
        "new.csv",
        "song_id,notes,f1,f2,colour\na17,x,0.5,-1.0,red\nb02,y,-1.2,0.3,purple\nc33,z,1.5,1.5,blue\n",
    );
    let predict = |extra: &[&str]| {
        run(bin()
            .arg("predict")
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&new)
            .args(extra))
    };
    let (code, _, err) = predict(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("unexpected `song_id`, `notes`"), "{err}");
    let (code, out, err) = predict(&["--id-column", "song_id", "--ignore-extra"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("song_id,predicted,p_high,p_low,p_mid"),
        "{out}"
    );
    let ids: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["a17", "b02", "c33"]);
    let (code, _, err) = predict(&["--id-column", "song_id", "--ignore-extra", "--strict"]);
    assert_eq!(code, 2);
    assert!(err.contains("new.csv: line 3, column `colour`: `purple` is not among the categories the model learned (blue, green, red)"), "{err}");
    // True labels the model never saw count as wrong, and predict says so.
    let labelled = write(
        &d,
        "labelled.csv",
        "f1,f2,colour,Genre\n0.5,-1.0,red,high\n-1.2,0.3,green,huge\n1.5,1.5,blue,huge\n-1.0,-1.0,blue,low\n0.1,0.1,red,\n",
    );
    let (code, _, err) = run(bin()
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&labelled)
        .args(["--label", "Genre"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("note: 2 rows of column `Genre` have a label the model never saw (`huge` (2)), counted as wrong: it predicts only high, low, mid; on the 2 rows of labels it knows:"),
        "{err}"
    );
    assert!(
        err.contains("(4 rows; 1 row without a label left out)"),
        "{err}"
    );
}

/// Two columns of one name are refused, naming both, before anything is trained: with
/// one of them dropped by name, the other would be taken for it.
#[test]
fn duplicate_column_names_are_refused_naming_both() {
    let dir = Dir::new("data", "dup-columns");
    let text = table(60, ',', false).replacen("f1,f2,f3", "x1,f2,x1", 1);
    let data = write(&dir, "dup.csv", &text);
    for extra in [&[][..], &["--drop", "x1"][..]] {
        let (code, _, err) = cv(&data, extra);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("dup.csv") && err.contains("columns 2 and 4 are both named `x1`"),
            "{err}"
        );
        assert_eq!(err.matches("both named").count(), 1, "said once: {err}");
    }
    // Unnamed columns (pandas' index) may repeat: they are never chosen by name.
    let text = table(60, ',', false)
        .replacen("Unnamed: 0,f1", ",f1", 1)
        .lines()
        .map(|l| format!(",{l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let data = write(&dir, "two-index.csv", &text);
    let (code, _, err) = cv(&data, &[]);
    assert_eq!(code, 0, "{err}");
}

/// What pandas reads as missing is missing here too (`n/a`, `#N/A`, `<NA>`, `null`): the
/// same result as empty cells; a column's bad cells are all named, not only the first;
/// labels alike but for case are said to be different classes (issue 41, frictions).
#[test]
fn pandas_missing_values_every_bad_cell_and_labels_alike_but_for_case() {
    let d = Dir::new("data", "missing");
    let text = table(240, ',', false);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let set = |lines: &mut Vec<String>, row: usize, col: usize, v: &str| {
        let mut cells: Vec<String> = lines[row].split(',').map(String::from).collect();
        cells[col] = v.to_string();
        lines[row] = cells.join(",");
    };
    let mut empty = lines.clone();
    for (row, marker) in [(3, "n/a"), (8, "#N/A"), (13, "<NA>"), (21, "null")] {
        set(&mut lines, row, 1, marker);
        set(&mut empty, row, 1, "");
    }
    let pandas = write(&d, "pandas.csv", &(lines.join("\n") + "\n"));
    let blank = write(&d, "blank.csv", &(empty.join("\n") + "\n"));
    assert_eq!(
        summary(&cv_json(&pandas, &[])),
        summary(&cv_json(&blank, &[]))
    );

    let mut bad = lines.clone();
    set(&mut bad, 5, 2, "?");
    set(&mut bad, 30, 2, "x");
    let bad = write(&d, "bad.csv", &(bad.join("\n") + "\n"));
    let (code, _, err) = cv(&bad, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 6, column `f2`: `?` is not a number; also line 31 `x` (2 bad cells in this column)"),
        "{err}"
    );

    let mut cased = lines.clone();
    for line in cased.iter_mut().take(70).skip(40) {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        if cells[5] == "mid" {
            cells[5] = "Mid".into();
        }
        *line = cells.join(",");
    }
    let cased = write(&d, "cased.csv", &(cased.join("\n") + "\n"));
    let (code, _, err) = cv(&cased, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: labels `Mid` (")
            && err.contains("and `mid` (")
            && err.contains("differ only in case"),
        "{err}"
    );
}
