//! `--fp32-portable` through the binary: the same fold results whichever vendor MKL
//! believes it runs on, where the default path gives other numbers on each.
//!
//! One machine shows both vendors: `GRIDSWEEP_MKL_VENDOR` answers MKL's vendor test (the
//! only place its choice of kernels looks at the vendor) as Intel's or as another's, on
//! this CPU's instruction sets. On a CPU with AVX-512 the default path then takes MKL's
//! AVX-512 kernels for "Intel" and its AVX2 ones for "other", as an Intel and an AMD
//! machine do.

mod common;
use common::{bin, run, Dir};

use gridsweep::mkl;
use serde_json::Value;
use std::path::Path;

/// `cv --json` of a network wide enough for MKL's kernels to differ, as MKL's vendor
/// test is answered `vendor`, with `global` options before the command.
fn cv(data: &Path, vendor: &str, global: &[&str]) -> (i32, String, String) {
    let mut c = bin();
    c.env(mkl::VENDOR_ENV, vendor)
        .env_remove(mkl::PORTABLE_ENV)
        .env_remove("MKL_CBWR")
        .env_remove("ATEN_CPU_CAPABILITY")
        .args(global)
        .args(["cv", "--json", "--jobs", "1", "--set", "epochs=4", "--set", "batch_size=64", "--set", "neurons_1=128", "--set", "neurons_2=128", "--data"])
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
            let mut h: Vec<(f64, f64)> =
                f["history"].as_array().unwrap().iter().map(|e| (e["loss"].as_f64().unwrap(), e["accuracy"].as_f64().unwrap())).collect();
            h.push((f["val_loss"].as_f64().unwrap(), f["val_accuracy"].as_f64().unwrap()));
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
        assert!(err.contains("--fp32-portable") && err.contains("AVX2"), "{err}");
        eprintln!("this CPU has no AVX2: checked the refusal only");
        return;
    }
    let dir = Dir::new("portable", "vendors");
    let data = dir.demo_data(600);
    let mut by_vendor = Vec::new();
    for vendor in ["intel", "other"] {
        let (code, out, err) = cv(&data, vendor, &["--fp32-portable"]);
        assert_eq!(code, 0, "{err}");
        let (h, device) = results(&out);
        assert_eq!(device, "cpu+portable", "the path is named");
        by_vendor.push(h);
    }
    assert_eq!(by_vendor[0], by_vendor[1], "the portable path gave other numbers when MKL was told another vendor");

    // The default path: on a CPU with AVX-512 the two vendors get other kernels and
    // other numbers (what the portable path is for), recorded as other paths.
    let (code, intel, err) = cv(&data, "intel", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, other, err) = cv(&data, "other", &[]);
    assert_eq!(code, 0, "{err}");
    let ((intel, di), (other, dother)) = (results(&intel), results(&other));
    if std::arch::is_x86_feature_detected!("avx512f") {
        assert_ne!(intel, other, "MKL's vendor test did not change its kernels: this test shows nothing");
        assert_eq!((di.as_str(), dother.as_str()), ("cpu+mkl-avx512", "cpu"));
    } else {
        eprintln!("this CPU has no AVX-512: MKL runs its AVX2 kernels for either vendor; checked the portable path only");
    }
    // Another path, the same training: within rounding of the default's first epoch.
    for (p, d) in by_vendor[0].iter().zip(&other) {
        assert!((p[0].0 - d[0].0).abs() <= 1e-4 * d[0].0.abs(), "first-epoch loss {} vs {}", p[0].0, d[0].0);
    }
}

#[test]
fn the_portable_path_is_asked_for_once_and_named_when_malformed() {
    let dir = Dir::new("portable", "args");
    let data = dir.demo_data(200);
    // Two paths at once: refused by name.
    let (code, _, err) = cv(&data, "", &["--fp32-portable", "--mkl-avx512"]);
    assert_eq!(code, 2);
    assert!(err.contains("--fp32-portable") && err.contains("--mkl-avx512"), "{err}");
    let mut c = bin();
    c.env(mkl::PORTABLE_ENV, "yes").args(["cv", "--json", "--set", "epochs=1", "--data"]).arg(&data);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2);
    assert!(err.contains("GRIDSWEEP_FP32_PORTABLE=yes") && err.contains("expected 1"), "{err}");
    let (code, _, err) = cv(&data, "amd", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("GRIDSWEEP_MKL_VENDOR=amd") && err.contains("intel or other"), "{err}");
    // The environment variable is the option.
    let mut c = bin();
    c.env(mkl::PORTABLE_ENV, "1").args(["cv", "--json", "--set", "epochs=1", "--data"]).arg(&data);
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
