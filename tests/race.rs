//! Racing (`"search": {"strategy": "race"}`, issue 31), through the binary: a race's
//! folds are a repeated grid's bit for bit; a configuration that cannot learn leaves at
//! the first barrier; kill -9 and resume, two processes and PostgreSQL end the race as
//! one uninterrupted process does; configurations that train the same network tie and
//! end the race as practically equivalent; `rank --json` carries the tie set.

mod common;
use common::{bin, exact_results, run, wait_for_done, Backend, Dir};

use serde_json::Value;
use std::process::Stdio;

const FIXED: &str = r#"{"epochs": 6, "neurons_1": 16, "neurons_2": 16, "batch_size": 32}"#;
/// Three that learn alike and one that cannot (one epoch at a learning rate of 1e-6).
const GRID: &str =
    r#"[{"dropout": [0.0, 0.1, 0.2]}, {"dropout": [0.9], "epochs": [1], "learning_rate": [1e-6]}]"#;

/// A spec of `rows` demo rows, 3-fold × 4 repeats, with `search`.
fn spec(d: &Dir, name: &str, rows: usize, fixed: &str, search: &str) -> std::path::PathBuf {
    let p = d.spec_with(name, rows, fixed, GRID, search);
    let text = std::fs::read_to_string(&p).unwrap().replace(
        r#""cv": {"folds": 3}"#,
        r#""cv": {"folds": 3, "repeats": 4}"#,
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// What a race decided: (complete ids, (dropped id, folds) sorted, the tie set's members, its pick).
fn outcome(db: &str, name: &str) -> (Vec<String>, Vec<(String, i64)>, Value, Value) {
    let r = json(bin().args(["rank", name, "--db", db, "--json", "--top", "0"]));
    let complete = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["config_id"].as_str().unwrap().to_string())
        .collect();
    let mut dropped: Vec<(String, i64)> = r["partial"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["config_id"].as_str().unwrap().to_string(),
                x["folds"].as_i64().unwrap(),
            )
        })
        .collect();
    dropped.sort();
    (
        complete,
        dropped,
        r["tie_set"]["members"].clone(),
        r["tie_set"]["pick"].clone(),
    )
}

/// A replayed race's dropped configurations with their folds, sorted.
fn dropped_of(race: &Value) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = race["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x[0].as_str().unwrap().to_string(), x[1].as_i64().unwrap()))
        .collect();
    v.sort();
    v
}

const RACE: &str = r#", "search": {"strategy": "race"}"#;
const BUDGETED: &str =
    r#", "search": {"strategy": "race", "confidence": 0.95, "budget": {"fold_fits": 16}}"#;

