//! A recorded sweep's spec edited and run again: a changed `score` section is refused
//! (its summaries, tie set and staged decisions were made by the recorded rule), saying
//! how to rank by the new rule without training, and nothing recorded changes. Also
//! `evaluate --rank 0`.

mod common;
use common::{bin, run, Dir};

const TINY: &str =
    r#"{"epochs": 2, "neurons_1": 8, "neurons_2": 8, "neurons_3": 8, "batch_size": 64}"#;

#[test]
fn a_changed_score_section_is_refused_and_rank_shows_the_new_rule() {
    let d = Dir::new("spec-edits", "score");
    let db = d.db();
    let spec = d.spec_with("s", 240, TINY, r#"{"dropout": [0.1, 0.4]}"#, "");
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let before = run(bin().args(["export", "s", "--db", &db, "--format", "hpo-combined"])).1;
    let edited = d.spec_with(
        "s",
        240,
        TINY,
        r#"{"dropout": [0.1, 0.4]}"#,
        r#", "score": {"w1": 0.4, "delta": "relative"}"#,
    );
    let (code, _, err) = run(bin().arg("run").arg(&edited).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("score rule w1 0.5, w2 1, Δ absolute")
            && err.contains("w1 0.4, w2 1, Δ relative"),
        "{err}"
    );
    assert!(
        err.contains("gridsweep rank s --db") && err.contains("--w1 0.4 --w2 1 --delta relative"),
        "{err}"
    );
    assert_eq!(
        run(bin().args(["export", "s", "--db", &db, "--format", "hpo-combined"])).1,
        before,
        "nothing recorded changed"
    );
    // The suggested command ranks by the new rule.
    let (code, out, err) = run(bin().args([
        "rank", "s", "--db", &db, "--w1", "0.4", "--delta", "relative", "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["w1"].as_f64(), v["delta"].as_str()),
        (Some(0.4), Some("relative")),
        "{v}"
    );
    // The unchanged spec still continues (`spec_with` writes s.json anew).
    let spec = d.spec_with("s", 240, TINY, r#"{"dropout": [0.1, 0.4]}"#, "");
    let (code, _, err) = run(bin().arg("run").arg(&spec).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
}

/// Ranks start at 1, and `evaluate --rank 0` says so (it was taken as a rank).
#[test]
fn evaluate_rank_0_says_ranks_start_at_1() {
    let d = Dir::new("spec-edits", "rank0");
    let (code, _, err) = run(bin()
        .args(["evaluate", "--rank", "0", "--db"])
        .arg(d.path("none.db")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ranks start at 1"), "{err}");
}

/// A race's `prefer` picks among its tie set and decides nothing recorded: changing
/// it alone is taken (and `rank` picks by it), while another race setting is refused
/// (issue 41 frictions).
#[test]
fn a_race_takes_a_changed_prefer_and_refuses_other_changes() {
    let d = Dir::new("edits", "race-prefer");
    let fixed = r#"{"epochs": 2, "neurons_1": 8, "neurons_2": 8, "batch_size": 32}"#;
    let grid = r#"{"dropout": [0.0, 0.1]}"#;
    let with = |search: &str| {
        let p = d.spec_with("r", 150, fixed, grid, &format!(r#", "search": {search}"#));
        let text = std::fs::read_to_string(&p).unwrap().replace(
            r#""cv": {"folds": 3}"#,
            r#""cv": {"folds": 3, "repeats": 2}"#,
        );
        std::fs::write(&p, text).unwrap();
        p
    };
    let db = d.db();
    let first = with(r#"{"strategy": "race"}"#);
    let (code, _, err) = run(bin().arg("run").arg(&first).args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let smallest = with(r#"{"strategy": "race", "prefer": "smallest"}"#);
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&smallest)
        .args(["--db", &db, "--quiet"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(bin().args(["rank", "r", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pick (smallest)"), "{out}");
    let stricter = with(r#"{"strategy": "race", "prefer": "smallest", "confidence": 0.95}"#);
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&stricter)
        .args(["--db", &db, "--quiet"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("was run with search"), "{err}");
}
