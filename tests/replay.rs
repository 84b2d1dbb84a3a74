//! Replay (issue 21): a search strategy evaluated on a sweep's recorded full runs gives
//! what a real run of the strategy gives, without training.

mod common;
use common::{bin, rt, run, Dir};

use gridsweep::domain::RungScore;
use serde_json::Value;

fn json(cmd: &mut std::process::Command) -> Value {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// 12 configurations under the notebook protocol, some early-stopping; halving from
/// 2 epochs by 3: rungs at 2, 6 and 12 epochs.
const FIXED: &str = r#"{"protocol": "notebook", "epochs": 12, "early_stopping_patience": 3, "neurons_1": 24, "neurons_2": 24, "neurons_3": 24, "batch_size": 32}"#;
const GRID: &str =
    r#"{"dropout": [0.1, 0.4, 0.6], "learning_rate": [0.03, 0.003], "num_hidden_layers": [1, 2]}"#;
const HALVING: &str = r#"{"strategy": "halving", "factor": 3, "min_epochs": 2}"#;

fn rung_scores(db: &str, name: &str) -> Vec<RungScore> {
    rt().block_on(async {
        let store = gridsweep::store::Store::open(db).await.unwrap();
        let s = store.sweep_by_name(name).await.unwrap().unwrap();
        let r = store.rung_scores(s.id).await.unwrap();
        store.close().await;
        r
    })
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["config_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn replay_gives_a_real_halving_runs_rung_scores_and_survivors() {
    let d = Dir::new("replay", "exact");
    let grid = d.spec_with("full", 600, FIXED, GRID, "");
    let halving = d.spec_with(
        "halving",
        600,
        FIXED,
        GRID,
        &format!(r#", "search": {HALVING}"#),
    );
    let db = d.path("r.db").to_string_lossy().into_owned();
    for spec in [&grid, &halving] {
        let (code, _, err) = run(bin()
            .arg("run")
            .arg(spec)
            .args(["--db", &db, "--jobs", "2", "--quiet"]));
        assert_eq!(code, 0, "{err}");
    }

    let replayed = json(bin().args([
        "replay",
        "full",
        "--db",
        &db,
        "--strategy",
        HALVING,
        "--json",
    ]));
    let o = &replayed["outcome"];
    let got: Vec<RungScore> = serde_json::from_value(o["rung_scores"].clone()).unwrap();
    let mut got = got;
    got.sort_by(|a, b| (a.rung, &a.config_id).cmp(&(b.rung, &b.config_id)));
    let real = rung_scores(&db, "halving");
    assert_eq!(real.len(), 12 + 4 + 2, "{real:?}");
    // Every rung score, bit for bit (JSON carries f64 exactly), and every promotion.
    assert_eq!(got, real);

    // The survivors: what the real run trained to its end is what the replay did, and
    // its winner is the real run's rank 1.
    let r = json(bin().args(["rank", "halving", "--db", &db, "--json", "--top", "0"]));
    let complete = ids(&r["ranking"]);
    assert_eq!(o["winner"][0].as_str().unwrap(), complete[0]);
    assert_eq!(
        o["winner"][1].as_f64().unwrap(),
        r["ranking"][0]["score"].as_f64().unwrap()
    );
    // The full runs' best and the fold-epochs a real run spends.
    let full = json(bin().args(["rank", "full", "--db", &db, "--json", "--top", "1"]));
    assert_eq!(
        o["best"][0].as_str().unwrap(),
        full["ranking"][0]["config_id"].as_str().unwrap()
    );
    let regret = o["regret"].as_f64().unwrap();
    assert!(regret >= 0.0, "{o}");
    let (spent, all) = (
        o["fold_epochs"].as_u64().unwrap(),
        o["full_fold_epochs"].as_u64().unwrap(),
    );
    assert!(spent < all, "{o}");

    // The text form and random sub-samples.
    let (code, out, err) = run(bin().args(["replay", "full", "--db", &db, "--strategy", HALVING]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("fold-epochs trained") && out.contains("winner"),
        "{out}"
    );
    let many = json(bin().args([
        "replay",
        "full",
        "--db",
        &db,
        "--strategy",
        HALVING,
        "--sample",
        "6",
        "--repeats",
        "20",
        "--json",
    ]));
    let s = &many["summary"];
    assert_eq!(s["repeats"], 20);
    assert!(
        s["within_0002"].as_f64().unwrap() <= 1.0 && s["fold_epoch_share"].as_f64().unwrap() < 1.0,
        "{s}"
    );
    // Reproducible with the same seed.
    assert_eq!(
        many,
        json(bin().args([
            "replay",
            "full",
            "--db",
            &db,
            "--strategy",
            HALVING,
            "--sample",
            "6",
            "--repeats",
            "20",
            "--json"
        ]))
    );

    // Hyperband on the same runs: brackets that start at each rung.
    let hb = json(bin().args([
        "replay",
        "full",
        "--db",
        &db,
        "--strategy",
        r#"{"strategy": "hyperband", "factor": 3, "min_epochs": 2}"#,
        "--json",
    ]));
    let brackets: std::collections::BTreeSet<i64> = hb["outcome"]["rung_scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["bracket"].as_i64().unwrap())
        .collect();
    assert!(brackets.len() >= 2, "{hb}");
    assert!(hb["outcome"]["winner"].is_array(), "{hb}");
}

#[test]
fn replay_refuses_what_it_cannot_replay_exactly() {
    let d = Dir::new("replay", "refused");
    let fixed = r#"{"epochs": 4, "neurons_1": 16, "neurons_2": 16, "batch_size": 64}"#;
    let spec = d.spec_with("gs", 300, fixed, r#"{"dropout": [0.1, 0.4]}"#, "");
    let db = d.path("r.db").to_string_lossy().into_owned();
    let (code, _, err) = run(bin()
        .arg("run")
        .arg(&spec)
        .args(["--db", &db, "--jobs", "2", "--quiet"]));
    assert_eq!(code, 0, "{err}");
    // The gridsearchcv protocol scores a stopped fold on weights its history lacks.
    let (code, _, err) = run(bin().args(["replay", "gs", "--db", &db, "--strategy", HALVING]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("gridsearchcv protocol") && err.contains("notebook"),
        "{err}"
    );
    // A strategy that is not one is named.
    let (code, _, err) = run(bin().args([
        "replay",
        "gs",
        "--db",
        &db,
        "--strategy",
        r#"{"strategy": "halving", "factor": 1, "min_epochs": 2}"#,
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("factor"), "{err}");
    assert_eq!(err.matches("gridsweep:").count(), 1, "printed once: {err}");
}

/// A halving sweep made through the store, its rung 1 ranking its three
/// configurations as rung 0 did (`agree`) or the other way round.
fn sweep_with_rungs(db: &str, agree: bool) {
    use gridsweep::config::Config;
    use gridsweep::domain::{Owner, RungStep};
    use gridsweep::fold::FoldResult;
    use gridsweep::params::HyperParams;
    use gridsweep::search::{plan_rung, Halving};
    use gridsweep::store::Store;
    let h = Halving {
        factor: 3,
        min_epochs: 2,
    };
    let spec = r#"{"name": "w", "dataset": {"path": "builtin:demo"}, "cv": {"folds": 1}, "grid": {"dropout": [0.1]},
                   "search": {"strategy": "halving", "factor": 3, "min_epochs": 2}}"#;
    let rule = gridsweep::score::ScoreRule::default();
    let summarize = |f: &[FoldResult]| gridsweep::score::summarize(f, &rule);
    let result = |epochs: u32, val: f64| FoldResult {
        train_accuracy: val,
        train_loss: 1.0,
        val_accuracy: val,
        val_loss: 1.0,
        epochs_run: epochs,
        final_learning_rate: 0.001,
        fit_seconds: 1.0,
        score_seconds: 0.0,
        scored_epoch: epochs,
        history: Vec::new(),
        partial: true,
        fused: 1,
    };
    rt().block_on(async {
        let store = Store::open(db).await.unwrap();
        let s = store.ensure_sweep("w", spec, "fp", 1, 42).await.unwrap();
        let configs: Vec<Config> = (0..9)
            .map(|i| {
                Config::new(HyperParams {
                    epochs: 18,
                    learning_rate: 1e-3 * (i + 1) as f64,
                    ..HyperParams::default()
                })
            })
            .collect();
        let rung0 = |_: &Config| (0i64, Some(2i64));
        store
            .add_configs_with(s.id, &configs, 1, Some(&rung0))
            .await
            .unwrap();
        let owner = Owner::this_process();
        // Rung 0: the configuration at position i scores 0.5 + i/100; the best three go on.
        let mut rung = 0;
        loop {
            while let Some(c) = store
                .claim(
                    s.id,
                    &owner,
                    "w0",
                    std::time::Duration::from_secs(60),
                    "cpu",
                )
                .await
                .unwrap()
            {
                let i = configs.iter().position(|x| x.id == c.config_id).unwrap() as f64;
                let val = match (rung, agree) {
                    (0, _) | (_, true) => 0.5 + i / 100.0,
                    (_, false) => 0.5 - i / 100.0,
                };
                let epochs = h.budget(rung, 18);
                store
                    .record_done(c.fold_id, "w0", &result(epochs, val), &summarize)
                    .await
                    .unwrap();
            }
            match store
                .advance_rung_with(s.id, 0, |r, c| plan_rung(&h, r, c))
                .await
                .unwrap()
            {
                RungStep::Promoted { rung: r, .. } if r < 2 => rung = r,
                _ => break,
            }
        }
        assert_eq!(store.rung_scores(s.id).await.unwrap().len(), 9 + 3);
        store.close().await;
    });
}

#[test]
fn status_says_when_a_cheap_rung_misleads_and_not_when_it_agrees() {
    let d = Dir::new("replay", "weak");
    for agree in [false, true] {
        let db = d
            .path(&format!("w-{agree}.db"))
            .to_string_lossy()
            .into_owned();
        sweep_with_rungs(&db, agree);
        let (code, out, err) = run(bin().args(["status", "w", "--db", &db]));
        assert!(code == 0, "{err}");
        let warned = out.contains(
            "warning: rung 0 (2 epochs) ranked the configurations unlike rung 1 (6 epochs)",
        );
        assert_eq!(warned, !agree, "{out}");
        if !agree {
            assert!(
                out.contains("raise min_epochs to 6, or use hyperband"),
                "{out}"
            );
        }
        let st = json(bin().args(["status", "w", "--db", &db, "--json"]));
        assert_eq!(
            st["weak_rungs"].as_array().unwrap().len(),
            usize::from(!agree),
            "{st}"
        );
    }
}
