//! `gridsweep analyze` (issue 22, part 2), through the binary: importance against
//! Optuna's fANOVA (a checked-in reference), the winners over the weights and the
//! Pareto front on a constructed case with a known answer, sub-grids of a spec for
//! imported results, and the runners-up tested against the winner on a real run's folds.

mod common;
use common::{bin, run, Dir};

use serde_json::Value;
use std::collections::HashMap;

const HEADER: &str = "activation,activation_numerical,batch_size,delta_acc,dropout,early_stopping_patience,epochs,mean_train_score,mean_val_score,neurons_1,neurons_2,neurons_3,neurons_4,num_hidden_layers,optimizer,optimizer_numerical,reduce_lr_factor,reduce_lr_min_lr,reduce_lr_patience,std_train_score,std_val_score,weight_contraint";

/// A notebook-protocol row of the study's file.
#[allow(clippy::too_many_arguments)]
fn row(
    act: &str,
    batch: u32,
    dropout: f64,
    n1: u32,
    layers: u32,
    opt: &str,
    train: f64,
    val: f64,
) -> String {
    format!("{act},0,{batch},{},{dropout},15,60,{train},{val},{n1},256,512,1024,{layers},{opt},0,0.1,1e-07,5,0.01,0.01,10.0", (train - val) / val)
}

fn write(d: &Dir, name: &str, rows: &[String]) -> std::path::PathBuf {
    let p = d.path(name);
    std::fs::write(&p, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    p
}

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn import(file: &std::path::Path, db: &str) {
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(file)
        .args(["--name", "s", "--db", db, "--delta", "absolute"]));
    assert_eq!(code, 0, "{err}");
}

