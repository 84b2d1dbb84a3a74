//! The store on both backends, one test body each: claims never hand a fold out twice,
//! a lease that expires (by the database's clock) lets another worker take the fold
//! over and the old owner's result is then refused, heartbeats show the workers, and a
//! database from a newer gridsweep is refused as such.

mod common;
use common::{Backend, Dir};

use gridsweep::cv::ScoreRule;
use gridsweep::domain::Owner;
use gridsweep::fold::FoldResult;
use gridsweep::params::HyperParams;
use gridsweep::spec::Config;
use gridsweep::store::{Store, StoreError};
use std::collections::HashSet;
use std::time::Duration;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn configs(n: usize) -> Vec<Config> {
    (0..n)
        .map(|i| {
            Config::new(HyperParams {
                epochs: 1 + i as u32,
                ..HyperParams::default()
            })
        })
        .collect()
}

fn result(val: f64) -> FoldResult {
    FoldResult {
        train_accuracy: 0.7,
        train_loss: 0.8,
        val_accuracy: val,
        val_loss: 0.9,
        epochs_run: 3,
        final_learning_rate: 1e-3,
        fit_seconds: 0.1,
        score_seconds: 0.01,
        scored_epoch: 3,
        history: Vec::new(),
        partial: false,
        fused: 1,
    }
}

fn owner(host: &str, pid: u32) -> Owner {
    Owner {
        host: host.into(),
        pid,
    }
}

