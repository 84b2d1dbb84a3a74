//! `gridsweep slurm`: a sweep's workers as a Slurm job array against PostgreSQL. With
//! the one-node cluster and the PostgreSQL server scripts/test.sh starts, a 3-task array
//! runs a sweep and its exports equal a single-process run's; without them that test
//! skips, saying so. The script's content and the refusal of a SQLite file need no
//! cluster.

mod common;
use common::{bin, run, Backend, Dir};

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const SMALL: &str = r#"{"epochs": 3, "neurons_1": 32, "neurons_2": 32, "neurons_3": 32, "batch_size": 64}"#;

fn spec(d: &Dir) -> PathBuf {
    d.demo_data(500);
    let spec = d.path("s.json");
    std::fs::write(
        &spec,
        format!(r#"{{"name": "arr", "dataset": {{"path": "data-500.csv"}}, "seed": 5, "fixed": {SMALL}, "grid": {{"dropout": [0.1, 0.2, 0.3, 0.4]}}}}"#),
    )
    .unwrap();
    spec
}

/// The CSV export without its timing columns.
fn export(db: &str, format: &str) -> String {
    let (code, out, err) = run(bin().args(["export", "arr", "--db", db, "--format", format]));
    assert_eq!(code, 0, "{err}");
    let skip = if format == "cv-results" { 4 } else { 0 };
    out.lines()
        .map(|l| {
            let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(l.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            rec.iter().skip(skip).collect::<Vec<_>>().join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_sqlite_file_is_refused_with_the_reason() {
    let d = Dir::new("slurm", "refuse");
    let spec = spec(&d);
    let (code, _, err) = run(bin().arg("slurm").arg(&spec).args(["--db", &d.db(), "--workers", "2"]));
    assert_eq!(code, 2);
    assert!(err.contains("not safe to share between machines") && err.contains("postgres://"), "{err}");
    assert!(!std::path::Path::new(&d.db()).exists(), "nothing recorded");
}

#[test]
fn the_script_runs_the_sweep_on_each_task() {
    let d = Dir::new("slurm", "script");
    let spec = spec(&d);
    let Some(db) = d.db_on(Backend::Postgres, "g") else { return };
    let (code, out, err) = run(bin().arg("slurm").arg(&spec).args([
        "--db", &db, "--workers", "5", "--cpus-per-worker", "2", "--partition", "gpu", "--time", "02:00:00", "--mem", "4G",
        "--extra", "--account=ml",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("4 configuration(s) new, 12 of 12 folds pending"), "registered before submitting: {err}");
    for line in ["#SBATCH --array=0-4", "#SBATCH --cpus-per-task=2", "#SBATCH --partition=gpu", "#SBATCH --time=02:00:00", "#SBATCH --mem=4G", "#SBATCH --account=ml"] {
        assert!(out.lines().any(|l| l == line), "missing {line}:\n{out}");
    }
    let exec = out.lines().find(|l| l.starts_with("exec ")).unwrap();
    assert!(exec.contains(&format!("run '{}'", spec.display())) && exec.contains("--jobs 2") && exec.contains(&format!("--db '{db}'")), "{exec}");
    assert!(out.contains("export LD_LIBRARY_PATH="), "the LibTorch folder for the nodes:\n{out}");
    let (code, out, _) = run(bin().arg("slurm").arg(&spec).args(["--db", &db, "--workers", "1", "--gpus-per-worker", "1"]));
    assert_eq!(code, 0);
    assert!(out.contains("#SBATCH --gres=gpu:1") && out.contains("--device cuda"), "{out}");
}

#[test]
fn a_job_array_runs_the_sweep_as_one_process_would() {
    if std::env::var("GRIDSWEEP_TEST_SLURM").is_err() {
        eprintln!("skipped: no Slurm cluster (scripts/test.sh starts a one-node one where slurm-wlm and munge can be had)");
        return;
    }
    let d = Dir::new("slurm", "array");
    let spec = spec(&d);
    let Some(db) = d.db_on(Backend::Postgres, "g") else { return };
    let script = d.path("arr.sbatch");
    let logs = d.path("logs");
    let (code, out, err) = run(bin().arg("slurm").arg(&spec).args(["--db", &db, "--workers", "3", "--submit", "--out"]).arg(&script).arg("--log-dir").arg(&logs));
    assert_eq!(code, 0, "{err}");
    let job = out.trim().to_string();
    assert!(job.parse::<u64>().is_ok(), "a job id: {out}");
    let start = Instant::now();
    loop {
        let q = Command::new("squeue").args(["-h", "-j", &job]).output().unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "the array did not finish");
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs_written = std::fs::read_dir(&logs).unwrap().count();
    assert_eq!(logs_written, 3, "one log per task");
    let (code, out, err) = run(bin().args(["status", "arr", "--db", &db, "--json"]));
    assert_eq!(code, 0, "{err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["counts"]["done"], 12, "{st}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let attempts = rt.block_on(async {
        let store = gridsweep::store::Store::open(db.as_str()).await.unwrap();
        let s = store.sweep_by_name("arr").await.unwrap().unwrap();
        store.attempts(s.id).await.unwrap()
    });
    assert!(attempts.iter().all(|a| a.3 == 1), "every fold once: {attempts:?}");
    let single = d.path("single.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &single, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(export(&db, "cv-results"), export(&single, "cv-results"));
    assert_eq!(export(&db, "hpo-combined"), export(&single, "hpo-combined"));
}
