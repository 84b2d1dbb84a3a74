//! `--kernels` through the binary: MKL's AVX-512 kernels by default wherever the CPU has
//! AVX-512, whatever its vendor; the AVX2 path on request; a clear refusal where a path
//! cannot run; the path recorded per fold and kept by a sweep.

mod common;
use common::{bin, run, Dir};

use gridsweep::mkl;
use gridsweep::store::Store;
use gridsweep::train::vml_sqrt::{self, Kernel, BLOCK};
use serde_json::Value;
use std::path::Path;

/// `cv --json` of a small network, with `global` options before the command.
fn cv(data: &Path, global: &[&str], env: Option<(&str, &str)>) -> (i32, String, String) {
    let mut c = bin();
    c.args(global)
        .args([
            "cv",
            "--json",
            "--jobs",
            "1",
            "--set",
            "epochs=6",
            "--set",
            "batch_size=64",
            "--set",
            "neurons_1=128",
            "--set",
            "neurons_2=128",
            "--data",
        ])
        .arg(data);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    run(&mut c)
}

fn history(out: &str) -> Vec<Vec<f64>> {
    let v: Value = serde_json::from_str(out).unwrap();
    v["folds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["loss"].as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn the_kernel_paths_change_only_the_rounding_or_are_refused() {
    let dir = Dir::new("mkl", "cv");
    let data = dir.demo_data(600);
    let (code, default_out, err) = cv(&data, &[], None);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cv(&data, &["--kernels", "avx512"], None);
    if !mkl::Cpu::this().avx512 {
        assert_eq!(code, 2);
        assert!(
            err.contains("--kernels avx512") && err.contains("no AVX-512"),
            "{err}"
        );
        eprintln!("this CPU has no AVX-512: checked the refusal only");
        return;
    }
    assert_eq!(code, 0, "{err}");
    // The default is the AVX-512 path, whatever the vendor; the old flag is its alias.
    let (a, b) = (history(&default_out), history(&out));
    assert_eq!(a, b, "the default is not the AVX-512 path");
    let (code, old, err) = cv(&data, &["--mkl-avx512"], Some((mkl::VENDOR_ENV, "other")));
    assert_eq!(code, 0, "{err}");
    assert_eq!(history(&old), a, "--mkl-avx512 on another vendor");
    // The AVX2 path: the same training, rounded differently. First-epoch losses agree
    // to fp32 rounding noise; the histories are not bit for bit the same.
    let (code, avx2, err) = cv(&data, &["--kernels", "avx2"], None);
    assert_eq!(code, 0, "{err}");
    let avx2 = history(&avx2);
    assert_ne!(
        a, avx2,
        "--kernels avx2 left every loss bit for bit the same: MKL's kernels did not change"
    );
    for (x, y) in a.iter().zip(&avx2) {
        assert!(
            (x[0] - y[0]).abs() <= 1e-4 * x[0].abs(),
            "first-epoch loss {} vs {}",
            x[0],
            y[0]
        );
    }
    // The environment variable is the same switch; it names itself when malformed.
    let (code, env_out, err) = cv(&data, &[], Some((mkl::KERNELS_ENV, "avx2")));
    assert_eq!(code, 0, "{err}");
    assert_eq!(history(&env_out), avx2);
    let (code, _, err) = cv(&data, &[], Some((mkl::KERNELS_ENV, "fast")));
    assert_eq!(code, 2);
    assert!(
        err.contains("GRIDSWEEP_KERNELS=fast") && err.contains("auto, avx512, avx2 or portable"),
        "{err}"
    );
    let (code, _, err) = cv(&data, &[], Some((mkl::ENV, "yes")));
    assert_eq!(code, 2);
    assert!(
        err.contains("GRIDSWEEP_MKL_AVX512=yes") && err.contains("expected 1"),
        "{err}"
    );
    // Two different paths before and after the command: refused.
    let (code, _, err) = run(bin()
        .args([
            "--kernels",
            "avx2",
            "cv",
            "--kernels",
            "avx512",
            "--set",
            "epochs=1",
            "--data",
        ])
        .arg(&data));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the kernel path is given twice"), "{err}");
    // The environment's two spellings disagreeing: refused, naming both.
    let mut c = bin();
    c.env(mkl::KERNELS_ENV, "avx2")
        .env(mkl::ENV, "1")
        .args(["cv", "--set", "epochs=1", "--data"])
        .arg(&data);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("GRIDSWEEP_KERNELS=avx2 and GRIDSWEEP_MKL_AVX512=1"),
        "{err}"
    );
    // A command that trains nothing reads neither the option nor the variable.
    let (code, _, err) = run(bin().env(mkl::KERNELS_ENV, "bogus").args([
        "list",
        "--db",
        dir.path("none.db").to_str().unwrap(),
    ]));
    assert!(!err.contains("GRIDSWEEP_KERNELS"), "{code}: {err}");
    let (code, _, err) = run(bin()
        .args(["--kernels", "avx2", "demo-data", "--out"])
        .arg(dir.path("x.csv")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("trains nothing"), "{err}");
}

/// The binary as on a CPU with this one's instruction sets whose vendor is not Intel's
/// (MKL's vendor test answered so): an AMD CPU, where MKL alone takes its AVX2 kernels.
fn not_intel() -> std::process::Command {
    let mut c = bin();
    c.env(mkl::VENDOR_ENV, "other");
    c
}

/// A sweep keeps the path its done folds ran on: a sweep begun on `--kernels avx2` (as
/// an AMD CPU's folds were recorded by default before, `cpu`) continues on it by
/// default, `run` and `resume` alike; a sweep whose path this CPU cannot run is refused
/// naming both paths, and `--kernels` goes on anyway, saying the sweep mixes them.
#[test]
fn a_sweep_keeps_its_kernel_path_and_folds_record_it() {
    if !mkl::Cpu::this().avx512 {
        eprintln!("skipped: this CPU has no AVX-512, so it runs one MKL kernel path");
        return;
    }
    let dir = Dir::new("mkl", "sweep");
    dir.demo_data(400);
    let spec = dir.path("s.json");
    let write = |dropouts: &str| {
        std::fs::write(
            &spec,
            format!(
                r#"{{"name": "s", "dataset": {{"path": "data-400.csv"}}, "cv": {{"folds": 3}}, "seed": 7,
                    "fixed": {{"epochs": 2, "neurons_1": 32, "neurons_2": 32, "batch_size": 64}},
                    "grid": {{"dropout": {dropouts}}}}}"#
            ),
        )
        .unwrap();
    };
    let db = dir.db();
    let devices = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let store = Store::open(Path::new(&db)).await.unwrap();
                let s = store.sweep_by_name("s").await.unwrap().unwrap();
                let d = store.done_fold_devices(s.id).await.unwrap();
                store.close().await;
                d
            })
    };
    write("[0.2, 0.3]");
    let (code, _, err) = run(not_intel()
        .args(["--kernels", "avx2", "run"])
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    // Extended, run by default (on "Intel" now), and resumed: kept on `cpu`, no note.
    write("[0.2, 0.3, 0.4]");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("note"), "{err}");
    let (code, _, err) = run(bin().args(["resume", "s", "--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(devices(), vec![("cpu".to_string(), 9)]);
    // Two processes continuing it at once, by default: both keep it.
    write("[0.2, 0.3, 0.4, 0.5, 0.6]");
    let spawn = || {
        bin()
            .arg("run")
            .arg(&spec)
            .args(["--db", &db, "--jobs", "1", "--quiet"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p1, p2) = (spawn(), spawn());
    for p in [p1, p2] {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(devices(), vec![("cpu".to_string(), 15)]);

    // A sweep on the AVX-512 path, continued on a CPU taken to have none: refused.
    let other = dir.path("t.json");
    std::fs::write(
        &other,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("\"name\": \"s\"", "\"name\": \"t\"")
            .replace("[0.2, 0.3, 0.4, 0.5, 0.6]", "[0.2]"),
    )
    .unwrap();
    let (code, _, err) = run(not_intel()
        .arg("run")
        .arg(&other)
        .args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        &other,
        std::fs::read_to_string(&other)
            .unwrap()
            .replace("[0.2]", "[0.2, 0.5]"),
    )
    .unwrap();
    let (code, _, err) = run(bin()
        .env("GRIDSWEEP_CPU_AVX512", "0")
        .arg("run")
        .arg(&other)
        .args(["--db", &db, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("sweep `t`")
            && err.contains("`cpu+mkl-avx512`")
            && err.contains("cannot run")
            && err.contains("`cpu`")
            && err.contains("--kernels avx2"),
        "{err}"
    );
    // Going on anyway, by name: the sweep holds both, and the run, status, rank and the
    // report say so.
    let (code, _, err) = run(bin()
        .env("GRIDSWEEP_CPU_AVX512", "0")
        .args(["--kernels", "avx2", "run"])
        .arg(&other)
        .args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("3 done fold(s)")
            && err.contains("`cpu+mkl-avx512`")
            && err.contains("this run on `cpu`"),
        "{err}"
    );
    let mixed = "2 kernel paths (3 on cpu, 3 on cpu+mkl-avx512)";
    let (code, out, err) = run(bin().args(["status", "t", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("done folds: 3 on cpu, 3 on cpu+mkl-avx512")
            && out.contains(mixed)
            && !out.contains("each,  "),
        "status shows the mix: {out}"
    );
    let (code, out, err) = run(bin().args(["rank", "t", "--db", &db, "--json"]));
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert!(r["mixed_paths"].as_str().unwrap().contains(mixed), "{r}");

    // The final training records its kernel as well.
    for (global, want) in [
        (&["--mkl-avx512"][..], "cpu+mkl-avx512"),
        (&["--kernels", "avx2"][..], "cpu"),
        (&[][..], "cpu+mkl-avx512"),
    ] {
        let (code, out, err) = run(not_intel().args(global).args([
            "evaluate", "t", "--epochs", "2", "--quiet", "--json", "--db", &db,
        ]));
        assert_eq!(code, 0, "{err}");
        let e: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(e["device"], want, "{global:?}");
    }
    let out_dir = dir.path("report");
    let (code, _, err) = run(not_intel()
        .args(["report", "t", "--db", &db, "--epochs", "2", "--out"])
        .arg(&out_dir));
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert!(html.contains(mixed), "the report says so");
}

/// In this test process MKL runs its AVX-512 kernels (forced before anything in it
/// multiplies), so the optimizer's one-pass root must reproduce MKL's AVX-512 square
/// root: every mantissa of four exponents against LibTorch's `sqrt`.
#[test]
fn one_pass_root_reproduces_mkls_avx512_square_root() {
    if !mkl::avx512_would_change_mkl() {
        eprintln!("skipped: --mkl-avx512 changes nothing on this CPU (Intel, or no AVX-512)");
        return;
    }
    static FORCE: std::sync::Once = std::sync::Once::new();
    FORCE.call_once(|| mkl::force_avx512().expect("MKL not yet used in this test process"));
    let vml = vml_sqrt::get().expect("the AVX-512 reproduction agrees with MKL's kernel");
    assert_eq!(vml.kernel(), Kernel::Avx512);
    // 48 and 50: both sides of the scaled path (x < 2^-78).
    for exponent in [1u32, 48, 50, 127, 254] {
        let values: Vec<f32> = (0..1u32 << 23)
            .map(|m| f32::from_bits(exponent << 23 | m))
            .collect();
        let want = Vec::<f32>::try_from(&tch::Tensor::from_slice(&values).sqrt()).unwrap();
        let mut got = vec![0f32; values.len()];
        for (x, out) in values.chunks(BLOCK).zip(got.chunks_mut(BLOCK)) {
            vml.block(x.try_into().unwrap(), out.try_into().unwrap());
        }
        let differing = got
            .iter()
            .zip(&want)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(differing, 0, "exponent {exponent}");
    }
    // Boundary classes (zero, subnormal, infinities, NaN, negatives) too.
    assert_eq!(vml.first_difference(&vml_sqrt::check_values(0, 1)), None);
}