/// 8 claimants on 4 connections race for 60 folds: every fold is handed out once.
fn concurrent_claims_are_exclusive(backend: Backend) {
    let d = Dir::new("store", &format!("claims-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        let store = std::sync::Arc::new(Store::open(db.as_str()).await.unwrap());
        let sweep = store.ensure_sweep("s", "{}", "fp", 3, 1).await.unwrap();
        assert_eq!(
            store.add_configs(sweep.id, &configs(20), 3).await.unwrap(),
            20
        );
        let mut tasks = Vec::new();
        for w in 0..8u32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Other hosts, so that no claimant reclaims another's folds as dead.
                let me = owner(&format!("host{w}"), 1000 + w);
                let mut got = Vec::new();
                while let Some(c) = store
                    .claim(sweep.id, &me, &me.worker(0), Duration::from_secs(60), "cpu")
                    .await
                    .unwrap()
                {
                    got.push(c.fold_id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        assert_eq!(all.len(), 60, "every fold claimed");
        assert_eq!(
            all.iter().collect::<HashSet<_>>().len(),
            60,
            "no fold claimed twice"
        );
        let attempts = store.attempts(sweep.id).await.unwrap();
        assert!(
            attempts
                .iter()
                .all(|a| a.state == gridsweep::domain::FoldState::Running && a.attempts == 1),
            "{attempts:?}"
        );
    });
}

/// The default score rule's summary, as a sweep hands it to the store.
fn default_rule(folds: &[gridsweep::fold::FoldResult]) -> gridsweep::score::CvSummary {
    gridsweep::score::summarize(folds, &ScoreRule::default())
}

#[test]
fn concurrent_claims_are_exclusive_sqlite() {
    concurrent_claims_are_exclusive(Backend::Sqlite);
}

#[test]
fn concurrent_claims_are_exclusive_postgres() {
    concurrent_claims_are_exclusive(Backend::Postgres);
}

/// A worker whose lease ran out while it trained: another takes the fold over; the
/// first one's result is then not written, the new owner's is, and the configuration's
/// summary comes from the new owner's folds.
fn lost_lease_cannot_overwrite_the_new_owner(backend: Backend) {
    let d = Dir::new("store", &format!("lease-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        let store = Store::open(db.as_str()).await.unwrap();
        let sweep = store.ensure_sweep("s", "{}", "fp", 1, 1).await.unwrap();
        store.add_configs(sweep.id, &configs(1), 1).await.unwrap();
        let (a, b) = (owner("hostA", 11), owner("hostB", 22));
        let first = store
            .claim(
                sweep.id,
                &a,
                "hostA:11:0",
                Duration::from_millis(300),
                "cpu",
            )
            .await
            .unwrap()
            .unwrap();
        // Still held: nobody else can claim it.
        assert!(store
            .claim(sweep.id, &b, "hostB:22:0", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
            .is_none());
        let workers = store.workers(sweep.id).await.unwrap();
        assert_eq!(workers.len(), 1);
        assert_eq!(
            (workers[0].host.as_str(), workers[0].pid, workers[0].running),
            ("hostA", 11, 1)
        );
        assert!(workers[0].heartbeat_age.unwrap() < 5.0, "{workers:?}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Expired by the database's clock: B takes it over.
        let second = store
            .claim(sweep.id, &b, "hostB:22:0", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.fold_id, first.fold_id);
        // A comes back with its result: refused.
        assert!(store
            .record_done(first.fold_id, "hostA:11:0", &result(0.1), &default_rule)
            .await
            .unwrap()
            .is_none());
        let done = store
            .record_done(second.fold_id, "hostB:22:0", &result(0.6), &default_rule)
            .await
            .unwrap();
        let c = done.expect("the configuration is complete");
        assert_eq!(c.summary.mean_val_accuracy, 0.6);
        let folds = store.fold_results(sweep.id, &c.config_id).await.unwrap();
        assert_eq!(folds.len(), 1);
        assert_eq!(folds[0].val_accuracy, 0.6);
        assert_eq!(store.attempts(sweep.id).await.unwrap()[0].attempts, 2);
    });
}

#[test]
fn lost_lease_cannot_overwrite_the_new_owner_sqlite() {
    lost_lease_cannot_overwrite_the_new_owner(Backend::Sqlite);
}

#[test]
fn lost_lease_cannot_overwrite_the_new_owner_postgres() {
    lost_lease_cannot_overwrite_the_new_owner(Backend::Postgres);
}

/// Two workers record a configuration's last two folds at the same moment: exactly
/// one of them writes the summary, whatever the interleaving.
fn last_folds_recorded_together_complete_once(backend: Backend) {
    let d = Dir::new("store", &format!("last-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        let store = std::sync::Arc::new(Store::open(db.as_str()).await.unwrap());
        let sweep = store.ensure_sweep("s", "{}", "fp", 2, 1).await.unwrap();
        store.add_configs(sweep.id, &configs(30), 2).await.unwrap();
        let mut claims = Vec::new();
        for w in 0..60u32 {
            let me = owner(&format!("h{w}"), w + 1);
            claims.push((
                me.worker(0),
                store
                    .claim(sweep.id, &me, &me.worker(0), Duration::from_secs(60), "cpu")
                    .await
                    .unwrap()
                    .unwrap(),
            ));
        }
        let tasks: Vec<_> = claims
            .into_iter()
            .map(|(worker, c)| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_done(c.fold_id, &worker, &result(0.5), &default_rule)
                        .await
                        .unwrap()
                        .is_some()
                })
            })
            .collect();
        let mut completed = 0;
        for t in tasks {
            completed += t.await.unwrap() as usize;
        }
        assert_eq!(completed, 30, "each configuration completed exactly once");
        let rows = store.configurations(sweep.id).await.unwrap();
        assert!(
            rows.iter().all(|r| r.summary.is_some()),
            "every summary written"
        );
    });
}

#[test]
fn last_folds_recorded_together_complete_once_sqlite() {
    last_folds_recorded_together_complete_once(Backend::Sqlite);
}

#[test]
fn last_folds_recorded_together_complete_once_postgres() {
    last_folds_recorded_together_complete_once(Backend::Postgres);
}

/// A database with a migration this gridsweep does not know is refused with a message
/// that says so, not a migration error.
fn newer_database_is_refused(backend: Backend) {
    let d = Dir::new("store", &format!("newer-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        let store = Store::open(db.as_str()).await.unwrap();
        store.close().await;
        let insert = "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
                      VALUES (29991231000000, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 0)";
        match backend {
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{db}")).await.unwrap();
                sqlx::query(insert).execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&db).await.unwrap();
                sqlx::query(&insert.replace("X'00'", "'\\x00'::bytea")).execute(&mut c).await.unwrap();
            }
        }
        match Store::open(db.as_str()).await {
            Err(e @ StoreError::Newer { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("newer gridsweep") && msg.contains("29991231000000"), "{msg}");
            }
            Err(e) => panic!("expected a refusal as newer, got {e}"),
            Ok(_) => panic!("a newer database was opened"),
        }
        assert!(matches!(Store::open_read_only(db.as_str()).await, Err(StoreError::Newer { .. })), "refused read-only too");
    });
}

