//! What a new user trips over (issue "What a new user still trips over"), through the
//! binary: a model trained on data with missing cells predicts; a failed first run
//! records nothing and a sweep without a done fold gives way to a corrected spec;
//! `delete`; the sweep's best, not the process's; `plan` fails where `run` would; a
//! halving sweep's report shows every configuration; SIGTERM saves and releases;
//! `status` names a worker that is gone; file line numbers; hints that carry `--db`;
//! spec errors by key; data files that are empty, not UTF-8 or hold an id column;
//! inline `--config`; `predict`'s own advice and accuracy; a closed port said at once;
//! halving's progress and rank tables; `--mkl-avx512` where it belongs.

mod common;
use common::{bin, run, running_count, wait_until, Dir};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const SMALL: &str =
    r#"{"epochs": 3, "neurons_1": 32, "neurons_2": 32, "neurons_3": 32, "batch_size": 64}"#;
/// Folds long enough that a signal lands while they run.
const SLOW: &str = r#"{"epochs": 80, "early_stopping_patience": 100, "neurons_1": 256, "neurons_2": 256, "neurons_3": 256, "batch_size": 16}"#;

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn spawn(args: &[&str], spec: &Path, db: &str) -> Child {
    bin()
        .arg("run")
        .arg(spec)
        .args(["--db", db])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn stderr_of(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------- 1, 14: predict

#[test]
fn a_model_trained_on_missing_cells_predicts_and_scores_the_label_column() {
    let d = Dir::new("new-user", "missing");
    let demo = d.demo_data(700);
    // Blank a few numeric cells of the data (the KNN imputer fills them).
    let text = std::fs::read_to_string(&demo).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for i in [3, 40, 77, 120, 300, 451] {
        let mut cells: Vec<&str> = lines[i].split(',').collect();
        cells[2] = "";
        lines[i] = cells.join(",");
    }
    let data = d.path("holes.csv");
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let spec = d.path("s.json");
    std::fs::write(&spec, format!(r#"{{"name": "holes", "dataset": {{"path": "holes.csv"}}, "fixed": {SMALL}, "grid": {{}}}}"#)).unwrap();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &d.db(), "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let model = d.path("model");
    let (code, _, err) = run(bin()
        .args([
            "evaluate",
            "holes",
            "--epochs",
            "3",
            "--quiet",
            "--db",
            &d.db(),
            "--model-dir",
        ])
        .arg(&model));
    assert_eq!(code, 0, "{err}");
    // The rows kept for imputation carry their missing cells through save and load.
    let meta = std::fs::read_to_string(model.join("model.json")).unwrap();
    assert!(meta.contains("null"), "missing cells are saved as null");
    let (code, out, err) = run(bin()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 701, "a header and one line per row");
    // The label column is there: the predictions are scored against it.
    assert!(
        err.contains("accuracy against column `Genre`:") && err.contains("(700 rows)"),
        "{err}"
    );
    let acc: f64 = err
        .split("accuracy against column `Genre`: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let predicted: Vec<String> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    let truth: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    let label_col = text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == "Genre")
        .unwrap();
    let truth: Vec<String> = if label_col == text.lines().next().unwrap().split(',').count() - 1 {
        truth
    } else {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(label_col).unwrap().to_string())
            .collect()
    };
    let right = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
    assert!(
        (acc - right as f64 / 700.0).abs() < 1e-4,
        "{acc} against {right}/700"
    );

    // A stray text cell: predict's advice is what predict can do (no --encode).
    let mut bad = lines.clone();
    let mut cells: Vec<&str> = bad[5].split(',').collect();
    cells[2] = "oops";
    bad[5] = cells.join(",");
    let bad_file = d.path("bad.csv");
    std::fs::write(&bad_file, bad.join("\n") + "\n").unwrap();
    let (code, _, err) = run(bin()
        .args(["predict", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&bad_file));
    assert_eq!(code, 2);
    assert!(
        err.contains("line 6") && err.contains("`oops`") && !err.contains("--encode"),
        "{err}"
    );
    // A named label column that is not there is an error.
    let (code, _, err) = run(bin()
        .args(["predict", "--label", "Truth", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data));
    assert_eq!(code, 2);
    assert!(err.contains("no column `Truth`"), "{err}");
}

// ---------------------------------------------------------------- 2, 4: check first; delete

#[test]
fn a_failed_first_run_records_nothing_and_plan_fails_as_run_would() {
    let d = Dir::new("new-user", "failed");
    d.demo_data(300);
    let db = d.db();
    let write = |label: &str, test_fraction: f64| {
        let spec = d.path("s.json");
        std::fs::write(
            &spec,
            format!(r#"{{"name": "first", "dataset": {{"path": "data-300.csv", "label": "{label}", "test_fraction": {test_fraction}}}, "fixed": {SMALL}, "grid": {{}}}}"#),
        )
        .unwrap();
        spec
    };
    for (label, fraction, said) in [
        ("genre", 0.3, "no column `genre`"),
        ("Genre", 1.5, "test_fraction"),
    ] {
        let spec = write(label, fraction);
        let (code, out, err) = run(bin().arg("plan").arg(&spec));
        assert_eq!(code, 2, "plan: {out}");
        assert!(err.contains(said), "{err}");
        let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
        assert_eq!(code, 2);
        assert!(err.contains(said), "{err}");
        if label == "genre" {
            assert!(
                err.contains("--label"),
                "the label option is suggested: {err}"
            );
        }
    }
    // Nothing was recorded: the corrected spec runs under the same name.
    let (code, _, err) = run(bin().args(["list", "--db", &db, "--json"]));
    assert!(
        code == 2 && err.contains("does not exist")
            || json(bin().args(["list", "--db", &db, "--json"]))
                .as_array()
                .unwrap()
                .is_empty(),
        "{err}"
    );
    let spec = write("Genre", 0.3);
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");

    // A missing data file: plan says so with exit 2.
    let gone = d.path("gone.json");
    std::fs::write(&gone, format!(r#"{{"name": "gone", "dataset": {{"path": "nowhere.csv"}}, "fixed": {SMALL}, "grid": {{}}}}"#)).unwrap();
    let (code, _, err) = run(bin().arg("plan").arg(&gone));
    assert_eq!(code, 2);
    assert!(
        err.contains("nowhere.csv") && err.contains("cannot read") && err.contains("--data FILE"),
        "{err}"
    );
}

#[test]
fn a_sweep_without_a_done_fold_gives_way_and_delete_removes_one() {
    let d = Dir::new("new-user", "replace");
    let db = d.db();
    let spec = d.spec_with("slow", 900, SLOW, r#"{"dropout": [0.2, 0.3]}"#, "");
    // Started, then stopped before any fold was done.
    let mut child = spawn(&["--jobs", "2", "--checkpoint-every", "0"], &spec, &db);
    wait_until(&mut child, "a fold ran", || running_count(&db, "slow") >= 1);
    for _ in 0..2 {
        signal(&child, libc::SIGINT);
        std::thread::sleep(Duration::from_millis(150));
    }
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(130), "{err}");
    // `delete` while nothing runs: refuses nothing, prints what it removed.
    // First, the same name with another seed: replaced, saying so.
    let changed = d.path("slow2.json");
    std::fs::write(
        &changed,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace(r#""seed": 7"#, r#""seed": 8"#)
            .replace(SLOW, SMALL),
    )
    .unwrap();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&changed)
        .args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("had no done fold") && err.contains("replaced"),
        "{err}"
    );
    let st = json(bin().args(["status", "slow", "--db", &db, "--json"]));
    assert_eq!(st["counts"]["done"], 6, "{st}");
    // Now it has done folds: another change is refused, and the hint names `delete`.
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("seed 8") && err.contains("another `name`"),
        "{err}"
    );

    // delete refuses while a worker holds a fold, unless --force.
    let held = d.spec_with("held", 900, SLOW, r#"{"dropout": [0.2]}"#, "");
    let mut child = spawn(&["--jobs", "1"], &held, &db);
    wait_until(&mut child, "a fold ran", || running_count(&db, "held") >= 1);
    let (code, _, err) = run(bin().args(["delete", "held", "--db", &db]));
    assert_eq!(code, 2);
    assert!(
        err.contains("held by running workers") && err.contains("--force"),
        "{err}"
    );
    let _ = child.kill(); // SIGKILL: its fold stays `running` with a lease
    let _ = child.wait();
    // `status` says the worker is gone, and `delete` agrees: no --force needed.
    let (code, out, _) = run(bin().args(["status", "held", "--db", &db]));
    assert_eq!(code, 0);
    assert!(out.contains("gone"), "{out}");
    let (code, out, err) = run(bin().args(["delete", "held", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("deleted sweep held")
            && out.contains("1 configuration(s), 3 fold(s) (0 done)"),
        "{out}"
    );
    let (code, out, err) = run(bin().args(["delete", "slow", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 configuration(s), 6 fold(s) (6 done)"),
        "{out}"
    );
    let list = json(bin().args(["list", "--db", &db, "--json"]));
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    // A name that is not there: the hint carries --db.
    let (code, _, err) = run(bin().args(["delete", "slow", "--db", &db]));
    assert_eq!(code, 2);
    assert!(err.contains(&format!("gridsweep list --db {db}")), "{err}");
}

// ---------------------------------------------------------------- 3: the sweep's best

#[test]
fn every_process_shows_the_sweeps_best() {
    let d = Dir::new("new-user", "best");
    let db = d.db();
    let spec = d.spec_with(
        "best",
        600,
        SMALL,
        r#"{"dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]}"#,
        "",
    );
    let a = spawn(&["--jobs", "1"], &spec, &db);
    std::thread::sleep(Duration::from_millis(300));
    let b = spawn(&["--jobs", "1"], &spec, &db);
    let (ca, ea) = stderr_of(a);
    let (cb, eb) = stderr_of(b);
    assert_eq!((ca, cb), (Some(0), Some(0)), "{ea}\n{eb}");
    let r = json(bin().args(["rank", "best", "--db", &db, "--json"]));
    let top = &r["ranking"][0];
    let line = format!(
        "best score of the sweep so far: {:.4} ({})",
        top["score"].as_f64().unwrap(),
        top["config_id"].as_str().unwrap()
    );
    // Both end after the last configuration is complete (one of them finishes it, the
    // other has nothing left to claim only once every fold is taken): each closing line
    // is the sweep's best as `rank` has it, whichever process trained it.
    let last = |e: &str| {
        e.lines()
            .rfind(|l| l.starts_with("best score of the sweep"))
            .unwrap_or("")
            .to_string()
    };
    let (la, lb) = (last(&ea), last(&eb));
    assert!(
        la == line || lb == line,
        "neither process ends with the sweep's best {line}:\n{la}\n{lb}"
    );
    // A process with nothing left to do shows the database's best too.
    let (code, _, err) = run(bin().args(["resume", "best", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&line), "{err}");
    // While running, every `complete` line's best is one of the database's configurations.
    for e in [&ea, &eb] {
        for l in e.lines().filter(|l| l.contains(" complete: score ")) {
            let best: f64 = l
                .split("(best ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let this: f64 = l
                .split("score ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(best >= this - 1e-9, "{l}");
        }
    }
}

// ---------------------------------------------------------------- 5, 16: halving

#[test]
fn a_halving_sweep_shows_every_configuration_and_its_rungs_progress() {
    let d = Dir::new("new-user", "halving");
    let db = d.db();
    let fixed = r#"{"epochs": 18, "early_stopping_patience": 100, "neurons_1": 16, "neurons_2": 16, "neurons_3": 16, "batch_size": 64}"#;
    let spec = d.spec_with(
        "hv",
        500,
        fixed,
        r#"{"dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}"#,
        r#", "search": {"strategy": "halving", "factor": 3, "min_epochs": 2}"#,
    );
    let out = bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The progress counts the current rung's folds: 27, then 9, then 3.
    let totals: Vec<u64> = err
        .lines()
        .filter(|l| l.starts_with('[') && l.contains(" fold "))
        .map(|l| {
            l[1..]
                .split(']')
                .next()
                .unwrap()
                .split('/')
                .nth(1)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let mut distinct = totals.clone();
    distinct.dedup();
    assert_eq!(distinct, vec![27, 9, 3], "{err}");
    for l in err
        .lines()
        .filter(|l| l.starts_with('[') && l.contains(" fold "))
    {
        let (done, total) = l[1..].split(']').next().unwrap().split_once('/').unwrap();
        assert!(
            done.trim().parse::<u64>().unwrap() <= total.trim().parse::<u64>().unwrap(),
            "{l}"
        );
    }
    // rank: the pruned ones apart (nothing is still in the search at the end).
    let (code, out, _) = run(bin().args(["rank", "hv", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("pruned: 8 configuration(s)") && !out.contains("still in the search:"),
        "{out}"
    );

    // The report draws all 9, saying 1 of 9 complete.
    let report = d.path("report");
    let (code, _, err) = run(bin()
        .args([
            "report", "hv", "--epochs", "2", "--quiet", "--db", &db, "--out",
        ])
        .arg(&report));
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(report.join("img/hpo-scatter.svg")).unwrap();
    assert!(
        svg.contains("1 of 9 configurations complete"),
        "scatter title"
    );
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    // 9 points, plus one legend marker per kind (complete, and one per epochs stopped at).
    assert!(
        circles >= 9 + 2,
        "every configuration drawn: {circles} circles"
    );
    let rings = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("fill") == Some("none"))
        .count();
    assert!(rings >= 8, "the 8 stopped early as rings: {rings}");
    let panel = std::fs::read_to_string(report.join("img/score-vs-dropout.svg")).unwrap();
    assert!(
        panel.contains("(1 of 9 complete)"),
        "the per-hyperparameter panel says so"
    );
    let doc = roxmltree::Document::parse(&panel).unwrap();
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count()
            >= 9,
        "9 values drawn"
    );
}

// ---------------------------------------------------------------- 6: SIGTERM

#[test]
fn sigterm_saves_running_folds_and_releases_them() {
    let d = Dir::new("new-user", "sigterm");
    let spec = d.spec_with("term", 1500, SLOW, r#"{"dropout": [0.3]}"#, "");
    let db = d.db();
    let clean = d.path("clean.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &clean, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");

    let mut child = spawn(&["--jobs", "2", "--checkpoint-every", "0"], &spec, &db);
    wait_until(&mut child, "two folds ran", || {
        running_count(&db, "term") >= 2
    });
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, libc::SIGTERM);
    let sent = Instant::now();
    let (code, err) = stderr_of(child);
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(code, Some(143), "{err}");
    assert!(
        err.contains("SIGTERM") && err.contains("exit code 143"),
        "{err}"
    );
    // At once: nothing is running, nothing waits for a lease.
    let f = common::folds(&db, "term");
    assert!(f.iter().all(|x| x.2 == "pending" || x.2 == "done"), "{f:?}");
    assert!(f.iter().any(|x| x.2 == "pending"), "{f:?}");
    let (code, out, _) = run(bin().args(["status", "term", "--db", &db]));
    assert_eq!(code, 0);
    assert!(out.contains("no worker is running"), "{out}");

    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("continues from its saved state at epoch"),
        "{err}"
    );
    assert_eq!(
        common::cv_results(&db, "term"),
        common::cv_results(&clean, "term")
    );
}

// ---------------------------------------------------------------- 8: a worker that is gone

#[test]
fn status_says_a_killed_worker_on_this_host_is_gone() {
    let d = Dir::new("new-user", "gone");
    let db = d.db();
    let spec = d.spec_with("gone", 900, SLOW, r#"{"dropout": [0.3]}"#, "");
    let mut child = spawn(&["--jobs", "1"], &spec, &db);
    wait_until(&mut child, "a fold ran", || running_count(&db, "gone") >= 1);
    let _ = child.kill();
    let _ = child.wait();
    let (code, out, _) = run(bin().args(["status", "gone", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("gone (the process no longer exists)") && out.contains("lease expiry in"),
        "{out}"
    );
    assert!(
        out.contains("no worker is running") && !out.contains("ETA"),
        "{out}"
    );
    assert!(
        out.contains(&format!("gridsweep resume gone --db {db}")),
        "the hint carries --db: {out}"
    );
}

// ---------------------------------------------------------------- 9, 12: data files

#[test]
fn data_errors_name_file_lines_and_what_to_do() {
    let d = Dir::new("new-user", "data");
    let cv = |file: &PathBuf, extra: &[&str]| {
        run(bin()
            .arg("cv")
            .arg("--data")
            .arg(file)
            .args(["--set", "epochs=2"])
            .args(extra))
    };
    let write = |name: &str, bytes: &[u8]| {
        let p = d.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // Decimal commas in several cells: the first one's file line (header = line 1),
    // also with Windows line ends.
    for (name, text) in [
        ("comma.csv", "a;b;Genre\n1;1;x\n0,5;1;x\n0,7;2;y\n"),
        ("crlf.csv", "a;b;Genre\r\n1;1;x\r\n0,5;1;x\r\n0,7;2;y\r\n"),
    ] {
        let (code, _, err) = cv(&write(name, text.as_bytes()), &[]);
        assert_eq!(code, 2);
        assert!(
            err.contains("line 3, column `a`: `0,5` has a decimal comma"),
            "{name}: {err}"
        );
    }
    // Several columns with decimal commas: the earliest line is said, not the first column.
    let (code, _, err) = cv(
        &write("rows.csv", b"a;b;Genre\n1;1,5;x\n0,5;1;x\n0,7;2;y\n"),
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("line 2, column `b`: `1,5` has a decimal comma"),
        "{err}"
    );
    // A binary file is not "probably Latin-1".
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend([0u8; 64]);
    let (code, _, err) = cv(&write("prog.csv", &elf), &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("not a CSV file: it is an executable (ELF)") && !err.contains("Latin-1"),
        "{err}"
    );
    // A file without the separator: its one "column" is cut short in the message.
    let long: String = (0..200).map(|i| format!("col{i} ")).collect();
    let (code, _, err) = cv(
        &write("nosep.csv", format!("{long}\n1 2 3\n").as_bytes()),
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("characters)") && err.len() < 600, "{err}");
    let ragged = write("ragged.csv", b"a;b;Genre\r\n1;1;x\r\n2;2\r\n");
    let (code, _, err) = cv(&ragged, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("line 3: 2 fields, expected 3"), "{err}");
    // Empty, not UTF-8, the label dropped, the label missing.
    let (code, _, err) = cv(&write("empty.csv", b""), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("empty.csv: empty file"), "{err}");
    let latin = write("latin.csv", b"a,b,Genre\n1,2,x\n3,4,caf\xe9\n");
    let (code, _, err) = cv(&latin, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 3: not UTF-8") && err.contains("re-save it as UTF-8"),
        "{err}"
    );
    assert_eq!(err.matches("not UTF-8").count(), 1, "said once: {err}");
    let small = d.demo_data(300);
    let (code, _, err) = cv(&small, &["--drop", "Genre"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`Genre` is the label column and cannot be dropped"),
        "{err}"
    );
    // Its encoding set to drop (or anything): refused alike.
    for how in ["drop", "ordinal"] {
        let (code, _, err) = cv(&small, &["--encode", &format!("Genre={how}")]);
        assert_eq!(code, 2, "{how}: {err}");
        assert!(
            err.contains("`Genre` is the label column and cannot be dropped or encoded")
                && err.contains(&format!("Genre={how}")),
            "{how}: {err}"
        );
    }
    let (code, _, err) = cv(&small, &["--label", "genre"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no column `genre`")
            && err.contains("--label COLUMN")
            && err.contains("Danceability"),
        "{err}"
    );
    // A text column with a different value in every row: a warning that names --drop.
    let text = std::fs::read_to_string(&small).unwrap();
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        out.push_str(&if i == 0 {
            format!("{l},track\n")
        } else {
            format!("{l},song number {i}\n")
        });
    }
    let ids = write("ids.csv", out.as_bytes());
    let (code, _, err) = cv(&ids, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("column `track` is text with 300 different values")
            && err.contains("--drop 'track'"),
        "{err}"
    );
    let (code, _, err) = cv(&ids, &["--drop", "track"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("different values"), "{err}");
}

// ---------------------------------------------------------------- 10: hints carry --db

#[test]
fn hints_carry_the_database_the_user_gave() {
    let d = Dir::new("new-user", "hints");
    let db = d.db();
    let spec = d.spec_with("twenty", 900, SLOW, r#"{"dropout": [0.2, 0.3]}"#, "");
    let mut child = spawn(&["--jobs", "1"], &spec, &db);
    wait_until(&mut child, "a fold ran", || {
        running_count(&db, "twenty") >= 1
    });
    for _ in 0..2 {
        signal(&child, libc::SIGINT);
        std::thread::sleep(Duration::from_millis(150));
    }
    let (code, err) = stderr_of(child);
    assert_eq!(code, Some(130));
    assert!(
        err.contains(&format!(
            "run it again (or `gridsweep resume twenty --db {db}`)"
        )),
        "{err}"
    );
    let (code, _, err) = run(bin().args(["status", "nothere", "--db", &db]));
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("`gridsweep list --db {db}` shows them")),
        "{err}"
    );
    let (code, _, err) = run(bin().args(["evaluate", "twenty", "--config", "ffff", "--db", &db]));
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("`gridsweep rank twenty --db {db}` lists them")),
        "{err}"
    );
    // The default database needs no --db in a hint.
    std::fs::create_dir_all(d.path("results")).unwrap();
    std::fs::copy(&db, d.path("results/gridsweep.db")).unwrap();
    let (code, _, err) = run(bin().args(["resume", "nothere"]).current_dir(&d.0));
    assert_eq!(code, 2);
    assert!(err.contains("(`gridsweep list` shows them)"), "{err}");
}

// ---------------------------------------------------------------- 11: spec errors by key

#[test]
fn spec_errors_name_the_key_and_its_line() {
    let d = Dir::new("new-user", "spec");
    let plan = |search: &str, fixed: &str| {
        let spec = d.spec_with(
            "s",
            300,
            fixed,
            r#"{"dropout": [0.1, 0.2]}"#,
            &format!(",\n  \"search\": {search}"),
        );
        run(bin().arg("plan").arg(&spec))
    };
    for (search, want) in [
        (
            r#"{"strategy": "halving",
      "min_epochs": 2,
      "factor": 1.5}"#,
            "search.factor (line 5): expected an integer ≥ 2, got 1.5",
        ),
        (
            r#"{"strategy": "random", "n": -3}"#,
            "search.n (line 3): expected an integer ≥ 1, got -3",
        ),
        (r#"{"strategy": "random"}"#, "search.n: missing"),
        (
            r#"{"strategy": "grid", "n": 5}"#,
            "search.n (line 3): strategy grid takes no other key",
        ),
        (
            r#"{"strategy": "halving", "min_epochs": 2, "sample": 5, "n": 4}"#,
            "search.n (line 3): not a key of strategy halving",
        ),
        (
            r#"{"strategy": "bayes"}"#,
            "search.strategy (line 3): expected one of grid, random, halving",
        ),
    ] {
        let (code, _, err) = plan(search, SMALL);
        assert_eq!(code, 2, "{search}");
        assert!(err.contains(want), "{search}: {err}");
        assert!(
            !err.contains("expected u32") && !err.contains("floating point"),
            "{err}"
        );
    }
    // A wrong type elsewhere names its path too.
    let spec = d.path("t.json");
    std::fs::write(&spec, "{\"name\": \"t\", \"dataset\": {\"path\": \"data-300.csv\"},\n \"cv\": {\"folds\": 2.5}, \"grid\": {}}").unwrap();
    let (code, _, err) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 2);
    assert!(
        err.contains("cv.folds (line 2)") && err.contains("the number `2.5`"),
        "{err}"
    );
    // min_epochs at or over the epochs: one rung, said.
    let (code, _, err) = plan(r#"{"strategy": "halving", "min_epochs": 3}"#, SMALL);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning") && err.contains("one rung"), "{err}");
    let (code, _, err) = plan(r#"{"strategy": "halving", "min_epochs": 2}"#, SMALL);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("one rung"), "{err}");
}

// ---------------------------------------------------------------- 13, 15, 17: small things

#[test]
fn config_inline_closed_ports_and_where_options_show() {
    let d = Dir::new("new-user", "small");
    let data = d.demo_data(300);
    let (code, out, err) = run(bin().arg("cv").arg("--data").arg(&data).args([
        "--config",
        r#"{"epochs": 2, "neurons_1": 8}"#,
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["params"]["epochs"], 2, "{v}");
    let (code, _, err) = run(bin()
        .arg("cv")
        .arg("--data")
        .arg(&data)
        .args(["--config", "nofile.json"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("nofile.json") && err.contains("inline"),
        "{err}"
    );
    let (_, help, _) = run(bin().args(["cv", "--help"]));
    assert!(
        help.contains("inline"),
        "--config's help says it takes JSON too"
    );

    // A closed port: said as such, with host and port. Only the first, plain connection
    // says "connection refused" (the pool would retry until its timeout and then say
    // only that it timed out), so the message itself shows the path taken; no clock.
    let (code, _, err) = run(bin().args(["list", "--db", "postgres://nobody@127.0.0.1:1/none"]));
    assert_eq!(code, 2);
    assert!(err.contains("connection refused at 127.0.0.1:1"), "{err}");
    // A port where something else answers (a web server's reply to the startup
    // message, then a hang-up): named as not PostgreSQL, not as a bogus length.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for c in listener.incoming().take(4) {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 256];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            std::thread::sleep(Duration::from_millis(200));
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    });
    let (code, _, err) = run(bin().args([
        "list",
        "--db",
        &format!("postgres://nobody@127.0.0.1:{port}/none"),
    ]));
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!(
            "the server at 127.0.0.1:{port} is not a PostgreSQL server"
        )),
        "{err}"
    );
    assert!(!err.contains("expected to read"), "{err}");

    // --mkl-avx512 on the commands that train only.
    for cmd in ["run", "resume", "cv", "evaluate", "report", "bench"] {
        let (_, help, _) = run(bin().args([cmd, "--help"]));
        assert!(help.contains("--mkl-avx512"), "{cmd}");
    }
    for cmd in ["status", "list", "rank", "export", "plan", "delete", "copy"] {
        let (_, help, _) = run(bin().args([cmd, "--help"]));
        assert!(!help.contains("--mkl-avx512"), "{cmd}");
    }
    // plan never says "about 0 s".
    let spec = d.spec_with(
        "tiny",
        300,
        r#"{"epochs": 1, "neurons_1": 4, "neurons_2": 4, "neurons_3": 4}"#,
        "{}",
        "",
    );
    let (code, out, _) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 0);
    assert!(
        !out.contains("about 0 s") && out.contains("under a second"),
        "{out}"
    );
}

// ---------------------------------------------------------------- 7: passwords

/// The password a Slurm script leaves out reaches the tasks through PGPASSWORD or a
/// pgpass file, as the README says (the test server asks role gs_password for one).
#[test]
fn postgres_passwords_come_from_pgpassword_or_a_pgpass_file() {
    let Some((hostport, db)) = common::postgres_password_db("pw") else {
        return;
    };
    let d = Dir::new("new-user", "pgpass");
    let url = format!("postgres://gs_password@{hostport}/{db}");
    let list = |env: &[(&str, &str)]| {
        let mut c = bin();
        c.args(["list", "--db", &url])
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", d.path("none"));
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    };
    let (code, _, err) = list(&[]);
    assert_eq!(code, 2, "no password, no entry: {err}");
    assert!(err.contains("password"), "{err}");
    let (code, out, err) = list(&[("PGPASSWORD", "s3cret")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no sweeps"), "{out}");
    let pgpass = d.path("pgpass");
    let (host, port) = hostport.split_once(':').unwrap();
    std::fs::write(&pgpass, format!("{host}:{port}:{db}:gs_password:s3cret\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, _, err) = list(&[("PGPASSFILE", pgpass.to_str().unwrap())]);
    assert_eq!(code, 0, "{err}");
}

/// Specs that run but hold a likely mistake get a warning each, naming the key
/// (issue 41 frictions), while a spec that only sets a fixed default again in one
/// sub-grid gets none; `plan` of a race gives its fold-fits from the first stage's to
/// the most.
#[test]
fn plan_warns_of_likely_spec_mistakes_and_bounds_a_race() {
    let d = Dir::new("newuser", "spec-warnings");
    d.demo_data(150);
    let spec = d.path("w.json");
    std::fs::write(
        &spec,
        r#"{"name": "a/b", "dataset": {"path": "data-150.csv"}, "cv": {"folds": 3, "repeats": 2},
 "fixed": {"epochs": 2, "batch_size": 32, "epochs": 3, "neurons_1": 8},
 "grid": [{"dropout": ["0.2", 0.3], "neurons_1": [8]}, {"batch_size": [64], "neurons_1": [16]}],
 "search": {"strategy": "race", "max_repeats": 5, "min_folds": 9, "sample": 50}}"#,
    )
    .unwrap();
    let (code, out, err) = run(bin().arg("plan").arg(&spec));
    assert_eq!(code, 0, "{err}");
    for want in [
        "`fixed.epochs` is given twice in one object",
        "name \"a/b\" has a path separator",
        "fixed.neurons_1 (line 2) is set by every sub-grid too",
        "grid[0]: `dropout` \"0.2\" is text, read as the number 0.2",
        "search.max_repeats 5 is above cv.repeats 2",
        "search.min_folds 9 is above the 6 folds",
        "the search samples 50, more than the grid's 3 distinct trainings",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(err.matches("warning:").count(), 7, "{err}");
    assert!(
        out.contains("race: every configuration runs 6 folds first"),
        "{out}"
    );

    let fine = d.path("fine.json");
    std::fs::write(
        &fine,
        r#"{"name": "fine", "dataset": {"path": "data-150.csv"}, "cv": {"folds": 3, "repeats": 4},
 "fixed": {"epochs": 4, "neurons_1": 8},
 "grid": [{"dropout": [0.0, 0.1]}, {"dropout": [0.9], "epochs": [1]}],
 "search": {"strategy": "race"}}"#,
    )
    .unwrap();
    let (code, out, err) = run(bin().arg("plan").arg(&fine));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(
        out.contains("race: every configuration runs 2 folds first, then the ones left one more per stage while the top is undecided, up to 12 each: 6 to 36 fold-fits"),
        "{out}"
    );
}
