//! `scripts/gpu-check.sh` (issue 33, part 3), tested as far as a CPU allows: the same
//! steps on the CPU write every figure the GPU run will, and asking for CUDA where there
//! is none stops at the first step with the binary's reason, recorded.

mod common;
use common::Dir;
use std::process::Command;

fn script(out: &std::path::Path, device: &str) -> (i32, String, serde_json::Value) {
    let o = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gpu-check.sh"))
        .arg(out)
        .arg(device)
        .env("GRIDSWEEP_BIN", env!("CARGO_BIN_EXE_gridsweep"))
        .env("GPU_CHECK_EPOCHS", "1")
        .env("GPU_CHECK_FUSE", "1 8")
        .env_remove(gridsweep::mkl::ENV)
        .output()
        .unwrap();
    let json = std::fs::read_to_string(out.join("gpu-check.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        json,
    )
}

#[test]
fn the_gpu_check_runs_its_steps_on_the_cpu_and_says_why_cuda_is_missing() {
    let d = Dir::new("gpu-check", "cpu");
    let (code, err, j) = script(&d.path("out"), "cpu");
    assert_eq!(code, 0, "{err}");
    // The CPU against itself: the same numbers.
    assert_eq!(j["quick_vs_cpu"]["fold_scores"], 24, "{j}");
    assert_eq!(j["quick_vs_cpu"]["max_abs_diff"], 0.0, "{j}");
    let bench = j["bench"].as_array().unwrap();
    assert_eq!(bench.len(), 6, "{j}");
    assert!(
        bench
            .iter()
            .all(|b| b["fold_fits_per_minute"].as_f64().unwrap() > 0.0),
        "{j}"
    );
    let est = &j["whole_grid_estimate"];
    // The study's grid as its authors ran it: 1,776 trainings × 3 folds; fold-epochs
    // 3 × (960 × 60 + 768 × 30 + 48 × 100) (grid B's 30 epochs, its 256 twins shared).
    assert_eq!(
        (est["fold_fits"].as_u64(), est["fold_epochs"].as_u64()),
        (Some(5328), Some(3 * (960 * 60 + 768 * 30 + 48 * 100))),
        "{j}"
    );
    assert!(
        est["minutes"].as_f64().unwrap() > 0.0 && j["finished"].is_string(),
        "{j}"
    );
    // Fused training's premise: 12 cases, each member's fused products its own, bit for
    // bit, on this CPU.
    let cases = j["fusion_kernels"]["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(cases.len(), 12, "{j}");
    assert!(
        cases
            .iter()
            .all(|c| c["bit_for_bit"] == true && c["fused_over_unfused"].as_f64().unwrap() > 0.0),
        "{j}"
    );
    // Fused training itself: 144 fold-fits unfused and 8 at a time, the same scores here.
    let fused = j["fused_runs"].as_array().unwrap_or_else(|| panic!("{j}"));
    assert_eq!(fused.len(), 2, "{j}");
    assert!(
        fused
            .iter()
            .all(|r| r["fold_fits_per_minute"].as_f64().unwrap() > 0.0),
        "{j}"
    );
    assert_eq!(fused[1]["fuse"], 8, "{j}");
    assert_eq!(fused[1]["max_abs_val_diff_vs_unfused"], 0.0, "{j}");
    if !tch::Cuda::is_available() {
        let (code, err, j) = script(&d.path("out2"), "cuda");
        assert_eq!(code, 3, "{err}");
        assert!(
            j["error"].as_str().unwrap().contains("no CUDA device"),
            "{j}"
        );
        assert!(j["bench"].is_null(), "{j}");
    }
}