/// A database of an earlier version opened read-only (`plan --calibrate`, `serve`)
/// cannot be migrated: it is refused with how to upgrade it, not failed on a missing
/// column; once opened to write (migrated), it reads.
fn older_database_is_refused_read_only_until_upgraded(backend: Backend) {
    let d = Dir::new("store", &format!("older-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        let store = Store::open(db.as_str()).await.unwrap();
        store.close().await;
        // Undo the newest migration (the `imported_json` column) as an earlier gridsweep left it.
        let undo = [
            "ALTER TABLE configurations DROP COLUMN imported_json",
            "DELETE FROM _sqlx_migrations WHERE version = 20261207120000",
        ];
        match backend {
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{db}"))
                    .await
                    .unwrap();
                for q in undo {
                    sqlx::query(q).execute(&mut c).await.unwrap();
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&db).await.unwrap();
                for q in undo {
                    sqlx::query(q).execute(&mut c).await.unwrap();
                }
            }
        }
        match Store::open_read_only(db.as_str()).await {
            Err(e @ StoreError::Older { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("earlier gridsweep") && msg.contains("gridsweep status --db"),
                    "{msg}"
                );
            }
            Err(e) => panic!("expected a refusal as older, got {e}"),
            Ok(_) => panic!("an older database was opened read-only"),
        }
        let store = Store::open(db.as_str()).await.unwrap();
        store.close().await;
        let store = Store::open_read_only(db.as_str()).await.unwrap();
        assert!(store.sweeps().await.unwrap().is_empty());
        store.close().await;
    });
}

#[test]
fn older_database_is_refused_read_only_until_upgraded_sqlite() {
    older_database_is_refused_read_only_until_upgraded(Backend::Sqlite);
}

#[test]
fn older_database_is_refused_read_only_until_upgraded_postgres() {
    older_database_is_refused_read_only_until_upgraded(Backend::Postgres);
}

#[test]
fn newer_database_is_refused_sqlite() {
    newer_database_is_refused(Backend::Sqlite);
}

#[test]
fn newer_database_is_refused_postgres() {
    newer_database_is_refused(Backend::Postgres);
}

