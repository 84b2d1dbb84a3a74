//! Sweep commands: plan, run, resume, status, list, rank, export.

use super::{available_cores, Outcome};
use crate::cv::{CvData, DeltaKind, ScoreRule};
use crate::params::HyperParams;
use crate::rank;
use crate::text::{human_duration, human_flops};
use crate::reporter;
use crate::sched::{self, RunOptions, SweepJob};
use crate::search::Search;
use crate::spec::{Spec, BUILTIN_DEMO};
use crate::store::{now, DbLocation, Store, SweepRow};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_DB: &str = "results/gridsweep.db";

#[derive(Args, Debug, Clone)]
pub struct DbArg {
    /// The results database: a SQLite file, or a PostgreSQL database
    /// (postgres://user@host:port/dbname) for a sweep that spans machines.
    #[arg(long, default_value = DEFAULT_DB, value_parser = parse_db)]
    pub db: DbLocation,
}

fn parse_db(s: &str) -> std::result::Result<DbLocation, String> {
    if s.trim().is_empty() {
        return Err("expected a file path or a postgres:// URL".into());
    }
    Ok(DbLocation::parse(s))
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The search-space spec (JSON; see search-spaces/ and the README).
    pub spec: PathBuf,
    /// Use this data file instead of the spec's.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Parallel jobs assumed by the time estimate (default: cores).
    #[arg(long, value_parser = super::positive)]
    pub jobs: Option<usize>,
    /// List every configuration (default: the first 20).
    #[arg(long)]
    pub list: bool,
    /// Print one JSON document (every configuration with its canonical hyperparameters).
    #[arg(long)]
    pub json: bool,
}

/// Columns padded to their widest cell, header first.
pub(super) fn aligned(header: &[String], rows: &[Vec<String>]) -> (String, Vec<String>) {
    let width: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain(std::iter::once(header[i].chars().count())).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        cells.iter().zip(&width).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    (line(header), rows.iter().map(|r| line(r)).collect())
}

/// Prints a table with [`aligned`] columns.
fn print_aligned(header: &[String], rows: &[Vec<String>], indent: &str) {
    let (head, lines) = aligned(header, rows);
    println!("{indent}{head}");
    for l in lines {
        println!("{indent}{l}");
    }
}

/// Rows of a plan shown without `--list`.
const PLAN_ROWS: usize = 20;

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Folds trained at once (default: every core busy).
    #[arg(long, value_parser = super::positive)]
    pub jobs: Option<usize>,
    /// LibTorch threads per job (default 1: the jobs keep the cores busy; several
    /// threads per job only pay with fewer jobs than cores, and oversubscribing the
    /// cores, e.g. with several processes, costs far more than it gains).
    #[arg(long, alias = "threads", value_parser = super::positive)]
    pub threads_per_job: Option<usize>,
    /// cpu, cuda (every visible GPU), cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// On GPUs: workers sharing each device (default 2); replaces --jobs.
    #[arg(long, value_parser = super::positive)]
    pub jobs_per_device: Option<usize>,
    /// Requeue failed folds before running.
    #[arg(long)]
    pub retry_failed: bool,
    /// Arithmetic of every configuration (fp32 or bf16); overrides the spec's `fixed`.
    #[arg(long)]
    pub precision: Option<String>,
    /// Only the closing summary.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub mkl: super::MklArg,
    /// Seconds a claimed fold stays reserved without a heartbeat.
    #[arg(long, default_value_t = 60, hide = true)]
    pub lease_seconds: u64,
    /// Seconds to wait for a lost database connection (a restart, a network blip)
    /// before giving up with exit code 2; finished results are kept meanwhile.
    #[arg(long, default_value_t = 600)]
    pub db_timeout: u64,
    /// Save each running fold's training state in the database every N epochs (and at
    /// a second Ctrl-C), so that a fold interrupted by kill -9 or a lost node continues
    /// from there; 0 turns it off.
    #[arg(long, default_value_t = crate::sched::CHECKPOINT_EVERY)]
    pub checkpoint_every: u32,
    /// Simulated folds of this many milliseconds instead of training (the scheduler
    /// benchmark's workers).
    #[arg(long, hide = true)]
    pub simulate_ms: Option<u64>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The search-space spec (JSON). Its `name` is the sweep's: running it again continues it.
    pub spec: PathBuf,
    /// Use this data file instead of the spec's (resolved against the current folder).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The sweep to continue (`gridsweep list` shows the database's sweeps).
    pub name: String,
    #[command(flatten)]
    pub exec: ExecArgs,
}

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

/// Overrides of the sweep's score rule (its spec's `score` section).
#[derive(Args, Debug, Clone, Default)]
pub struct ScoreArgs {
    /// Weight of 1 − |Δacc| in the score (default: the sweep's, 0.5 unless its spec says).
    #[arg(long)]
    pub w1: Option<f64>,
    /// Weight of the mean validation accuracy in the score (default: the sweep's, 1).
    #[arg(long)]
    pub w2: Option<f64>,
    /// Δacc as train − val (absolute) or (train − val) / val (relative, the study's
    /// file) (default: the sweep's).
    #[arg(long, value_parser = parse_delta, value_name = "absolute|relative")]
    pub delta: Option<DeltaKind>,
}

