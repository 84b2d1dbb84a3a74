//! Commands that read a sweep: status, list, rank, export; and the housekeeping ones,
//! copy and delete. Each parses its arguments, asks `crate::sweep` for the view, and
//! prints it.

use super::sweep_cmd::{db_hint, parse_db, pick_sweep, print_aligned, runtime, DbArg, ScoreArgs};
use super::Outcome;
use crate::rank::Ranked;
use crate::store::{DbLocation, Store};
use crate::sweep::{self, admin::Deletion, ranking::PartialRanked, status::Status};
use crate::text::human_duration;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The sweep (default: the only one in the database).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    /// Print one JSON document instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The sweep to remove (`gridsweep list` shows the database's sweeps).
    pub name: String,
    #[command(flatten)]
    pub db: DbArg,
    /// Remove it even while a worker holds one of its folds (that worker's results are
    /// then lost and its process ends with an error).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// The sweep (default: the only one in the source database).
    pub name: Option<String>,
    /// The database to copy from (a SQLite file or a postgres:// URL).
    #[arg(long, value_parser = parse_db)]
    pub from: DbLocation,
    /// The database to copy to (created if it is a file that does not exist).
    #[arg(long, value_parser = parse_db)]
    pub to: DbLocation,
}

#[derive(Args, Debug)]
pub struct RankArgs {
    /// The sweep (default: the only one in the database).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub score: ScoreArgs,
    /// Show the best N (default 20; 0 = all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Print one JSON document (the ranking with every summary) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Rank only the configurations sub-grid N of the spec lists (0-based, as `grid[N]`
    /// in messages): one experiment where sub-grids run on partitions of their own.
    #[arg(long, value_name = "N")]
    pub subgrid: Option<usize>,
    #[command(flatten)]
    pub ties: TieArgs,
}

/// How the tie set is computed and the pick made (see `crate::tieset`); the defaults
/// are a race's own settings, or the tie set's defaults.
#[derive(Args, Debug, Clone)]
pub struct TieArgs {
    /// The pick among the configurations the folds cannot tell apart: score (the
    /// leader), smallest (fewest parameters), fastest (least fit time).
    #[arg(long, value_enum)]
    pub prefer: Option<crate::tieset::Prefer>,
    /// The posterior probability at which a configuration counts as credibly worse
    /// than the leader (default 0.95).
    #[arg(long)]
    pub confidence: Option<f64>,
    /// The region of practical equivalence, ± this much score (default 0.002).
    #[arg(long)]
    pub rope: Option<f64>,
}

