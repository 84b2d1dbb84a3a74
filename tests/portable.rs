//! The kernel paths through the binary: the default gives one set of numbers on every
//! vendor's CPU with AVX-512, and `--fp32-portable` (`--kernels portable`) one set on
//! CPUs with and without AVX-512, where the default path gives other numbers on each.
//!
//! One machine shows the others: `GRIDSWEEP_MKL_VENDOR` answers MKL's vendor test (the
//! only place its own choice of kernels looks at the vendor) as Intel's or as
//! another's, and `GRIDSWEEP_CPU_AVX512=0` makes gridsweep take this CPU for one without
//! AVX-512, on this CPU's instruction sets.

mod common;
use common::{bin, run, Dir};

use gridsweep::mkl;
use serde_json::Value;
use std::path::Path;

/// `cv --json` of a network wide enough for MKL's kernels to differ, as MKL's vendor
/// test is answered `vendor`, with `global` options before the command.
fn cv(data: &Path, vendor: &str, global: &[&str]) -> (i32, String, String) {
    cv_on(data, vendor, true, global)
}

/// As [`cv`], on a CPU taken to have AVX-512 or not.
fn cv_on(data: &Path, vendor: &str, avx512: bool, global: &[&str]) -> (i32, String, String) {
    let mut c = bin();
    if !avx512 {
        c.env("GRIDSWEEP_CPU_AVX512", "0");
    }
    c.env(mkl::VENDOR_ENV, vendor)
        .env_remove(mkl::PORTABLE_ENV)
        .env_remove("MKL_CBWR")
        .env_remove("ATEN_CPU_CAPABILITY")
        .args(global)
        .args([
            "cv",
            "--json",
            "--jobs",
            "1",
            "--set",
            "epochs=4",
            "--set",
            "batch_size=64",
            "--set",
            "neurons_1=128",
            "--set",
            "neurons_2=128",
            "--data",
        ])
        .arg(data);
    run(&mut c)
}

/// Every fold's training loss and accuracy per epoch and its validation loss and
/// accuracy, as recorded; and the device with its kernel path.
fn results(out: &str) -> (Vec<Vec<(f64, f64)>>, String) {
    let v: Value = serde_json::from_str(out).unwrap();
    let folds = v["folds"].as_array().unwrap();
    let h = folds
        .iter()
        .map(|f| {
            let mut h: Vec<(f64, f64)> = f["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["loss"].as_f64().unwrap(), e["accuracy"].as_f64().unwrap()))
                .collect();
            h.push((
                f["val_loss"].as_f64().unwrap(),
                f["val_accuracy"].as_f64().unwrap(),
            ));
            h
        })
        .collect();
    (h, v["device"].as_str().unwrap_or_default().to_string())
}

#[test]
fn the_portable_path_gives_one_set_of_numbers_for_both_vendors() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        let dir = Dir::new("portable", "refused");
        let data = dir.demo_data(300);
        let (code, _, err) = cv(&data, "intel", &["--fp32-portable"]);
        assert_eq!(code, 2);
        assert!(
            err.contains("--fp32-portable") && err.contains("AVX2"),
            "{err}"
        );
        eprintln!("this CPU has no AVX2: checked the refusal only");
        return;
    }
    let dir = Dir::new("portable", "vendors");
    let data = dir.demo_data(600);
    let mut by_cpu = Vec::new();
    for (vendor, avx512) in [("intel", true), ("other", true), ("intel", false)] {
        let (code, out, err) = cv_on(&data, vendor, avx512, &["--fp32-portable"]);
        assert_eq!(code, 0, "{err}");
        let (h, device) = results(&out);
        assert_eq!(device, "cpu+portable", "the path is named");
        by_cpu.push(h);
    }
    assert_eq!(
        by_cpu[0], by_cpu[1],
        "the portable path gave other numbers when MKL was told another vendor"
    );
    assert_eq!(
        by_cpu[0], by_cpu[2],
        "the portable path gave other numbers on a CPU taken to have no AVX-512"
    );

    // The default path: one path, the same numbers, for both vendors on a CPU with
    // AVX-512 (MKL's AVX-512 kernels); on a CPU without, AVX2 kernels and other numbers
    // (what the portable path is still for), recorded as another path.
    let (code, intel, err) = cv(&data, "intel", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, other, err) = cv(&data, "other", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, without, err) = cv_on(&data, "intel", false, &[]);
    assert_eq!(code, 0, "{err}");
    let ((intel, di), (other, dother), (without, dwithout)) =
        (results(&intel), results(&other), results(&without));
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_eq!(
            intel, other,
            "the default path gave other numbers when MKL was told another vendor"
        );
        assert_eq!(
            (di.as_str(), dother.as_str(), dwithout.as_str()),
            ("cpu+mkl-avx512", "cpu+mkl-avx512", "cpu")
        );
        assert_ne!(
            intel, without,
            "the AVX2 path gave the AVX-512 path's numbers: this test shows nothing"
        );
    } else {
        assert_eq!(intel, other);
        eprintln!("this CPU has no AVX-512: one AVX2 path for either vendor; checked the portable path only");
    }
    // Another path, the same training: within rounding of the default's first epoch.
    for (p, d) in by_cpu[0].iter().zip(&without) {
        assert!(
            (p[0].0 - d[0].0).abs() <= 1e-4 * d[0].0.abs(),
            "first-epoch loss {} vs {}",
            p[0].0,
            d[0].0
        );
    }
}

#[test]
fn the_portable_path_is_asked_for_once_and_named_when_malformed() {
    let dir = Dir::new("portable", "args");
    let data = dir.demo_data(200);
    // Two paths at once: refused by name.
    let (code, _, err) = cv(&data, "", &["--fp32-portable", "--mkl-avx512"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--fp32-portable") && err.contains("--mkl-avx512"),
        "{err}"
    );
    let mut c = bin();
    c.env(mkl::PORTABLE_ENV, "yes")
        .args(["cv", "--json", "--set", "epochs=1", "--data"])
        .arg(&data);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2);
    assert!(
        err.contains("GRIDSWEEP_FP32_PORTABLE=yes") && err.contains("expected 1"),
        "{err}"
    );
    let (code, _, err) = cv(&data, "amd", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("GRIDSWEEP_MKL_VENDOR=amd") && err.contains("intel or other"),
        "{err}"
    );
    // The environment variable is the option.
    let mut c = bin();
    c.env(mkl::PORTABLE_ENV, "1")
        .args(["cv", "--json", "--set", "epochs=1", "--data"])
        .arg(&data);
    let (code, out, err) = run(&mut c);
    if std::arch::is_x86_feature_detected!("avx2") {
        assert_eq!(code, 0, "{err}");
        assert_eq!(results(&out).1, "cpu+portable", "{out}");
    }
    // Only the commands that train take it.
    let (_, help, _) = run(bin().args(["run", "--help"]));
    assert!(help.contains("--fp32-portable"));
    let (_, help, _) = run(bin().args(["rank", "--help"]));
    assert!(!help.contains("--fp32-portable"));
}