/// `--delta`: the score rule's Δacc kind (the domain type knows nothing of clap).
fn parse_delta(s: &str) -> std::result::Result<DeltaKind, String> {
    DeltaKind::parse(s).ok_or_else(|| format!("`{s}`: expected absolute or relative"))
}

impl ScoreArgs {
    /// `base` with these overrides, checked.
    pub fn rule(&self, base: ScoreRule) -> Result<ScoreRule> {
        let r = base.overridden(self.w1, self.w2, self.delta);
        r.check().map_err(|m| anyhow::anyhow!("score: {m}"))?;
        Ok(r)
    }
}

/// The score rule a sweep was run with (the default for sweeps of older versions).
pub(super) fn sweep_score_rule(sweep: &SweepRow) -> ScoreRule {
    serde_json::from_str::<serde_json::Value>(&sweep.spec_json)
        .ok()
        .and_then(|v| v.get("score").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
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

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

pub(super) fn load_spec(path: &Path, data: Option<&PathBuf>) -> Result<Spec> {
    let mut spec = Spec::load(path)?;
    if let Some(d) = data {
        spec.dataset.path = d.clone();
    }
    // Stored specs carry an absolute path so `resume` works from any folder.
    if spec.dataset.path.as_os_str() != BUILTIN_DEMO {
        spec.dataset.path = std::path::absolute(&spec.dataset.path).unwrap_or(spec.dataset.path.clone());
    }
    if let Some(h) = spec.search.halving() {
        let most = spec.expand().map(|e| e.configs.iter().map(|c| c.params.epochs).max().unwrap_or(0)).unwrap_or(0);
        if most > 0 && h.min_epochs >= most {
            eprintln!(
                "gridsweep: warning: {}: search.min_epochs {} ≥ the configurations' epochs ({most}): successive halving has one rung, \
                 which trains everything to the end (a grid run); give min_epochs below {most}",
                path.display(), h.min_epochs
            );
        }
    }
    Ok(spec)
}

/// The sweep named, or the only one in the database.
pub(super) async fn pick_sweep(store: &Store, name: Option<&str>) -> Result<SweepRow> {
    if let Some(n) = name {
        return store.sweep_by_name(n).await?.with_context(|| {
            format!("no sweep named `{n}` in {} (`gridsweep list{}` shows them)", store.name(), db_hint(store.location()))
        });
    }
    let mut all = store.sweeps().await?;
    match all.len() {
        0 => bail!("{} has no sweeps yet (start one with `gridsweep run SPEC{}`)", store.name(), db_hint(store.location())),
        1 => Ok(all.remove(0)),
        _ => bail!(
            "{} has several sweeps; name one: {}",
            store.name(),
            all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Rough single-core fp32 training throughput used by `plan`'s estimate: `gridsweep
/// bench` measured 52-75 GFLOP/s per job (batch 64 to 512) on the 2-core AVX-512 machine.
const PLAN_GFLOPS_PER_JOB: f64 = 60.0;

pub fn plan(a: PlanArgs) -> Result<Outcome> {
    let spec = load_spec(&a.spec, a.data.as_ref())?;
    let e = spec.expand()?;
    let folds = spec.cv.folds;
    let jobs = a.jobs.unwrap_or_else(available_cores).max(1);
    // A dry run must fail where the run would: data that cannot be read or split is an
    // error (exit 2), not an unknown cost.
    let shape = check_data(&spec).map(|p| (p.train.len(), p.dataset.x.cols, p.dataset.n_classes()))?;
    let keys = rank::varying_keys(e.configs.iter().map(|c| rank::parse_params(&c.canonical_json)));
    let grid_trainings = e.trainings();
    // What the search strategy trains, one configuration per distinct training: the
    // work the sweep does.
    let selected = spec.search.select(&e.configs, spec.seed);
    let mut seen = std::collections::HashSet::new();
    let trainings: Vec<&crate::spec::Config> = selected.iter().filter(|c| seen.insert(&c.training_key)).collect();
    // Successive halving: configurations and epochs per rung, and the fold-epochs it
    // spends at most (each epoch trained once, continuing from saved states) against
    // the same configurations' full runs.
    let max_epochs = trainings.iter().map(|c| c.params.epochs).max().unwrap_or(0);
    let rung_plan: Option<Vec<(usize, u32)>> = spec.search.halving().map(|h| h.rungs(trainings.len(), max_epochs));
    let full_epochs: u64 = trainings.iter().map(|c| c.params.epochs as u64).sum::<u64>() * folds as u64;
    let halving_epochs: Option<u64> = spec.search.halving().map(|h| h.fold_epochs(trainings.len(), max_epochs) * folds as u64);
    let share = halving_epochs.map(|h| h as f64 / full_epochs.max(1) as f64).unwrap_or(1.0);
    let estimate = Some(shape).map(|(train_rows, nf, nc)| {
        let fit_rows = train_rows * (folds - 1) / folds;
        let flops: f64 = trainings.iter().map(|c| crate::bench::fold_fit_flops(&c.params, nf, nc, fit_rows, c.params.epochs)).sum::<f64>() * folds as f64;
        let flops = flops * share;
        (flops, flops / (PLAN_GFLOPS_PER_JOB * 1e9 * jobs as f64))
    });
    if a.json {
        let doc = json!({
            "name": spec.name,
            "configurations": selected.iter().map(|c| json!({"id": c.id, "params": c.params.canonical()})).collect::<Vec<_>>(),
            "search": spec.search,
            "grid_distinct_trainings": grid_trainings,
            "rungs": rung_plan.as_ref().map(|r| r.iter().map(|&(n, b)| json!({"configurations": n, "epochs": b})).collect::<Vec<_>>()),
            "fold_epochs_at_most": halving_epochs.unwrap_or(full_epochs),
            "fold_epochs_of_full_runs": full_epochs,
            "generated": e.generated,
            "grid_rows": e.generated,
            "duplicates_removed": e.duplicates(),
            "distinct_configurations": selected.len(),
            "distinct_trainings": trainings.len(),
            "score": spec.score,
            "folds": folds,
            "fold_fits": trainings.len() * folds,
            "training_flops_upper_bound": estimate.map(|x| x.0),
            "estimated_seconds": estimate.map(|x| x.1),
            "jobs": jobs,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Outcome::Ok);
    }
    // The summary first; the list after it, capped unless --list.
    println!("sweep {}: {} grid rows from {} sub-grid(s), {} distinct configurations, {} distinct trainings",
        spec.name, e.generated, spec.grid.subgrids().len(), e.configs.len(), grid_trainings);
    if grid_trainings < e.generated {
        println!(
            "  ({} duplicate row(s); {} configuration(s) train the same network as another: layers that are not built, settings the protocol does not use; each training runs once and every row gets its results)",
            e.duplicates(), e.configs.len() - grid_trainings
        );
    }
    match spec.search {
        crate::search::Search::Grid => {}
        crate::search::Search::Random { n, seed } | crate::search::Search::Halving { sample: Some(n), seed, .. } => println!(
            "random sample (seed {}): {} of the grid's {} distinct trainings",
            seed.unwrap_or(spec.seed), trainings.len().min(n), grid_trainings
        ),
        _ => {}
    }
    if let (Some(h), Some(rungs), Some(he)) = (spec.search.halving(), &rung_plan, halving_epochs) {
        let list: Vec<String> = rungs.iter().map(|(n, b)| format!("{n} at {b}")).collect();
        println!(
            "successive halving (factor {}, from {} epochs): configurations at epochs per rung {}; at most {} fold-epochs, {:.0}% of full runs' {}",
            h.factor, h.min_epochs, list.join(", "), he, 100.0 * share, full_epochs
        );
    }
    println!("{}", spec.score.describe());
    println!("{} folds each: {} fold-fits", folds, trainings.len() * folds);
    if let Some((flops, secs)) = estimate {
        let time = if secs < 1.0 { "under a second".to_string() } else { format!("about {}", human_duration(secs)) };
        println!(
            "cost: at most {} of training on {} training rows; {time} with {} job(s) at ~{} GFLOP/s each (early stopping makes it less)",
            human_flops(flops), shape.0, jobs, PLAN_GFLOPS_PER_JOB
        );
    }
    let shown = if a.list { selected.len() } else { selected.len().min(PLAN_ROWS) };
    let mut header = vec!["id".to_string()];
    header.extend(keys.iter().cloned());
    let rows: Vec<Vec<String>> = selected[..shown]
        .iter()
        .map(|c| {
            let canon = rank::parse_params(&c.canonical_json);
            std::iter::once(c.id.clone()).chain(keys.iter().map(|k| crate::export::param_cell(&canon, k))).collect()
        })
        .collect();
    let (head, lines) = aligned(&header, &rows);
    println!("\n{head}");
    for l in lines {
        println!("{l}");
    }
    if shown < selected.len() {
        println!("… and {} more (--list shows all, --json every one with its hyperparameters)", selected.len() - shown);
    }
    Ok(Outcome::Ok)
}

pub fn run(a: RunArgs) -> Result<Outcome> {
    let spec = load_spec(&a.spec, a.data.as_ref())?;
    execute(spec, &a.exec)
}

pub fn resume(a: ResumeArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let spec = rt.block_on(async {
        let store = Store::open_existing(&a.exec.db.db).await?;
        let row = store.sweep_by_name(&a.name).await?.with_context(|| {
            format!("no sweep named `{}` in {} (`gridsweep list{}` shows them)", a.name, a.exec.db.db, db_hint(&a.exec.db.db))
        })?;
        store.close().await;
        let spec: Spec = serde_json::from_str(&row.spec_json).context("the stored spec is unreadable")?;
        anyhow::Ok(spec)
    })?;
    execute(spec, &a.exec)
}

fn execute(mut spec: Spec, x: &ExecArgs) -> Result<Outcome> {
    let device = crate::device::parse(&x.device)?;
    let gpus = crate::device::parse_all(&x.device)?;
    let devices: Vec<tch::Device> = if device == tch::Device::Cpu {
        if x.jobs_per_device.is_some() {
            bail!("--jobs-per-device is for GPUs; on the CPU use --jobs");
        }
        vec![device; x.jobs.unwrap_or_else(available_cores).max(1)]
    } else {
        let per = x.jobs_per_device.unwrap_or(2).max(1);
        gpus.iter().flat_map(|d| std::iter::repeat_n(*d, per)).collect()
    };

    if let Some(p) = &x.precision {
        let mut check = HyperParams::default();
        check.set("precision", &json!(p)).context("--precision")?;
        spec.fixed.insert("precision".into(), json!(check.precision.name()));
    }
    let expansion = spec.expand()?;
    for c in &expansion.configs {
        super::check_precision(c.params.precision, device)?;
    }
    // The data first: a spec whose data cannot be read or split fails here, before
    // anything is recorded.
    let data = Arc::new(CvData::load(&spec.dataset, spec.cv.folds)?);
    let rt = runtime()?;
    let store = rt.block_on(Store::open(&x.db.db))?;
    let (sweep_id, new_configs) = rt.block_on(register(&store, &spec, &expansion, x.retry_failed))?;

    // fp32 results depend on MKL's kernels (`--mkl-avx512`): say so where this run's
    // differ from those the sweep's done folds ran with.
    if device == tch::Device::Cpu {
        let here = crate::device::label(device);
        for (there, n) in rt.block_on(store.done_fold_devices(sweep_id))? {
            if there.starts_with("cpu") && there != here {
                eprintln!(
                    "gridsweep: note: {n} done fold(s) of sweep `{}` ran on `{there}`, this run on `{here}`: \
                     their fp32 results differ in rounding (MKL's kernels, see --mkl-avx512), and the sweep will hold both",
                    spec.name
                );
            }
        }
    }

    // Every configuration of the sweep (also those an earlier spec version added).
    let rows = rt.block_on(store.configurations(sweep_id))?;
    let mut params = HashMap::new();
    for (id, _, json, _) in &rows {
        let obj = rank::parse_params(json);
        params.insert(id.clone(), HyperParams::from_object(&obj).with_context(|| format!("stored configuration {id}"))?);
    }
    for w in &data.prepared.warnings {
        eprintln!("gridsweep: warning: {w}");
    }
    let labels = config_labels(&rows);
    let data_description = format!(
        "{} rows ({} training), {}",
        data.prepared.dataset.y.len(),
        data.prepared.train.len(),
        data.prepared.dataset.describe_features()
    );
    // The benchmark's simulated folds, or training.
    let runner: Arc<dyn sched::FoldRunner> = match x.simulate_ms {
        Some(ms) => Arc::new(sched::SimulatedRunner { work: Duration::from_millis(ms) }),
        None => Arc::new(sched::TrainRunner::new(&data, spec.seed)),
    };
    let job = SweepJob {
        sweep_id,
        name: spec.name.clone(),
        data_description,
        params,
        configs: rows.len(),
        new_configs,
        score: spec.score,
        labels,
        halving: spec.search.halving(),
        resume_hint: format!("gridsweep resume {}{}", shell_word(&spec.name), db_hint(&x.db.db)),
    };
    let opts = RunOptions {
        jobs: devices.len(),
        threads_per_job: x.threads_per_job.unwrap_or(super::THREADS_PER_JOB),
        devices,
        lease: Duration::from_secs(x.lease_seconds.max(2)),
        heartbeat: Duration::from_secs((x.lease_seconds / 4).max(1)),
        db_patience: Duration::from_secs(x.db_timeout),
        checkpoint_every: x.checkpoint_every,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mode = reporter::Mode::detect(x.quiet);
    let display = std::thread::spawn(move || reporter::report(mode, rx));
    let result = rt.block_on(sched::run(&store, job, &opts, runner, &tx));
    drop(tx);
    let _ = display.join();
    rt.block_on(store.close());
    let summary = match result {
        Err(e @ crate::store::StoreError::Interrupted { .. }) => {
            eprintln!("gridsweep: {e}");
            return Ok(Outcome::Interrupted);
        }
        r => r?,
    };
    Ok(if summary.terminated() {
        Outcome::Terminated
    } else if summary.stopped == Some(sched::Stopped::Aborted) || summary.interrupted() {
        Outcome::Interrupted
    } else if summary.counts.failed > 0 {
        Outcome::SomeFailed
    } else {
        Outcome::Ok
    })
}

/// Each configuration's varying hyperparameters, `key value` pairs as `rank` shows them.
fn config_labels(rows: &[rank::ConfigRow]) -> HashMap<String, String> {
    let params: Vec<_> = rows.iter().map(|r| rank::parse_params(&r.2)).collect();
    let keys = rank::varying_keys(params.iter().cloned());
    rows.iter()
        .zip(&params)
        .map(|(r, p)| {
            let pairs: Vec<String> = keys.iter().map(|k| format!("{k} {}", crate::export::param_cell(p, k))).collect();
            (r.0.clone(), pairs.join(", "))
        })
        .collect()
}

/// Records a spec's sweep and its new configurations (their folds pending) in the
/// database, refusing a sweep of that name that ran on other data, folds, seed or
/// search. A sweep of that name with no done fold and no live worker is replaced
/// instead (a first run that failed, or was stopped at once, does not block its name),
/// saying so. Returns the sweep's id and how many configurations were new.
///
/// Callers check the data (see [`check_data`]) before this writes anything.
pub(super) async fn register(store: &Store, spec: &Spec, expansion: &crate::spec::Expansion, retry_failed: bool) -> Result<(i64, usize)> {
    let fingerprint = crate::data::fingerprint(&spec.dataset)?;
    let spec_json = serde_json::to_string(spec)?;
    let configs = spec.search.select(&expansion.configs, spec.seed);
    if let Some(row) = store.sweep_by_name(&spec.name).await? {
        if let Some(conflict) = conflict(store, &row, spec, &fingerprint, &configs).await? {
            let c = store.counts(row.id).await?;
            if c.done > 0 || store.live_running(row.id).await? > 0 {
                return Err(conflict);
            }
            store.delete_sweep(row.id).await?;
            eprintln!(
                "gridsweep: note: sweep `{}` in {} had no done fold ({}); it is replaced by this spec",
                spec.name, store.name(), super::error_text(&conflict).split(". ").next().unwrap_or_default()
            );
        }
    }
    let row = store.ensure_sweep(&spec.name, &spec_json, &fingerprint, spec.cv.folds, spec.seed).await?;
    // Two processes registering at once: the other may have created it differently.
    if let Some(conflict) = conflict(store, &row, spec, &fingerprint, &configs).await? {
        return Err(conflict);
    }
    let halving = spec.search.halving();
    let added = store.add_configs_with(row.id, &configs, spec.cv.folds, halving).await?;
    if added > 0 {
        store.update_spec(row.id, &spec_json).await?;
    }
    if retry_failed {
        store.requeue_failed(row.id).await?;
    }
    Ok((row.id, added))
}

/// Why `spec` cannot continue the recorded sweep `row` (other data, folds, seed or
/// search, or configurations added to a halving sweep under way), if it cannot.
async fn conflict(store: &Store, row: &SweepRow, spec: &Spec, fingerprint: &str, configs: &[crate::spec::Config]) -> Result<Option<anyhow::Error>> {
    if row.dataset_fingerprint != fingerprint {
        return Ok(Some(anyhow::anyhow!(
            "sweep `{}` in {} was run on different data (dataset fingerprint {}…, now {}…): \
             the file or the dataset options changed. Give the spec another `name` to start a new sweep \
             (or remove the old one: `gridsweep delete {}{}`)",
            spec.name, store.name(), &row.dataset_fingerprint[..12.min(row.dataset_fingerprint.len())], &fingerprint[..12],
            spec.name, db_hint(store.location())
        )));
    }
    if row.folds as usize != spec.cv.folds || row.seed as u64 != spec.seed {
        return Ok(Some(anyhow::anyhow!(
            "sweep `{}` was run with {} folds and seed {}; this spec asks for {} folds and seed {}. \
             Results would not be comparable: give the spec another `name`.",
            spec.name, row.folds, row.seed, spec.cv.folds, spec.seed
        )));
    }
    // The strategy of a sweep is part of what it is: a sweep started as a grid does not
    // become a halving one, nor does a halving sweep change its configurations (its
    // rungs rank a fixed set). A random sweep may raise its `n`.
    let Ok(before) = serde_json::from_str::<Spec>(&row.spec_json) else { return Ok(None) };
    let existing = store.config_count(row.id).await?;
    if existing == 0 {
        return Ok(None);
    }
    let same = match (before.search, spec.search) {
        (Search::Random { seed: a, .. }, Search::Random { seed: b, .. }) => a.unwrap_or(before.seed) == b.unwrap_or(spec.seed),
        // A changed sample is a changed configuration set: refused below, saying so.
        (Search::Halving { factor: a, min_epochs: m, .. }, Search::Halving { factor: b, min_epochs: n, .. }) => a == b && m == n,
        (a, b) => a == b,
    };
    if !same {
        return Ok(Some(anyhow::anyhow!(
            "sweep `{}` was run with search {}; this spec asks for search {}: give the spec another `name` to start a new sweep",
            spec.name, serde_json::to_string(&before.search)?, serde_json::to_string(&spec.search)?
        )));
    }
    if spec.search.halving().is_some() {
        let known: std::collections::HashSet<String> = store.configurations(row.id).await?.into_iter().map(|c| c.0).collect();
        let new = configs.iter().filter(|c| !known.contains(&c.id)).count();
        if new > 0 {
            return Ok(Some(anyhow::anyhow!(
                "sweep `{}` is a successive-halving sweep already under way: its rungs rank a fixed set of configurations, and this spec adds {new}. Give the spec another `name` to start a new sweep",
                spec.name
            )));
        }
    }
    Ok(None)
}

/// Reads and splits the spec's data as a run would, before anything is written: a
/// spec whose data cannot be used fails here, with nothing recorded.
pub(super) fn check_data(spec: &Spec) -> Result<crate::data::Prepared> {
    Ok(crate::data::prepare(&spec.dataset, spec.cv.folds)?)
}

/// ` --db X` when `db` is not the default database, for hints that name a command.
pub fn db_hint(db: &DbLocation) -> String {
    if db.file() == Some(Path::new(DEFAULT_DB)) {
        String::new()
    } else {
        format!(" --db {}", shell_word(&db.to_string()))
    }
}

/// A word as a shell would need it typed (quoted only when it has to be).
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:@=+,".contains(c)) {
        s.to_string()
    } else {
        super::sh_quote(s)
    }
}

pub fn status(a: StatusArgs) -> Result<Outcome> {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let c = store.counts(sweep.id).await?;
        let window = 600.0;
        let (recent, first) = store.finished_since(sweep.id, now() - window).await?;
        let span = first.map(|f| (now() - f).max(1.0)).unwrap_or(window);
        let rate_per_min = if recent > 0 { recent as f64 / span * 60.0 } else { 0.0 };
        let remaining = c.pending + c.running;
        let workers = store.workers(sweep.id).await?;
        // Folds held by processes of this host that are gone are not being worked on.
        let live = store.live_running(sweep.id).await? - workers.iter().filter(|w| w.gone).map(|w| w.running).sum::<i64>();
        let eta = (rate_per_min > 0.0 && live > 0).then(|| remaining as f64 / rate_per_min * 60.0);
        let failures = store.failures(sweep.id).await?;
        // Where the done folds ran: a sweep continued on other kernels or devices
        // mixes results that differ in rounding.
        let devices = store.done_fold_devices(sweep.id).await?;
        let rule = sweep_score_rule(&sweep);
        let rows = store.configurations(sweep.id).await?;
        let trainings = store.training_count(sweep.id).await?;
        let rungs = store.rungs(sweep.id).await?;
        let ranked = rank::rank(&rows, &rule);
        let best = ranked.first();
        if a.json {
            let devices: Vec<_> = devices.iter().map(|(d, n)| json!({"device": d, "folds": n})).collect();
            println!("{}", serde_json::to_string_pretty(&json!({
                "name": sweep.name, "counts": c, "total": c.total(),
                "configurations": rows.len(), "distinct_trainings": trainings, "complete_configurations": ranked.len(), "score": rule,
                "best": best.map(|b| json!({"config_id": b.config_id, "score": b.score,
                    "mean_val_accuracy": b.summary.mean_val_accuracy, "delta_accuracy": b.summary.delta_accuracy})),
                "rate_folds_per_minute": rate_per_min, "eta_seconds": eta, "failures": failures,
                "workers_running": live > 0, "live_running_folds": live, "workers": workers,
                "done_fold_devices": devices, "rungs": rungs,
                "created_at": sweep.created_at, "updated_at": sweep.updated_at,
            }))?);
        } else {
            println!("sweep {}: {} grid rows, {} distinct trainings; {} folds — {} done, {} running, {} pending, {} failed",
                sweep.name, rows.len(), trainings, c.total(), c.done, c.running, c.pending, c.failed);
            if let Some(b) = best {
                println!("best of {} complete configurations: {} score {:.4} (val {:.4}, Δacc {}; {})", ranked.len(),
                    b.config_id, b.score, b.summary.mean_val_accuracy, crate::text::four(b.summary.delta_accuracy), rule.describe());
            }
            if let Some(rungs) = &rungs {
                println!("successive halving:");
                let header: Vec<String> = ["rung", "configurations", "epochs", "folds done", "promoted"].map(String::from).to_vec();
                let table: Vec<Vec<String>> = rungs
                    .iter()
                    .map(|r| {
                        vec![
                            r.rung.to_string(),
                            r.configurations.to_string(),
                            r.epochs.map(|e| e.to_string()).unwrap_or_default(),
                            match (r.folds_done, r.folds) {
                                (Some(d), Some(n)) => format!("{d} of {n}"),
                                _ => "all".into(),
                            },
                            match (r.promoted, r.folds) {
                                (Some(p), _) => p.to_string(),
                                (None, Some(_)) => "(in progress)".into(),
                                (None, None) => "(the last rung)".into(),
                            },
                        ]
                    })
                    .collect();
                print_aligned(&header, &table, "  ");
            }
            if !devices.is_empty() {
                let on: Vec<String> = devices.iter().map(|(d, n)| format!("{n} on {}", if d.is_empty() { "?" } else { d })).collect();
                println!("done folds: {}", on.join(", "));
            }
            for w in &workers {
                if w.gone {
                    println!(
                        "worker {}:{} — gone (the process no longer exists); its {} fold(s) (e.g. {}) return to pending at lease expiry in {:.0} s, or when a run starts on this host",
                        w.host, w.pid, w.running, w.example, w.lease_left.unwrap_or(0.0).max(0.0)
                    );
                    continue;
                }
                println!(
                    "worker {}:{} — {} fold(s) running (e.g. {}), last heartbeat {}",
                    w.host, w.pid, w.running, w.example,
                    w.heartbeat_age.map(|a| format!("{a:.0} s ago")).unwrap_or_else(|| "unknown".into())
                );
            }
            if remaining > 0 && live == 0 {
                // Leases tell: no process holds a fold of this sweep now.
                println!("no worker is running: {remaining} fold(s) left (`gridsweep resume {}{}` continues)", sweep.name, db_hint(&a.db.db));
            } else if rate_per_min > 0.0 {
                println!("rate {:.1} folds/min over the last {}{}", rate_per_min, human_duration(span),
                    eta.filter(|_| remaining > 0)
                        .map(|e| format!(", ETA {}{}", human_duration(e), if rungs.is_some() { " for this rung (later rungs are not counted)" } else { "" }))
                        .unwrap_or_default());
            } else if remaining > 0 {
                println!("no fold finished in the last 10 minutes");
            }
            for f in &failures {
                println!("failed: {} fold {} (attempts {}): {}", f.config_id, f.fold, f.attempts, f.error);
            }
        }
        store.close().await;
        anyhow::Ok(if c.failed > 0 { Outcome::SomeFailed } else { Outcome::Ok })
    })
}

pub fn list(a: ListArgs) -> Result<Outcome> {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let mut out = Vec::new();
        for s in store.sweeps().await? {
            let c = store.counts(s.id).await?;
            let rows = store.configurations(s.id).await?;
            let best = rank::rank(&rows, &sweep_score_rule(&s)).first().map(|r| (r.config_id.clone(), r.score));
            out.push((s, c, rows.len(), best));
        }
        if a.json {
            let v: Vec<_> = out.iter().map(|(s, c, n, best)| json!({
                "name": s.name, "configurations": n, "counts": c, "folds": s.folds, "seed": s.seed,
                "created_at": s.created_at, "updated_at": s.updated_at,
                "best": best.as_ref().map(|(id, sc)| json!({"config_id": id, "score": sc})),
            })).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else if out.is_empty() {
            println!("no sweeps in {}", a.db.db);
        } else {
            println!("{:<24} {:>8} {:>14} {:>7}  best score", "name", "configs", "folds done", "failed");
            for (s, c, n, best) in &out {
                println!("{:<24} {:>8} {:>14} {:>7}  {}", s.name, n, format!("{}/{}", c.done, c.total()), c.failed,
                    best.as_ref().map(|(id, sc)| format!("{sc:.4} ({id})")).unwrap_or_else(|| "-".into()));
            }
        }
        store.close().await;
        anyhow::Ok(Outcome::Ok)
    })
}

pub fn delete(a: DeleteArgs) -> Result<Outcome> {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, Some(&a.name)).await?;
        let live = store.live_running(sweep.id).await?;
        if live > 0 && !a.force {
            let workers: Vec<String> = store.workers(sweep.id).await?.iter().map(|w| format!("{}:{}", w.host, w.pid)).collect();
            bail!(
                "sweep `{}` has {live} fold(s) held by running workers ({}); stop them first (Ctrl-C), or pass --force",
                sweep.name, workers.join(", ")
            );
        }
        let r = store.delete_sweep(sweep.id).await?;
        store.close().await;
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
        let n = to.load_sweep(&dump).await?;
        let counts = to.counts(to.sweep_by_name(&sweep.name).await?.map(|s| s.id).unwrap_or(-1)).await?;
        to.close().await;
        let running = dump.folds.iter().filter(|f| f.state == "running").count();
        println!(
            "copied sweep {} from {} to {}: {} configuration(s) and {} fold(s) added, {} fold result(s) and {} evaluation(s) written; there: {} of {} folds done, {} failed, {} pending{}",
            sweep.name, a.from, a.to, n.configurations, n.folds_added, n.folds_written, n.evaluations,
            counts.done, counts.total(), counts.failed, counts.pending,
            if running > 0 { format!(" ({running} running in the source arrive pending)") } else { String::new() }
        );
        anyhow::Ok(Outcome::Ok)
    })
}