impl TieArgs {
    /// The settings: these options over `base` (a race's, or the defaults).
    pub fn settings(&self, base: crate::tieset::Settings) -> Result<crate::tieset::Settings> {
        let s = crate::tieset::Settings {
            confidence: self.confidence.unwrap_or(base.confidence),
            rope: self.rope.unwrap_or(base.rope),
            prefer: self.prefer.unwrap_or(base.prefer),
        };
        if !(s.confidence > 0.5 && s.confidence < 1.0) {
            bail!(
                "--confidence {}: expected a probability in (0.5, 1)",
                s.confidence
            );
        }
        if !(s.rope >= 0.0 && s.rope.is_finite()) {
            bail!("--rope {}: expected a score difference ≥ 0", s.rope);
        }
        Ok(s)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// The study's HPO_combined.csv columns (one row per configuration).
    HpoCombined,
    /// scikit-learn's GridSearchCV.cv_results_ as pandas writes it (per-fold scores).
    CvResults,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The sweep (default: the only one in the database).
    pub name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    /// Which CSV layout.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Include configurations whose folds are not all done, and those successive halving
    /// stopped (with their last rung's numbers); adds a `resource_epochs` column (the
    /// epochs each row's numbers are of).
    #[arg(long)]
    pub include_partial: bool,
}

pub fn status(a: StatusArgs) -> Result<Outcome> {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let s = sweep::status::status(&store, &sweep).await?;
        store.close().await;
        if a.json {
            let best = s.best();
            let devices: Vec<_> = s.devices.iter().map(|(d, n)| json!({"device": d, "folds": n})).collect();
            println!("{}", serde_json::to_string_pretty(&json!({
                "name": sweep.name, "counts": s.counts, "total": s.counts.total(),
                "configurations": s.configurations, "distinct_trainings": s.distinct_trainings, "complete_configurations": s.ranked.len(), "score": s.rule,
                "best": best.map(|b| json!({"config_id": b.config_id, "score": b.score,
                    "mean_val_accuracy": b.summary.mean_val_accuracy, "delta_accuracy": b.summary.delta_accuracy})),
                "rate_folds_per_minute": s.rate_per_min, "eta_seconds": s.eta, "failures": s.failures,
                "workers_running": s.live_running > 0, "live_running_folds": s.live_running, "workers": s.workers,
                "done_fold_devices": devices, "rungs": s.rungs, "weak_rungs": s.weak_rungs,
                "tie_set": s.tie_set.as_ref().map(|t| json!({"members": t.members, "pick": t.pick, "why": t.why, "settings": t.settings})),
                "created_at": sweep.created_at, "updated_at": sweep.updated_at,
                "imported_from": sweep.source, "imported_sha256": sweep.source_sha256,
            }))?);
        } else if let Some(source) = &sweep.source {
            // Results made elsewhere: no folds, no workers, nothing to run.
            // A cv_results_ file brings per-fold scores: say how many.
            let folds = if s.counts.done > 0 { format!(" ({} folds recorded)", s.counts.done) } else { String::new() };
            let complete = if s.ranked.len() == s.configurations { "complete".to_string() } else { format!("{} complete", s.ranked.len()) };
            let failed = if s.counts.failed > 0 {
                format!("; {} the file records as failed fits (NaN), which leave their configurations without a score", crate::text::count(s.counts.failed as usize, "split", "splits"))
            } else {
                String::new()
            };
            println!("sweep {}: imported from {source} (sha256 {}); {}, {complete}{folds}{failed}; nothing runs on it",
                sweep.name, sweep.source_sha256.as_deref().unwrap_or("?"), crate::text::count(s.configurations, "configuration", "configurations"));
            if let Some(b) = s.best() {
                println!("best: {} score {:.4} (val {:.4}, Δacc {}; {})", b.config_id, b.score, b.summary.mean_val_accuracy,
                    crate::text::four(b.summary.delta_accuracy), s.rule.describe());
            }
        } else {
            print_status(&sweep.name, &s, &db_hint(&a.db.db));
        }
        // (An import's failed splits are its file's record, not a failure here.)
        anyhow::Ok(if s.counts.failed > 0 && sweep.source.is_none() { Outcome::SomeFailed } else { Outcome::Ok })
    })
}