/// 360 configurations whose accuracies follow known effects of distinct sizes: val
/// by batch size ≫ dropout > activation > layers > neurons_1, the optimizer nothing;
/// Δacc by dropout > neurons_1 > batch size > layers; a little deterministic noise.
fn designed_rows() -> Vec<String> {
    let mut rows = Vec::new();
    let mut i: u64 = 0;
    for batch in [64u32, 128, 256, 512, 1024] {
        for dropout in [0.2, 0.3, 0.4] {
            for n1 in [64u32, 128, 256] {
                for act in ["relu", "LeakyReLU"] {
                    for opt in ["adam", "nadam"] {
                        for layers in [2u32, 3] {
                            i += 1;
                            let noise =
                                ((i.wrapping_mul(2654435761) % 1000) as f64 / 1000.0 - 0.5) * 0.001;
                            let lb = (batch as f64).log2();
                            let val = 0.60
                                + 0.03 * (1.0 - (lb - 8.0).abs() / 2.0)
                                + if dropout == 0.3 { 0.01 } else { 0.0 }
                                + if act == "LeakyReLU" { 0.005 } else { 0.0 }
                                + if layers == 3 { 0.003 } else { 0.0 }
                                + 0.00075 * (n1 as f64 / 64.0).log2()
                                + noise;
                            let delta = 0.01
                                + 0.08 * (0.4 - dropout)
                                + 0.006 * (n1 as f64 / 64.0).log2()
                                + 0.001 * (10.0 - lb)
                                + if layers == 3 { 0.002 } else { 0.0 };
                            let val = (val * 1e6).round() / 1e6;
                            let train = ((val + delta) * 1e6).round() / 1e6;
                            rows.push(row(act, batch, dropout, n1, layers, opt, train, val));
                        }
                    }
                }
            }
        }
    }
    rows
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    let mut r = vec![0.0; v.len()];
    for (k, &i) in idx.iter().enumerate() {
        r[i] = k as f64;
    }
    r
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[test]
fn importance_agrees_with_optunas_fanova() {
    let d = Dir::new("analyze", "importance");
    let file = write(&d, "designed.csv", &designed_rows());
    if let Ok(out) = std::env::var("GRIDSWEEP_WRITE_IMPORTANCE_CSV") {
        std::fs::copy(&file, out).unwrap();
    }
    let reference: Value =
        serde_json::from_str(include_str!("reference/importance_reference.json")).unwrap();
    let sha = {
        use sha2::{Digest, Sha256};
        format!("{:x}", Sha256::digest(std::fs::read(&file).unwrap()))
    };
    assert_eq!(sha, reference["file_sha256"].as_str().unwrap(), "the test's rows changed: regenerate tests/reference/importance_reference.json (its header says how)");
    let db = d.path("a.db").to_string_lossy().into_owned();
    import(&file, &db);
    let started = std::time::Instant::now();
    let a = json(bin().args(["analyze", "s", "--db", &db, "--json"]));
    eprintln!("analyze of 360 configurations: {:?}", started.elapsed());
    let all = &a["analysis"]["groups"][0];
    assert_eq!(all["name"], "all");
    assert_eq!(all["configurations"], 360);
    for t in all["importance"].as_array().unwrap() {
        let target = t["target"].as_str().unwrap();
        let ours: Vec<(String, f64)> = t["importances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["param"].as_str().unwrap().to_string(),
                    i["importance"].as_f64().unwrap(),
                )
            })
            .collect();
        let theirs: HashMap<String, f64> = reference["targets"][target]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
            .collect();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{target}: the same parameters ({ours:?} vs {theirs:?})"
        );
        let mut theirs_sorted: Vec<(&String, &f64)> = theirs.iter().collect();
        theirs_sorted.sort_by(|a, b| b.1.total_cmp(a.1));
        let ours_top: Vec<&str> = ours.iter().take(3).map(|(k, _)| k.as_str()).collect();
        let theirs_top: Vec<&str> = theirs_sorted
            .iter()
            .take(3)
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            ours_top, theirs_top,
            "{target}: the same top 3 ({ours:?} vs {theirs_sorted:?})"
        );
        let a: Vec<f64> = ours.iter().map(|(_, v)| *v).collect();
        let b: Vec<f64> = ours.iter().map(|(k, _)| theirs[k]).collect();
        let rho = spearman(&a, &b);
        eprintln!("{target}: Spearman {rho:.3}; ours {ours:?}; Optuna {theirs_sorted:?}");
        assert!(
            rho >= 0.9,
            "{target}: Spearman {rho} < 0.9 ({ours:?} vs {theirs_sorted:?})"
        );
    }
    // Marginals: batch size's means follow the designed peak at 256.
    let m = all["marginals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["param"] == "batch_size")
        .unwrap();
    let means: Vec<f64> = m["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["mean"].as_f64().unwrap())
        .collect();
    assert_eq!(m["values"][2]["value"], 256);
    assert!(
        means[2] > means[1] && means[1] > means[0] && means[2] > means[3] && means[3] > means[4],
        "{means:?}"
    );
    assert_eq!(m["values"][0]["n"], 72);
    let v = &m["values"][0];
    assert!(
        v["ci_low"].as_f64().unwrap() < v["mean"].as_f64().unwrap()
            && v["mean"].as_f64().unwrap() < v["ci_high"].as_f64().unwrap()
    );
    // No fold scores in an HPO_combined import: the tests say why they are missing.
    assert!(a["analysis"]["comparisons_note"]
        .as_str()
        .unwrap()
        .contains("no fold scores"));
}

#[test]
fn weights_and_pareto_front_on_a_constructed_case() {
    let d = Dir::new("analyze", "weights");
    // (train, val): A the most accurate and most overfit (Δ 0.2), B between (Δ 0.05), C
    // the least overfit (Δ 0), D beaten by B on both; E twin of nothing, beaten by A.
    let rows = [
        row("relu", 64, 0.2, 64, 2, "adam", 0.9, 0.7),
        row("relu", 128, 0.2, 64, 2, "adam", 0.7, 0.65),
        row("relu", 256, 0.2, 64, 2, "adam", 0.5, 0.5),
        row("relu", 512, 0.2, 64, 2, "adam", 0.75, 0.6),
        row("relu", 1024, 0.2, 64, 2, "adam", 0.95, 0.69),
    ];
    let file = write(&d, "five.csv", &rows);
    let db = d.path("w.db").to_string_lossy().into_owned();
    import(&file, &db);
    let a = json(bin().args(["analyze", "s", "--db", &db, "--json"]));
    let r = json(bin().args(["rank", "s", "--db", &db, "--json", "--top", "0"]));
    let id_of = |val: f64| {
        r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["summary"]["mean_val_accuracy"].as_f64() == Some(val))
            .unwrap()["config_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let s = &a["analysis"]["sensitivity"];
    let iv: Vec<(f64, f64, String)> = s["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["from"].as_f64().unwrap(),
                i["to"].as_f64().unwrap(),
                i["config_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // score_w = w·(1 − Δ) + (1 − w)·val: A = 0.7 + 0.1w, B = 0.65 + 0.3w, C = 0.5 + 0.5w:
    // A to w = 0.25, B to 0.75, C to 1.
    assert_eq!(iv.len(), 3, "{iv:?}");
    assert_eq!(
        [&iv[0].2, &iv[1].2, &iv[2].2],
        [&id_of(0.7), &id_of(0.65), &id_of(0.5)]
    );
    assert!(
        (iv[0].1 - 0.25).abs() < 1e-9
            && (iv[1].1 - 0.75).abs() < 1e-9
            && iv[0].0 == 0.0
            && iv[2].1 == 1.0,
        "{iv:?}"
    );
    // The sweep's w = 0.5 / 1.5 lies in B's interval, and B is rank 1.
    assert!((s["w"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(s["current"], 1);
    assert_eq!(r["ranking"][0]["config_id"].as_str().unwrap(), id_of(0.65));
    assert!((s["margin_down"].as_f64().unwrap() - (1.0 / 3.0 - 0.25)).abs() < 1e-9);
    // With w1 = 4 (w = 0.8) the winner is C: rank says so too.
    let r4 = json(bin().args(["rank", "s", "--db", &db, "--json", "--w1", "4"]));
    assert_eq!(r4["ranking"][0]["config_id"].as_str().unwrap(), id_of(0.5));
    // The front: A, E? no: E (0.69, Δ 0.26) is beaten by A (0.7, 0.2); D by B.
    let front: Vec<String> = a["analysis"]["pareto"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["config_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(front, [id_of(0.7), id_of(0.65), id_of(0.5)]);
    // The text names the sweep's interval.
    let (code, out, err) = run(bin().args(["analyze", "s", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("← this sweep's weights")
            && out.contains("stays first for w in [0.2500, 0.7500]"),
        "{out}"
    );
    assert!(
        out.contains("Pareto front") && out.contains("3 configuration(s)"),
        "{out}"
    );
}

#[test]
fn imported_rows_fall_into_a_specs_sub_grids() {
    let d = Dir::new("analyze", "subgrids");
    // Sub-grid A: batch 64 or 128; B: batch 128 or 256 (rows of 128 are in both).
    let rows: Vec<String> = [64u32, 128, 256, 512]
        .iter()
        .enumerate()
        .map(|(i, &b)| row("relu", b, 0.2, 64, 2, "adam", 0.7 + i as f64 * 0.01, 0.65))
        .collect();
    let file = write(&d, "four.csv", &rows);
    let db = d.path("g.db").to_string_lossy().into_owned();
    import(&file, &db);
    let spec = d.path("spec.json");
    let sub = |batches: &str| {
        format!(
            r#"{{"protocol": ["notebook"], "epochs": [60], "batch_size": [{batches}], "dropout": [0.2], "neurons_1": [64], "activation": ["relu"], "early_stopping_patience": [15], "reduce_lr_factor": [0.1], "reduce_lr_min_lr": [1e-7], "reduce_lr_patience": [5]}}"#
        )
    };
    std::fs::write(
        &spec,
        format!(
            r#"{{"name": "x", "dataset": {{"path": "none.csv"}}, "grid": [{}, {}]}}"#,
            sub("64, 128"),
            sub("128, 256")
        ),
    )
    .unwrap();
    let a = json(
        bin()
            .args(["analyze", "s", "--db", &db, "--json", "--spec"])
            .arg(&spec),
    );
    let sizes: Vec<(String, u64)> = a["subgrids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["configurations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sizes, [("A".to_string(), 2), ("B".to_string(), 2)]);
    assert_eq!(
        (a["shared"].as_u64(), a["outside"].as_u64()),
        (Some(1), Some(1)),
        "batch 128 is in both, 512 in neither"
    );
    let groups: Vec<&str> = a["analysis"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["all", "A", "B"]);
    // Given at import, the sub-grids are stored: analyze needs no --spec then.
    let (code, _, err) = run(bin()
        .arg("import")
        .arg(&file)
        .args(["--name", "s2", "--db", &db, "--spec"])
        .arg(&spec));
    assert_eq!(code, 0, "{err}");
    let b = json(bin().args(["analyze", "s2", "--db", &db, "--json"]));
    assert_eq!(b["subgrids"], a["subgrids"]);
    assert_eq!(
        (b["shared"].as_u64(), b["outside"].as_u64()),
        (Some(1), Some(1))
    );
    // A bad spec is named.
    std::fs::write(d.path("bad.json"), "{\"name\": \"x\"").unwrap();
    let (code, _, err) = run(bin()
        .args(["analyze", "s", "--db", &db, "--spec"])
        .arg(d.path("bad.json")));
    assert_eq!(code, 2);
    assert!(err.contains("bad.json"), "{err}");
}

#[test]
fn runners_up_are_tested_against_the_winner_on_their_folds() {
    let d = Dir::new("analyze", "folds");
    let spec = d.spec_with(
        "t",
        300,
        r#"{"epochs": 3, "neurons_1": 8, "neurons_2": 8, "batch_size": 64}"#,
        r#"{"dropout": [0.0, 0.2, 0.4, 0.6]}"#,
        "",
    );
    let db = d.db();
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let a = json(bin().args(["analyze", "t", "--db", &db, "--json", "--top", "3"]));
    let c = a["analysis"]["comparisons"].as_array().unwrap();
    assert_eq!(c.len(), 2);
    // Recompute the paired differences from the exported per-fold scores.
    let (code, csv_text, err) =
        run(bin().args(["export", "t", "--db", &db, "--format", "cv-results"]));
    assert_eq!(code, 0, "{err}");
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let mut folds: HashMap<String, Vec<f64>> = HashMap::new();
    for rec in rd.records() {
        let rec = rec.unwrap();
        let id = rec[col("param_dropout")]
            .parse::<f64>()
            .unwrap()
            .to_string();
        let s: Vec<f64> = (0..3)
            .map(|k| {
                let (t, v): (f64, f64) = (
                    rec[col(&format!("split{k}_train_score"))].parse().unwrap(),
                    rec[col(&format!("split{k}_test_score"))].parse().unwrap(),
                );
                0.5 * (0.5 * (1.0 - (t - v).abs()) + v)
            })
            .collect();
        folds.insert(id, s);
    }
    // Configurations are told apart by their dropout.
    let r = json(bin().args(["rank", "t", "--db", &db, "--json", "--top", "0"]));
    let dropout = |id: &str| {
        r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["config_id"] == id)
            .unwrap()["params"]["dropout"]
            .as_f64()
            .unwrap()
            .to_string()
    };
    let winner = &folds[&dropout(a["analysis"]["winner"].as_str().unwrap())];
    for x in c {
        let other = &folds[&dropout(x["config_id"].as_str().unwrap())];
        let dif: Vec<f64> = winner.iter().zip(other).map(|(a, b)| a - b).collect();
        let mean = dif.iter().sum::<f64>() / 3.0;
        let t = &x["test"];
        assert_eq!(t["n"], 3);
        assert!(
            (t["mean"].as_f64().unwrap() - mean).abs() < 1e-12,
            "{t} vs {dif:?}"
        );
        let var = dif.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / 2.0;
        assert!(
            (t["corrected_std"].as_f64().unwrap() - ((1.0 / 3.0 + 0.5) * var).sqrt()).abs() < 1e-12,
            "{t}"
        );
        let p = t["p_first_better"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(p > 0.5, mean > 0.0, "{t}");
    }
    // The tie set: analyze says what rank says, in JSON and in words.
    assert_eq!(a["tie_set"]["members"], r["tie_set"]["members"]);
    assert_eq!(a["tie_set"]["pick"], r["tie_set"]["pick"]);
    assert!(!a["tie_set"]["members"].as_array().unwrap().is_empty());
    let (code, out, err) = run(bin().args(["analyze", "t", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tie set: ")
            && out.contains("one repeat of 3 folds decides little")
            && out.contains("pick (score): "),
        "{out}"
    );
}
