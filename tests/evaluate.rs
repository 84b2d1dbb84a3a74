//! After the sweep, through the real binary: evaluate (test metrics, stored evaluation,
//! saved model), predict, baselines and the HTML report; plus the saved model's round
//! trip through the library.

mod common;
use common::{bin, run, Dir};

use gridsweep::evaluate::{self, EvalData, FinalTraining, SavedModel};
use gridsweep::params::HyperParams;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

impl Dir {
    fn data(&self) -> PathBuf {
        self.demo_data(900)
    }
    /// A finished two-configuration sweep named `s` on 900 rows of demo data.
    fn sweep(&self) -> &Self {
        self.data();
        let spec = self.path("s.json");
        std::fs::write(
            &spec,
            r#"{"name": "s", "dataset": {"path": "data-900.csv"}, "cv": {"folds": 3}, "seed": 7,
                "fixed": {"epochs": 3, "neurons_1": 32, "neurons_2": 32, "neurons_3": 32, "batch_size": 64},
                "grid": {"dropout": [0.2, 0.4]}}"#,
        )
        .unwrap();
        let (code, _, err) = run(bin()
            .args(["run", "--quiet", "--jobs", "2", "--db", &self.db()])
            .arg(&spec));
        assert_eq!(code, 0, "{err}");
        self
    }
}