fn print_status(name: &str, s: &Status, db_hint: &str) {
    let c = &s.counts;
    let rows = match s.grid_rows {
        Some(all) => format!("{} drawn of {all} grid rows", s.configurations),
        None => crate::text::count(s.configurations, "grid row", "grid rows"),
    };
    println!("sweep {name}: {rows}, {} distinct trainings; {} folds — {} done, {} running, {} pending, {} failed",
        s.distinct_trainings, c.total(), c.done, c.running, c.pending, c.failed);
    if let Some(b) = s.best() {
        println!(
            "best of {} complete configurations: {} score {:.4} (val {:.4}, Δacc {}; {})",
            s.ranked.len(),
            b.config_id,
            b.score,
            b.summary.mean_val_accuracy,
            crate::text::four(b.summary.delta_accuracy),
            s.rule.describe()
        );
    }
    if let Some(t) = &s.tie_set {
        println!(
            "tie set: {} of {} not credibly worse than the leader (±{} at {}); pick ({}): {} (`gridsweep rank {name}{db_hint}` lists them)",
            t.members.len(),
            t.verdicts.len(),
            t.settings.rope,
            t.settings.confidence,
            t.settings.prefer.name(),
            t.pick
        );
    }
    if let Some(rungs) = &s.rungs {
        // Hyperband's brackets each have their rungs: a bracket column says whose.
        let several = rungs.iter().any(|r| r.bracket > 0);
        println!(
            "{}",
            if s.race {
                "race (stage 0: the first folds, then one fold per stage):"
            } else if several {
                "hyperband:"
            } else {
                "successive halving:"
            }
        );
        let mut header: Vec<String> =
            ["rung", "configurations", "epochs", "folds done", "promoted"]
                .map(String::from)
                .to_vec();
        if s.race {
            header = ["stage", "configurations", "", "folds done", "went on"]
                .map(String::from)
                .to_vec();
        }
        if several {
            header.insert(0, "bracket".into());
        }
        let table: Vec<Vec<String>> = rungs
            .iter()
            .map(|r| {
                several
                    .then(|| r.bracket.to_string())
                    .into_iter()
                    .chain([
                        r.rung.to_string(),
                        r.configurations.to_string(),
                        r.epochs.map(|e| e.to_string()).unwrap_or_default(),
                        match (r.folds_done, r.folds) {
                            (Some(d), Some(n)) if !r.decided => format!("{d} of {n}"),
                            _ => "all".into(),
                        },
                        match (r.promoted, r.decided) {
                            (Some(p), _) => p.to_string(),
                            (None, false) => "(in progress)".into(),
                            (None, true) if s.race => "(the race's end)".into(),
                            (None, true) => "(the last rung)".into(),
                        },
                    ])
                    .collect()
            })
            .collect();
        print_aligned(&header, &table, "  ");
        for w in &s.weak_rungs {
            println!("warning: {w}");
        }
    }
    if !s.devices.is_empty() {
        println!("done folds: {}", crate::device::folds_per_path(&s.devices));
    }
    if let Some(note) = crate::device::mixed_paths_note(&s.devices) {
        println!("note: {note}");
    }
    for w in &s.workers {
        if w.gone {
            println!(
                "worker {}:{} — gone (the process no longer exists); its {} fold(s) (e.g. {}) return to pending at lease expiry in {:.0} s, or when a run starts on this host",
                w.host, w.pid, w.running, w.example, w.lease_left.unwrap_or(0.0).max(0.0)
            );
            continue;
        }
        println!(
            "worker {}:{} — {} fold(s) running (e.g. {}), last heartbeat {}",
            w.host,
            w.pid,
            w.running,
            w.example,
            w.heartbeat_age
                .map(|a| format!("{a:.0} s ago"))
                .unwrap_or_else(|| "unknown".into())
        );
    }
    let remaining = s.remaining();
    if remaining == 0 {
        // Finished (or copied here whole): no rate to speak of.
        if c.failed == 0 {
            println!("complete: every fold is done");
        } else {
            println!("finished: {} fold(s) failed (below); `gridsweep resume {name}{db_hint} --retry-failed` runs them again", c.failed);
        }
    } else if s.live_running == 0 {
        // Leases tell: no process holds a fold of this sweep now.
        println!("no worker is running: {remaining} fold(s) left (`gridsweep resume {name}{db_hint}` continues)");
    } else if s.rate_per_min > 0.0 {
        let eta = match s.eta {
            Some(e) => format!(
                ", ETA {}{}",
                human_duration(e),
                if s.rungs.is_some() {
                    " for the rungs in progress (later rungs are not counted)"
                } else {
                    ""
                }
            ),
            None => format!(
                ", ETA once {} folds have finished",
                sweep::status::ETA_MIN_FOLDS
            ),
        };
        println!(
            "rate {:.1} folds/min over the last {}{eta}",
            s.rate_per_min,
            human_duration(s.rate_span)
        );
    } else {
        println!("no fold finished in the last 10 minutes");
    }
    for f in &s.failures {
        println!(
            "failed: {} fold {} (attempts {}): {}",
            f.config_id, f.fold, f.attempts, f.error
        );
    }
}

