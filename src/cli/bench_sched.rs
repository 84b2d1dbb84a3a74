//! `gridsweep bench-scheduler`: what the scheduler and the store cost, without training.
//!
//! Many workers in several `gridsweep run` processes claim and record folds whose
//! training is replaced by a fixed sleep (`run --simulate-ms`), through the real
//! dispatcher and the real store, on SQLite and on PostgreSQL. Reported per case:
//! claims per second, orchestration time per fold (each worker's time not spent in the
//! simulated work: claim, record, heartbeat, waiting on the database), efficiency
//! (simulated work / (workers × wall)), and a check that every fold ran exactly once.
//!
//! With `--search` (successive halving or Hyperband) the folds are spans of a staged
//! search: a fold of all `--epochs` sleeps `--work-ms`, a rung's span its share. What
//! matters there is the workers' idle share: time not spent in simulated work, which
//! for synchronous halving is mostly waiting at rung barriers, and which Hyperband's
//! brackets are meant to fill for each other. A race (`{"strategy": "race"}`) runs over
//! 3 repeats of the folds at full epochs; its simulated fold scores differ by
//! configuration and, by ±0.01, by fold, so that its barriers have something to decide.

use super::sweep_cmd::runtime;
use super::Outcome;
use crate::store::{DbLocation, Store};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchSchedulerArgs {
    /// A database to measure (repeatable): a file path or a postgres:// URL (default: a
    /// temporary SQLite file). Each case adds a sweep of its own to it.
    #[arg(long = "db")]
    pub dbs: Vec<String>,
    /// `gridsweep run` processes.
    #[arg(long, default_value_t = 16, value_parser = super::positive)]
    pub processes: usize,
    /// Workers (jobs) per process.
    #[arg(long, default_value_t = 4, value_parser = super::positive)]
    pub workers_per_process: usize,
    /// Folds to run.
    #[arg(long, default_value_t = 20_000, value_parser = super::positive)]
    pub folds: usize,
    /// Simulated work per fold, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub work_ms: u64,
    /// Also measure 1, 4 and 16 workers (200, 200 and 800 folds), to show how the
    /// orchestration time grows with the number of workers.
    #[arg(long)]
    pub scaling: bool,
    /// A staged search to simulate instead of a grid, as the spec's `search` section
    /// (e.g. '{"strategy": "hyperband", "factor": 3, "min_epochs": 1}'): its sample
    /// is set to --folds / 4 trainings.
    #[arg(long)]
    pub search: Option<String>,
    /// The configurations' epochs under --search.
    #[arg(long, default_value_t = 27, value_parser = super::positive)]
    pub epochs: usize,
    /// Print every figure as one JSON document at the end.
    #[arg(long)]
    pub json: bool,
}

/// Folds per configuration in the benchmark's sweeps.
const FOLDS_PER_CONFIG: usize = 4;
/// Repeats of those folds a race may use.
const RACE_REPEATS: usize = 3;

struct Case {
    processes: usize,
    workers: usize,
    folds: usize,
}