fn json(cmd: &mut Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn rank_ids(d: &Dir) -> Vec<String> {
    let r = json(bin().args(["rank", "s", "--json", "--db", &d.db()]));
    r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["config_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn evaluate_reports_test_metrics_stores_them_and_saves_the_model() {
    let d = Dir::new("eval", "evaluate");
    d.sweep();
    let ids = rank_ids(&d);
    let e = json(bin().args([
        "evaluate",
        "s",
        "--epochs",
        "8",
        "--quiet",
        "--json",
        "--db",
        &d.db(),
    ]));
    assert_eq!(e["config_id"], ids[0], "default: rank 1");
    assert_eq!(e["rank"], 1);
    assert_eq!(e["params"]["epochs"], 8);
    assert_eq!(e["params"]["monitor"], "val_loss");
    assert_eq!(
        e["device"],
        common::cpu_label(),
        "where the final training ran"
    );

    // Parts: 900 rows cut 49/21/30 as the study's split.
    let part = |k: &str| {
        e["class_counts"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (part("train"), part("validation"), part("test")),
        (441, 189, 270)
    );

    // The test metrics agree with their own confusion matrix.
    let t = &e["test"];
    let cm: Vec<Vec<f64>> = serde_json::from_value(t["confusion"].clone()).unwrap();
    let total: f64 = cm.iter().flatten().sum();
    let diag: f64 = (0..cm.len()).map(|i| cm[i][i]).sum();
    assert_eq!(total, 270.0);
    assert!((f(&t["accuracy"]) - diag / total).abs() < 1e-12);
    for (i, c) in t["classes"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            c["support"].as_u64().unwrap() as f64,
            cm[i].iter().sum::<f64>()
        );
        let curve = &t["pr_curves"][i];
        let auc = f(&curve["auc"]);
        assert!(auc > 0.0 && auc <= 1.0, "PR-AUC {auc}");
        assert_eq!(curve["recall"].as_array().unwrap().last().unwrap(), 0.0);
    }
    // History: as many epochs as run, the kept one among them.
    let history = e["history"].as_array().unwrap();
    assert!(!history.is_empty() && history.len() <= 8);
    assert!(
        history.iter().all(|h| h["val_loss"].is_number()),
        "val_loss watched every epoch"
    );
    let kept = e["kept_epoch"].as_u64().unwrap() as usize;
    assert!(kept >= 1 && kept <= history.len());

    // Baselines on the same test part.
    let b = e["baselines"].as_array().unwrap();
    let keys: Vec<&str> = b.iter().map(|x| x["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["svm", "knn", "most_frequent", "random"]);
    assert!(
        (f(&b[3]["metrics"]["accuracy"]) - 1.0 / 6.0).abs() < 1e-12,
        "uniform guessing over 6 classes"
    );
    let biggest = cm.iter().map(|r| r.iter().sum::<f64>()).fold(0.0, f64::max);
    assert!(
        (f(&b[2]["metrics"]["accuracy"]) - biggest / total).abs() < 1e-12,
        "most frequent = majority share"
    );

    // The model folder and the stored evaluation.
    let dir = PathBuf::from(e["model_dir"].as_str().unwrap());
    assert!(dir.join("model.safetensors").is_file() && dir.join("model.json").is_file());
    let (code, _, err) = run(bin()
        .args(["report", "s", "--db", &d.db(), "--out"])
        .arg(d.path("r")));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("using the stored evaluation"),
        "report reuses it: {err}"
    );

    // Choosing by rank and by id prefix; a wrong id is a clear error.
    let e2 = json(bin().args([
        "evaluate",
        "s",
        "--rank",
        "2",
        "--epochs",
        "2",
        "--quiet",
        "--json",
        "--db",
        &d.db(),
    ]));
    assert_eq!(e2["config_id"], ids[1]);
    let e3 = json(bin().args([
        "evaluate",
        "s",
        "--config",
        &ids[1][..6],
        "--epochs",
        "2",
        "--quiet",
        "--json",
        "--db",
        &d.db(),
    ]));
    assert_eq!(e3["config_id"], ids[1]);
    assert_eq!(
        e3["test"], e2["test"],
        "same configuration, seed and data: same test metrics"
    );
    let (code, _, err) = run(bin().args(["evaluate", "s", "--config", "zzzz", "--db", &d.db()]));
    assert_eq!(code, 2);
    assert!(err.contains("no configuration `zzzz`"), "{err}");
    let (code, _, err) = run(bin().args(["evaluate", "s", "--rank", "3", "--db", &d.db()]));
    assert_eq!(code, 2);
    assert!(err.contains("2 complete configurations"), "{err}");
}

#[test]
fn predict_classifies_rows_and_refuses_other_columns() {
    let d = Dir::new("eval", "predict");
    d.sweep();
    let model = d.path("model");
    let (code, _, err) = run(bin()
        .args([
            "evaluate",
            "s",
            "--epochs",
            "4",
            "--quiet",
            "--db",
            &d.db(),
            "--model-dir",
        ])
        .arg(&model));
    assert_eq!(code, 0, "{err}");
    let out = d.path("pred.csv");
    let (code, _, err) = run(bin()
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(d.data())
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..2], ["row", "predicted"]);
    let classes: Vec<String> = header[2..]
        .iter()
        .map(|h| h.trim_start_matches("p_").to_string())
        .collect();
    assert_eq!(classes.len(), 6);
    let mut n = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let probs: Vec<f64> = rec.iter().skip(2).map(|v| v.parse().unwrap()).collect();
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let best = (0..6)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap();
        assert_eq!(rec[1], classes[best]);
        n += 1;
    }
    assert_eq!(n, 900);

    // Columns that are not the model's features are named.
    let bad = d.path("bad.csv");
    let text = std::fs::read_to_string(d.data())
        .unwrap()
        .replacen("Tempo,", "Speed,", 1);
    std::fs::write(&bad, text).unwrap();
    let (code, _, err) = run(bin()
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&bad));
    assert_eq!(code, 2);
    assert!(
        err.contains("missing `Tempo`") && err.contains("unexpected `Speed`"),
        "{err}"
    );
    // An extra id column: named with the flags that take it.
    let extra = d.path("extra.csv");
    let text: String = std::fs::read_to_string(d.data())
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},song_id\n")
            } else {
                format!("{l},{i}\n")
            }
        })
        .collect();
    std::fs::write(&extra, text).unwrap();
    let (code, _, err) = run(bin()
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&extra));
    assert_eq!(code, 2);
    assert!(
        err.contains("unexpected `song_id`")
            && err.contains("--ignore-extra")
            && err.contains("--id-column COLUMN"),
        "{err}"
    );
    // A decimal comma: predict's flag, and no spec key (predict has no spec).
    let comma = d.path("comma.csv");
    let text = std::fs::read_to_string(d.data()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let tempo = header.iter().position(|h| *h == "Tempo").unwrap();
    let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
    cells[tempo] = "\"120,5\"".into();
    lines[1] = cells.join(",");
    std::fs::write(&comma, lines.join("\n") + "\n").unwrap();
    let (code, _, err) = run(bin()
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&comma));
    assert_eq!(code, 2);
    assert!(
        err.contains("has a decimal comma")
            && err.contains("--decimal-comma")
            && !err.contains("spec"),
        "{err}"
    );
    let (code, _, err) = run(bin()
        .arg("predict")
        .arg("--model")
        .arg(d.path("nowhere"))
        .arg("--data")
        .arg(&bad));
    assert_eq!(code, 2);
    assert!(err.contains("model.json"), "{err}");
}