pub fn list(a: ListArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let out = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let out = sweep::admin::overview(&store).await?;
        store.close().await;
        anyhow::Ok(out)
    })?;
    if a.json {
        let v: Vec<_> = out
            .iter()
            .map(|o| {
                let s = &o.sweep;
                json!({
                    "name": s.name, "configurations": o.configurations, "counts": o.counts, "folds": s.folds, "seed": s.seed,
                    "created_at": s.created_at, "updated_at": s.updated_at,
                    "best": o.best.as_ref().map(|(id, sc)| json!({"config_id": id, "score": sc})),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if out.is_empty() {
        println!("no sweeps in {}", a.db.db);
    } else {
        println!(
            "{:<24} {:>8} {:>14} {:>7}  best score",
            "name", "configs", "folds done", "failed"
        );
        for o in &out {
            let c = &o.counts;
            println!(
                "{:<24} {:>8} {:>14} {:>7}  {}",
                o.sweep.name,
                o.configurations,
                format!("{}/{}", c.done, c.total()),
                c.failed,
                o.best
                    .as_ref()
                    .map(|(id, sc)| format!("{sc:.4} ({id})"))
                    .unwrap_or_else(|| "-".into())
            );
        }
    }
    Ok(Outcome::Ok)
}

pub fn delete(a: DeleteArgs) -> Result<Outcome> {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, Some(&a.name)).await?;
        let done = sweep::admin::delete(&store, &sweep, a.force).await?;
        store.close().await;
        let r = match done {
            Deletion::Removed(r) => r,
            Deletion::Busy { folds, workers } => bail!(
                "sweep `{}` has {folds} fold(s) held by running workers ({}); stop them first (Ctrl-C), or pass --force",
                sweep.name, workers.join(", ")
            ),
        };
        println!(
            "deleted sweep {} from {}: {} configuration(s), {} fold(s) ({} done), {} evaluation(s), {} saved training state(s), {} rung score(s){}",
            sweep.name, a.db.db, r.configurations, r.folds, r.done_folds, r.evaluations, r.checkpoints, r.rung_scores,
            if r.evaluations > 0 { " (saved model folders on disk are kept)" } else { "" }
        );
        anyhow::Ok(Outcome::Ok)
    })
}

pub fn copy(a: CopyArgs) -> Result<Outcome> {
    if a.from == a.to {
        bail!("--from and --to are the same database ({})", a.from);
    }
    let rt = runtime()?;
    rt.block_on(async {
        let from = Store::open_existing(&a.from).await?;
        let sweep = pick_sweep(&from, a.name.as_deref()).await?;
        let dump = from.dump_sweep(&sweep).await?;
        from.close().await;
        let to = Store::open(&a.to).await?;
        if let Some(dir) = to.created_dir() {
            eprintln!("gridsweep: note: created the directory {} for the database {}", dir.display(), to.name());
        }
        let n = to.load_sweep(&dump).await?;
        let counts = to.counts(to.sweep_by_name(&sweep.name).await?.map(|s| s.id).unwrap_or(-1)).await?;
        to.close().await;
        let running = dump.folds.iter().filter(|f| f.state == crate::domain::FoldState::Running).count();
        println!(
            "copied sweep {} from {} to {}: {} configuration(s) and {} fold(s) added, {} fold result(s) and {} evaluation(s) written; there: {} of {} folds done, {} failed, {} pending{}",
            sweep.name, a.from, a.to, n.configurations, n.folds_added, n.folds_written, n.evaluations,
            counts.done, counts.total(), counts.failed, counts.pending,
            if running > 0 { format!(" ({running} running in the source arrive pending)") } else { String::new() }
        );
        anyhow::Ok(Outcome::Ok)
    })
}

pub fn rank(a: RankArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let (sweep, recorded) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let recorded = sweep::ranking::recorded(&store, sweep.id).await?;
        store.close().await;
        anyhow::Ok((sweep, recorded))
    })?;
    let recorded = match a.subgrid {
        Some(g) => recorded.in_subgrid(&sweep, g)?,
        None => recorded,
    };
    let rule = a.score.rule(sweep::score_rule(&sweep)?)?;
    let ranking = recorded.rank(&rule);
    let partitions = ranking.partitions();
    let settings = a.ties.settings(sweep::ranking::tie_settings(&sweep))?;
    let dims = (settings.prefer == crate::tieset::Prefer::Smallest)
        .then(|| sweep::ranking::data_dims(&sweep))
        .flatten();
    let (ties, devices, defaulted) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let t = sweep::ranking::tie_set(&store, &sweep, &ranking.complete, &rule, &settings, dims)
            .await;
        let d = store.done_fold_devices(sweep.id).await;
        let u = sweep::import::defaulted_keys(&store, &sweep).await;
        store.close().await;
        anyhow::Ok((t?, d?, u?))
    })?;
    let partial = ranking.partial_by_progress();
    let keys = &ranking.varying;
    let top = if a.top == 0 { usize::MAX } else { a.top };
    let shown: Vec<&Ranked> = ranking.complete.iter().take(top).collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": sweep.name, "w1": rule.w1, "w2": rule.w2, "delta": rule.delta, "complete": ranking.complete.len(),
                "configurations": ranking.configurations, "varying": keys, "ranking": shown, "partial": partial,
                "failed": ranking.failed,
                "defaulted_keys": defaulted,
                "subgrid": a.subgrid,
                "tie_set": ties,
                "partitions": partitions.iter().map(|(p, n)| json!({"split": p, "complete": n})).collect::<Vec<_>>(),
                "done_fold_devices": devices.iter().map(|(d, n)| json!({"device": d, "folds": n})).collect::<Vec<_>>(),
                "mixed_paths": crate::device::mixed_paths_note(&devices),
            }))?
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "sweep {}: {} of {} complete; {}",
        sweep.name,
        ranking.complete.len(),
        crate::text::count(ranking.configurations, "configuration", "configurations"),
        rule.describe()
    );
    let hint = db_hint(&a.db.db);
    if ranking.complete.is_empty() {
        println!(
            "nothing is complete yet, so nothing is ranked: `gridsweep status {name}{hint}` shows the progress{}",
            if partial.is_empty() { String::new() } else { format!("; `gridsweep export {name} --include-partial{hint}` writes the partial results below", name = sweep.name) },
            name = sweep.name
        );
    }
    let mut header: Vec<String> = ["rank", "score", "val acc", "train acc", "Δacc", "id"]
        .map(String::from)
        .to_vec();
    if ties.is_some() {
        header.push("tie".into());
    }
    header.extend(keys.iter().cloned());
    let tie_cell = |id: &str| -> Option<String> {
        let t = ties.as_ref()?;
        let v = t.verdicts.iter().find(|v| v.config_id == id)?;
        Some(match (v.config_id == t.leader, v.tied) {
            (true, _) => "leader".into(),
            (false, true) => format!("{:.2}", v.p_not_worse),
            (false, false) => String::new(),
        })
    };
    let table: Vec<Vec<String>> = shown
        .iter()
        .map(|r| {
            let s = &r.summary;
            let mut row = vec![
                r.rank.to_string(),
                format!("{:.4}", r.score),
                format!("{:.4} ± {:.4}", s.mean_val_accuracy, s.std_val_accuracy),
                format!("{:.4} ± {:.4}", s.mean_train_accuracy, s.std_train_accuracy),
                crate::text::four(s.delta_accuracy),
                r.config_id.clone(),
            ];
            if ties.is_some() {
                row.push(tie_cell(&r.config_id).unwrap_or_default());
            }
            row.extend(keys.iter().map(|k| match k.as_str() {
                "split" => crate::data::partition::Partition::cell(r.params.get(k)),
                _ => crate::export::param_cell(&r.params, k),
            }));
            row
        })
        .collect();
    if !table.is_empty() {
        print_aligned(&header, &table, "");
    }
    match &ties {
        Some(t) => {
            let spec = sweep::stored_spec(&sweep).ok();
            let k = spec.as_ref().map_or(sweep.folds as usize, |s| s.cv.folds);
            let race = spec.as_ref().is_some_and(|s| s.search.race().is_some());
            print_tie_set(t, k, race, &sweep.name, &hint);
        }
        None if !ranking.complete.is_empty() => {
            println!("no tie set: the sweep has no fold scores to compare (an HPO_combined import keeps means only), or one configuration");
        }
        None => {}
    }
    if let Some(note) = crate::device::mixed_paths_note(&devices) {
        println!("note: {note}");
    }
    if !defaulted.is_empty() {
        println!(
            "note: imported without a spec, and its file does not state {}: the values shown for them are gridsweep's defaults, not the file's (`gridsweep import FILE --spec SPEC` takes them from the spec the results were made with)",
            defaulted.join(", ")
        );
    }
    if !ranking.failed.is_empty() {
        let n = ranking.failed.len();
        let shown: Vec<&str> = ranking
            .failed
            .iter()
            .take(5)
            .map(|id| crate::domain::short_id(id))
            .collect();
        println!(
            "note: {} not ranked: a fold of {} failed, so {} no score ({}{}); `gridsweep status {}{hint}` shows the errors{}",
            crate::text::count(n, "configuration is", "configurations are"),
            if n == 1 { "it" } else { "each" },
            if n == 1 { "it has" } else { "they have" },
            shown.join(", "),
            if n > 5 { ", …" } else { "" },
            sweep.name,
            if sweep.source.is_some() { "" } else { ", and `gridsweep run SPEC --retry-failed` trains them again" },
        );
    }
    if partitions.len() > 1 {
        let each: Vec<String> = partitions
            .iter()
            .map(|(p, n)| format!("{n} on `{p}`"))
            .collect();
        println!(
            "note: these configurations were measured on {} partitions of the data ({}; the `split` column): their scores come from \
             different training and validation rows, so this ranking compares different experiments, as the study's combined file did; \
             `--subgrid N` ranks one sub-grid's alone",
            partitions.len(),
            each.join(", ")
        );
    }
    // Successive halving's others in two tables: those it stopped for good, and those
    // still in the search (at a rung, to be continued); a race's dropped ones.
    let race = sweep::stored_spec(&sweep).is_ok_and(|s| s.search.race().is_some());
    for pruned in [true, false] {
        let group: Vec<&&PartialRanked> = partial.iter().filter(|p| p.pruned == pruned).collect();
        if group.is_empty() {
            continue;
        }
        if sweep.source.is_some() {
            println!("\nnot complete: {} the imported file marks as not complete (`complete` False: stopped or dropped where the file was made), with their scores over the folds they ran at the epochs they reached:", crate::text::count(group.len(), "configuration", "configurations"));
        } else if race {
            println!("\ndropped: {} left the race as credibly worse than the leader, with their scores over the folds they ran:", crate::text::count(group.len(), "configuration", "configurations"));
        } else if pruned {
            println!("\npruned: {} configuration(s) stopped by successive halving for good, with their scores at the epochs they reached:", group.len());
        } else {
            println!("\nstill in the search: {} configuration(s) stopped by successive halving at a rung, to be continued, with their scores so far:", group.len());
        }
        let mut header: Vec<String> = [
            if race { "folds" } else { "epochs" },
            "score",
            "val acc",
            "train acc",
            "id",
            "state",
        ]
        .map(String::from)
        .to_vec();
        header.extend(keys.iter().cloned());
        let table: Vec<Vec<String>> = group
            .iter()
            .take(top)
            .map(|p| {
                let (r, s) = (&p.ranked, &p.ranked.summary);
                let mut row = vec![
                    if race {
                        p.folds.to_string()
                    } else {
                        p.epochs.to_string()
                    },
                    format!("{:.4}", r.score),
                    format!("{:.4}", s.mean_val_accuracy),
                    format!("{:.4}", s.mean_train_accuracy),
                    r.config_id.clone(),
                    match (race, p.pruned) {
                        (true, _) => "dropped",
                        (false, true) => "pruned",
                        (false, false) => "in the search",
                    }
                    .to_string(),
                ];
                row.extend(keys.iter().map(|k| crate::export::param_cell(&r.params, k)));
                row
            })
            .collect();
        print_aligned(&header, &table, "");
    }
    Ok(Outcome::Ok)
}