pub fn run(a: BenchSchedulerArgs) -> Result<Outcome> {
    let tmp =
        std::env::temp_dir().join(format!("gridsweep-bench-scheduler-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let dbs: Vec<DbLocation> = if a.dbs.is_empty() {
        vec![DbLocation::Sqlite(tmp.join("bench.db"))]
    } else {
        a.dbs
            .iter()
            .map(|d| DbLocation::try_parse(d).map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?
    };
    let mut cases = Vec::new();
    if a.scaling {
        cases.extend([
            Case {
                processes: 1,
                workers: 1,
                folds: 200,
            },
            Case {
                processes: 1,
                workers: 4,
                folds: 200,
            },
            Case {
                processes: 4,
                workers: 4,
                folds: 800,
            },
        ]);
    }
    cases.push(Case {
        processes: a.processes,
        workers: a.workers_per_process,
        folds: a.folds,
    });
    let exe = std::env::current_exe().context("locating the gridsweep binary")?;
    let staged = match &a.search {
        Some(s) => Some(staged_search(s, a.folds.div_ceil(FOLDS_PER_CONFIG))?),
        None => None,
    };
    let work = a.work_ms as f64 / 1000.0;
    let mut results = Vec::new();
    for db in &dbs {
        for (n, c) in cases.iter().enumerate() {
            let r = measure(
                &exe,
                &tmp,
                db,
                n,
                c,
                a.work_ms,
                staged.as_ref().map(|s| (s, a.epochs)),
            )?;
            let workers = c.processes * c.workers;
            // The simulated work done: every fold's, or under a staged search the
            // fold-epochs its rungs trained.
            let ideal = match r.fold_epochs {
                Some(fe) => fe as f64 / a.epochs as f64 * work,
                None => c.folds as f64 * work,
            };
            // The folds the sweep has: --folds, or the ones a race's barriers created.
            let folds = r.folds_run;
            let efficiency = ideal / (workers as f64 * r.wall);
            let orchestration_ms = 1e3 * (workers as f64 * r.wall - ideal) / folds as f64;
            // Without the processes' start (loading LibTorch, the data, opening the
            // database), which a cluster's nodes pay in parallel and this machine's
            // cores one after another.
            let efficiency_after_start = ideal / r.worker_seconds_after_start;
            let orchestration_after_start_ms =
                1e3 * (r.worker_seconds_after_start - ideal) / folds as f64;
            let line = format!(
                "{} — {} process(es) × {} = {workers} workers, {} folds of {} ms: {:.1} s wall, {:.0} claims/s, \
                 {orchestration_ms:.1} ms orchestration per fold, efficiency {:.1} %; from each worker's first claim: \
                 {orchestration_after_start_ms:.1} ms per fold, efficiency {:.1} % (idle {:.1} %); {} fold(s) claimed more than once, {} not done{}",
                if db.is_postgres() { "PostgreSQL" } else { "SQLite" },
                c.processes, c.workers, folds, a.work_ms, r.wall, folds as f64 / r.wall, 100.0 * efficiency,
                100.0 * efficiency_after_start, 100.0 * (1.0 - efficiency_after_start), r.double, r.not_done,
                match (&a.search, r.fold_epochs) {
                    (Some(s), Some(fe)) => format!("; search {s}: {fe} fold-epochs of {} epochs each", a.epochs),
                    _ => String::new(),
                }
            );
            if !a.json {
                println!("{line}");
            }
            results.push(json!({
                "backend": if db.is_postgres() { "postgres" } else { "sqlite" },
                "processes": c.processes, "workers_per_process": c.workers, "workers": workers,
                "folds": folds, "work_ms": a.work_ms, "wall_seconds": r.wall,
                "claims_per_second": folds as f64 / r.wall, "orchestration_ms_per_fold": orchestration_ms,
                "efficiency": efficiency, "double_claims": r.double, "not_done": r.not_done,
                "efficiency_after_start": efficiency_after_start, "orchestration_ms_per_fold_after_start": orchestration_after_start_ms,
                "idle_share_after_start": 1.0 - efficiency_after_start,
                "search": staged, "epochs": staged.as_ref().map(|_| a.epochs), "fold_epochs": r.fold_epochs,
            }));
            if r.double > 0 || r.not_done > 0 {
                bail!("{line}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"cases": results}))?
        );
    }
    Ok(Outcome::Ok)
}

/// The `--search` section, its sample set to the benchmark's trainings.
fn staged_search(s: &str, trainings: usize) -> Result<serde_json::Value> {
    let mut v: serde_json::Value =
        serde_json::from_str(s).with_context(|| format!("--search: not JSON: {s}"))?;
    if let Err((key, why)) = crate::search::check_json(&v) {
        bail!("--search: {key}: {why}");
    }
    if !matches!(
        v["strategy"].as_str(),
        Some("halving" | "hyperband" | "race")
    ) {
        bail!(
            "--search: expected strategy halving, hyperband or race (a staged search), got {}",
            v["strategy"]
        );
    }
    v["sample"] = json!(trainings);
    Ok(v)
}

struct Measured {
    wall: f64,
    /// Under a staged search: the fold-epochs trained (each epoch once).
    fold_epochs: Option<u64>,
    double: i64,
    not_done: i64,
    /// Σ over workers of (the sweep's last result − the worker's first claim): the
    /// workers' time once their process had started.
    worker_seconds_after_start: f64,
    /// The folds the sweep has (a race's: those its barriers created).
    folds_run: usize,
}

/// `staged`: a staged search's section and the configurations' epochs.
fn measure(
    exe: &std::path::Path,
    tmp: &std::path::Path,
    db: &DbLocation,
    n: usize,
    c: &Case,
    work_ms: u64,
    staged: Option<(&serde_json::Value, usize)>,
) -> Result<Measured> {
    let name = format!("bench-scheduler-{}-{n}", std::process::id());
    let configs = c.folds.div_ceil(FOLDS_PER_CONFIG);
    let spec_path: PathBuf = tmp.join(format!("{name}.json"));
    let race = staged.is_some_and(|(s, _)| s["strategy"] == "race");
    let cv = if race {
        json!({"folds": FOLDS_PER_CONFIG, "repeats": RACE_REPEATS})
    } else {
        json!({"folds": FOLDS_PER_CONFIG})
    };
    let doc = match staged {
        // Distinct configurations of equal epochs: learning rates.
        Some((search, epochs)) => json!({
            "name": name, "dataset": {"path": crate::spec::BUILTIN_DEMO}, "cv": cv, "seed": 1,
            "fixed": {"epochs": epochs},
            "grid": {"learning_rate": (1..=configs).map(|i| i as f64 * 1e-6).collect::<Vec<_>>()},
            "search": search,
        }),
        None => json!({
            "name": name, "dataset": {"path": crate::spec::BUILTIN_DEMO}, "cv": {"folds": FOLDS_PER_CONFIG}, "seed": 1,
            "grid": {"epochs": (1..=configs).collect::<Vec<_>>()},
        }),
    };
    std::fs::write(&spec_path, serde_json::to_string(&doc)?)?;
    let spec = crate::spec::Spec::load(&spec_path)?;
    let expansion = spec.expand()?;
    let rt = runtime()?;
    // Registered first, as `gridsweep slurm` does: the processes only claim.
    rt.block_on(async {
        let store = Store::open(db).await?;
        crate::sweep::register::register(
            &store,
            &spec,
            &expansion,
            false,
            &super::sweep_cmd::db_hint(store.location()),
        )
        .await?;
        store.close().await;
        anyhow::Ok(())
    })?;
    let started = Instant::now();
    let children: Vec<_> = (0..c.processes)
        .map(|_| {
            Command::new(exe)
                .arg("run")
                .arg(&spec_path)
                .args(["--db", &db.to_url()])
                .args([
                    "--jobs",
                    &c.workers.to_string(),
                    "--simulate-ms",
                    &work_ms.to_string(),
                    "--quiet",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()
        .context("starting gridsweep run")?;
    for ch in children {
        let out = ch.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "a benchmark process exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let (double, not_done, r, fold_epochs, folds_run) = rt.block_on(async {
        let store = Store::open(db).await?;
        let sweep = store
            .sweep_by_name(&name)
            .await?
            .context("the benchmark sweep vanished")?;
        let attempts = store.attempts(sweep.id).await?;
        let spans = store.fold_spans(sweep.id).await?;
        // A staged search claims a fold once per rung it is trained in: more than
        // that is a double claim. Its fold-epochs are its folds' epochs reached.
        let (mut rungs, mut fold_epochs) = (std::collections::HashMap::<String, i64>::new(), None);
        if staged.is_some() {
            for s in store.rung_scores(sweep.id).await? {
                *rungs.entry(s.config_id).or_default() += 1;
            }
            let mut fe = 0u64;
            for c in store
                .configurations(sweep.id)
                .await?
                .iter()
                .filter(|c| c.shares_training_of.is_none())
            {
                fe += store
                    .fold_results(sweep.id, &c.config_id)
                    .await?
                    .iter()
                    .map(|f| f.epochs_run as u64)
                    .sum::<u64>();
            }
            fold_epochs = Some(fe);
        }
        store.close().await;
        // (The store may finish a last rung without recording its scores: one more.)
        let allowed = |config: &str| {
            if staged.is_some() {
                rungs.get(config).copied().unwrap_or(0) + 1
            } else {
                1
            }
        };
        let double = attempts
            .iter()
            .filter(|a| a.attempts > allowed(&a.config_id))
            .count() as i64;
        // A race creates its folds as barriers send configurations on: what it has must
        // be done. Otherwise every fold of every configuration must exist and be done.
        let expected = if race {
            attempts.len()
        } else {
            c.folds.div_ceil(FOLDS_PER_CONFIG) * FOLDS_PER_CONFIG
        };
        let not_done = attempts
            .iter()
            .filter(|a| a.state != crate::domain::FoldState::Done)
            .count() as i64
            + expected as i64
            - attempts.len() as i64;
        let folds_run = attempts.len();
        let end = spans.iter().map(|s| s.2).fold(f64::NEG_INFINITY, f64::max);
        let mut first: std::collections::HashMap<&str, f64> = Default::default();
        for (w, started, _) in &spans {
            let e = first.entry(w.as_str()).or_insert(*started);
            *e = e.min(*started);
        }
        // (Under a staged search a fold's span is its last rung's; a worker's first
        // claim is then taken from the folds it ran last, nearly all pruned at rung 0.)
        let after_start: f64 = first.values().map(|f| end - f).sum();
        anyhow::Ok((double, not_done, after_start, fold_epochs, folds_run))
    })?;
    Ok(Measured {
        wall,
        double,
        not_done,
        worker_seconds_after_start: r,
        fold_epochs,
        folds_run,
    })
}