/// A complete rung of successive halving: many processes call `advance_rung` at once;
/// the rung advances exactly once (one caller promotes, with one set of rung scores),
/// the best ⌈n/3⌉ by score go on with the next budget, and the others are pruned.
fn a_rung_advances_once(backend: Backend) {
    let d = Dir::new("store", &format!("rung-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        use gridsweep::domain::RungStep;
        use gridsweep::search::Halving;
        let store = std::sync::Arc::new(Store::open(db.as_str()).await.unwrap());
        let sweep = store.ensure_sweep("s", "{}", "fp", 2, 1).await.unwrap();
        let h = Halving {
            factor: 3,
            min_epochs: 2,
        };
        let cs: Vec<Config> = (0..7)
            .map(|i| {
                Config::new(HyperParams {
                    epochs: 20,
                    dropout: 0.1 + 0.05 * i as f64,
                    ..HyperParams::default()
                })
            })
            .collect();
        let rung0 =
            move |c: &gridsweep::spec::Config| (0, Some(h.budget(0, c.params.epochs) as i64));
        store
            .add_configs_with(sweep.id, &cs, 2, Some(&rung0))
            .await
            .unwrap();
        let me = owner("hostA", 1);
        // Nothing is promoted while folds are open.
        assert_eq!(
            store
                .advance_rung_with(sweep.id, 0, |r, c| gridsweep::search::plan_rung(&h, r, c))
                .await
                .unwrap(),
            RungStep::Waiting
        );
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            assert_eq!(c.budget, Some(2));
            // Configuration i scores by its position: the last ones best.
            let i = cs.iter().position(|x| x.id == c.config_id).unwrap();
            let r = FoldResult {
                partial: true,
                epochs_run: 2,
                ..result(0.1 * i as f64)
            };
            store
                .record_done(c.fold_id, "w", &r, &default_rule)
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .advance_rung_with(sweep.id, 0, |r, c| gridsweep::search::plan_rung(&h, r, c))
                    .await
                    .unwrap()
            }));
        }
        let mut steps = Vec::new();
        for t in tasks {
            steps.push(t.await.unwrap());
        }
        let promoted: Vec<&RungStep> = steps
            .iter()
            .filter(|s| matches!(s, RungStep::Promoted { .. }))
            .collect();
        assert_eq!(
            promoted,
            vec![&RungStep::Promoted {
                rung: 1,
                configurations: 3,
                pruned: 4,
                folds: 6
            }],
            "{steps:?}"
        );
        assert_eq!(store.rung_scores(sweep.id).await.unwrap().len(), 7);
        let mut next = Vec::new();
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            assert_eq!(c.budget, Some(6));
            next.push(c.config_id);
        }
        next.sort();
        next.dedup();
        let mut best: Vec<String> = cs[4..].iter().map(|c| c.id.clone()).collect();
        best.sort();
        assert_eq!(next, best, "the three best went on");
        let partial = store.partial_configurations(sweep.id).await.unwrap();
        assert_eq!(partial.iter().filter(|p| p.pruned).count(), 4);
    });
}

#[test]
fn a_rung_advances_once_sqlite() {
    a_rung_advances_once(Backend::Sqlite);
}

#[test]
fn a_rung_advances_once_postgres() {
    a_rung_advances_once(Backend::Postgres);
}

/// A rung whose every promoted configuration had already trained to its end (its own
/// epochs below the next budget): the rung after it is complete at once, and its
/// scores are recorded by the same `advance_rung` call, not left to a later one.
fn a_rung_with_nothing_left_to_train_is_recorded_at_once(backend: Backend) {
    let d = Dir::new("store", &format!("rung-done-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        use gridsweep::domain::RungStep;
        use gridsweep::search::{plan_rung, Halving};
        let store = Store::open(db.as_str()).await.unwrap();
        let sweep = store.ensure_sweep("s", "{}", "fp", 2, 1).await.unwrap();
        let h = Halving {
            factor: 3,
            min_epochs: 2,
        };
        // Four of 20 epochs (partial at rung 0) that score worst; three of 2 epochs
        // (complete at rung 0) that score best and so are the three that go on.
        let cs: Vec<Config> = (0..7)
            .map(|i| {
                Config::new(HyperParams {
                    epochs: if i < 4 { 20 } else { 2 },
                    dropout: 0.1 + 0.05 * i as f64,
                    ..HyperParams::default()
                })
            })
            .collect();
        let rung0 =
            move |c: &gridsweep::spec::Config| (0, Some(h.budget(0, c.params.epochs) as i64));
        store
            .add_configs_with(sweep.id, &cs, 2, Some(&rung0))
            .await
            .unwrap();
        let me = owner("hostA", 1);
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            let i = cs.iter().position(|x| x.id == c.config_id).unwrap();
            let r = FoldResult {
                partial: i < 4,
                epochs_run: 2,
                ..result(0.1 * i as f64)
            };
            store
                .record_done(c.fold_id, "w", &r, &default_rule)
                .await
                .unwrap();
        }
        let step = store
            .advance_rung_with(sweep.id, 0, |r, c| plan_rung(&h, r, c))
            .await
            .unwrap();
        assert_eq!(step, RungStep::Finished);
        let scores = store.rung_scores(sweep.id).await.unwrap();
        let at = |rung: i64| scores.iter().filter(|s| s.rung == rung).count();
        assert_eq!((at(0), at(1)), (7, 3), "{scores:?}");
        let mut went_on: Vec<&str> = scores
            .iter()
            .filter(|s| s.rung == 1)
            .map(|s| s.config_id.as_str())
            .collect();
        went_on.sort();
        let mut best: Vec<&str> = cs[4..].iter().map(|c| c.id.as_str()).collect();
        best.sort();
        assert_eq!(went_on, best);
        // Nothing is left: another call changes nothing.
        assert_eq!(
            store
                .advance_rung_with(sweep.id, 0, |r, c| plan_rung(&h, r, c))
                .await
                .unwrap(),
            RungStep::Finished
        );
        assert_eq!(store.rung_scores(sweep.id).await.unwrap().len(), 10);
        assert!(store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
            .is_none());
    });
}