#[test]
fn saved_model_predicts_what_the_trained_one_did() {
    let d = Dir::new("eval", "roundtrip");
    let spec = gridsweep::data::DatasetSpec::new(d.data());
    let data = EvalData::load(&spec, 3).unwrap();
    let mut p = HyperParams {
        epochs: 3,
        ..HyperParams::default()
    };
    for k in ["neurons_1", "neurons_2", "neurons_3"] {
        p.set(k, &serde_json::json!(32)).unwrap();
    }
    let params = evaluate::final_params(p, 3);
    let mut silent = gridsweep::train::Silent;
    let (model, tested) = evaluate::train_and_test(
        &data,
        FinalTraining {
            params,
            seed: 3,
            device: tch::Device::Cpu,
            observer: &mut silent,
        },
    )
    .unwrap();
    let dir = d.path("m");
    model.save(&dir).unwrap();
    let saved = SavedModel::load(&dir).unwrap();
    // The test rows, raw, through the saved preprocessing and weights.
    let raw = data.cv.prepared.dataset.x.select(&data.cv.prepared.test);
    let preds = saved.predict(&raw).unwrap();
    let classes = &saved.meta.class_names;
    let predicted: Vec<usize> = preds
        .iter()
        .map(|p| classes.iter().position(|c| *c == p.class).unwrap())
        .collect();
    let cm = gridsweep::metrics::confusion_matrix(&data.test_y, &predicted, classes.len());
    assert_eq!(cm, tested.test.confusion);
    let first = &tested.test.pr_curves[0];
    assert!(first.auc > 0.0);
}

#[test]
fn baselines_command_on_the_sweep_split() {
    let d = Dir::new("eval", "baselines");
    d.sweep();
    let b = json(bin().args(["baselines", "s", "--knn-k", "5", "--json", "--db", &d.db()]));
    let b = b.as_array().unwrap();
    assert_eq!(b.len(), 4);
    assert_eq!(b[1]["label"], "KNN (k = 5)");
    for x in b {
        let acc = f(&x["metrics"]["accuracy"]);
        assert!((0.0..=1.0).contains(&acc));
    }
    // On this learnable demo data the SVM beats guessing the majority class.
    assert!(f(&b[0]["metrics"]["accuracy"]) > f(&b[2]["metrics"]["accuracy"]));
}

/// Attribute `name` of an element.
fn attr<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    n.attribute(name)
}