pub fn export(a: ExportArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let with_folds = matches!(a.format, ExportFormat::CvResults);
    let (sweep, x) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let x = sweep::export::export_rows(&store, &sweep, a.include_partial, with_folds).await?;
        store.close().await;
        anyhow::Ok((sweep, x))
    })?;
    // Nothing to write is an error, before any file is made: a header-only file would
    // read as an export of nothing.
    if !x.rows.iter().any(|r| r.summary.is_some()) {
        let hint = db_hint(&a.db.db);
        let what = if a.include_partial {
            "no configuration has results yet, complete or partial"
        } else {
            "no configuration is complete yet (`--include-partial` adds those that successive halving stopped or holds at a rung, with the epochs their numbers are of)"
        };
        bail!("sweep `{name}`: {what}, so there is nothing to export; `gridsweep status {name}{hint}` shows the progress", name = sweep.name);
    }
    let foreign = sweep::export::foreign_keys(&x.rows);
    if matches!(a.format, ExportFormat::HpoCombined) && !foreign.is_empty() {
        bail!(
            "sweep `{}` holds another model's hyperparameters ({}; imported with --foreign): the HPO_combined format has the study's dense-network columns only; `--format cv-results` writes them",
            sweep.name,
            foreign.join(", ")
        );
    }
    let out: Box<dyn std::io::Write> = match &a.out {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            ))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = match a.format {
        ExportFormat::HpoCombined => crate::export::hpo_combined(
            out,
            &x.rows,
            &x.rule,
            x.resource.as_ref(),
            x.ties.as_ref(),
        )?,
        ExportFormat::CvResults => {
            let columns = sweep::export::cv_columns(&sweep, &x)?;
            crate::export::cv_results(
                out,
                &x.rows,
                &x.folds,
                &columns,
                x.resource.as_ref(),
                x.ties.as_ref(),
            )?
        }
    };
    if let Some(p) = &a.out {
        eprintln!(
            "gridsweep: wrote {} of sweep {} to {}",
            crate::text::count(n, "configuration", "configurations"),
            sweep.name,
            p.display()
        );
    }
    Ok(Outcome::Ok)
}

/// The tie set's lines (rank, analyze): who is in it and on what test, that one repeat
/// decides little where there is one, and the pick with why.
/// `race`: the sweep is a race, which adds repeats itself where the top is undecided
/// (so the advice to repeat is not given).
pub(super) fn print_tie_set(
    t: &crate::tieset::TieSet,
    k: usize,
    race: bool,
    name: &str,
    hint: &str,
) {
    let folds = t.verdicts.first().map_or(0, |v| v.folds);
    println!(
        "tie set: {} of {} not credibly worse than the leader {} (P(δ > {}) < {}, δ the leader's lead in score, on {} paired folds; \
         `tie` is each one's probability of being the best or within ±{} of it)",
        t.members.len(),
        crate::text::count(t.verdicts.len(), "configuration", "configurations"),
        t.leader,
        t.settings.rope,
        t.settings.confidence,
        folds,
        t.settings.rope
    );
    if folds <= k && !race {
        println!("  one repeat of {k} folds decides little: `\"cv\": {{\"repeats\": 10}}` or `gridsweep rerun {name} --top N --repeats 10{hint}` separates more");
    }
    println!("pick ({}): {}, {}", t.settings.prefer.name(), t.pick, t.why);
}