#[test]
fn a_rung_with_nothing_left_to_train_is_recorded_at_once_sqlite() {
    a_rung_with_nothing_left_to_train_is_recorded_at_once(Backend::Sqlite);
}

#[test]
fn a_rung_with_nothing_left_to_train_is_recorded_at_once_postgres() {
    a_rung_with_nothing_left_to_train_is_recorded_at_once(Backend::Postgres);
}

/// A new SQLite file gives the pages of deleted training states back: after 24 saved
/// states of 1 MB each are deleted as their folds complete, the file holds at most
/// twice its live data (its peak is said by the test's own numbers), and most of the
/// states' pages have left the file.
#[test]
fn a_sqlite_file_shrinks_as_training_states_are_deleted() {
    let d = Dir::new("store", "reclaim");
    let path = d.path("r.db");
    rt().block_on(async {
        let store = Store::open(path.to_str().unwrap()).await.unwrap();
        let sweep = store.ensure_sweep("s", "{}", "fp", 3, 1).await.unwrap();
        let cs: Vec<Config> = (0..8)
            .map(|i| {
                Config::new(HyperParams {
                    dropout: 0.05 * i as f64,
                    ..HyperParams::default()
                })
            })
            .collect();
        store.add_configs(sweep.id, &cs, 3).await.unwrap();
        let me = owner("hostA", 1);
        let mut claims = Vec::new();
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            // 1 MB of incompressible-looking bytes per state.
            let state: Vec<u8> = (0..1_000_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ c.fold_id as u8)
                .collect();
            assert!(store
                .save_checkpoint(c.fold_id, "w", 2, &state)
                .await
                .unwrap());
            claims.push(c);
        }
        assert_eq!(claims.len(), 24);
        let (peak_pages, _) = store.sqlite_pages().await.unwrap().unwrap();
        for c in &claims {
            store
                .record_done(c.fold_id, "w", &result(0.5), &default_rule)
                .await
                .unwrap();
        }
        let (pages, free) = store.sqlite_pages().await.unwrap().unwrap();
        let live = pages - free;
        assert!(
            peak_pages * 4096 > 24_000_000,
            "the states were stored: {peak_pages} pages"
        );
        assert!(
            pages <= 2 * live.max(1),
            "the file keeps {pages} pages for {live} live ones (peak {peak_pages})"
        );
        assert!(
            pages * 10 < peak_pages,
            "{pages} pages left of the peak's {peak_pages}"
        );
        store.close().await;
    });
    // What the file system sees, once the WAL is folded in at close.
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size < 2_500_000,
        "the file is {size} bytes after its states were deleted"
    );
}

