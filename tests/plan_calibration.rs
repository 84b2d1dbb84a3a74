//! `plan --calibrate DB` through the binary: the estimate from the folds a database
//! recorded on the same data, and a clear refusal where there are none.

mod common;
use common::{bin, run, Dir};

use gridsweep::store::Store;
use serde_json::Value;
use std::path::Path;

fn plan_json(spec: &Path, extra: &[&str]) -> (i32, Value, String) {
    let (code, out, err) = run(bin()
        .arg("plan")
        .arg(spec)
        .args(["--json", "--jobs", "2"])
        .args(extra));
    (code, serde_json::from_str(&out).unwrap_or(Value::Null), err)
}

#[test]
fn plan_calibrates_from_recorded_folds_on_the_same_data() {
    let d = Dir::new("plan-calibration", "grid");
    let db = d.db();
    // A run with early stopping on part of its folds, batch sizes far apart.
    let measured = d.spec_with(
        "measured",
        400,
        r#"{"epochs": 12, "neurons_1": 32, "neurons_2": 32, "early_stopping_patience": 2}"#,
        r#"{"batch_size": [16, 128], "dropout": [0.2, 0.4]}"#,
        "",
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&measured)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");

    // The sweep to plan: other configurations on the same data.
    let next = d.spec_with(
        "next",
        400,
        r#"{"epochs": 12, "neurons_1": 64, "early_stopping_patience": 2}"#,
        r#"{"batch_size": [32, 64]}"#,
        "",
    );
    let (code, bound, err) = plan_json(&next, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(bound["calibration"].is_null());
    assert_eq!(bound["estimated_seconds"], bound["bound_seconds"]);
    let (code, cal, err) = plan_json(&next, &["--calibrate", &db]);
    assert_eq!(code, 0, "{err}");
    let c = &cal["calibration"];
    assert_eq!(
        c["folds"], 12,
        "every fold of the measured run, trained whole: {c}"
    );
    assert_eq!(c["sweeps"], serde_json::json!(["measured"]));
    // The early-stopping share is the recorded epochs' over the configured ones.
    let epochs_run: i64 = rt().block_on(async {
        let store = Store::open(Path::new(&db)).await.unwrap();
        let s = store.sweep_by_name("measured").await.unwrap().unwrap();
        let folds = store.whole_fold_times(s.id).await.unwrap();
        store.close().await;
        folds.iter().map(|f| f.1).sum()
    });
    let share = c["early_stopping_share"].as_f64().unwrap();
    assert!(
        (share - epochs_run as f64 / (12.0 * 12.0)).abs() < 1e-12,
        "{share} vs {epochs_run}"
    );
    // The estimate applies the fitted costs to the plan's arithmetic and steps.
    let (a, b) = (
        c["seconds_per_gflop"].as_f64().unwrap(),
        c["seconds_per_step"].as_f64().unwrap(),
    );
    assert!(a >= 0.0 && b >= 0.0 && a + b > 0.0, "{c}");
    let want = (a * cal["training_flops_upper_bound"].as_f64().unwrap() / 1e9
        + b * cal["optimizer_steps_upper_bound"].as_f64().unwrap())
        * share
        / 2.0;
    let got = cal["estimated_seconds"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 1e-9 * want.max(1.0),
        "{got} vs {want}"
    );
    assert_eq!(
        cal["bound_seconds"], bound["bound_seconds"],
        "the bound is unchanged"
    );
    let (code, out, err) = run(bin().arg("plan").arg(&next).args(["--calibrate", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("calibrated on 12 fold(s) of measured") && out.contains("ms per step"),
        "{out}"
    );

    // Other data: nothing to calibrate from, said with the database and what to do.
    let other = Dir::new("plan-calibration", "other");
    let spec = other.spec_with("o", 300, r#"{"epochs": 2}"#, "{}", "");
    let (code, _, err) = run(bin().arg("plan").arg(&spec).args(["--calibrate", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--calibrate") && err.contains("g.db") && err.contains("same data"),
        "{err}"
    );
    assert_eq!(err.matches("--calibrate").count(), 1, "said once: {err}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A halving plan's work rung by rung: at the average configuration's cost it is the
/// bound's; with every training in every rung, the full runs'; with survivors
/// predicted, the rungs past the first train the predicted best, and what a model
/// prefers changes the cost (small batches cost more per epoch).
#[test]
fn staged_work_follows_the_configurations_each_rung_trains() {
    use gridsweep::analyze::surrogate::{Observation, Surrogate};
    use gridsweep::sweep::plan::{plan, Promotion};
    use std::collections::{HashMap, HashSet};
    let d = Dir::new("plan-calibration", "staged");
    let path = d.spec_with(
        "hv",
        300,
        r#"{"epochs": 18, "neurons_1": 32, "neurons_2": 32}"#,
        r#"{"batch_size": [8, 64, 512], "dropout": [0.1, 0.2, 0.3]}"#,
        r#", "search": {"strategy": "halving", "factor": 3, "min_epochs": 2}"#,
    );
    let spec = gridsweep::spec::Spec::load(&path).unwrap();
    let p = plan(&spec, 1).unwrap();
    assert_eq!(p.brackets[0].1, vec![(9, 2), (3, 6), (1, 18)]);
    assert_eq!(p.work.len(), 9);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12);
    let folds = p.folds as f64;
    // Epochs each training trains in rungs 0, 1, 2.
    let work_of = |ws: &[(usize, f64)]| {
        ws.iter().fold((0.0, 0.0), |(g, s), &(i, e)| {
            (
                g + p.work[i].gflop_per_epoch * e * folds,
                s + p.work[i].steps_per_epoch * e * folds,
            )
        })
    };
    let (g, s) = p.staged_work(&Promotion::Average);
    assert!(
        close(g, p.flops / 1e9) && close(s, p.steps),
        "{g} {s} vs {} {}",
        p.flops / 1e9,
        p.steps
    );

    let key = |i: usize| p.selected[p.work[i].config].training_key.clone();
    let everyone: HashSet<String> = (0..9).map(key).collect();
    let all_rungs: HashMap<(usize, usize), HashSet<String>> =
        (0..3).map(|r| ((0, r), everyone.clone())).collect();
    let full = work_of(&(0..9).map(|i| (i, 18.0)).collect::<Vec<_>>());
    let (g, s) = p.staged_work(&Promotion::Recorded(&all_rungs));
    assert!(close(g, full.0) && close(s, full.1));

    // A model that has seen small batches lead at every budget promotes the three
    // batch-8 trainings, then the first of them in grid order (their predictions tie).
    let batch = |i: usize| p.selected[p.work[i].config].params.batch_size;
    let observe = |best_small: bool| -> Vec<Observation> {
        (0..9)
            .flat_map(|i| [2, 6, 18].map(move |e| (i, e)))
            .map(|(i, e)| {
                let b = batch(i) as f64;
                Observation {
                    params: p.selected[p.work[i].config].params_object(),
                    epochs: e,
                    score: if best_small {
                        1.0 - b / 1000.0
                    } else {
                        b / 1000.0
                    },
                }
            })
            .collect()
    };
    let small: Vec<usize> = (0..9).filter(|&i| batch(i) == 8).collect();
    let large: Vec<usize> = (0..9).filter(|&i| batch(i) == 512).collect();
    assert_eq!((small.len(), large.len()), (3, 3));
    let first = |v: &[usize]| *v.iter().min_by_key(|&&i| p.work[i].config).unwrap();
    let expect = |kept: &[usize]| {
        let mut w: Vec<(usize, f64)> = (0..9).map(|i| (i, 2.0)).collect();
        w.extend(kept.iter().map(|&i| (i, 4.0)));
        w.push((first(kept), 12.0));
        work_of(&w)
    };
    let prefers_small = Surrogate::fit(&observe(true), 1).unwrap();
    let (g, s) = p.staged_work(&Promotion::Predicted(&prefers_small));
    let want = expect(&small);
    assert!(close(g, want.0) && close(s, want.1), "{g} {s} vs {want:?}");
    // The same survivors, recorded: the same work.
    let mut recorded: HashMap<(usize, usize), HashSet<String>> = HashMap::new();
    recorded.insert((0, 0), everyone.clone());
    recorded.insert((0, 1), small.iter().map(|&i| key(i)).collect());
    recorded.insert((0, 2), [key(first(&small))].into());
    let (rg, rs) = p.staged_work(&Promotion::Recorded(&recorded));
    assert!(close(rg, g) && close(rs, s));
    let prefers_large = Surrogate::fit(&observe(false), 1).unwrap();
    let (gl, sl) = p.staged_work(&Promotion::Predicted(&prefers_large));
    let want = expect(&large);
    assert!(
        close(gl, want.0) && close(sl, want.1),
        "{gl} {sl} vs {want:?}"
    );
    assert!(sl < s, "batch 512 survivors take fewer steps: {sl} vs {s}");
}

/// A staged run in the database: `plan --calibrate` learns its survivor model from
/// its rung scores, and its overhead factor is its measured span over the model of
/// the configurations it actually trained per rung.
#[test]
fn plan_calibrates_staged_searches_from_the_runs_own_rungs() {
    use gridsweep::sweep::plan::{plan, Promotion};
    use std::collections::{HashMap, HashSet};
    let d = Dir::new("plan-calibration", "halving");
    let db = d.db();
    let fixed = r#"{"epochs": 9, "neurons_1": 32, "neurons_2": 32}"#;
    let grid = r#"{"batch_size": [16, 128], "dropout": [0.1, 0.2, 0.3]}"#;
    let full = d.spec_with("full", 400, fixed, grid, "");
    let staged = d.spec_with(
        "hv",
        400,
        fixed,
        grid,
        r#", "search": {"strategy": "halving", "factor": 3, "min_epochs": 1}"#,
    );
    for s in [&full, &staged] {
        let (code, _, err) = run(bin()
            .arg("run")
            .arg(s)
            .args(["--db", &db, "--jobs", "2", "--quiet"]));
        assert_eq!(code, 0, "{err}");
    }
    let (code, cal, err) = plan_json(&staged, &["--calibrate", &db]);
    assert_eq!(code, 0, "{err}");
    let c = &cal["calibration"];
    assert_eq!(c["sweeps"], serde_json::json!(["full"]), "{c}");
    assert_eq!(c["staged_sweeps"], serde_json::json!(["hv"]), "{c}");
    let spec = gridsweep::spec::Spec::load(&staged).unwrap();
    let p = plan(&spec, 2).unwrap();
    let (scores, span) = rt().block_on(async {
        let store = Store::open(Path::new(&db)).await.unwrap();
        let s = store.sweep_by_name("hv").await.unwrap().unwrap();
        let out = (
            store.rung_scores(s.id).await.unwrap(),
            store.active_span(s.id).await.unwrap().unwrap(),
        );
        store.close().await;
        out
    });
    assert_eq!(
        c["survivor_scores"],
        scores.iter().filter(|r| r.score.is_some()).count(),
        "{c}"
    );
    let key: HashMap<&str, &str> = p
        .selected
        .iter()
        .map(|c| (c.id.as_str(), c.training_key.as_str()))
        .collect();
    let mut trained: HashMap<(usize, usize), HashSet<String>> = HashMap::new();
    for r in &scores {
        trained
            .entry((r.bracket as usize, r.rung as usize))
            .or_default()
            .insert(key[r.config_id.as_str()].to_string());
    }
    assert_eq!(trained.len(), p.brackets[0].1.len(), "every rung recorded");
    let (g, s) = p.staged_work(&Promotion::Recorded(&trained));
    let (a, b) = (
        c["seconds_per_gflop"].as_f64().unwrap(),
        c["seconds_per_step"].as_f64().unwrap(),
    );
    let want = (span.1 - span.0) / ((a * g + b * s) / 2.0);
    let got = c["staged_factor"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
    let est = cal["estimated_seconds"].as_f64().unwrap();
    assert!(est.is_finite() && est > 0.0, "{cal}");
    let (code, out, err) = run(bin().arg("plan").arg(&staged).args(["--calibrate", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "survivors predicted from {} recorded rung score(s)",
            c["survivor_scores"]
        )),
        "{out}"
    );
}

/// A database whose sweep read the same file under other split options calibrates
/// too: its folds are counted on the rows its own options gave, and `plan` says what
/// differs (issue 47).
#[test]
fn plan_calibrates_from_the_same_file_under_other_split_options() {
    let d = Dir::new("plan-calibration", "other-split");
    let db = d.db();
    let measured = d.spec_with(
        "measured",
        400,
        r#"{"epochs": 6, "neurons_1": 32}"#,
        r#"{"batch_size": [16, 64]}"#,
        "",
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&measured)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    // The same data file, split otherwise (a larger test part, another seed).
    let next = d.path("next.json");
    std::fs::write(
        &next,
        r#"{"name": "next", "dataset": {"path": "data-400.csv", "test_fraction": 0.4, "seed": 3},
            "cv": {"folds": 3}, "seed": 7, "fixed": {"epochs": 6, "neurons_1": 64}, "grid": {"batch_size": [32]}}"#,
    )
    .unwrap();
    let (code, cal, err) = plan_json(&next, &["--calibrate", &db]);
    assert_eq!(code, 0, "accepted: {err}");
    let c = &cal["calibration"];
    assert_eq!(c["folds"], 6, "{c}");
    assert_eq!(c["sweeps"], serde_json::json!(["measured"]));
    let other = c["other_options"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        other.starts_with("measured (")
            && other.contains("test_fraction 0.3 there, 0.4 here")
            && other.contains("seed"),
        "{c}"
    );
    let (code, out, err) = run(bin().arg("plan").arg(&next).args(["--calibrate", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("under other dataset options")
            && out.contains("test_fraction 0.3 there, 0.4 here"),
        "{out}"
    );
    // The same options: nothing is said about them.
    let same = d.spec_with(
        "same",
        400,
        r#"{"epochs": 6}"#,
        r#"{"batch_size": [32]}"#,
        "",
    );
    let (code, cal, err) = plan_json(&same, &["--calibrate", &db]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cal["calibration"]["other_options"], serde_json::json!([]));
}
