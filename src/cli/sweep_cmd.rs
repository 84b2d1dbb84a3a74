//! Commands that run a sweep: plan, run, resume; and what every command shares (the
//! database argument, the score overrides, picking a sweep, hints).

use super::{available_cores, Outcome};
use crate::cv::{DeltaKind, ScoreRule};
use crate::params::HyperParams;
use crate::rank;
use crate::reporter;
use crate::search::Search;
use crate::spec::{Spec, BUILTIN_DEMO};
use crate::store::{DbLocation, Store, SweepRow};
use crate::sweep::{self, Pick};
use crate::text::shell_word;
use crate::text::{human_duration, human_flops};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_DB: &str = "results/gridsweep.db";

#[derive(Args, Debug, Clone)]
pub struct DbArg {
    /// The results database: a SQLite file, or a PostgreSQL database
    /// (postgres://user@host:port/dbname) for a sweep that spans machines.
    #[arg(long, default_value = DEFAULT_DB, value_parser = parse_db)]
    pub db: DbLocation,
}

pub(super) fn parse_db(s: &str) -> std::result::Result<DbLocation, String> {
    if s.trim().is_empty() {
        return Err(format!("expected {}", crate::store::location::ACCEPTED));
    }
    DbLocation::try_parse(s)
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
    /// Estimate the time from the folds of this database's sweeps on the same data
    /// (SQLite file or PostgreSQL URL; read only): their seconds per GFLOP and per
    /// step on this machine, and for full runs their early-stopping share. Calibrate
    /// from a run with the same jobs per machine.
    #[arg(long, value_name = "DB", value_parser = parse_db)]
    pub calibrate: Option<DbLocation>,
    /// Print one JSON document (every configuration with its canonical hyperparameters).
    #[arg(long)]
    pub json: bool,
    /// Write which rows fall in each part (train, validation, test) and CV fold of
    /// every partition the spec trains on, as a run cuts them, to this CSV (`-`: standard
    /// output): columns partition, index (pandas' default index of the file), line,
    /// label, part, fold. Compare with scikit-learn's own indices.
    #[arg(long, value_name = "CSV")]
    pub partitions: Option<PathBuf>,
}

/// Columns padded to their widest cell, header first.
pub(super) fn aligned(header: &[String], rows: &[Vec<String>]) -> (String, Vec<String>) {
    let width: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    (line(header), rows.iter().map(|r| line(r)).collect())
}