/// Hyperband's brackets in one sweep: a bracket whose rung is complete is promoted
/// while another's folds are still open, and neither touches the other's
/// configurations, rung or scores.
fn brackets_advance_on_their_own(backend: Backend) {
    let d = Dir::new("store", &format!("brackets-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        use gridsweep::domain::RungStep;
        use gridsweep::search::{plan_rung, Halving};
        let store = Store::open(db.as_str()).await.unwrap();
        let sweep = store.ensure_sweep("s", "{}", "fp", 1, 1).await.unwrap();
        // Bracket 0 from 2 epochs (configurations 0-5), bracket 1 from 6 (6-8).
        let hs = [
            Halving {
                factor: 3,
                min_epochs: 2,
            },
            Halving {
                factor: 3,
                min_epochs: 6,
            },
        ];
        let cs: Vec<Config> = (0..9)
            .map(|i| {
                Config::new(HyperParams {
                    epochs: 18,
                    dropout: 0.1 + 0.05 * i as f64,
                    ..HyperParams::default()
                })
            })
            .collect();
        let bracket = |c: &Config| usize::from(cs.iter().position(|x| x.id == c.id).unwrap() >= 6);
        let rung0 = |c: &Config| (bracket(c) as i64, Some(hs[bracket(c)].budget(0, 18) as i64));
        store
            .add_configs_with(sweep.id, &cs, 1, Some(&rung0))
            .await
            .unwrap();
        let me = owner("hostA", 1);
        // Every fold of bracket 0 done; bracket 1's left claimed and running.
        let mut held = Vec::new();
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            let i = cs.iter().position(|x| x.id == c.config_id).unwrap();
            if i >= 6 {
                assert_eq!(c.budget, Some(6));
                held.push(c);
                continue;
            }
            assert_eq!(c.budget, Some(2));
            let r = FoldResult {
                partial: true,
                epochs_run: 2,
                ..result(0.1 * i as f64)
            };
            store
                .record_done(c.fold_id, "w", &r, &default_rule)
                .await
                .unwrap();
        }
        assert_eq!(held.len(), 3);
        assert_eq!(
            store
                .advance_rung_with(sweep.id, 1, |r, c| plan_rung(&hs[1], r, c))
                .await
                .unwrap(),
            RungStep::Waiting
        );
        let step = store
            .advance_rung_with(sweep.id, 0, |r, c| plan_rung(&hs[0], r, c))
            .await
            .unwrap();
        assert_eq!(
            step,
            RungStep::Promoted {
                rung: 1,
                configurations: 2,
                pruned: 4,
                folds: 2
            }
        );
        // Bracket 0's rung 1 is claimable (6 epochs); bracket 1 is still at its rung 0.
        let rungs = store.rungs(sweep.id).await.unwrap().unwrap();
        let at: Vec<(i64, i64, Option<i64>)> = rungs
            .iter()
            .map(|r| (r.bracket, r.rung, r.promoted))
            .collect();
        assert_eq!(
            at,
            vec![(0, 0, Some(2)), (0, 1, None), (1, 0, None)],
            "{rungs:?}"
        );
        let scores = store.rung_scores(sweep.id).await.unwrap();
        assert_eq!(scores.len(), 6);
        assert!(scores.iter().all(|s| s.bracket == 0 && s.rung == 0));
        let next = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.budget, Some(6));
        assert!(
            cs[4..6].iter().any(|c| c.id == next.config_id),
            "one of bracket 0's best two: {next:?}"
        );
    });
}

