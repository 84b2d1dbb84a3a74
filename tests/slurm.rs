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

const SMALL: &str =
    r#"{"epochs": 3, "neurons_1": 32, "neurons_2": 32, "neurons_3": 32, "batch_size": 64}"#;

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
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
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
    let (code, _, err) =
        run(bin()
            .arg("slurm")
            .arg(&spec)
            .args(["--db", &d.db(), "--workers", "2"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("not safe to share between machines") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!std::path::Path::new(&d.db()).exists(), "nothing recorded");
}

#[test]
fn the_script_runs_the_sweep_on_each_task() {
    let d = Dir::new("slurm", "script");
    let spec = spec(&d);
    let Some(db) = d.db_on(Backend::Postgres, "g") else {
        return;
    };
    let (code, out, err) = run(bin().arg("slurm").arg(&spec).args([
        "--db",
        &db,
        "--workers",
        "5",
        "--cpus-per-worker",
        "2",
        "--partition",
        "gpu",
        "--time",
        "02:00:00",
        "--mem",
        "4G",
        "--extra",
        "--account=ml",
        "--allow-local-db",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("4 configuration(s) new, 12 of 12 folds pending"),
        "registered before submitting: {err}"
    );
    for line in [
        "#SBATCH --array=0-4",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=02:00:00",
        "#SBATCH --mem=4G",
        "#SBATCH --account=ml",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line}:\n{out}");
    }
    let exec = out.lines().find(|l| l.starts_with("exec ")).unwrap();
    assert!(
        exec.contains(&format!("run '{}'", spec.display()))
            && exec.contains("--jobs 2")
            && exec.contains(&format!("--db '{db}'")),
        "{exec}"
    );
    assert!(
        out.contains("export LD_LIBRARY_PATH="),
        "the LibTorch folder for the nodes:\n{out}"
    );
    assert!(!exec.contains("--fuse"), "{exec}");
    let (code, out, _) = run(bin().arg("slurm").arg(&spec).args([
        "--db",
        &db,
        "--workers",
        "1",
        "--gpus-per-worker",
        "1",
        "--fuse",
        "32",
        "--allow-local-db",
    ]));
    assert_eq!(code, 0);
    assert!(
        out.contains("#SBATCH --gres=gpu:1") && out.contains("--device cuda --fuse 32"),
        "{out}"
    );
}

#[test]
fn a_job_array_runs_the_sweep_as_one_process_would() {
    if std::env::var("GRIDSWEEP_TEST_SLURM").is_err() {
        eprintln!("skipped: no Slurm cluster (scripts/test.sh starts a one-node one where slurm-wlm and munge can be had)");
        return;
    }
    let d = Dir::new("slurm", "array");
    let spec = spec(&d);
    let Some(db) = d.db_on(Backend::Postgres, "g") else {
        return;
    };
    let script = d.path("arr.sbatch");
    // A space in the log folder's path: sbatch must still find it.
    let logs = d.path("the logs");
    let (code, out, err) = run(bin()
        .arg("slurm")
        .arg(&spec)
        .args([
            "--db",
            &db,
            "--workers",
            "3",
            "--submit",
            "--allow-local-db",
            "--out",
        ])
        .arg(&script)
        .arg("--log-dir")
        .arg(&logs));
    assert_eq!(code, 0, "{err}");
    let job = out.trim().to_string();
    assert!(job.parse::<u64>().is_ok(), "a job id: {out}");
    let start = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &job])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the array did not finish"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs_written = std::fs::read_dir(&logs).unwrap().count();
    assert_eq!(logs_written, 3, "one log per task");
    let (code, out, err) = run(bin().args(["status", "arr", "--db", &db, "--json"]));
    assert_eq!(code, 0, "{err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["counts"]["done"], 12, "{st}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let attempts = rt.block_on(async {
        let store = gridsweep::store::Store::open(db.as_str()).await.unwrap();
        let s = store.sweep_by_name("arr").await.unwrap().unwrap();
        store.attempts(s.id).await.unwrap()
    });
    assert!(
        attempts.iter().all(|a| a.attempts == 1),
        "every fold once: {attempts:?}"
    );
    let single = d.path("single.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &single, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(export(&db, "cv-results"), export(&single, "cv-results"));
    assert_eq!(export(&db, "hpo-combined"), export(&single, "hpo-combined"));
}

#[test]
fn the_script_has_its_log_folder_the_signal_and_no_password() {
    let d = Dir::new("slurm", "safe");
    let spec = spec(&d);
    let Some(db) = d.db_on(Backend::Postgres, "g") else {
        return;
    };
    // A database on this machine is refused: each compute node reads 127.0.0.1 as itself.
    let (code, _, err) = run(bin()
        .arg("slurm")
        .arg(&spec)
        .args(["--db", &db, "--workers", "2"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("127.0.0.1") && err.contains("--allow-local-db"),
        "{err}"
    );
    // A password in the URL is never written into the script (the test server trusts
    // local connections, so any password connects).
    let with_password = db.replacen("://", "://gs_user_unused:s3cret@", 1);
    let with_password = if db.contains('@') {
        db.replacen("@", ":s3cret@", 1)
    } else {
        with_password
    };
    let logs = d.path("log dir");
    let (code, out, err) = run(bin()
        .arg("slurm")
        .arg(&spec)
        .args([
            "--db",
            &with_password,
            "--workers",
            "2",
            "--allow-local-db",
            "--signal-seconds",
            "90",
            "--log-dir",
        ])
        .arg(&logs));
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("s3cret") && !err.contains("s3cret"),
        "{out}\n{err}"
    );
    assert!(
        err.contains("PGPASSWORD") && err.contains(".pgpass"),
        "{err}"
    );
    assert!(out.contains("#SBATCH --signal=B:TERM@90"), "{out}");
    // Without --submit the log folder exists too (Slurm does not create it), and its
    // path, which has a space, is quoted.
    assert!(logs.is_dir(), "the log folder was created");
    assert!(
        out.contains(&format!(
            "#SBATCH --output=\"{}/gridsweep-arr-%A_%a.log\"",
            logs.display()
        )),
        "{out}"
    );
}