/// Prints a table with [`aligned`] columns.
pub(super) fn print_aligned(header: &[String], rows: &[Vec<String>], indent: &str) {
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
    #[command(flatten)]
    pub jobs: super::flags::JobsArg,
    #[command(flatten)]
    pub threads: super::flags::ThreadsArg,
    #[command(flatten)]
    pub device: super::flags::DeviceArg,
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
    /// Train up to N folds of one network shape and batch size at a time as one
    /// stacked model per worker (batched products; each fold keeps its own seeds,
    /// optimizer, callbacks and result). For GPUs, where one small network leaves the
    /// chip idle; on a CPU it does not pay (docs/performance.md). Off (1) by default.
    #[arg(long, default_value_t = 1, value_parser = super::positive)]
    pub fuse: usize,
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
pub struct RerunArgs {
    /// The sweep whose best configurations are rerun (run here or imported).
    pub name: String,
    /// How many of the best.
    #[arg(long, default_value_t = 10, value_parser = super::positive)]
    pub top: usize,
    /// Repeats of the k-fold cross-validation (a new seeded split each).
    #[arg(long, default_value_t = 10, value_parser = super::positive)]
    pub repeats: usize,
    /// The new sweep's name (default: NAME-rerun-TOPxREPEATS, or NAME-race-TOPxREPEATS).
    #[arg(long = "as", value_name = "NEW_NAME")]
    pub new_name: Option<String>,
    /// Race them over the repeats instead of running every fold: the credibly worse
    /// leave at each barrier and it ends with the tie set (the race's defaults; a spec's
    /// `"search": {"strategy": "race", …}` sets others).
    #[arg(long)]
    pub race: bool,
    /// With --race: the pick among the tie set (score, smallest, fastest).
    #[arg(long, requires = "race", value_parser = ["score", "smallest", "fastest"])]
    pub prefer: Option<String>,
    /// The data, split, folds and seed to train on (default: the sweep's own spec;
    /// needed for an imported sweep, e.g. search-spaces/genre-factor.json for the study's file).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The ranking that picks the best (default: the sweep's rule).
    #[command(flatten)]
    pub score: ScoreArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// Overrides of the sweep's score rule (its spec's `score` section).
#[derive(Args, Debug, Clone, Default)]
pub struct ScoreArgs {
    /// Weight of 1 − |Δacc| in the score (default: the sweep's, 0.5 unless its spec says).
    // A negative value is read as a value (and refused by the rule, saying why), not as
    // an unknown flag with clap's `-- -1` tip, which would not work here.
    #[arg(long, allow_negative_numbers = true)]
    pub w1: Option<f64>,
    /// Weight of the mean validation accuracy in the score (default: the sweep's, 1).
    #[arg(long, allow_negative_numbers = true)]
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

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(super) fn load_spec(path: &Path, data: Option<&PathBuf>) -> Result<Spec> {
    let mut spec = Spec::load(path)?;
    if let Ok(text) = std::fs::read_to_string(path) {
        for w in spec.warnings(&text) {
            eprintln!("gridsweep: warning: {}: {w}", path.display());
        }
    }
    if let Some(d) = data {
        spec.dataset.path = d.clone();
    }
    // Stored specs carry an absolute path so `resume` works from any folder.
    if spec.dataset.path.as_os_str() != BUILTIN_DEMO {
        spec.dataset.path =
            std::path::absolute(&spec.dataset.path).unwrap_or(spec.dataset.path.clone());
    }
    if let Some(h) = spec.search.halving() {
        let most = spec
            .expand()
            .map(|e| e.configs.iter().map(|c| c.params.epochs).max().unwrap_or(0))
            .unwrap_or(0);
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

/// The sweep named, or the only one in the database, as an error that says what
/// there is otherwise.
pub(super) async fn pick_sweep(store: &Store, name: Option<&str>) -> Result<SweepRow> {
    match sweep::pick(store, name).await? {
        Pick::Found(row) => Ok(row),
        Pick::NoSuchName => bail!(
            "no sweep named `{}` in {} (`gridsweep list{}` shows them)",
            name.unwrap_or_default(),
            store.name(),
            db_hint(store.location())
        ),
        Pick::Empty => bail!(
            "{} has no sweeps yet (start one with `gridsweep run SPEC{}`)",
            store.name(),
            db_hint(store.location())
        ),
        Pick::Several(names) => bail!(
            "{} has several sweeps; name one: {}",
            store.name(),
            names.join(", ")
        ),
    }
}

/// A spec's data file that is not there: name the option that reads another.
fn with_data_hint(e: anyhow::Error, data_given: bool) -> anyhow::Error {
    let missing = e.chain().any(|c| {
        matches!(c.downcast_ref::<crate::data::DataError>(), Some(crate::data::DataError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound)
            || matches!(c.downcast_ref::<sweep::SweepError>(), Some(sweep::SweepError::Data(crate::data::DataError::Io { source, .. })) if source.kind() == std::io::ErrorKind::NotFound)
    });
    if missing && !data_given {
        e.context(
            "the spec's dataset.path is not there (--data FILE reads the data from another file)",
        )
    } else {
        e
    }
}

/// A spec error found by the sweep logic (a race's budget that cannot pay for its first
/// stage), named with the spec's file and the key's line as the parser names its own
/// ("bad.json: search.budget (line 8): …").
fn in_spec_file(e: anyhow::Error, path: &Path) -> anyhow::Error {
    // Only that error is rebuilt: any other keeps its context (hints) as it is.
    let Some(sweep::SweepError::Spec(message)) = e.downcast_ref::<sweep::SweepError>() else {
        return e;
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (key, why) = message.split_once(": ").unwrap_or(("", message.as_str()));
    let keys: Vec<&str> = key.split('.').filter(|k| !k.is_empty()).collect();
    anyhow::anyhow!(
        "{}: {}: {why}",
        path.display(),
        crate::spec::place_with_line(&text, &keys)
    )
}

pub fn plan(a: PlanArgs) -> Result<Outcome> {
    let path = a.spec.clone();
    plan_spec(a).map_err(|e| in_spec_file(e, &path))
}

fn plan_spec(a: PlanArgs) -> Result<Outcome> {
    let spec = load_spec(&a.spec, a.data.as_ref())?;
    if let Some(out) = &a.partitions {
        let rows = sweep::plan::partitions(&spec)
            .map_err(|e| with_data_hint(e.into(), a.data.is_some()))?;
        let to_stdout = out.as_os_str() == "-";
        let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !to_stdout && (same(out, &spec.dataset.path) || same(out, &a.spec)) {
            bail!(
                "--partitions {}: that is the spec's {}; name another file",
                out.display(),
                if same(out, &a.spec) {
                    "own file"
                } else {
                    "data file"
                }
            );
        }
        let sink: Box<dyn std::io::Write> =
            if to_stdout {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(std::fs::File::create(out).with_context(|| {
                    format!("--partitions {}: cannot write there", out.display())
                })?)
            };
        let mut w = csv::Writer::from_writer(sink);
        for r in &rows {
            w.serialize(r)?;
        }
        w.flush()?;
        if !to_stdout {
            let parts: std::collections::BTreeSet<&str> =
                rows.iter().map(|r| r.partition.as_str()).collect();
            println!(
                "wrote {} rows of {} to {}",
                rows.len(),
                crate::text::count(parts.len(), "partition", "partitions"),
                out.display()
            );
        }
        return Ok(Outcome::Ok);
    }
    // A dry run must fail where the run would: data that cannot be read or split is an
    // error (exit 2), not an unknown cost.
    let p = sweep::plan::plan(&spec, a.jobs.unwrap_or_else(available_cores))
        .map_err(|e| with_data_hint(e.into(), a.data.is_some()))?;
    let calibration = match &a.calibrate {
        None => None,
        Some(db) => Some(runtime()?.block_on(async {
            let store = Store::open_read_only(db).await?;
            let c = sweep::plan::calibrate(&store, &spec, p.jobs).await;
            store.close().await;
            anyhow::Ok(c?)
        })?),
    };
    let estimate = calibration
        .as_ref()
        .map_or(p.seconds, |c| p.calibrated_seconds(c));
    let e = &p.expansion;
    if a.json {
        let doc = json!({
            "name": spec.name,
            "configurations": p.selected.iter().map(|c| json!({"id": c.id, "params": c.params.canonical()})).collect::<Vec<_>>(),
            "search": spec.search,
            "grid_distinct_trainings": p.grid_trainings,
            "rungs": (p.brackets.len() == 1).then(|| p.brackets[0].1.iter().map(|&(n, b)| json!({"configurations": n, "epochs": b})).collect::<Vec<_>>()),
            "brackets": (!p.brackets.is_empty()).then(|| p.brackets.iter().map(|(h, r)| json!({
                "min_epochs": h.min_epochs,
                "rungs": r.iter().map(|&(n, b)| json!({"configurations": n, "epochs": b})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()),
            "fold_epochs_at_most": p.fold_epochs,
            "fold_epochs_of_full_runs": p.full_fold_epochs,
            "generated": e.generated,
            "grid_rows": e.generated,
            "duplicates_removed": e.duplicates(),
            "distinct_configurations": p.selected.len(),
            "distinct_trainings": p.trainings,
            "score": spec.score,
            "folds": p.folds,
            "fold_fits": p.trainings * p.folds,
            "race": p.race.map(|r| json!({
                "first_folds": r.first_folds,
                "max_folds": r.max_folds,
                "least_fold_fits": r.least_fold_fits,
                "most_fold_fits": r.most_fold_fits,
                "budget_fold_fits": r.budget,
            })),
            "training_flops_upper_bound": p.flops,
            "optimizer_steps_upper_bound": p.steps,
            "estimated_seconds": estimate,
            "bound_seconds": p.seconds,
            "calibration": calibration,
            "jobs": p.jobs,
            "fusion_groups": p.fusion_groups().iter().map(|(k, n)| json!({
                "hidden_widths": k.widths, "batch_size": k.batch_size, "precision": k.precision.name(), "fuses": k.fusable, "trainings": n,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Outcome::Ok);
    }
    print_plan(&spec, &p, calibration.as_ref(), estimate, a.list);
    Ok(Outcome::Ok)
}

/// The plan's summary first, then the configurations, capped unless `list`.
/// `seconds`: the estimate (the bound's, or the calibrated one).
fn print_plan(
    spec: &Spec,
    p: &sweep::plan::Plan,
    calibration: Option<&sweep::plan::Calibration>,
    seconds: f64,
    list: bool,
) {
    let e = &p.expansion;
    println!("sweep {}: {} grid rows from {} sub-grid(s), {} distinct configurations, {} distinct trainings",
        spec.name, e.generated, spec.grid.subgrids().len(), e.configs.len(), p.grid_trainings);
    if p.grid_trainings < e.generated {
        println!(
            "  ({} duplicate row(s); {} configuration(s) train the same network as another: layers that are not built, settings the protocol does not use; each training runs once and every row gets its results)",
            e.duplicates(), e.configs.len() - p.grid_trainings
        );
    }
    let how = |stratify: bool| {
        if stratify {
            "stratified by sub-grid, "
        } else {
            ""
        }
    };
    let drawn = match spec.search {
        Search::Random { n, seed, stratify }
        | Search::Halving {
            sample: Some(n),
            seed,
            stratify,
            ..
        } => {
            println!(
                "random sample ({}seed {}): {} of the grid's {} distinct trainings",
                how(stratify),
                seed.unwrap_or(spec.seed),
                p.trainings.min(n),
                p.grid_trainings
            );
            true
        }
        Search::Hyperband { seed, stratify, .. } => {
            println!(
                "hyperband's draw ({}seed {}): {} of the grid's {} distinct trainings, dealt to {} brackets",
                how(stratify), seed.unwrap_or(spec.seed), p.trainings, p.grid_trainings, p.brackets.len()
            );
            true
        }
        _ => false,
    };
    if drawn && p.per_subgrid.len() > 1 {
        let parts: Vec<String> = p
            .per_subgrid
            .iter()
            .enumerate()
            .map(|(g, (n, of))| format!("grid[{g}] {n} of {of}"))
            .collect();
        println!(
            "  drawn per sub-grid (a training counts in the first sub-grid that gives it): {}",
            parts.join(", ")
        );
    }
    let rungs = |rungs: &[(usize, u32)]| {
        rungs
            .iter()
            .map(|(n, b)| format!("{n} at {b}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &p.brackets[..] {
        [] => {}
        [(h, r)] => println!(
            "successive halving (factor {}, from {} epochs): configurations at epochs per rung {}; at most {} fold-epochs, {:.0}% of full runs' {}",
            h.factor, h.min_epochs, rungs(r), p.fold_epochs, 100.0 * p.share(), p.full_fold_epochs
        ),
        several => {
            println!(
                "hyperband (factor {}): {} brackets; at most {} fold-epochs, {:.0}% of full runs' {}",
                several[0].0.factor, several.len(), p.fold_epochs, 100.0 * p.share(), p.full_fold_epochs
            );
            for (b, (h, r)) in several.iter().enumerate() {
                println!("  bracket {b} (from {} epochs): configurations at epochs per rung {}", h.min_epochs, rungs(r));
            }
        }
    }
    println!("{}", spec.score.describe());
    match p.race {
        Some(r) => println!(
            "race: every configuration runs {} folds first, then the ones left one more per stage while the top is undecided, up to {} each{}: {} to {} fold-fits (a plain {}-fold grid: {}); the cost below is that of every fold of every repeat, more than the race spends",
            r.first_folds,
            r.max_folds,
            match r.budget {
                Some(b) => format!(", within its budget of {b} fold-fits"),
                None => String::new(),
            },
            r.least_fold_fits,
            r.most_fold_fits,
            spec.cv.folds,
            p.trainings * spec.cv.folds
        ),
        None => println!(
            "{} folds each: {} fold-fits",
            p.folds,
            p.trainings * p.folds
        ),
    }
    let time = if seconds < 1.0 {
        "under a second".to_string()
    } else {
        format!("about {}", human_duration(seconds))
    };
    match calibration {
        None => println!(
            "cost: at most {} of training on {} training rows; {time} with {} job(s) at ~{} GFLOP/s each (early stopping makes it less; --calibrate DB measures it)",
            human_flops(p.flops), p.train_rows, p.jobs, sweep::plan::GFLOPS_PER_JOB
        ),
        Some(c) => {
            let survivors = match c.survivor_scores() {
                0 => String::new(),
                n => format!(", each rung's survivors predicted from {n} recorded rung score(s)"),
            };
            let stopping = match (p.brackets.is_empty(), c.staged_factor) {
                (true, _) => format!(", early stopping leaving {:.0} % of the epochs", 100.0 * c.early_stopping_share),
                (false, Some(f)) => format!(
                    "{survivors}, staged runs taking {f:.2}× the training of the configurations they promoted ({})",
                    c.staged_sweeps.join(", ")
                ),
                (false, None) => format!(
                    "{survivors}, the rungs' training only: no staged run there{} to measure its overhead",
                    if c.left_out_fused.is_empty() { "" } else { " without --fuse" }
                ),
            };
            println!(
                "cost: at most {} of training on {} training rows; {time} with {} job(s), calibrated on {} fold(s) of {} ({:.1} ms per GFLOP, {:.2} ms per step{stopping})",
                human_flops(p.flops), p.train_rows, p.jobs, c.folds, c.sweeps.join(", "), 1e3 * c.seconds_per_gflop, 1e3 * c.seconds_per_step
            );
            if !c.left_out_fused.is_empty() {
                println!("  timings left out: {} (run --fuse: each fold's time is its group's)", c.left_out_fused.join(", "));
            }
            if !c.other_options.is_empty() {
                println!(
                    "  measured on this data file under other dataset options, its folds counted on the rows and features those gave: {}",
                    c.other_options.join("; ")
                );
            }
        }
    }
    let groups = p.fusion_groups();
    let sizes: Vec<String> = groups.iter().take(6).map(|(_, n)| n.to_string()).collect();
    println!(
        "--fuse groups (network shape, kind and batch size): {}, of {} training(s){}; largest: {}",
        groups.len(),
        sizes.join(", "),
        if groups.len() > 6 { ", …" } else { "" },
        groups
            .first()
            .map(|(k, _)| k.describe())
            .unwrap_or_default()
    );
    let keys = rank::varying_keys(e.configs.iter().map(|c| c.params_object()));
    let shown = if list {
        p.selected.len()
    } else {
        p.selected.len().min(PLAN_ROWS)
    };
    let mut header = vec!["id".to_string()];
    header.extend(keys.iter().cloned());
    let rows: Vec<Vec<String>> = p.selected[..shown]
        .iter()
        .map(|c| {
            let canon = c.params_object();
            std::iter::once(c.id.clone())
                .chain(keys.iter().map(|k| crate::export::param_cell(&canon, k)))
                .collect()
        })
        .collect();
    println!();
    print_aligned(&header, &rows, "");
    if shown < p.selected.len() {
        println!(
            "… and {} more (--list shows all, --json every one with its hyperparameters)",
            p.selected.len() - shown
        );
    }
}

pub fn run(a: RunArgs) -> Result<Outcome> {
    let spec = load_spec(&a.spec, a.data.as_ref())?;
    execute(spec, &a.exec).map_err(|e| in_spec_file(e, &a.spec))
}

pub fn resume(a: ResumeArgs) -> Result<Outcome> {
    let rt = runtime()?;
    let spec = rt.block_on(async {
        let store = Store::open_existing(&a.exec.db.db).await?;
        let row = store.sweep_by_name(&a.name).await?.with_context(|| {
            format!(
                "no sweep named `{}` in {} (`gridsweep list{}` shows them)",
                a.name,
                a.exec.db.db,
                db_hint(&a.exec.db.db)
            )
        })?;
        store.close().await;
        // An import holds results made elsewhere: nothing to resume.
        if let Some(source) = &row.source {
            return Err(sweep::SweepError::Imported {
                name: row.name.clone(),
                source_file: source.clone(),
                hint: String::new(),
            }
            .into());
        }
        let spec: Spec =
            serde_json::from_str(&row.spec_json).context("the stored spec is unreadable")?;
        anyhow::Ok(spec)
    })?;
    execute(spec, &a.exec)
}

pub fn rerun(a: RerunArgs) -> Result<Outcome> {
    let base = a.spec.as_deref().map(Spec::load).transpose()?;
    let name = a.new_name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}-{}x{}",
            a.name,
            if a.race { "race" } else { "rerun" },
            a.top,
            a.repeats
        )
    });
    let search: crate::search::Search = if a.race {
        serde_json::from_value(
            json!({"strategy": "race", "prefer": a.prefer.as_deref().unwrap_or("score")}),
        )
        .context("--prefer")?
    } else {
        Default::default()
    };
    let rt = runtime()?;
    let spec = rt.block_on(async {
        let store = Store::open_existing(&a.exec.db.db).await?;
        let sweep = pick_sweep(&store, Some(&a.name)).await?;
        let rule = a.score.rule(sweep::score_rule(&sweep)?)?;
        let recorded = sweep::ranking::recorded(&store, sweep.id).await?;
        store.close().await;
        let ranked = rank::rank(&recorded.rows, &rule);
        anyhow::Ok(sweep::rerun::spec(
            &sweep, &ranked, &rule, a.top, a.repeats, base, &name, search,
        )?)
    })?;
    if !a.exec.quiet {
        println!(
            "{} the best {} of sweep {} as sweep {} ({}-fold × {} repeats: {} folds each{})",
            if a.race { "racing" } else { "rerunning" },
            spec.grid.subgrids().len(),
            a.name,
            spec.name,
            spec.cv.folds,
            spec.cv.repeats,
            spec.cv.total(),
            if a.race { " at most" } else { "" }
        );
    }
    execute(spec, &a.exec)
}

fn execute(mut spec: Spec, x: &ExecArgs) -> Result<Outcome> {
    let devices = crate::device::workers(
        &x.device.device,
        x.jobs.jobs.unwrap_or_else(available_cores),
        x.jobs_per_device,
    )?;
    if let Some(note) = oversubscribed(
        &x.device.device,
        x.jobs.jobs,
        x.threads.get(),
        available_cores(),
    ) {
        eprintln!("gridsweep: {note}");
    }
    if let Some(p) = &x.precision {
        let mut check = HyperParams::default();
        check.set("precision", &json!(p)).context("--precision")?;
        spec.fixed
            .insert("precision".into(), json!(check.precision.name()));
    }
    let settings = sweep::run::Settings {
        devices,
        threads_per_job: x.threads.get(),
        retry_failed: x.retry_failed,
        lease: Duration::from_secs(x.lease_seconds.max(2)),
        db_patience: Duration::from_secs(x.db_timeout),
        checkpoint_every: x.checkpoint_every,
        fuse: x.fuse,
        simulate_ms: x.simulate_ms,
        db_hint: db_hint(&x.db.db),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mode = reporter::Mode::detect(x.quiet);
    let display = std::thread::spawn(move || reporter::report(mode, rx));
    let ended = runtime()?.block_on(sweep::run::execute(
        &spec,
        &x.db.db,
        &settings,
        &tx,
        &mut |n| eprintln!("gridsweep: {n}"),
    ));
    drop(tx);
    let _ = display.join();
    Ok(match ended? {
        sweep::run::Ended::Complete => Outcome::Ok,
        sweep::run::Ended::SomeFailed => Outcome::SomeFailed,
        sweep::run::Ended::Interrupted => Outcome::Interrupted,
        sweep::run::Ended::Terminated => Outcome::Terminated,
    })
}

/// A note where CPU jobs × threads ask for more cores than the machine has: they then
/// share the cores, each fold slower, for no more throughput and more memory.
fn oversubscribed(
    device: &str,
    jobs: Option<usize>,
    threads: usize,
    cores: usize,
) -> Option<String> {
    let jobs = jobs?;
    (device == "cpu" && jobs * threads > cores).then(|| {
        format!(
            "--jobs {jobs} × {threads} thread(s) per job asks for {} cores, and this machine has {cores}: the jobs share them \
             (each fold slower, no more folds per minute, more memory); --jobs {} uses them all",
            jobs * threads,
            (cores / threads).max(1)
        )
    })
}

/// ` --db X` when `db` is not the default database, for hints that name a command.
pub fn db_hint(db: &DbLocation) -> String {
    if db.file() == Some(Path::new(DEFAULT_DB)) {
        String::new()
    } else {
        format!(" --db {}", shell_word(&db.to_string()))
    }
}

#[cfg(test)]
mod oversubscription_tests {
    #[test]
    fn more_jobs_than_cores_is_noted() {
        assert!(super::oversubscribed("cpu", Some(64), 1, 2)
            .is_some_and(|n| n.contains("--jobs 64") && n.contains("--jobs 2 uses them all")));
        assert!(super::oversubscribed("cpu", Some(2), 2, 2)
            .is_some_and(|n| n.contains("--jobs 1 uses")));
        assert_eq!(super::oversubscribed("cpu", Some(2), 1, 2), None);
        assert_eq!(
            super::oversubscribed("cpu", None, 1, 2),
            None,
            "the default is the cores"
        );
        assert_eq!(super::oversubscribed("cuda", Some(8), 1, 2), None);
    }
}