/// While a rung is under way, the saved states of configurations that can no longer
/// go on are deleted as results come in: a rung of 9 keeps at most 3 configurations'
/// states (plus the unsettled), and the promotion is the same and continues from them.
fn hopeless_states_go_early(backend: Backend) {
    let d = Dir::new("store", &format!("hopeless-{backend:?}"));
    let Some(db) = d.db_on(backend, "g") else {
        return;
    };
    rt().block_on(async {
        use gridsweep::domain::RungStep;
        use gridsweep::search::{hopeless, plan_rung, Halving};
        let store = Store::open(db.as_str()).await.unwrap();
        let sweep = store.ensure_sweep("s", "{}", "fp", 1, 1).await.unwrap();
        let h = Halving {
            factor: 3,
            min_epochs: 2,
        };
        let cs: Vec<Config> = (0..9)
            .map(|i| {
                Config::new(HyperParams {
                    epochs: 18,
                    dropout: 0.1 + 0.05 * i as f64,
                    ..HyperParams::default()
                })
            })
            .collect();
        let rung0 = |_: &Config| (0, Some(2));
        store
            .add_configs_with(sweep.id, &cs, 1, Some(&rung0))
            .await
            .unwrap();
        let me = owner("hostA", 1);
        // Results arrive worst first... then a mixed order: 4, 0, 8, 1, 7, 2, 6, 3, 5.
        let mut claims = Vec::new();
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            assert!(store
                .save_checkpoint(c.fold_id, "w", 2, b"state")
                .await
                .unwrap());
            claims.push(c);
        }
        let index = |id: &str| cs.iter().position(|x| x.id == id).unwrap();
        claims.sort_by_key(|c| {
            [4, 0, 8, 1, 7, 2, 6, 3, 5]
                .iter()
                .position(|&i| i == index(&c.config_id))
                .unwrap()
        });
        for (k, c) in claims.iter().enumerate() {
            let i = index(&c.config_id);
            let r = FoldResult {
                partial: true,
                epochs_run: 2,
                ..result(0.1 * i as f64)
            };
            store
                .record_done(c.fold_id, "w", &r, &default_rule)
                .await
                .unwrap();
            let listed = std::cell::Cell::new(0);
            let dropped = store
                .drop_states_with(sweep.id, &c.config_id, |n, settled| {
                    let ids = hopeless(&h, n, settled);
                    listed.set(ids.len());
                    ids
                })
                .await
                .unwrap();
            // Only configurations still holding a state are named: none twice.
            assert_eq!(dropped as usize, listed.get(), "after {} results", k + 1);
            // Of the settled ones, only the best three so far keep a state.
            let mut kept = 0;
            for done in &claims[..=k] {
                kept += store.checkpoint(done.fold_id).await.unwrap().is_some() as usize;
            }
            assert_eq!(kept, (k + 1).min(3), "after {} results", k + 1);
        }
        let (kept, _) = store.checkpoint_storage(sweep.id).await.unwrap();
        assert_eq!(kept, 3, "the three best keep their states");
        for c in &claims {
            assert_eq!(
                store.checkpoint(c.fold_id).await.unwrap().is_some(),
                index(&c.config_id) >= 6
            );
        }
        let step = store
            .advance_rung_with(sweep.id, 0, |r, c| plan_rung(&h, r, c))
            .await
            .unwrap();
        assert_eq!(
            step,
            RungStep::Promoted {
                rung: 1,
                configurations: 3,
                pruned: 6,
                folds: 3
            }
        );
        while let Some(c) = store
            .claim(sweep.id, &me, "w", Duration::from_secs(60), "cpu")
            .await
            .unwrap()
        {
            assert!(index(&c.config_id) >= 6);
            assert_eq!(c.checkpoint_epochs, Some(2), "it continues from its state");
        }
    });
}

#[test]
fn hopeless_states_go_early_sqlite() {
    hopeless_states_go_early(Backend::Sqlite);
}

#[test]
fn hopeless_states_go_early_postgres() {
    hopeless_states_go_early(Backend::Postgres);
}

#[test]
fn brackets_advance_on_their_own_sqlite() {
    brackets_advance_on_their_own(Backend::Sqlite);
}

#[test]
fn brackets_advance_on_their_own_postgres() {
    brackets_advance_on_their_own(Backend::Postgres);
}