pub fn rank_cmd(a: RankArgs) -> Result<Outcome> {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let rows = store.configurations(sweep.id).await?;
        let partial = store.partial_configurations(sweep.id).await?;
        store.close().await;
        let rule = a.score.rule(sweep_score_rule(&sweep))?;
        let ranked = rank::rank(&rows, &rule);
        // Successive halving's unfinished ones, after the complete ones: the furthest
        // trained first, then by score at that point.
        let partial_rows: Vec<rank::ConfigRow> =
            partial.iter().map(|p| (p.config_id.clone(), p.position, p.params_json.clone(), Some(p.summary.clone()))).collect();
        let mut partial_ranked = rank::rank(&partial_rows, &rule);
        let info: HashMap<&str, &crate::store::PartialConfig> = partial.iter().map(|p| (p.config_id.as_str(), p)).collect();
        let epochs_of = |id: &str| info.get(id).and_then(|p| p.resource_epochs).unwrap_or(0);
        partial_ranked.sort_by(|x, y| epochs_of(&y.config_id).cmp(&epochs_of(&x.config_id)).then(y.score.total_cmp(&x.score)).then(x.position.cmp(&y.position)));
        let keys = rank::varying_keys(rows.iter().map(|r| rank::parse_params(&r.2)));
        let shown: Vec<&rank::Ranked> = ranked.iter().take(if a.top == 0 { usize::MAX } else { a.top }).collect();
        if a.json {
            let partial_json: Vec<Value> = partial_ranked
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    v["resource_epochs"] = json!(epochs_of(&r.config_id));
                    v["pruned"] = json!(info.get(r.config_id.as_str()).is_some_and(|p| p.pruned));
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({
                "name": sweep.name, "w1": rule.w1, "w2": rule.w2, "delta": rule.delta, "complete": ranked.len(), "configurations": rows.len(),
                "varying": keys, "ranking": shown, "partial": partial_json,
            }))?);
            return anyhow::Ok(Outcome::Ok);
        }
        println!("sweep {}: {} of {} configurations complete; {}", sweep.name, ranked.len(), rows.len(), rule.describe());
        let mut header: Vec<String> = ["rank", "score", "val acc", "train acc", "Δacc", "id"].map(String::from).to_vec();
        header.extend(keys.iter().cloned());
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
                row.extend(keys.iter().map(|k| crate::export::param_cell(&r.params, k)));
                row
            })
            .collect();
        print_aligned(&header, &table, "");
        // Successive halving's others in two tables: those it stopped for good, and those
        // still in the search (at a rung, to be continued).
        let is_pruned = |id: &str| info.get(id).is_some_and(|p| p.pruned);
        for pruned in [true, false] {
            let group: Vec<&rank::Ranked> = partial_ranked.iter().filter(|r| is_pruned(&r.config_id) == pruned).collect();
            if group.is_empty() {
                continue;
            }
            if pruned {
                println!("\npruned: {} configuration(s) stopped by successive halving for good, with their scores at the epochs they reached:", group.len());
            } else {
                println!("\nstill in the search: {} configuration(s) stopped by successive halving at a rung, to be continued, with their scores so far:", group.len());
            }
            let mut header: Vec<String> = ["epochs", "score", "val acc", "train acc", "id", "state"].map(String::from).to_vec();
            header.extend(keys.iter().cloned());
            let table: Vec<Vec<String>> = group
                .iter()
                .take(if a.top == 0 { usize::MAX } else { a.top })
                .map(|r| {
                    let s = &r.summary;
                    let mut row = vec![
                        epochs_of(&r.config_id).to_string(),
                        format!("{:.4}", r.score),
                        format!("{:.4}", s.mean_val_accuracy),
                        format!("{:.4}", s.mean_train_accuracy),
                        r.config_id.clone(),
                        if info.get(r.config_id.as_str()).is_some_and(|p| p.pruned) { "pruned" } else { "in the search" }.to_string(),
                    ];
                    row.extend(keys.iter().map(|k| crate::export::param_cell(&r.params, k)));
                    row
                })
                .collect();
            print_aligned(&header, &table, "");
        }
        anyhow::Ok(Outcome::Ok)
    })
}

