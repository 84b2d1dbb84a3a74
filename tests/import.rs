//! `gridsweep import` (issue 22, part 1), through the binary: an HPO_combined-style CSV
//! becomes a read-only sweep that ranks, exports and shows its status; bad files are
//! named by line and column, and nothing is recorded of them.

mod common;
use common::{bin, run, Dir};

use serde_json::Value;

const HEADER: &str = "activation,activation_numerical,batch_size,delta_acc,dropout,early_stopping_patience,epochs,mean_train_score,mean_val_score,neurons_1,neurons_2,neurons_3,neurons_4,num_hidden_layers,optimizer,optimizer_numerical,reduce_lr_factor,reduce_lr_min_lr,reduce_lr_patience,std_train_score,std_val_score,weight_contraint";

/// A row of the study's shape: (activation, batch, dropout, patience, epochs, train,
/// val, optimizer, reduce-lr factor, min lr, reduce-lr patience, constraint).
#[allow(clippy::too_many_arguments)]
fn row(
    act: &str,
    batch: u32,
    dropout: f64,
    es: u32,
    epochs: u32,
    train: f64,
    val: f64,
    opt: &str,
    f: f64,
    min: f64,
    p: u32,
    wc: f64,
) -> String {
    format!("{act},0,{batch},{},{dropout},{es},{epochs},{train},{val},128,256,512,1024,2,{opt},0.0,{f},{min},{p},0.01,0.02,{wc}", (train - val) / val)
}