#[test]
fn report_is_one_offline_page_with_every_section_and_picture() {
    let d = Dir::new("eval", "report");
    d.sweep();
    let out = d.path("report");
    let (code, stdout, err) = run(bin()
        .args([
            "report",
            "s",
            "--epochs",
            "4",
            "--quiet",
            "--top",
            "1",
            "--db",
            &d.db(),
            "--out",
        ])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let page = out.join("index.html");
    assert_eq!(stdout.trim(), page.to_string_lossy());
    let html = std::fs::read_to_string(&page).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("index.html is not well-formed: {e}"));
    let ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("section"))
        .filter_map(|n| attr(n, "id"))
        .collect();
    assert_eq!(
        ids,
        [
            "summary",
            "top",
            "confidence",
            "evaluation",
            "baselines",
            "reproduce"
        ]
    );

    // Nothing from the network: no scripts, no remote sources or stylesheets.
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("script"))
            .count(),
        0
    );
    for n in doc.descendants().filter(|n| n.is_element()) {
        for a in ["src", "href"] {
            if let Some(v) = attr(n, a) {
                assert!(!v.contains("://"), "remote reference {v}");
            }
        }
    }
    // Every picture exists as PNG (shown) and SVG (linked).
    let imgs: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("img"))
        .filter_map(|n| attr(n, "src"))
        .collect();
    // class balance, scatter, score vs dropout, learning curves, dense confusion + PR,
    // accuracy bars, 4 baseline confusions, SVM and KNN PR curves; the winners over
    // the weights and the Pareto front.
    assert_eq!(imgs.len(), 15, "{imgs:?}");
    assert!(
        imgs.contains(&"img/weights.png") && imgs.contains(&"img/pareto.png"),
        "{imgs:?}"
    );
    // How sure is the choice: the weights' interval, what mattered, the runners-up tested.
    assert!(
        html.contains("How sure is the choice?")
            && html.contains("wins for w from")
            && html.contains("What mattered"),
        "confidence section"
    );
    // The tie set: who the data cannot separate from the leader, the pick and why, and
    // that one repeat decides little.
    assert!(
        html.contains("the tie set</h3>")
            && html.contains("The pick (score)")
            && html.contains("One repeat of 3 folds decides little"),
        "tie set"
    );
    assert!(html.contains("<th title=\"P(best, or within the ROPE of the best); empty: credibly worse\">tie set</th>"), "top table's tie column");
    assert!(
        html.contains("P(it beats the winner)") && html.contains("corrected resampled t-test"),
        "runners-up tested on their folds"
    );
    for src in &imgs {
        let png = std::fs::read(out.join(src)).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{src}");
        let svg = std::fs::read_to_string(out.join(src).with_extension("svg")).unwrap();
        assert!(svg.contains("<svg"), "{src}");
    }
    assert!(
        imgs.contains(&"img/score-vs-dropout.png"),
        "one picture per varying hyperparameter"
    );

    // Tables: the top table honours --top; the comparison lists the net and 4 baselines.
    let table_rows = |class: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("table") && attr(*n, "class") == Some(class))
            .unwrap_or_else(|| panic!("no table {class}"))
            .descendants()
            .filter(|n| n.has_tag_name("tr"))
            .count()
            - 1
    };
    assert_eq!(table_rows("ranking"), 1);
    assert_eq!(table_rows("comparison"), 5);
    assert!(
        html.contains("gridsweep predict --model"),
        "how to reproduce"
    );

    // PNGs at twice the SVG's size (IHDR width), for pasting into a document.
    let png = std::fs::read(out.join("img/hpo-scatter.png")).unwrap();
    assert_eq!(
        u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
        1800
    );
    // How to reproduce runs the spec written beside the page, as it ran.
    let spec_file = out.join("spec.json");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&spec_file).unwrap()).unwrap();
    assert_eq!(spec["name"], "s");
    // The default `drop` (the index column, never a feature) is not shown as if given.
    assert!(spec["dataset"].get("drop").is_none(), "{spec}");
    assert!(
        html.contains(&format!("gridsweep run {}", spec_file.display())),
        "the real spec path"
    );
    // Every command the page names carries the sweep's database.
    let db = d.db();
    for cmd in [
        "run",
        "rank",
        "evaluate",
        "baselines",
        "report",
        "resume",
        "rerun",
        "analyze",
    ] {
        let at = html
            .find(&format!("gridsweep {cmd} "))
            .unwrap_or_else(|| panic!("no `gridsweep {cmd}`"));
        let rest = &html[at..];
        let end = rest.find(['\n', '<']).unwrap();
        assert!(
            rest[..end].contains(&format!("--db {db}")),
            "`{}` lacks --db",
            &rest[..end]
        );
    }
    // The final training's values beside the sweep's: epochs changed (4 against the
    // sweep's), and said so.
    assert!(
        html.contains("(changed for the final training)"),
        "changed values marked"
    );
    // Average precision beside the trapezoid PR-AUC; the constant predictors' PR-AUC
    // cells are left empty with a footnote.
    assert!(
        html.contains("macro average precision")
            && html.contains("<sup>*</sup> With a constant score"),
        "baselines table"
    );
}

#[test]
fn evaluate_refuses_changed_data() {
    let d = Dir::new("eval", "changed");
    d.sweep();
    let data = d.data();
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&data, text.replacen(",0.", ",0.1", 1)).unwrap();
    let (code, _, err) = run(bin().args(["evaluate", "s", "--db", &d.db()]));
    assert_eq!(code, 2);
    assert!(err.contains("changed since the sweep ran"), "{err}");
    let _ = Path::new(&data);
}
