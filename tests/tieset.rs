//! The tie set in `rank` (issue 31, part 2), through the binary: a configuration that
//! cannot learn is credibly worse and leaves the set; near-equals stay in it with their
//! probabilities; the pick says why; bad settings are refused.

mod common;
use common::{bin, run, Dir};

use serde_json::Value;

#[test]
fn rank_gives_the_tie_set_and_the_pick() {
    let d = Dir::new("tieset", "rank");
    // Three that learn alike, one that barely trains (1 epoch, heavy dropout, tiny lr).
    let spec = d.spec_with(
        "t",
        300,
        r#"{"epochs": 6, "neurons_1": 16, "neurons_2": 16, "batch_size": 32}"#,
        r#"[{"dropout": [0.0, 0.1, 0.2]}, {"dropout": [0.9], "epochs": [1], "learning_rate": [1e-6]}]"#,
        "",
    );
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        r#""cv": {"folds": 3}"#,
        r#""cv": {"folds": 3, "repeats": 4}"#,
    );
    std::fs::write(&spec, text).unwrap();
    let db = d.path("t.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--quiet", "--jobs", "2"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(bin().args(["rank", "t", "--db", &db, "--json"]));
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let t = &r["tie_set"];
    let ranking = r["ranking"].as_array().unwrap();
    assert_eq!(t["leader"], ranking[0]["config_id"]);
    let bad = ranking.iter().find(|c| c["params"]["epochs"] == 1).unwrap()["config_id"].clone();
    let members: Vec<&Value> = t["members"].as_array().unwrap().iter().collect();
    assert!(
        !members.contains(&&bad),
        "the configuration that cannot learn is credibly worse: {t}"
    );
    assert!(members.contains(&&t["leader"]));
    let verdict = |id: &Value| {
        t["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| &v["config_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(verdict(&bad)["folds"], 12, "paired on all 12 folds");
    assert!(verdict(&bad)["p_not_worse"].as_f64().unwrap() < 0.05);
    assert_eq!(t["pick"], t["leader"]);
    assert_eq!(t["settings"]["prefer"], "score");

    // The table marks them and says what 12 folds can and cannot decide.
    let (code, out, _) = run(bin().args(["rank", "t", "--db", &db]));
    assert_eq!(code, 0);
    assert!(
        out.contains("tie set: ") && out.contains("leader") && out.contains("pick (score): "),
        "{out}"
    );
    assert!(!out.contains("decides little"), "four repeats: {out}");
    // --prefer smallest reads the data for parameter counts: the smallest tied network.
    let (code, out, err) =
        run(bin().args(["rank", "t", "--db", &db, "--json", "--prefer", "smallest"]));
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert!(
        s["tie_set"]["why"]
            .as_str()
            .unwrap()
            .contains("fewest parameters"),
        "{}",
        s["tie_set"]
    );
    let (code, _, err) = run(bin().args(["rank", "t", "--db", &db, "--confidence", "1.5"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--confidence 1.5"), "{err}");
}