/// Eight rows: the notebook loop's (callbacks set, no constraint: 10.0), one of them
/// run twice with other results, and two of the GridSearchCV grid's (callbacks 0, a
/// MaxNorm bound).
fn study_like(d: &Dir) -> std::path::PathBuf {
    let rows = [
        row(
            "LeakyReLU",
            512,
            0.3,
            15,
            60,
            0.70,
            0.66,
            "adam",
            0.1,
            1e-7,
            5,
            10.0,
        ),
        row(
            "LeakyReLU",
            512,
            0.4,
            15,
            60,
            0.68,
            0.665,
            "nadam",
            0.1,
            1e-7,
            5,
            10.0,
        ),
        row(
            "relu", 64, 0.2, 20, 60, 0.75, 0.64, "adam", 0.5, 1e-5, 7, 10.0,
        ),
        row(
            "LeakyReLU",
            1024,
            0.5,
            15,
            60,
            0.62,
            0.61,
            "adam",
            0.1,
            1e-7,
            5,
            10.0,
        ),
        row(
            "LeakyReLU",
            512,
            0.3,
            15,
            60,
            0.69,
            0.655,
            "adam",
            0.1,
            1e-7,
            5,
            10.0,
        ),
        row(
            "relu", 128, 0.3, 0, 100, 0.72, 0.63, "Adam", 0.0, 0.0, 0, 3.0,
        ),
        row(
            "relu", 128, 0.3, 0, 100, 0.71, 0.635, "Adam", 0.0, 0.0, 0, 5.0,
        ),
        row(
            "LeakyReLU",
            256,
            0.3,
            20,
            60,
            0.66,
            0.66,
            "nadam",
            0.1,
            1e-7,
            5,
            10.0,
        ),
    ];
    let p = d.path("HPO_like.csv");
    std::fs::write(&p, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    p
}

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn an_hpo_combined_file_becomes_a_read_only_sweep_that_ranks_as_the_study_did() {
    let d = Dir::new("import", "ok");
    let file = study_like(&d);
    let db = d.path("i.db").to_string_lossy().into_owned();
    let (code, out, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "study", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("imported 8 configuration(s)") && out.contains("8 row(s)"),
        "{out}"
    );
    // Row 6 (line 6) repeats row 1's configuration (line 2) with its own results.
    assert!(
        out.contains("1 row(s) repeat") && out.contains("line 6 (line 2's"),
        "{out}"
    );

    // The file's delta_acc is relative, so the import ranks by it: ½·(0.5·(1 −
    // |(train − val) / val|) + val), computed here independently from the rows.
    assert!(
        out.contains("Δacc is relative, as the file's delta_acc column holds it"),
        "{out}"
    );
    // What the file does not state is named.
    assert!(
        out.contains("the file does not state")
            && out.contains("learning_rate")
            && out.contains("--spec SPEC"),
        "{out}"
    );
    let r = json(bin().args(["rank", "study", "--db", &db, "--json", "--top", "0"]));
    let ranked: Vec<(f64, f64)> = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["summary"]["mean_train_accuracy"].as_f64().unwrap(),
                x["summary"]["mean_val_accuracy"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut want = [
        (0.70, 0.66),
        (0.68, 0.665),
        (0.75, 0.64),
        (0.62, 0.61),
        (0.69, 0.655),
        (0.72, 0.63),
        (0.71, 0.635),
        (0.66, 0.66),
    ];
    let score = |(t, v): (f64, f64)| 0.5 * (0.5 * (1.0 - ((t - v) / v).abs()) + v);
    want.sort_by(|a, b| score(*b).total_cmp(&score(*a)));
    assert_eq!(ranked, want);
    for x in r["ranking"].as_array().unwrap() {
        let (t, v) = (
            x["summary"]["mean_train_accuracy"].as_f64().unwrap(),
            x["summary"]["mean_val_accuracy"].as_f64().unwrap(),
        );
        assert!((x["score"].as_f64().unwrap() - score((t, v))).abs() < 1e-12);
    }
    // The mapping: 10.0 is no constraint, the callbacks' zeros the GridSearchCV grid.
    let by_val = |v: f64| {
        r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["summary"]["mean_val_accuracy"].as_f64() == Some(v))
            .unwrap()
            .clone()
    };
    let nb = by_val(0.665);
    assert_eq!(nb["params"]["protocol"], "notebook", "{nb}");
    assert_eq!(nb["params"]["optimizer"], "nadam");
    assert!(
        nb["params"]
            .get("weight_constraint")
            .is_none_or(|w| w == 0.0),
        "{nb}"
    );
    let gs = by_val(0.63);
    // (gridsearchcv is the default protocol: the canonical form leaves it out.)
    assert!(
        gs["params"]
            .get("protocol")
            .is_none_or(|p| p == "gridsearchcv"),
        "{gs}"
    );
    // The study's grid C callbacks (its authors' code): patience 20, min_lr 1e-5.
    assert_eq!(gs["params"]["early_stopping_patience"], 20, "{gs}");
    assert_eq!(gs["params"]["reduce_lr_min_lr"], 1e-5, "{gs}");
    assert_eq!(gs["params"]["weight_constraint"], 3.0, "{gs}");
    assert_eq!(gs["params"]["epochs"], 100);
    let repeat = by_val(0.655);
    assert!(
        repeat["config_id"].as_str().unwrap().ends_with("-2"),
        "{repeat}"
    );
    assert_eq!(r["delta"], "relative");
    // --delta absolute re-ranks by train − val.
    let abs = json(bin().args([
        "rank", "study", "--db", &db, "--json", "--top", "1", "--delta", "absolute",
    ]));
    assert_eq!(abs["delta"], "absolute");
    // A negative weight is read as a value and refused by the rule, not taken for a flag.
    let (code, _, err) = run(bin().args(["rank", "study", "--db", &db, "--w1", "-1"]));
    assert_eq!(code, 2);
    assert!(err.contains("w1 = -1") && !err.contains("-- -1"), "{err}");
    // analyze's marginals write values as the tables do, and name the omitted default.
    let (code, out, err) = run(bin().args(["analyze", "study", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let protocol = out
        .lines()
        .find(|l| l.trim_start().starts_with("protocol:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        protocol.contains("gridsearchcv:") && !protocol.contains("null"),
        "{protocol}"
    );
    let min_lr = out
        .lines()
        .find(|l| l.trim_start().starts_with("reduce_lr_min_lr:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        min_lr.contains("1e-05:") && min_lr.contains("1e-07:") && !min_lr.contains("0.00001"),
        "{min_lr}"
    );

    // Status and exports know it.
    let st = json(bin().args(["status", "study", "--db", &db, "--json"]));
    assert!(
        st["imported_from"]
            .as_str()
            .unwrap()
            .ends_with("HPO_like.csv"),
        "{st}"
    );
    assert_eq!(st["imported_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(st["complete_configurations"], 8);
    let (code, out, _) = run(bin().args(["status", "study", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("imported from") && out.contains("nothing runs on it"),
        "{out}"
    );
    let (code, out, err) =
        run(bin().args(["export", "study", "--db", &db, "--format", "hpo-combined"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1 + 8);
    // import → export keeps the file's Δ kind: each exported delta_acc is the file's.
    let mut rd = csv::Reader::from_reader(out.as_bytes());
    let head = rd.headers().unwrap().clone();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    for rec in rd.records() {
        let rec = rec.unwrap();
        let f = |n: &str| rec[col(n)].parse::<f64>().unwrap();
        assert!(
            (f("delta_acc") - (f("mean_train_score") - f("mean_val_score")) / f("mean_val_score"))
                .abs()
                < 1e-12,
            "{rec:?}"
        );
    }

    // The same file again adds nothing; another file under the name is refused.
    let (code, out, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "study", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing added"), "{out}");
    let other = d.path("other.csv");
    std::fs::write(
        &other,
        format!(
            "{HEADER}\n{}\n",
            row("relu", 64, 0.2, 20, 60, 0.7, 0.6, "adam", 0.1, 1e-7, 5, 10.0)
        ),
    )
    .unwrap();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&other)
        .args(["--name", "study", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already has a sweep `study`") && err.contains("--name"),
        "{err}"
    );

    // Read-only: a spec of that name does not run on it, and it is not replaced.
    let spec = d.spec_with(
        "study",
        200,
        r#"{"epochs": 2, "neurons_1": 8, "neurons_2": 8, "batch_size": 64}"#,
        r#"{"dropout": [0.1]}"#,
        "",
    );
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was imported from") && err.contains("another `name`"),
        "{err}"
    );
    assert_eq!(
        json(bin().args(["rank", "study", "--db", &db, "--json", "--top", "0"])),
        r
    );
}

#[test]
fn a_bad_file_is_named_by_line_and_column_and_nothing_is_recorded() {
    let d = Dir::new("import", "bad");
    let db = d.path("i.db").to_string_lossy().into_owned();
    let good = row(
        "relu", 64, 0.2, 20, 60, 0.7, 0.6, "adam", 0.1, 1e-7, 5, 10.0,
    );
    let cases = [
        // A missing column, named.
        (
            HEADER.replace(",dropout", ""),
            vec![good.replace(",0.2,20,", ",20,")],
            "column dropout",
            "missing column",
        ),
        // A cell that is not a number: its line and column.
        (
            HEADER.to_string(),
            vec![good.clone(), good.replace(",0.2,20,", ",lots,20,")],
            "line 3, column dropout",
            "expected a number",
        ),
        // An accuracy outside [0, 1].
        (
            HEADER.to_string(),
            vec![good.replace(",0.7,0.6,", ",70,0.6,")],
            "line 2, column mean_train_score",
            "accuracy in [0, 1]",
        ),
        // A value gridsweep cannot hold.
        (
            HEADER.to_string(),
            vec![good.replace("relu,", "bogus,")],
            "line 2",
            "not a configuration",
        ),
        // No rows.
        (HEADER.to_string(), vec![], "line 2", "no rows"),
    ];
    for (i, (header, rows, at, what)) in cases.iter().enumerate() {
        let f = d.path(&format!("bad{i}.csv"));
        std::fs::write(
            &f,
            format!(
                "{header}\n{}",
                rows.iter().map(|r| format!("{r}\n")).collect::<String>()
            ),
        )
        .unwrap();
        let (code, _, err) = run(bin()
            .arg("import")
            .arg(&f)
            .args(["--name", "bad", "--db", &db]));
        assert_eq!(code, 2, "case {i}: {err}");
        assert!(
            err.contains(&format!("bad{i}.csv")) && err.contains(at) && err.contains(what),
            "case {i}: {err}"
        );
        assert_eq!(err.matches("gridsweep:").count(), 1, "printed once: {err}");
        // The file is read before any database is opened: none is left behind.
        assert!(
            !std::path::Path::new(&db).exists(),
            "case {i}: a refused file created {db}"
        );
    }
    // A format it does not read.
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(d.path("bad0.csv"))
        .args(["--name", "bad", "--format", "parquet", "--db", &db]));
    assert_eq!(code, 2);
    assert!(err.contains("--format parquet"), "{err}");
}

/// A cv_results_ file: its per-fold scores become folds. Exporting a sweep run here as
/// cv-results and importing it gives the same ranking and the same t-tests.
#[test]
fn a_cv_results_file_brings_its_folds() {
    let d = Dir::new("import", "cv-results");
    let spec = d.spec_with(
        "t",
        300,
        r#"{"epochs": 3, "neurons_1": 8, "neurons_2": 8, "batch_size": 64}"#,
        r#"{"dropout": [0.0, 0.3, 0.6]}"#,
        "",
    );
    let (db, file) = run_and_export_cv_results(&d, &spec);
    let (code, out, err) = run(bin().arg("import").arg(&file).args([
        "--name",
        "back",
        "--format",
        "cv-results",
        "--db",
        &db,
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 3 configuration(s)"), "{out}");
    let scores = |name: &str| -> Vec<(f64, f64)> {
        let r = json(bin().args(["rank", name, "--db", &db, "--json", "--top", "0"]));
        r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["score"].as_f64().unwrap(),
                    x["params"]["dropout"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(scores("back"), scores("t"));
    let tests = |name: &str| -> Vec<Value> {
        let a = json(bin().args(["analyze", name, "--db", &db, "--json"]));
        a["analysis"]["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["test"].clone())
            .collect()
    };
    let (here, back) = (tests("t"), tests("back"));
    assert_eq!(here.len(), 2);
    assert_eq!(back, here, "the same fold scores, the same tests");
    let (code, out, _) = run(bin().args(["status", "back", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("imported from") && out.contains("3 configurations, complete"),
        "{out}"
    );
}

/// A cv_results_ file has columns only for what its grid varied. Without a spec the
/// import says which keys took gridsweep's defaults; with the spec the results were
/// made with, its fixed values fill them: export → import gives back the same ids and
/// hyperparameters. A file that leaves out a key the spec varies is refused, naming it.
#[test]
fn a_cv_results_import_takes_what_the_file_does_not_state_from_the_spec() {
    let d = Dir::new("import", "cv-spec");
    let spec = d.spec_with(
        "t",
        300,
        r#"{"epochs": 3, "neurons_1": 32, "neurons_2": 16, "batch_size": 64}"#,
        r#"[{"dropout": [0.0, 0.3]}, {"dropout": [0.5], "optimizer": ["adam"]}]"#,
        "",
    );
    let (db, file) = run_and_export_cv_results(&d, &spec);
    let configs = |name: &str| -> Vec<(String, Value)> {
        let r = json(bin().args(["rank", name, "--db", &db, "--json", "--top", "0"]));
        let mut v: Vec<(String, Value)> = r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["config_id"].as_str().unwrap().to_string(),
                    x["params"].clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    // Without the spec (the format told from the header): defaults, named.
    let (code, out, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "bare", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("the file does not state")
            && out.contains("batch_size")
            && out.contains("epochs")
            && out.contains("neurons_1"),
        "{out}"
    );
    assert!(
        !out.contains("dropout,") && out.contains("--spec SPEC"),
        "{out}"
    );
    let bare = configs("bare");
    assert!(bare.iter().all(|(_, p)| p["epochs"] != 3), "{bare:?}");
    // With it: the same ids and hyperparameters as the sweep that made the file.
    let (code, out, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "back", "--db", &db, "--spec"])
        .arg(&spec));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("gave 3 row(s) what the file does not state"),
        "{out}"
    );
    assert_eq!(configs("back"), configs("t"));
    // The dropout column left out: every row fits several configurations.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head = rd.headers().unwrap().clone();
    let cut = head.iter().position(|h| h == "param_dropout").unwrap();
    let mut w = csv::Writer::from_path(d.path("cut.csv")).unwrap();
    w.write_record(
        head.iter()
            .enumerate()
            .filter(|(i, _)| *i != cut)
            .map(|(_, h)| h),
    )
    .unwrap();
    for rec in rd.records() {
        let rec = rec.unwrap();
        w.write_record(
            rec.iter()
                .enumerate()
                .filter(|(i, _)| *i != cut)
                .map(|(_, c)| c),
        )
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(d.path("cut.csv"))
        .args(["--name", "cut", "--db", &db, "--spec"])
        .arg(&spec));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cut.csv, line ")
            && err.contains("differ in dropout, optimizer")
            && err.contains("does not state them"),
        "{err}"
    );
}

/// Runs `spec` (sweep `t`) into `c.db` and exports it as `cv.csv` in cv-results form.
fn run_and_export_cv_results(d: &Dir, spec: &std::path::Path) -> (String, std::path::PathBuf) {
    let db = d.path("c.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(spec)
        .args(["--db", &db, "--quiet", "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    let file = d.path("cv.csv");
    let (code, _, err) = run(bin()
        .args([
            "export",
            "t",
            "--db",
            &db,
            "--format",
            "cv-results",
            "--out",
        ])
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    (db, file)
}

/// The tests' statistics through the binary, against scipy's numbers
/// (tests/reference/stats_reference.json): two configurations whose fold scores differ
/// by the reference's differences.
#[test]
fn analyze_tests_match_scipy_through_the_binary() {
    let d = Dir::new("import", "scipy");
    let reference: Value =
        serde_json::from_str(include_str!("reference/stats_reference.json")).unwrap();
    let case = &reference["cases"][0];
    let diffs: Vec<f64> = case["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    // train = val, so a fold's score is 0.25 + val / 2: val differences of 2·d.
    let cells = |vals: &[f64]| vals.iter().map(|v| format!("{v}")).collect::<Vec<_>>();
    let winner: Vec<f64> = diffs.iter().map(|d| 0.7 + 2.0 * d).collect();
    let other = vec![0.7; diffs.len()];
    let n = diffs.len();
    let mut header = vec!["param_dropout".to_string()];
    header.extend((0..n).map(|k| format!("split{k}_test_score")));
    header.extend((0..n).map(|k| format!("split{k}_train_score")));
    let line = |dropout: &str, v: &[f64]| {
        [vec![dropout.to_string()], cells(v), cells(v)]
            .concat()
            .join(",")
    };
    let file = d.path("two.csv");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{}\n",
            header.join(","),
            line("0.1", &winner),
            line("0.2", &other)
        ),
    )
    .unwrap();
    let db = d.path("s.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().arg("import").arg(&file).args([
        "--name",
        "s",
        "--format",
        "cv-results",
        "--db",
        &db,
    ]));
    assert_eq!(code, 0, "{err}");
    let a = json(bin().args(["analyze", "s", "--db", &db, "--json"]));
    assert_eq!(a["folds"], 3);
    let t = &a["analysis"]["comparisons"][0]["test"];
    for key in ["mean", "corrected_std", "t", "p_value", "p_first_better"] {
        let (got, want) = (t[key].as_f64().unwrap(), case[key].as_f64().unwrap());
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
            "{key}: {got} vs scipy {want}"
        );
    }
    // Ten repeats of 3-fold (scipy's third case: 30 differences): --cv-folds 3 tells
    // the 30 splits apart as 3-fold × 10, and the tests correct by 1/2, not 1/29.
    let case30 = &reference["cases"][2];
    let diffs30: Vec<f64> = case30["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let winner30: Vec<f64> = diffs30.iter().map(|d| 0.7 + 2.0 * d).collect();
    let other30 = vec![0.7; diffs30.len()];
    let mut header30 = vec!["param_dropout".to_string()];
    header30.extend((0..diffs30.len()).map(|k| format!("split{k}_test_score")));
    header30.extend((0..diffs30.len()).map(|k| format!("split{k}_train_score")));
    let file30 = d.path("thirty.csv");
    std::fs::write(
        &file30,
        format!(
            "{}\n{}\n{}\n",
            header30.join(","),
            line("0.1", &winner30),
            line("0.2", &other30)
        ),
    )
    .unwrap();
    let (code, _, err) = run(bin().arg("import").arg(&file30).args([
        "--name",
        "r",
        "--format",
        "cv-results",
        "--cv-folds",
        "3",
        "--db",
        &db,
    ]));
    assert_eq!(code, 0, "{err}");
    let a = json(bin().args(["analyze", "r", "--db", &db, "--json"]));
    assert_eq!(a["folds"], 3);
    let t = &a["analysis"]["comparisons"][0]["test"];
    assert_eq!(t["n"], 30);
    for key in ["mean", "corrected_std", "t", "p_value", "p_first_better"] {
        let (got, want) = (t[key].as_f64().unwrap(), case30[key].as_f64().unwrap());
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
            "{key}: {got} vs scipy {want}"
        );
    }
    let (code, _, err) = run(bin().arg("import").arg(&file30).args([
        "--name",
        "r7",
        "--format",
        "cv-results",
        "--cv-folds",
        "7",
        "--db",
        &db,
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--cv-folds 7") && err.contains("30 splits"),
        "{err}"
    );
    // A file without train scores is named, with what to do.
    let bad = d.path("notrain.csv");
    std::fs::write(
        &bad,
        "param_dropout,split0_test_score,split1_test_score\n0.1,0.6,0.7\n",
    )
    .unwrap();
    let (code, _, err) = run(bin().arg("import").arg(&bad).args([
        "--name",
        "x",
        "--format",
        "cv-results",
        "--db",
        &db,
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("notrain.csv")
            && err.contains("split0_train_score")
            && err.contains("return_train_score"),
        "{err}"
    );
    // An accuracy that is not one: line and column.
    let bad = d.path("badcell.csv");
    std::fs::write(
        &bad,
        format!(
            "{}\n{}\n{}\n",
            header.join(","),
            line("0.1", &winner),
            line("0.2", &other).replacen("0.7", "seventy", 1)
        ),
    )
    .unwrap();
    let (code, _, err) = run(bin().arg("import").arg(&bad).args([
        "--name",
        "x",
        "--format",
        "cv-results",
        "--db",
        &db,
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("line 3, column split0_test_score") && err.contains("accuracy"),
        "{err}"
    );
    // An unknown hyperparameter: its column.
    let bad = d.path("unknown.csv");
    std::fs::write(&bad, "param_model__colour,split0_test_score,split1_test_score,split0_train_score,split1_train_score\nred,0.6,0.7,0.6,0.7\n").unwrap();
    let (code, _, err) = run(bin().arg("import").arg(&bad).args([
        "--name",
        "x",
        "--format",
        "cv-results",
        "--db",
        &db,
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains("line 2") && err.contains("param_model__colour"),
        "{err}"
    );
}

/// `report` on an imported sweep: the page without what needs data or a model, with
/// the section "How sure is the choice?".
#[test]
fn an_imported_sweep_has_a_report_without_evaluation() {
    let d = Dir::new("import", "report");
    let file = study_like(&d);
    let db = d.path("r.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "study", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let out = d.path("page");
    let (code, _, err) = run(bin()
        .args(["report", "study", "--db", &db, "--out"])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("was imported"), "{err}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for part in [
        "id=\"summary\"",
        "id=\"top\"",
        "id=\"confidence\"",
        "id=\"imported\"",
        "img/weights.png",
        "img/pareto.png",
    ] {
        assert!(html.contains(part), "{part}");
    }
    for absent in ["id=\"evaluation\"", "id=\"baselines\"", "class-balance"] {
        assert!(!html.contains(absent), "{absent}");
    }
    assert!(
        html.contains("no fold scores"),
        "the tests say why they are missing"
    );
    // `evaluate` and `baselines` say it has no data, not that "the data changed".
    for cmd in ["evaluate", "baselines"] {
        let (code, _, err) = run(bin().args([cmd, "study", "--db", &db]));
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(
            err.contains("was imported from")
                && err.contains("no data set or split")
                && err.contains("gridsweep rerun study"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("changed since"), "{cmd}: {err}");
    }
}

/// The cells of a CSV export, by column name, one map a row.
fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    rd.records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// An HPO_combined import holds means and standard deviations, no folds: its
/// cv-results export writes them (split cells and times empty), with the file's
/// hyperparameters as `param_*` columns, instead of empty scores.
#[test]
fn an_hpo_combined_import_exports_its_means_as_cv_results() {
    let d = Dir::new("import", "hpo-cv-results");
    let file = study_like(&d);
    let db = d.path("s.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "study", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        run(bin().args(["export", "study", "--db", &db, "--format", "cv-results"]));
    assert_eq!(code, 0, "{err}");
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 8);
    let source = csv_rows(&std::fs::read_to_string(&file).unwrap());
    let mut means: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["mean_test_score"].clone(), r["mean_train_score"].clone()))
        .collect();
    let mut want: Vec<(String, String)> = source
        .iter()
        .map(|r| (r["mean_val_score"].clone(), r["mean_train_score"].clone()))
        .collect();
    means.sort();
    want.sort();
    assert_eq!(means, want, "the file's means, as written");
    for r in &rows {
        assert_eq!(
            (r["std_test_score"].as_str(), r["std_train_score"].as_str()),
            ("0.02", "0.01"),
            "{r:?}"
        );
        for k in [
            "split0_test_score",
            "split2_train_score",
            "mean_fit_time",
            "std_score_time",
        ] {
            assert_eq!(r[k], "", "{k}: the file has none");
        }
        assert!(
            !r["rank_test_score"].is_empty()
                && r["params"].contains("'activation': ")
                && r["params"].contains("'batch_size': "),
            "{r:?}"
        );
        assert!(
            !r["param_dropout"].is_empty() && !r["param_optimizer"].is_empty(),
            "{r:?}"
        );
    }
}

/// A scikit-learn file imported without a spec exports its hyperparameters (only those
/// each row states) and its own fit and score times, and imports back.
#[test]
fn a_cv_results_import_exports_what_its_file_held_and_imports_back() {
    let d = Dir::new("import", "cv-results-back");
    let head = "mean_fit_time,std_fit_time,mean_score_time,std_score_time,param_model__dropout,param_model__optimizer,params,\
                split0_test_score,split1_test_score,split2_test_score,mean_test_score,std_test_score,rank_test_score,\
                split0_train_score,split1_train_score,split2_train_score,mean_train_score,std_train_score";
    let rows = [
        "3.5,0.232,0.05,0.004,0.2,adam,\"{'model__dropout': 0.2, 'model__optimizer': 'adam'}\",0.61,0.63,0.62,0.62,0.008,2,0.70,0.71,0.72,0.71,0.008",
        "2.25,0.118,0.04,0.002,0.4,nadam,\"{'model__dropout': 0.4, 'model__optimizer': 'nadam'}\",0.64,0.62,0.63,0.63,0.008,1,0.66,0.67,0.68,0.67,0.008",
        "4.0,0.5,0.06,0.01,,adam,\"{'model__optimizer': 'adam'}\",0.55,0.56,0.57,0.56,0.008,3,0.60,0.61,0.62,0.61,0.008",
    ];
    let file = d.path("cv_results.csv");
    std::fs::write(&file, format!("{head}\n{}\n", rows.join("\n"))).unwrap();
    let db = d.path("s.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "sk", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let out_file = d.path("export.csv");
    let (code, _, err) = run(bin()
        .args([
            "export",
            "sk",
            "--db",
            &db,
            "--format",
            "cv-results",
            "--out",
        ])
        .arg(&out_file));
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("std_score_time,param_dropout,param_optimizer,params,"),
        "the file's keys, in its order: {header}"
    );
    let by_time: std::collections::HashMap<String, std::collections::HashMap<String, String>> =
        csv_rows(&text)
            .into_iter()
            .map(|r| (r["mean_fit_time"].clone(), r))
            .collect();
    let r = &by_time["3.5"];
    assert_eq!(
        (
            r["std_fit_time"].as_str(),
            r["mean_score_time"].as_str(),
            r["std_score_time"].as_str()
        ),
        ("0.232", "0.05", "0.004")
    );
    assert_eq!(r["params"], "{'dropout': 0.2, 'optimizer': 'adam'}");
    let r = &by_time["4.0"];
    assert_eq!(
        (r["param_dropout"].as_str(), r["params"].as_str()),
        ("", "{'optimizer': 'adam'}"),
        "a key the row does not state stays empty"
    );
    assert_eq!(by_time["2.25"]["std_fit_time"], "0.118");
    // And back.
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&out_file)
        .args(["--name", "back", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    let scores = |name: &str| {
        let r = json(bin().args(["rank", name, "--db", &db, "--json", "--top", "0"]));
        r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["config_id"].clone(), x["score"].as_f64().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(scores("back"), scores("sk"));
}

/// Import's messages say what is wrong: an estimator's own key is named in its own
/// column (not the first `param_` column whose name its list of keys mentions), and
/// `--cv-folds` below 2 is refused as such.
#[test]
fn import_messages_name_the_right_column_and_the_fold_count() {
    let d = Dir::new("import", "messages");
    let db = d.path("s.db").to_string_lossy().into_owned();
    let file = d.path("sk.csv");
    std::fs::write(&file, "param_dropout,param_alpha,split0_test_score,split1_test_score,split0_train_score,split1_train_score\n0.2,3,0.5,0.5,0.6,0.6\n").unwrap();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "a", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("column param_alpha")
            && err.contains("unknown hyperparameter `alpha`")
            && err.contains("dense network"),
        "{err}"
    );
    let file = study_like(&d);
    for k in ["1", "0"] {
        let (code, _, err) =
            run(bin()
                .arg("import")
                .arg(&file)
                .args(["--name", "b", "--db", &db, "--cv-folds", k]));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("--cv-folds {k}: a k-fold has at least 2 folds")),
            "{err}"
        );
    }
}

/// A race's exports import back (issue 41.9): the default export's winner ran 2 of
/// 12 splits and is scored on them; `--include-partial`'s dropped rows come back as
/// not complete (listed apart, as the race lists them), and their export equals the
/// race's. A scikit-learn file with failed fits (NaN, which pandas writes as an empty
/// cell) imports with those rows unscored and named by `rank`.
#[test]
fn race_and_partial_exports_and_failed_fits_import_back() {
    let d = Dir::new("import", "race-partial");
    let spec = d.spec_with(
        "t",
        150,
        r#"{"epochs": 4, "neurons_1": 8, "neurons_2": 8, "batch_size": 32}"#,
        r#"[{"dropout": [0.0, 0.1, 0.2]}, {"dropout": [0.9], "epochs": [1], "learning_rate": [1e-6]}]"#,
        r#", "search": {"strategy": "race"}"#,
    );
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        r#""cv": {"folds": 3}"#,
        r#""cv": {"folds": 3, "repeats": 4}"#,
    );
    std::fs::write(&spec, text).unwrap();
    let db = d.db();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--quiet", "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    let race = json(bin().args(["rank", "t", "--db", &db, "--json", "--top", "0"]));
    let dropped = race["partial"].as_array().unwrap().len();
    assert!(dropped > 0, "the race dropped none: {race}");
    let export = |name: &str, partial: bool, file: &str, db: &str| {
        let mut cmd = bin();
        cmd.args([
            "export",
            name,
            "--db",
            db,
            "--format",
            "cv-results",
            "--out",
        ])
        .arg(d.path(file));
        if partial {
            cmd.arg("--include-partial");
        }
        let (code, _, err) = run(&mut cmd);
        assert_eq!(code, 0, "{err}");
        std::fs::read_to_string(d.path(file)).unwrap()
    };
    let plain = export("t", false, "plain.csv", &db);
    let partial = export("t", true, "partial.csv", &db);
    let rows = csv_rows(&partial);
    assert_eq!(
        rows.len(),
        race["configurations"].as_u64().unwrap() as usize
    );
    // Complete rows rank first; each row says how many splits it ran.
    for r in &rows {
        let run_splits = (0..12)
            .filter(|k| !r[&format!("split{k}_test_score")].is_empty())
            .count();
        assert_eq!(r["folds_run"], run_splits.to_string());
        if r["complete"] == "False" {
            assert!(
                r["rank_test_score"].parse::<usize>().unwrap() > rows.len() - dropped,
                "{r:?}"
            );
        }
    }
    assert_eq!(
        rows.iter().filter(|r| r["complete"] == "False").count(),
        dropped
    );

    let into = d.path("into.db").to_string_lossy().into_owned();
    for (name, file) in [("plain", "plain.csv"), ("partial", "partial.csv")] {
        // With the race's spec: what the file does not state (epochs, where a row's
        // sub-grid does not set them) comes from it.
        let (code, out, err) = run(bin()
            .arg("import")
            .arg(d.path(file))
            .args(["--name", name, "--db", &into, "--cv-folds", "3", "--spec"])
            .arg(&spec));
        assert_eq!(code, 0, "{file}: {err}");
        let fewer = csv_rows(&std::fs::read_to_string(d.path(file)).unwrap())
            .iter()
            .filter(|r| r["split11_test_score"].is_empty())
            .count();
        assert_eq!(
            fewer > 0,
            out.contains("fewer splits than the file's 12"),
            "{out}"
        );
        let marked = if dropped == 1 {
            "1 row is marked as not complete".to_string()
        } else {
            format!("{dropped} rows are marked as not complete")
        };
        assert_eq!(name == "partial", out.contains(&marked), "{out}");
    }
    // Without --cv-folds, the spec's k: the same tie set as with --cv-folds 3.
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(d.path("plain.csv"))
        .args(["--name", "speck", "--db", &into, "--spec"])
        .arg(&spec));
    assert_eq!(code, 0, "{err}");
    let tie =
        |name: &str| json(bin().args(["rank", name, "--db", &into, "--json"]))["tie_set"].clone();
    assert_eq!(tie("speck"), tie("plain"));
    let back = json(bin().args(["rank", "partial", "--db", &into, "--json", "--top", "0"]));
    assert_eq!(back["complete"], race["complete"], "{back}");
    assert_eq!(back["partial"].as_array().unwrap().len(), dropped, "{back}");
    let scores = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{:.6}", r["score"].as_f64().unwrap()))
            .collect()
    };
    assert_eq!(scores(&back, "ranking"), scores(&race, "ranking"));
    assert_eq!(scores(&back, "partial"), scores(&race, "partial"));
    // Replayed, the import races as the sweep did: its dropped ones come with their folds.
    let replay = |name: &str, db: &str| {
        json(bin().args([
            "replay",
            name,
            "--db",
            db,
            "--strategy",
            r#"{"strategy": "race"}"#,
            "--json",
        ]))["race"]["fold_fits"]
            .clone()
    };
    assert_eq!(replay("partial", &into), replay("t", &db));
    // Exported again, it is the race's export, line for line.
    let again = export("partial", true, "again.csv", &into);
    assert_eq!(
        again.lines().collect::<Vec<_>>(),
        partial.lines().collect::<Vec<_>>()
    );
    let plain_back = json(bin().args(["rank", "plain", "--db", &into, "--json"]));
    assert_eq!(scores(&plain_back, "ranking"), scores(&race, "ranking"));
    assert!(!plain.is_empty());

    // scikit-learn's failed fits: empty cells (pandas' NaN) and a literal nan.
    let sk = d.path("sk.csv");
    std::fs::write(
        &sk,
        "mean_fit_time,std_fit_time,mean_score_time,std_score_time,param_dropout,params,split0_test_score,split1_test_score,split2_test_score,mean_test_score,std_test_score,rank_test_score,split0_train_score,split1_train_score,split2_train_score,mean_train_score,std_train_score\n\
         0.01,0.001,0.001,0.0,0.1,{'dropout': 0.1},0.5,0.7,0.55,0.5833,0.085,1,0.625,0.525,0.6,0.5833,0.0425\n\
         0.0002,0.0,0.0,0.0,0.9,{'dropout': 0.9},,,,,,2,,,,,\n\
         0.0002,0.0,0.0,0.0,0.5,{'dropout': 0.5},0.5,nan,0.5,,,3,0.5,nan,0.5,,\n",
    )
    .unwrap();
    let (code, out, err) = run(bin()
        .arg("import")
        .arg(&sk)
        .args(["--name", "sk", "--db", &into]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 rows record a failed fit"), "{out}");
    let r = json(bin().args(["rank", "sk", "--db", &into, "--json"]));
    assert_eq!(r["complete"], 1, "{r}");
    assert_eq!(r["failed"].as_array().unwrap().len(), 2, "{r}");
    let (code, out, _) = run(bin().args(["rank", "sk", "--db", &into]));
    assert_eq!(code, 0);
    assert!(
        out.contains("2 configurations are not ranked: a fold of each failed"),
        "{out}"
    );
    let (code, out, _) = run(bin().args(["status", "sk", "--db", &into]));
    assert_eq!(code, 0);
    assert!(
        out.contains("1 complete (5 folds recorded); 4 splits the file records as failed fits"),
        "{out}"
    );
    // Exported, the failed fits are written as scikit-learn writes them (`nan`, the
    // means empty, ranked last, not complete), and import back as failed.
    let again = export("sk", true, "sk-again.csv", &into);
    let rows = csv_rows(&again);
    assert_eq!(rows.len(), 3, "{again}");
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| r["mean_test_score"].is_empty())
        .collect();
    assert_eq!(failed.len(), 2, "{again}");
    for r in &failed {
        assert_eq!(r["rank_test_score"], "2", "{r:?}");
        assert_eq!(r["complete"], "False", "{r:?}");
        assert!(
            (0..3).any(|k| r[&format!("split{k}_test_score")] == "nan"),
            "{r:?}"
        );
    }
    let plain = export("sk", false, "sk-plain.csv", &into);
    assert_eq!(csv_rows(&plain).len(), 3, "{plain}");
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(d.path("sk-again.csv"))
        .args(["--name", "sk2", "--db", &into]));
    assert_eq!(code, 0, "{err}");
    let r2 = json(bin().args(["rank", "sk2", "--db", &into, "--json"]));
    assert_eq!(r2["complete"], 1, "{r2}");
    assert_eq!(r2["failed"].as_array().unwrap().len(), 2, "{r2}");

    // A split with one score and not the other is an error naming the empty column.
    std::fs::write(
        &sk,
        "param_dropout,split0_test_score,split1_test_score,split0_train_score,split1_train_score\n0.1,0.5,0.6,0.5,\n",
    )
    .unwrap();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&sk)
        .args(["--name", "half", "--db", &into]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 2, column split1_train_score")
            && err.contains("empty, while split1_test_score"),
        "{err}"
    );
}

/// cv-results is laid out as scikit-learn lays out a list of sub-grids (issue 41
/// frictions): `param_*` columns in grid order (each sub-grid's keys sorted, later
/// sub-grids' new keys after), a key a row's sub-grid does not set left empty and out
/// of `params` (checked against `GridSearchCV(E(), [{"optimizer": ["adam"], "dropout":
/// [0.0, 0.1]}, {"batch_size": [32, 64]}])`'s own file); imported with its spec, the
/// export gives back the same ids.
#[test]
fn cv_results_of_sub_grids_are_laid_out_as_scikit_learn_does() {
    let d = Dir::new("import", "subgrid-layout");
    let spec = d.spec_with(
        "t",
        150,
        r#"{"epochs": 1, "neurons_1": 8}"#,
        r#"[{"optimizer": ["adam"], "dropout": [0.0, 0.1]}, {"batch_size": [32, 64]}]"#,
        "",
    );
    let (db, file) = run_and_export_cv_results(&d, &spec);
    let text = std::fs::read_to_string(&file).unwrap();
    let rows = csv_rows(&text);
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header[4..8],
        [
            "param_dropout",
            "param_optimizer",
            "param_batch_size",
            "params"
        ]
    );
    let cells = |r: &std::collections::HashMap<String, String>| {
        [
            r["param_dropout"].clone(),
            r["param_optimizer"].clone(),
            r["param_batch_size"].clone(),
            r["params"].clone(),
        ]
    };
    assert_eq!(
        rows.iter().map(cells).collect::<Vec<_>>(),
        [
            ["0.0", "adam", "", "{'dropout': 0.0, 'optimizer': 'adam'}"],
            ["0.1", "adam", "", "{'dropout': 0.1, 'optimizer': 'adam'}"],
            ["", "", "32", "{'batch_size': 32}"],
            ["", "", "64", "{'batch_size': 64}"],
        ]
        .map(|r| r.map(String::from))
    );
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "back", "--db", &db, "--spec"])
        .arg(&spec));
    assert_eq!(code, 0, "{err}");
    let ids = |name: &str| -> Vec<String> {
        let mut v: Vec<String> =
            json(bin().args(["rank", name, "--db", &db, "--json", "--top", "0"]))["ranking"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["config_id"].as_str().unwrap().to_string())
                .collect();
        v.sort();
        v
    };
    assert_eq!(ids("back"), ids("t"));
}

/// A multi-metric `cv_results_` (`GridSearchCV(scoring={"accuracy": …, "f1": …})`)
/// asks which scorer holds the accuracies (`--scorer`); SciKeras'
/// `optimizer__learning_rate` is the learning rate; keys the file does not state are
/// said by `rank` to be gridsweep's defaults, not the file's (issue 41 frictions).
#[test]
fn a_multi_metric_file_takes_a_scorer_and_unstated_keys_are_not_facts() {
    let d = Dir::new("import", "multi-metric");
    let file = d.path("multi.csv");
    let mut text = String::from(
        "mean_fit_time,std_fit_time,mean_score_time,std_score_time,param_batch_size,param_optimizer__learning_rate,params,\
         split0_test_accuracy,split1_test_accuracy,split2_test_accuracy,mean_test_accuracy,std_test_accuracy,rank_test_accuracy,\
         split0_train_accuracy,split1_train_accuracy,split2_train_accuracy,mean_train_accuracy,std_train_accuracy,\
         split0_test_f1,split1_test_f1,split2_test_f1,mean_test_f1,std_test_f1,rank_test_f1,\
         split0_train_f1,split1_train_f1,split2_train_f1,mean_train_f1,std_train_f1\n",
    );
    for (b, lr, acc) in [(32, 0.001, 0.6), (32, 0.01, 0.5), (64, 0.001, 0.55)] {
        text.push_str(&format!(
            "0.1,0.0,0.01,0.0,{b},{lr},\"{{'batch_size': {b}, 'optimizer__learning_rate': {lr}}}\",\
             {acc},{acc},{acc},{acc},0.0,1,0.7,0.7,0.7,0.7,0.0,0.2,0.2,0.2,0.2,0.0,1,0.3,0.3,0.3,0.3,0.0\n"
        ));
    }
    std::fs::write(&file, text).unwrap();
    let db = d.db();
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "m", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "several scorers (accuracy, f1): choose the one of accuracies with --scorer NAME"
        ),
        "{err}"
    );
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "m", "--db", &db, "--scorer", "f2"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--scorer f2: the file has no such scorer; it has accuracy, f1"),
        "{err}"
    );
    let (code, out, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "m", "--db", &db, "--scorer", "accuracy"]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("learning_rate"), "{out}");
    let r = json(bin().args(["rank", "m", "--db", &db, "--json", "--top", "0"]));
    let best = &r["ranking"][0];
    assert_eq!(best["params"]["learning_rate"], 0.001, "{r}");
    assert_eq!(best["params"]["batch_size"], 32, "{r}");
    assert!((best["summary"]["mean_val_accuracy"].as_f64().unwrap() - 0.6).abs() < 1e-12);
    let defaulted: Vec<&str> = r["defaulted_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        defaulted.contains(&"optimizer") && !defaulted.contains(&"learning_rate"),
        "{r}"
    );
    let (code, out, _) = run(bin().args(["rank", "m", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("note: imported without a spec, and its file does not state")
            && out.contains("gridsweep's defaults, not the file's"),
        "{out}"
    );
}

/// gridsweep's own HPO_combined export imports back, with its spec, to the same ids
/// (issue 41.9): its extra columns (a varying `learning_rate`) are read, the protocol
/// the format does not hold comes from the spec, as does a `weight_contraint` of 10.0
/// (the study's "none" and gridsweep's default MaxNorm(10) alike); a constraint is
/// GridSearchCV's.
#[test]
fn an_hpo_combined_export_imports_back_to_the_same_ids() {
    for (tag, fixed) in [
        ("default", r#"{"epochs": 2, "neurons_1": 8}"#),
        (
            "constraint",
            r#"{"epochs": 2, "neurons_1": 8, "weight_constraint": 3}"#,
        ),
    ] {
        let d = Dir::new("import", &format!("hpo-back-{tag}"));
        let spec = d.spec_with(
            "t",
            150,
            fixed,
            r#"[{"dropout": [0.0, 0.2]}, {"learning_rate": [0.01], "dropout": [0.1]}]"#,
            "",
        );
        let db = d.db();
        let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
        assert_eq!(code, 0, "{err}");
        let file = d.path("hpo.csv");
        let (code, _, err) = run(bin()
            .args([
                "export",
                "t",
                "--db",
                &db,
                "--format",
                "hpo-combined",
                "--out",
            ])
            .arg(&file));
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = run(bin()
            .arg("import")
            .arg(&file)
            .args(["--name", "back", "--db", &db, "--spec"])
            .arg(&spec));
        assert_eq!(code, 0, "{tag}: {err}");
        assert!(!out.contains("fit no configuration"), "{tag}: {out}");
        let ids = |name: &str| -> Vec<String> {
            let mut v: Vec<String> =
                json(bin().args(["rank", name, "--db", &db, "--json", "--top", "0"]))["ranking"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["config_id"].as_str().unwrap().to_string())
                    .collect();
            v.sort();
            v
        };
        assert_eq!(ids("back"), ids("t"), "{tag}");
    }
}

/// `import --foreign --cv-folds 1` (issue 42.3): another model's table (here a
/// synthetic one of a tabular benchmark's shape: estimator keys, 4 seeds on one split)
/// becomes a sweep whose labels `rank` shows, and which `replay` judges held out over
/// rotations of the seeds; without `--foreign` its keys are refused, naming the flag.
#[test]
fn another_models_table_imports_as_labels_and_replays_over_its_seeds() {
    let d = Dir::new("import", "foreign");
    let db = d.db();
    let file = d.path("bench.csv");
    let mut text = String::from("param_alpha,param_width,split0_test_score,split1_test_score,split2_test_score,split3_test_score,split0_train_score,split1_train_score,split2_train_score,split3_train_score,mean_fit_time\n");
    // 16 configurations: accuracy rises with width, falls with alpha, seed noise.
    for (i, alpha) in [1e-8, 1e-4, 1e-2, 1.0].iter().enumerate() {
        for (j, width) in [16, 64, 256, 1024].iter().enumerate() {
            let base = 0.6 + 0.05 * j as f64 - 0.04 * i as f64;
            let seeds: Vec<String> = (0..4)
                .map(|s| {
                    format!(
                        "{}",
                        base + (((s * 7 + i * 3 + j * 5) % 5) as f64 - 2.0) * 0.004
                    )
                })
                .collect();
            text.push_str(&format!(
                "{alpha},{width},{},{},1.5\n",
                seeds.join(","),
                seeds.join(",")
            ));
        }
    }
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let (code, _, err) =
        run(bin().args(["import", f, "--name", "b", "--db", &db, "--cv-folds", "1"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("param_alpha") && err.contains("--foreign"),
        "{err}"
    );
    // --cv-folds 0 is refused, saying that --foreign takes 1.
    let (code, _, err) = run(bin().args([
        "import",
        f,
        "--name",
        "b0",
        "--db",
        &db,
        "--foreign",
        "--cv-folds",
        "0",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--cv-folds 0: at least 1 (with --foreign"),
        "{err}"
    );
    let (code, out, err) = run(bin().args([
        "import",
        f,
        "--name",
        "b",
        "--db",
        &db,
        "--foreign",
        "--cv-folds",
        "1",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 16 configuration(s)"), "{out}");
    assert!(!out.contains("took gridsweep's defaults"), "{out}");
    let r = json(bin().args(["rank", "b", "--db", &db, "--json", "--top", "1"]));
    let first = &r["ranking"][0];
    assert_eq!(first["params"]["alpha"], 1e-8, "{first}");
    assert_eq!(first["params"]["width"], 1024, "{first}");
    let (_, out, _) = run(bin().args(["rank", "b", "--db", &db, "--top", "3"]));
    assert!(out.contains("alpha") && out.contains("width"), "{out}");
    assert!(!out.contains("neurons_1"), "{out}");
    // Held out: see 2 seeds, judged on the other 2, over the 6 ways to choose them.
    let h = json(bin().args([
        "replay",
        "b",
        "--db",
        &db,
        "--json",
        "--seen",
        "2",
        "--sample",
        "8",
        "--repeats",
        "50",
        "--rotations",
        "10",
        "--strategy",
        r#"{"strategy": "race"}"#,
    ]));
    assert_eq!(h["rotations"].as_array().unwrap().len(), 6, "{h}");
    let g = json(bin().args([
        "replay",
        "b",
        "--db",
        &db,
        "--json",
        "--seen",
        "2",
        "--sample",
        "8",
        "--repeats",
        "50",
        "--rotations",
        "10",
        "--strategy",
        r#"{"strategy": "grid"}"#,
    ]));
    assert_eq!(g["fold_fit_ratio"], 1.0, "{g}");
    let (code, _, err) = run(bin().args([
        "import",
        f,
        "--name",
        "c",
        "--db",
        &db,
        "--foreign",
        "--spec",
        "x.json",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("'--foreign' cannot be used with '--spec"),
        "{err}"
    );
    let (code, _, err) = run(bin().args(["evaluate", "b", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    // rerun says why there is nothing to rerun, with or without --spec.
    let spec = d.spec_with("s", 200, r#"{"epochs": 2}"#, "{}", "");
    for extra in [vec![], vec!["--spec", spec.to_str().unwrap()]] {
        let (code, _, err) = run(bin()
            .args(["rerun", "b", "--db", &db, "--top", "2"])
            .args(&extra));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("another model's configurations") && err.contains("`alpha`"),
            "{extra:?}: {err}"
        );
    }
    let (code, _, err) = run(bin().args(["export", "b", "--db", &db, "--format", "hpo-combined"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("alpha, width") && err.contains("--format cv-results"),
        "{err}"
    );
    // Nothing to resume: it says so, rather than reading the file as a data set.
    let (code, _, err) = run(bin().args(["resume", "b", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("was imported from") && err.contains("nothing to train"),
        "{err}"
    );
}

/// A file with Windows line ends (`\r\n`, as Excel and pandas on Windows write them)
/// has its bad cell named by its own line (new-user check of issue 42).
#[test]
fn a_bad_cell_of_a_crlf_file_is_named_by_its_line() {
    let d = Dir::new("import", "crlf");
    let db = d.db();
    let file = d.path("cv.csv");
    std::fs::write(
        &file,
        "param_dropout,split0_test_score,split1_test_score,split0_train_score,split1_train_score\r\n\
         0.1,0.5,0.5,0.6,0.6\r\n\
         0.2,0.5,0.5,0.6,0.6\r\n\
         0.3,1.5,0.5,0.6,0.6\r\n",
    )
    .unwrap();
    let (code, _, err) =
        run(bin().args(["import", file.to_str().unwrap(), "--name", "c", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 4, column split0_test_score"), "{err}");
}
