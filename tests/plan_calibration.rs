//! `plan --calibrate DB` through the binary: the estimate from the folds a database
//! recorded on the same data, and a clear refusal where there are none.

mod common;
use common::{bin, run, Dir};

use gridsweep::store::Store;
use serde_json::Value;
use std::path::Path;

fn plan_json(spec: &Path, extra: &[&str]) -> (i32, Value, String) {
    let (code, out, err) = run(bin().arg("plan").arg(spec).args(["--json", "--jobs", "2"]).args(extra));
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
    let (code, _, err) = run(bin().arg("run").arg(&measured).args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");

    // The sweep to plan: other configurations on the same data.
    let next = d.spec_with("next", 400, r#"{"epochs": 12, "neurons_1": 64, "early_stopping_patience": 2}"#, r#"{"batch_size": [32, 64]}"#, "");
    let (code, bound, err) = plan_json(&next, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(bound["calibration"].is_null());
    assert_eq!(bound["estimated_seconds"], bound["bound_seconds"]);
    let (code, cal, err) = plan_json(&next, &["--calibrate", &db]);
    assert_eq!(code, 0, "{err}");
    let c = &cal["calibration"];
    assert_eq!(c["folds"], 12, "every fold of the measured run, trained whole: {c}");
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
    assert!((share - epochs_run as f64 / (12.0 * 12.0)).abs() < 1e-12, "{share} vs {epochs_run}");
    // The estimate applies the fitted costs to the plan's arithmetic and steps.
    let (a, b) = (c["seconds_per_gflop"].as_f64().unwrap(), c["seconds_per_step"].as_f64().unwrap());
    assert!(a >= 0.0 && b >= 0.0 && a + b > 0.0, "{c}");
    let want = (a * cal["training_flops_upper_bound"].as_f64().unwrap() / 1e9 + b * cal["optimizer_steps_upper_bound"].as_f64().unwrap()) * share / 2.0;
    let got = cal["estimated_seconds"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-9 * want.max(1.0), "{got} vs {want}");
    assert_eq!(cal["bound_seconds"], bound["bound_seconds"], "the bound is unchanged");
    let (code, out, err) = run(bin().arg("plan").arg(&next).args(["--calibrate", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("calibrated on 12 fold(s) of measured") && out.contains("ms per step"), "{out}");

    // Other data: nothing to calibrate from, said with the database and what to do.
    let other = Dir::new("plan-calibration", "other");
    let spec = other.spec_with("o", 300, r#"{"epochs": 2}"#, "{}", "");
    let (code, _, err) = run(bin().arg("plan").arg(&spec).args(["--calibrate", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--calibrate") && err.contains("g.db") && err.contains("same data"), "{err}");
    assert_eq!(err.matches("--calibrate").count(), 1, "said once: {err}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}
