//! `gridsweep bench` and bf16 training through the binary, on small synthetic data.

mod common;
use common::bin;

use std::path::PathBuf;

fn demo(rows: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gridsweep-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("demo-{rows}.csv"));
    assert!(bin()
        .args(["demo-data", "--rows", &rows.to_string(), "--out"])
        .arg(&p)
        .status()
        .unwrap()
        .success());
    p
}

#[test]
fn bench_reports_peaks_and_cases_against_them() {
    let data = demo(700);
    let out = bin()
        .args([
            "bench",
            "--batch-sizes",
            "128",
            "--precision",
            "fp32",
            "--peak-seconds",
            "0.2",
            "--repeat",
            "3",
            "--json",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let one = v["peaks"]["fp32"]["one_job_gflops"].as_f64().unwrap();
    let all = v["peaks"]["fp32"]["all_jobs_gflops"].as_f64().unwrap();
    assert!(one > 0.5 && all >= one * 0.5, "{one} {all}");
    // oneDNN's fp32 peak, when measured, is reported beside MKL's, and each case's
    // share of it follows from the same achieved GFLOP/s.
    let onednn = v["peaks"]["fp32_onednn"]["all_jobs_gflops"].as_f64();
    let root = v["optimizer_root"].as_str().unwrap();
    assert!(
        root.starts_with("one pass") || root.starts_with("two passes"),
        "{root}"
    );
    let case = &v["cases"][0];
    assert_eq!(case["fold_fits"], 12);
    assert_eq!(case["batch_size"], 128);
    let tflop = case["training_tflop"].as_f64().unwrap();
    let wall = case["wall_seconds"].as_f64().unwrap();
    // --repeat 3: the reported run is the median of the three.
    let mut walls: Vec<f64> =
        serde_json::from_value(case["wall_seconds_of_every_run"].clone()).unwrap();
    assert_eq!(walls.len(), 3);
    walls.sort_by(f64::total_cmp);
    assert_eq!(wall, walls[1]);
    let gflops = case["achieved_gflops"].as_f64().unwrap();
    assert!((gflops - tflop * 1e3 / wall).abs() < 1e-6 * gflops);
    assert!((case["percent_of_peak"].as_f64().unwrap() - 100.0 * gflops / all).abs() < 1e-6);
    if let Some(o) = onednn {
        assert!(
            (case["percent_of_onednn_fp32_peak"].as_f64().unwrap() - 100.0 * gflops / o).abs()
                < 1e-6
        );
    }
    let outside = case["outside_training_percent"].as_f64().unwrap();
    assert!((0.0..100.0).contains(&outside), "{outside}");
    let parts = &case["outside_training"];
    let sum: f64 = ["start_and_exit", "between_folds", "idle_tail"]
        .iter()
        .map(|k| parts[k].as_f64().unwrap())
        .sum();
    assert!((sum - outside).abs() < 1e-9, "{sum} vs {outside}");
    // The process floor (`gridsweep --version`) is part of start and exit: the same
    // process with a sweep to run takes longer than the floor alone (up to timing noise
    // between separate processes: 2 points of slack; here gridsweep's own start is
    // about 0.5 points).
    let floor = v["process_floor_seconds"].as_f64().unwrap();
    assert!(floor > 0.0 && floor < wall, "{floor} vs {wall}");
    let floor_pct = case["process_floor_percent"].as_f64().unwrap();
    assert!((floor_pct - 100.0 * floor / wall).abs() < 1e-9);
    assert!(
        floor_pct < parts["start_and_exit"].as_f64().unwrap() + 2.0,
        "{floor_pct} vs {parts}"
    );
    assert!(case["peak_rss_mb_per_worker"].as_f64().unwrap() > 10.0);
    assert_eq!(case["mean_val_accuracy"].as_array().unwrap().len(), 4);
    // Where the default path is MKL's AVX-512 kernels (a CPU with AVX-512), the
    // benchmark adds the fp32 case on its AVX2 kernels beside it, against MKL's AVX2 peak
    // measured in a child process.
    let cases = v["cases"].as_array().unwrap();
    if gridsweep::mkl::Cpu::this().avx512 {
        assert_eq!(cases.len(), 2);
        let c = &cases[1];
        assert_eq!(c["case"], "fp32+avx2");
        assert_eq!(c["kernels"], "avx2");
        assert_eq!(case["kernels"], "avx512");
        let peak = v["peaks"]["fp32_mkl_avx2"]["all_jobs_gflops"]
            .as_f64()
            .unwrap();
        assert!(peak > 0.5);
        let g = c["achieved_gflops"].as_f64().unwrap();
        assert!((c["percent_of_peak"].as_f64().unwrap() - 100.0 * g / peak).abs() < 1e-6);
        let speedup = c["speedup_vs_fp32"].as_f64().unwrap();
        let rates = c["fold_fits_per_minute"].as_f64().unwrap()
            / case["fold_fits_per_minute"].as_f64().unwrap();
        assert!((speedup - rates).abs() < 1e-9, "{speedup} vs {rates}");
    } else {
        assert_eq!(cases.len(), 1);
        assert!(v["peaks"].get("fp32_mkl_avx2").is_none());
    }
}

fn has_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.contains(" avx512_bf16") || s.contains(" amx_bf16"))
        .unwrap_or(false)
}

#[test]
fn bf16_trains_close_to_fp32_or_is_refused() {
    let data = demo(900);
    let cv = |precision: &str| {
        bin()
            .args([
                "cv",
                "--json",
                "--set",
                "epochs=12",
                "--set",
                "batch_size=64",
                "--set",
            ])
            .arg(format!("precision={precision}"))
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap()
    };
    let fp32 = cv("fp32");
    assert!(fp32.status.success());
    let bf16 = cv("bf16");
    if !has_bf16() {
        assert_eq!(bf16.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&bf16.stderr).contains("no native bf16"));
        eprintln!("SKIPPED: no bf16 on this CPU; checked the refusal only");
        return;
    }
    assert!(
        bf16.status.success(),
        "{}",
        String::from_utf8_lossy(&bf16.stderr)
    );
    let val = |o: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["summary"]["mean_val_accuracy"].as_f64().unwrap()
    };
    let (a, b) = (val(&fp32), val(&bf16));
    assert!((a - b).abs() < 0.04, "fp32 {a} vs bf16 {b}");
    let v: serde_json::Value = serde_json::from_slice(&bf16.stdout).unwrap();
    assert_eq!(v["params"]["precision"], "bf16");
    let v: serde_json::Value = serde_json::from_slice(&fp32.stdout).unwrap();
    assert!(
        v["params"].get("precision").is_none(),
        "fp32 stays out of the canonical form"
    );
}