pub fn export(a: ExportArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let (sweep, rows, folds, resource) = rt.block_on(async {
        let store = Store::open_existing(&a.db.db).await?;
        let sweep = pick_sweep(&store, a.name.as_deref()).await?;
        let mut rows = store.configurations(sweep.id).await?;
        // With --include-partial, a configuration stopped by successive halving comes with
        // its rung's summary, and every row says the epochs its numbers are of.
        let resource = if a.include_partial {
            let partial: HashMap<String, crate::store::PartialConfig> =
                store.partial_configurations(sweep.id).await?.into_iter().map(|p| (p.config_id.clone(), p)).collect();
            let mut resource = HashMap::new();
            for r in rows.iter_mut() {
                match partial.get(&r.0) {
                    Some(p) => {
                        r.3 = Some(p.summary.clone());
                        resource.insert(r.0.clone(), p.resource_epochs.unwrap_or(0));
                    }
                    None if r.3.is_some() => {
                        let epochs = rank::parse_params(&r.2).get("epochs").and_then(Value::as_i64).unwrap_or(0);
                        resource.insert(r.0.clone(), epochs);
                    }
                    None => {}
                }
            }
            Some(resource)
        } else {
            None
        };
        let folds = match a.format {
            ExportFormat::CvResults => store.fold_metrics(sweep.id).await?,
            ExportFormat::HpoCombined => HashMap::new(),
        };
        store.close().await;
        anyhow::Ok((sweep, rows, folds, resource))
    })?;
    let out: Box<dyn std::io::Write> = match &a.out {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let rule = sweep_score_rule(&sweep);
    let n = match a.format {
        ExportFormat::HpoCombined => crate::export::hpo_combined(out, &rows, &rule, resource.as_ref())?,
        ExportFormat::CvResults => {
            let spec: Spec = serde_json::from_str(&sweep.spec_json).context("the stored spec is unreadable")?;
            let keys = spec.expand()?.grid_keys;
            crate::export::cv_results(out, &rows, &folds, sweep.folds as usize, &keys, resource.as_ref())?
        }
    };
    if let Some(p) = &a.out {
        eprintln!("gridsweep: wrote {n} configurations of sweep {} to {}", sweep.name, p.display());
    }
    Ok(Outcome::Ok)
}