#[test]
fn a_race_drops_the_hopeless_and_its_folds_are_the_repeated_grids() {
    let d = Dir::new("race", "exact");
    let g = Dir::new("race", "exact-grid");
    let race = spec(&d, "r", 300, FIXED, RACE);
    let grid = spec(&g, "r", 300, FIXED, "");
    let (rdb, gdb) = (
        d.path("race.db").to_string_lossy().into_owned(),
        g.path("grid.db").to_string_lossy().into_owned(),
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&race)
        .args(["--db", &rdb, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("race: barrier 0 decided") && err.contains("left the race as credibly worse"),
        "{err}"
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&grid)
        .args(["--db", &gdb, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");

    let (complete, dropped, members, pick) = outcome(&rdb, "r");
    // The one that cannot learn left at the first barrier, after its first 2 folds (min_folds).
    let r = json(bin().args(["rank", "r", "--db", &gdb, "--json", "--top", "0"]));
    let hopeless = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["params"]["epochs"] == 1)
        .unwrap()["config_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(dropped.contains(&(hopeless.clone(), 2)), "{dropped:?}");
    assert!(!complete.is_empty());
    assert_eq!(pick, Value::String(complete[0].clone()));
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .all(|m| complete.contains(&m.as_str().unwrap().to_string())));
    // Every fold a race ran is the repeated grid's same fold, bit for bit.
    let ids: Vec<String> = complete
        .iter()
        .cloned()
        .chain(dropped.iter().map(|d| d.0.clone()))
        .collect();
    for id in &ids {
        let raced = exact_results(&rdb, "r", id);
        let all = exact_results(&gdb, "r", id);
        assert_eq!(all.len(), 12);
        assert!(!raced.is_empty() && raced.len() <= 12);
        assert_eq!(raced[..], all[..raced.len()], "{id}");
    }
    // The status tells its stages; a second run changes nothing.
    let (code, out, _) = run(bin().args(["status", "r", "--db", &rdb]));
    assert_eq!(code, 0);
    assert!(out.contains("race (stage 0: the first folds"), "{out}");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&race)
        .args(["--db", &rdb, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("this run: 0 done"), "{err}");
    assert_eq!(outcome(&rdb, "r"), (complete, dropped, members, pick));
}

/// While a barrier waits on its last folds, idle workers train the next folds of the
/// configurations in the race; the barrier keeps those of the ones that go on and
/// deletes the others', so the race records exactly what one worker (never idle at a
/// barrier) records.
#[test]
fn idle_workers_train_ahead_and_the_race_records_what_it_would_without() {
    let d = Dir::new("race", "ahead");
    let p = spec(&d, "a", 300, FIXED, RACE);
    let (many, one) = (
        d.path("many.db").to_string_lossy().into_owned(),
        d.path("one.db").to_string_lossy().into_owned(),
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &many, "--jobs", "4"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("train next folds ahead meanwhile"),
        "no barrier wait was filled: {err}"
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &one, "--jobs", "1", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&many, "a"), outcome(&one, "a"));
    let (complete, dropped, _, _) = outcome(&one, "a");
    for id in complete.iter().chain(dropped.iter().map(|d| &d.0)) {
        assert_eq!(
            exact_results(&many, "a", id),
            exact_results(&one, "a", id),
            "{id}"
        );
    }
    // Nothing speculative is left, and the fold rows are the same ones.
    let folds = |db: &str| {
        let mut f: Vec<(String, i64, String)> = common::folds(db, "a")
            .into_iter()
            .map(|x| (x.0, x.1, x.2))
            .collect();
        f.sort();
        f
    };
    assert_eq!(folds(&many), folds(&one));
}

#[test]
fn configurations_of_one_network_tie_and_end_the_race_as_equivalent() {
    let d = Dir::new("race", "tie");
    // num_hidden_layers 3 and 4 build the same network: one training, equal scores.
    let p = d.spec_with(
        "tie",
        300,
        FIXED,
        r#"{"num_hidden_layers": [3, 4], "neurons_4": [8]}"#,
        r#", "search": {"strategy": "race", "rope": 0.001}"#,
    );
    let text = std::fs::read_to_string(&p).unwrap().replace(
        r#""cv": {"folds": 3}"#,
        r#""cv": {"folds": 3, "repeats": 4}"#,
    );
    std::fs::write(&p, text).unwrap();
    let db = d.path("t.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (complete, dropped, members, _) = outcome(&db, "tie");
    assert_eq!(complete.len(), 2, "{complete:?}");
    assert!(dropped.is_empty());
    assert_eq!(members.as_array().unwrap().len(), 2);
    // Practically equivalent after the first barrier: no further fold was trained.
    assert_eq!(
        common::done_count(&db, "tie"),
        2,
        "one training of its first 2 folds"
    );
}

fn slow() -> &'static str {
    r#"{"epochs": 12, "neurons_1": 64, "neurons_2": 64, "batch_size": 16}"#
}

#[test]
fn kill_9_and_resume_end_the_race_as_an_uninterrupted_run_sqlite() {
    kill_9_and_resume(Backend::Sqlite);
}

#[test]
fn kill_9_and_resume_end_the_race_as_an_uninterrupted_run_postgres() {
    kill_9_and_resume(Backend::Postgres);
}

fn kill_9_and_resume(backend: Backend) {
    let d = Dir::new("race", &format!("kill-{backend:?}"));
    let Some(db) = d.db_on(backend, "k") else {
        return;
    };
    let Some(clean) = d.db_on(backend, "c") else {
        return;
    };
    let p = spec(&d, "k", 900, slow(), RACE);
    let mut child = bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &db, "--jobs", "2", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_done(&db, "k", 5, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, _, err) = run(bin().args(["resume", "k", "--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &clean, "--jobs", "1", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&db, "k"), outcome(&clean, "k"));
    for id in outcome(&clean, "k").0 {
        assert_eq!(
            exact_results(&db, "k", &id),
            exact_results(&clean, "k", &id)
        );
    }
}

#[test]
fn two_processes_end_the_race_as_one_does_sqlite() {
    two_processes(Backend::Sqlite);
}

#[test]
fn two_processes_end_the_race_as_one_does_postgres() {
    two_processes(Backend::Postgres);
}

fn two_processes(backend: Backend) {
    let d = Dir::new("race", &format!("two-{backend:?}"));
    let Some(db) = d.db_on(backend, "two") else {
        return;
    };
    let Some(one) = d.db_on(backend, "one") else {
        return;
    };
    // With a budget that ends it after a few more barriers (issue 42.2).
    let p = spec(&d, "two", 300, FIXED, BUDGETED);
    let a = bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &db, "--jobs", "1", "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &db, "--jobs", "1", "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (oa, ob) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        oa.status.success(),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert!(
        ob.status.success(),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );
    let f = common::folds(&db, "two");
    assert!(
        f.iter().all(|x| x.2 == "done" && x.3 == 1),
        "a fold was claimed twice: {f:?}"
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &one, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&db, "two"), outcome(&one, "two"));
}

#[test]
fn race_settings_are_checked_by_key() {
    let d = Dir::new("race", "keys");
    for (search, key, says) in [
        (
            r#", "search": {"strategy": "race", "confidence": 1.2}"#,
            "search.confidence",
            "a probability in (0.5, 1)",
        ),
        (
            r#", "search": {"strategy": "race", "min_folds": 1}"#,
            "search.min_folds",
            "an integer ≥ 2",
        ),
        (
            r#", "search": {"strategy": "race", "prefer": "cheapest"}"#,
            "search.prefer",
            "one of score, smallest, fastest",
        ),
        (
            r#", "search": {"strategy": "race", "factor": 3}"#,
            "search.factor",
            "not a key of strategy race",
        ),
    ] {
        let p = spec(&d, "bad", 300, FIXED, search);
        let (code, _, err) = run(bin().arg("plan").arg(&p));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(key) && err.contains(says), "{search}: {err}");
    }
}

#[test]
fn replay_of_a_race_on_a_repeated_grid_is_the_real_race() {
    let d = Dir::new("race", "replay");
    let g = Dir::new("race", "replay-grid");
    let race = spec(&d, "r", 300, FIXED, RACE);
    let grid = spec(&g, "r", 300, FIXED, "");
    let (rdb, gdb) = (
        d.path("race.db").to_string_lossy().into_owned(),
        g.path("grid.db").to_string_lossy().into_owned(),
    );
    for (p, db) in [(&race, &rdb), (&grid, &gdb)] {
        let (code, _, err) = run(bin()
            .arg("run")
            .arg(p)
            .args(["--db", db, "--jobs", "2", "--quiet"]));
        assert_eq!(code, 0, "{err}");
    }
    let (complete, dropped, members, pick) = outcome(&rdb, "r");
    let r = json(bin().args([
        "replay",
        "r",
        "--db",
        &gdb,
        "--json",
        "--strategy",
        r#"{"strategy": "race"}"#,
    ]));
    let replayed = &r["race"];
    let mut left: Vec<String> = replayed["left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    let mut real = complete.clone();
    left.sort();
    real.sort();
    assert_eq!(left, real);
    let rdropped = dropped_of(replayed);
    assert_eq!(rdropped, dropped);
    assert_eq!(replayed["tie_set"]["members"], members);
    assert_eq!(replayed["tie_set"]["pick"], pick);
    // The fold-fits are those the race ran.
    assert_eq!(
        replayed["fold_fits"].as_u64().unwrap() as usize,
        common::done_count(&rdb, "r")
    );

    // Held out: strategies see repeats 0-1 and are judged on 2-3.
    for strategy in [r#"{"strategy": "race"}"#, r#"{"strategy": "grid"}"#] {
        let h = json(bin().args([
            "replay",
            "r",
            "--db",
            &gdb,
            "--json",
            "--seen",
            "2",
            "--sample",
            "3",
            "--repeats",
            "20",
            "--strategy",
            strategy,
        ]));
        let h = &h["held_out"];
        assert_eq!(h["repeats"], 20);
        assert!(h["mean_regret"].as_f64().unwrap() >= 0.0);
        let share = h["pick_in_truth_ties"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
        let ratio = h["fold_fit_ratio"].as_f64().unwrap();
        let left = h["mean_left"].as_f64().unwrap();
        if strategy.contains("grid") {
            assert_eq!(ratio, 1.0);
            assert_eq!(left, 1.0, "the grid leaves its one pick");
        } else {
            assert!(ratio > 0.0 && ratio <= 2.0, "{h}");
            assert!(
                (1.0..=3.0).contains(&left),
                "a race leaves its tie set, 1 to 3 of a sample of 3: {h}"
            );
        }
    }
    let (code, _, err) = run(bin().args([
        "replay",
        "r",
        "--db",
        &gdb,
        "--seen",
        "4",
        "--strategy",
        r#"{"strategy": "race"}"#,
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--seen 4") && err.contains("leave one unseen"),
        "{err}"
    );
    // A race that may see more repeats than --seen leaves it: refused, not capped.
    let (code, _, err) = run(bin().args([
        "replay",
        "r",
        "--db",
        &gdb,
        "--seen",
        "2",
        "--sample",
        "3",
        "--strategy",
        r#"{"strategy": "race", "max_repeats": 3}"#,
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--seen 2 with a race of max_repeats 3"),
        "{err}"
    );
}

/// `rerun --race` races a sweep's best over the repeats (issue 31, part 4's way of
/// answering the study): the new sweep is a race, the hopeless leave after their first
/// folds, and it ends with a tie set and a pick by `--prefer`.
#[test]
fn rerun_race_races_the_best_of_a_sweep_and_ends_with_a_tie_set() {
    let d = Dir::new("race", "rerun");
    let grid = d.spec_with("g", 300, FIXED, GRID, "");
    let db = d.path("r.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&grid)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(bin().args([
        "rerun",
        "g",
        "--top",
        "4",
        "--repeats",
        "3",
        "--race",
        "--prefer",
        "smallest",
        "--db",
        &db,
        "--jobs",
        "2",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("racing the best 4 of sweep g as sweep g-race-4x3 (3-fold × 3 repeats: 9 folds each at most)"), "{out}");
    assert!(err.contains("race: barrier 0 decided"), "{err}");
    // A configuration whose stage is done is not called complete: a barrier may send it on.
    assert!(
        err.contains(" done with this stage: score ") && !err.contains(" complete: score "),
        "{err}"
    );
    let (complete, dropped, members, pick) = outcome(&db, "g-race-4x3");
    let r = json(bin().args(["rank", "g", "--db", &db, "--json", "--top", "0"]));
    let hopeless = r["ranking"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["params"]["epochs"] == 1)
        .unwrap()["config_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(dropped.contains(&(hopeless, 2)), "{dropped:?}");
    assert!(
        !members.as_array().unwrap().is_empty()
            && complete.contains(&pick.as_str().unwrap().to_string())
    );
    let t = json(bin().args(["rank", "g-race-4x3", "--db", &db, "--json"]));
    assert_eq!(
        t["tie_set"]["settings"]["prefer"], "smallest",
        "{}",
        t["tie_set"]
    );
    let why = t["tie_set"]["why"].as_str().unwrap();
    assert!(
        why.contains("fewest parameters") || why.contains("the only configuration"),
        "{why}"
    );
    // A race adds repeats itself where the top is undecided: rank does not advise them.
    let (code, out, err) = run(bin().args(["rank", "g-race-4x3", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tie set:") && !out.contains("decides little"),
        "{out}"
    );
    let (code, out, _) = run(bin().args(["status", "g-race-4x3", "--db", &db]));
    assert_eq!(code, 0);
    assert!(out.contains("race (stage 0"), "{out}");
    // --prefer without --race is refused by the parser, naming both.
    let (code, _, err) = run(bin().args(["rerun", "g", "--prefer", "smallest", "--db", &db]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--race"), "{err}");
}

/// `bench-scheduler --search` simulates a race through the real dispatcher and store:
/// every fold its barriers created runs once, some configurations leave early (the
/// simulated scores differ by configuration and fold), and the idle share is reported.
#[test]
fn bench_scheduler_simulates_a_race() {
    let out = json(bin().args([
        "bench-scheduler",
        "--processes",
        "2",
        "--workers-per-process",
        "2",
        "--folds",
        "80",
        "--work-ms",
        "60",
        "--epochs",
        "9",
        "--search",
        r#"{"strategy": "race"}"#,
        "--json",
    ]));
    let c = &out["cases"][0];
    assert_eq!(c["double_claims"], 0, "{out}");
    assert_eq!(c["not_done"], 0, "{out}");
    // 20 configurations of 4 folds × 3 repeats: each starts with 2 folds, and not all go on to all 12.
    let folds = c["folds"].as_u64().unwrap();
    assert!((40..240).contains(&folds), "{out}");
    assert_eq!(c["fold_epochs"].as_u64().unwrap(), folds * 9, "{out}");
    let idle = c["idle_share_after_start"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&idle), "{out}");
}

/// A race over a seeded random draw of the grid races only the drawn configurations, and
/// `copy` moves a finished race to another database with its decisions: `rank` there
/// gives the same survivors, drops, tie set and pick, and `status` the same stages.
#[test]
fn a_raced_random_draw_copies_with_its_decisions() {
    let d = Dir::new("race", "sample-copy");
    let race = spec(
        &d,
        "s",
        300,
        FIXED,
        r#", "search": {"strategy": "race", "sample": 3, "seed": 5}"#,
    );
    let (db, other) = (
        d.path("a.db").to_string_lossy().into_owned(),
        d.path("b.db").to_string_lossy().into_owned(),
    );
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&race)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (complete, dropped, members, pick) = outcome(&db, "s");
    assert_eq!(
        complete.len() + dropped.len(),
        3,
        "{complete:?} {dropped:?}"
    );
    let (code, _, err) = run(bin().args(["copy", "s", "--from", &db, "--to", &other]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(outcome(&other, "s"), (complete, dropped, members, pick));
    let status = |db: &str| {
        let (code, out, _) = run(bin().args(["status", "s", "--db", db]));
        assert_eq!(code, 0);
        out.lines()
            .filter(|l| l.contains("stage"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let here = status(&db);
    assert!(!here.is_empty());
    assert_eq!(here, status(&other));
}

/// The race's rung plot draws stages (issue 41.10): its title, ticks in folds, the
/// configurations still in the race at its end as finished squares, the dropped ones
/// light; the report's captions speak of the race. A finished race run again says it
/// is over (41.15).
#[test]
fn a_race_report_draws_stages_and_a_finished_race_says_it_is_over() {
    let d = Dir::new("race", "plot");
    let p = spec(&d, "r", 300, FIXED, RACE);
    let db = d.db();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&p)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(bin().arg("run").arg(&p).args(["--db", &db, "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("race: the race is over; nothing is left to train"),
        "{err}"
    );
    assert!(!err.contains("stage -"), "{err}");
    // Every stage's folds in `status --json`, a decided stage's all done.
    let st = json(bin().args(["status", "r", "--db", &db, "--json"]));
    for r in st["rungs"].as_array().unwrap() {
        let (folds, done) = (
            r["folds"].as_i64().unwrap(),
            r["folds_done"].as_i64().unwrap(),
        );
        assert_eq!(r["decided"], true, "{st}");
        assert_eq!(
            folds,
            r["configurations"].as_i64().unwrap() * (2 + r["rung"].as_i64().unwrap()),
            "{st}"
        );
        assert_eq!(done, folds);
    }
    let (complete, dropped, _, _) = outcome(&db, "r");
    let out = d.path("report");
    let (code, _, err) = run(bin()
        .args([
            "report", "r", "--epochs", "2", "--quiet", "--top", "1", "--db", &db, "--out",
        ])
        .arg(&out));
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(out.join("img/rungs.svg")).unwrap();
    assert!(
        svg.contains("Race: score per configuration per stage"),
        "{svg}"
    );
    assert!(svg.contains("stage 0 (2 folds)"), "{svg}");
    assert!(!svg.contains("ep.)") && !svg.contains("halving"), "{svg}");
    // One finished square per configuration still in the race at its end.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let squares = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("width") == Some("8"))
        .count();
    assert_eq!(squares, complete.len(), "{svg}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("Race: each configuration"),
        "race caption missing"
    );
    if !dropped.is_empty() {
        assert!(
            html.contains("rings are those the race dropped"),
            "scatter caption"
        );
        let scatter = std::fs::read_to_string(out.join("img/hpo-scatter.svg")).unwrap();
        assert!(scatter.contains("dropped after 2 folds"), "{scatter}");
    }
    assert!(
        !html.contains("successive halving"),
        "halving named in a race's report"
    );
}

/// `delete --force` while a race runs: the run stops and says the sweep was deleted,
/// with exit 2 (issue 41.13).
#[test]
fn a_race_deleted_while_it_runs_stops_and_says_so() {
    let d = Dir::new("race", "deleted");
    let p = spec(&d, "r", 300, FIXED, RACE);
    let db = d.db();
    let child = bin()
        .arg("run")
        .arg(&p)
        .args([
            "--db",
            &db,
            "--jobs",
            "2",
            "--quiet",
            "--simulate-ms",
            "700",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    wait_for_done(&db, "r", 2, &mut child);
    let (code, _, err) = run(bin().args(["delete", "r", "--db", &db, "--force"]));
    assert_eq!(code, 0, "{err}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("sweep `r` was deleted from") && err.contains("the run stopped"),
        "{err}"
    );
}

/// `replay` of a race on a race's sweep gets as far as that race went: its dropped
/// configurations count, with their folds (issue 41.14); on an imported repeated
/// cross-validation (cv-results, no histories) it replays as on the grid it came
/// from (41.11).
#[test]
fn replaying_a_race_on_a_race_and_on_an_import() {
    let d = Dir::new("race", "replays");
    let race = spec(&d, "r", 300, FIXED, RACE);
    let grid = d.path("g.json");
    std::fs::write(
        &grid,
        std::fs::read_to_string(&race)
            .unwrap()
            .replace(RACE, "")
            .replace(r#""name": "r""#, r#""name": "g""#),
    )
    .unwrap();
    let db = d.db();
    for p in [&race, &grid] {
        let (code, _, err) = run(bin()
            .arg("run")
            .arg(p)
            .args(["--db", &db, "--jobs", "2", "--quiet"]));
        assert_eq!(code, 0, "{err}");
    }
    let strategy = r#"{"strategy": "race"}"#;
    let replay = |name: &str| {
        json(bin().args([
            "replay",
            name,
            "--db",
            &db,
            "--strategy",
            strategy,
            "--json",
        ]))["race"]
            .clone()
    };
    let (complete, dropped, _, _) = outcome(&db, "r");
    let on_race = replay("r");
    let mut left: Vec<String> = on_race["left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    left.sort();
    let mut want = complete.clone();
    want.sort();
    assert_eq!(left, want, "{on_race}");
    let gone = dropped_of(&on_race);
    assert_eq!(gone, dropped);
    let done = common::done_count(&db, "r");
    assert_eq!(
        on_race["fold_fits"].as_u64().unwrap() as usize,
        done,
        "{on_race}"
    );
    // The grid exported, imported as 3-fold × 4 and raced: as the grid itself.
    let file = d.path("g.csv");
    let (code, _, err) = run(bin()
        .args([
            "export",
            "g",
            "--db",
            &db,
            "--format",
            "cv-results",
            "--out",
        ])
        .arg(&file));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(bin()
            .arg("import")
            .arg(&file)
            .args(["--name", "gi", "--db", &db, "--cv-folds", "3"]));
    assert_eq!(code, 0, "{err}");
    let (on_grid, on_import) = (replay("g"), replay("gi"));
    // (The import's ids are its own: without --spec its unstated keys are defaults.)
    let scores = |v: &Value| -> Vec<f64> {
        v["tie_set"]["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["score"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(scores(&on_grid), scores(&on_import));
    assert_eq!(
        on_grid["dropped"].as_array().unwrap().len(),
        on_import["dropped"].as_array().unwrap().len()
    );
    for key in ["folds", "fold_fits"] {
        assert_eq!(on_grid[key], on_import[key], "{key}: {on_grid} {on_import}");
    }
    assert_eq!(
        on_grid["left"].as_array().unwrap().len(),
        on_import["left"].as_array().unwrap().len()
    );
}

/// One ranking rule (issue 42.1): under the relative Δ and under w1 0.4, `rank`'s first
/// row is the race's leader (its tie set's and its pick, by score), and the race's
/// replay ends as the race did.
#[test]
fn rank_puts_the_race_leader_first_under_other_rules_and_replay_agrees() {
    for (tag, score) in [
        ("relative", r#""score": {"delta": "relative"}"#),
        ("w1", r#""score": {"w1": 0.4}"#),
    ] {
        let d = Dir::new("race", &format!("rule-{tag}"));
        let p = spec(
            &d,
            "r",
            300,
            FIXED,
            &format!(r#", "search": {{"strategy": "race"}}, {score}"#),
        );
        let db = d.db();
        let (code, _, err) = run(bin()
            .arg("run")
            .arg(&p)
            .args(["--db", &db, "--jobs", "2", "--quiet"]));
        assert_eq!(code, 0, "{err}");
        let r = json(bin().args(["rank", "r", "--db", &db, "--json", "--top", "0"]));
        let first = r["ranking"][0]["config_id"].clone();
        assert_eq!(r["tie_set"]["leader"], first, "{tag}: {r}");
        assert_eq!(r["tie_set"]["pick"], first, "{tag}: {r}");
        // The ranking is by the score of the mean accuracies, descending.
        let scores: Vec<f64> = r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["score"].as_f64().unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{tag}: {scores:?}");
        let replay = json(bin().args([
            "replay",
            "r",
            "--db",
            &db,
            "--strategy",
            r#"{"strategy": "race"}"#,
            "--json",
        ]))["race"]
            .clone();
        assert_eq!(replay["tie_set"]["leader"], first, "{tag}: {replay}");
        let mut left: Vec<Value> = replay["left"].as_array().unwrap().clone();
        let mut complete: Vec<Value> = r["ranking"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["config_id"].clone())
            .collect();
        left.sort_by_key(|v| v.to_string());
        complete.sort_by_key(|v| v.to_string());
        assert_eq!(left, complete, "{tag}");
        assert_eq!(
            replay["fold_fits"].as_u64().unwrap() as usize,
            common::done_count(&db, "r"),
            "{tag}"
        );
    }
}

/// `replay` takes `rank`'s scoring options (issue 42.2): a race replayed with
/// `--w1 0.4 --delta relative` on a repeated grid leads with the configuration `rank`
/// puts first under those options, and ends as a real race under that rule.
#[test]
fn replay_takes_ranks_scoring_options() {
    let d = Dir::new("race", "replay-rule");
    let grid = spec(&d, "g", 300, FIXED, "");
    let db = d.db();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&grid)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let opts = ["--w1", "0.4", "--delta", "relative"];
    let replay = json(
        bin()
            .args([
                "replay",
                "g",
                "--db",
                &db,
                "--strategy",
                r#"{"strategy": "race"}"#,
                "--json",
            ])
            .args(opts),
    )["race"]
        .clone();
    let r = d.path("r.json");
    std::fs::write(
        &r,
        std::fs::read_to_string(&grid)
            .unwrap()
            .replace(r#""name": "g""#, r#""name": "r""#)
            .replace(r#""grid": "#, r#""search": {"strategy": "race"}, "score": {"w1": 0.4, "delta": "relative"}, "grid": "#),
    )
    .unwrap();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&r)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (_, dropped, members, pick) = outcome(&db, "r");
    assert_eq!(replay["tie_set"]["pick"], pick, "{replay}");
    assert_eq!(replay["tie_set"]["members"], members, "{replay}");
    let gone = dropped_of(&replay);
    assert_eq!(gone, dropped);
    let (code, _, err) = run(bin().args([
        "replay",
        "g",
        "--db",
        &db,
        "--strategy",
        r#"{"strategy": "race"}"#,
        "--w1",
        "-1",
    ]));
    assert_eq!(code, 2, "{err}");
}

/// A race with a budget (issue 42.2): `plan` gives it; one that cannot pay for its
/// first stage is refused by `plan` and `run` with nothing recorded; a race that
/// drops the hopeless spends what it saved on further stages for the ones left, stops
/// within the budget, and its replay on the repeated grid (and held out, over
/// rotations of the held-out repeats, beside the grid of 1 and 2 repeats) ends as it did.
#[test]
fn a_race_with_a_budget_spends_what_dropping_saves_and_replays_exactly() {
    let d = Dir::new("race", "budget");
    let db = d.db();
    let search = |b: &str| {
        format!(r#", "search": {{"strategy": "race", "confidence": 0.95, "budget": {b}}}"#)
    };
    // 4 configurations × 2 first folds = 8 > 0.5 × 12.
    let small = spec(&d, "small", 300, FIXED, &search("0.5"));
    for args in [vec!["plan"], vec!["run", "--db", &db]] {
        let (code, _, err) = run(bin().args(&args[..1]).arg(&small).args(&args[1..]));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("search.budget") && err.contains("below the 8 of the race's first stage"),
            "{err}"
        );
        assert_eq!(err.matches("search.budget").count(), 1, "once: {err}");
        // Named as the parser names a spec's mistakes: the file, the key, its line.
        assert!(
            err.contains(&format!("{}: search.budget (line ", small.display())),
            "{err}"
        );
    }
    // A budget object's unknown key is named; a multiple past a million grids is a slip.
    for (budget, says) in [
        (
            r#"{"foldfits": 16}"#,
            "`foldfits` is not a key of a budget object",
        ),
        ("1e30", "(at most 1e6)"),
    ] {
        let bad = spec(&d, "bad", 300, FIXED, &search(budget));
        let (code, _, err) = run(bin().arg("plan").arg(&bad));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("search.budget") && err.contains(says),
            "{budget}: {err}"
        );
    }
    assert_eq!(common::done_count(&db, "small"), 0);
    let race = spec(&d, "b", 300, FIXED, &search(r#"{"fold_fits": 16}"#));
    let (code, out, err) = run(bin().arg("plan").arg(&race));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "within its budget of 16 fold-fits: 8 to 16 fold-fits (a plain 3-fold grid: 12)"
        ),
        "{out}"
    );
    let plan = json(bin().arg("plan").arg(&race).arg("--json"));
    assert_eq!(plan["race"]["budget_fold_fits"], 16, "{}", plan["race"]);
    assert_eq!(plan["race"]["least_fold_fits"], 8);
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&race)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let spent = common::done_count(&db, "b");
    assert!(spent <= 16, "within the budget: {spent}");
    // The hopeless one leaves at the first barrier; the fold-fits it saved went to
    // further stages of the others, past the plain grid's 12.
    assert!(spent > 12, "{spent}");
    let (complete, dropped, members, pick) = outcome(&db, "b");
    let grid = spec(&d, "g", 300, FIXED, "");
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&grid)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let strategy = r#"{"strategy": "race", "confidence": 0.95, "budget": {"fold_fits": 16}}"#;
    let r = json(bin().args(["replay", "g", "--db", &db, "--json", "--strategy", strategy]));
    let r = &r["race"];
    assert_eq!(r["fold_fits"].as_u64().unwrap() as usize, spent, "{r}");
    assert_eq!(r["tie_set"]["members"], members);
    assert_eq!(r["tie_set"]["pick"], pick);
    let gone = dropped_of(r);
    assert_eq!(gone, dropped);
    assert_eq!(r["left"].as_array().unwrap().len(), complete.len());
    let ended = r["ended"].as_str().unwrap();
    assert!(ended.contains("the budget"), "{ended}");
    // Replayed on its own sweep (the held configuration has one fold fewer than the
    // leaders): the same end.
    let own = json(bin().args(["replay", "b", "--db", &db, "--json", "--strategy", strategy]));
    let own = &own["race"];
    assert_eq!(own["fold_fits"], r["fold_fits"], "{own}");
    assert_eq!(own["tie_set"]["members"], r["tie_set"]["members"]);
    assert_eq!(own["tie_set"]["pick"], r["tie_set"]["pick"]);
    assert_eq!(own["ended"], r["ended"]);
    assert_eq!(dropped_of(own), gone);

    // Held out over rotations: 4 repeats, 2 seen: the 6 ways to hold out 2.
    let rotated = |strategy: &str| {
        json(bin().args([
            "replay",
            "g",
            "--db",
            &db,
            "--json",
            "--seen",
            "2",
            "--sample",
            "3",
            "--repeats",
            "10",
            "--rotations",
            "10",
            "--strategy",
            strategy,
        ]))
    };
    let budgeted = rotated(r#"{"strategy": "race", "budget": 1.0}"#);
    let rs = budgeted["rotations"].as_array().unwrap();
    assert_eq!(rs.len(), 6);
    assert_eq!(rs[0]["held_out"], serde_json::json!([0, 1]));
    assert_eq!(rs[5]["held_out"], serde_json::json!([2, 3]));
    for r in rs {
        assert!(r["fold_fit_ratio"].as_f64().unwrap() <= 1.0, "{r}");
        assert_eq!(r["repeats"], 10);
    }
    let spread = &budgeted["mean_regret"];
    assert!(spread["min"].as_f64().unwrap() <= spread["mean"].as_f64().unwrap());
    assert!(spread["mean"].as_f64().unwrap() <= spread["max"].as_f64().unwrap());
    let two = rotated(r#"{"strategy": "grid", "repeats": 2}"#);
    for r in two["rotations"].as_array().unwrap() {
        assert_eq!(r["fold_fit_ratio"].as_f64().unwrap(), 2.0, "{r}");
    }
    let (code, _, err) = run(bin().args([
        "replay",
        "g",
        "--db",
        &db,
        "--seen",
        "2",
        "--sample",
        "3",
        "--strategy",
        r#"{"strategy": "grid", "repeats": 3}"#,
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("grid of 3 repeat(s)"), "{err}");
}
