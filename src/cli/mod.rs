//! Command-line interface: argument definitions and one function per command.
//!
//! Errors inside the library are typed; here they become `anyhow` errors with the
//! context a user needs, and `main` turns them into exit code 2.

mod analyze_cmd;
mod bench_cmd;
mod bench_sched;
mod cv_cmd;
mod eval_cmd;
mod flags;
mod import_cmd;
mod replay_cmd;
mod serve_cmd;
pub mod slurm_cmd;
pub mod sweep_cmd;
mod view_cmd;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::data::DatasetSpec;

#[derive(Parser, Debug)]
#[command(
    name = "gridsweep",
    version,
    about = "Hyperparameter grid searches for dense networks on tabular data (LibTorch)",
    after_help = "--kernels auto|avx512|avx2|portable (any command that trains; also GRIDSWEEP_KERNELS): the fp32 kernel \
path, whose rounding the numbers depend on. auto (the default): a sweep's recorded path where it continues one, else \
MKL's AVX-512 kernels wherever the CPU has AVX-512, Intel's or AMD's (one set of numbers on both; on AMD also the \
faster), else its AVX2 kernels. avx512 / avx2: those kernels whatever the vendor (folds record `cpu+mkl-avx512` / \
`cpu`). portable: kernels that give the same numbers on every x86-64 CPU with AVX2, with or without AVX-512 \
(MKL_CBWR=COMPATIBLE, ATen's AVX2 kernels; slower, see docs/reference.md; `cpu+portable`). A sweep continued on a CPU \
that cannot run its recorded path is refused, naming both paths. --mkl-avx512 and --fp32-portable (and \
GRIDSWEEP_MKL_AVX512=1, GRIDSWEEP_FP32_PORTABLE=1) are the same as --kernels avx512 and --kernels portable.\n\nExit codes: 0 ok, 1 some folds failed, 2 error (bad input, missing file, unusable database), 130 a run \
stopped by Ctrl-C before the end, 143 a run ended by SIGTERM (its running folds saved and returned to pending)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub mkl: MklArg,
}

/// `--kernels` (and its old spellings) before any command, and after the commands that
/// train.
#[derive(Args, Debug, Clone, Default)]
pub struct MklArg {
    /// The fp32 kernel path of the commands that train: auto (the default: for run and
    /// resume a continued sweep's own; otherwise AVX-512 where the CPU has it, whatever
    /// its vendor, else AVX2), avx512, avx2 or portable; more under the commands in
    /// `gridsweep --help`.
    #[arg(long, value_name = "auto|avx512|avx2|portable", value_parser = parse_kernels)]
    pub kernels: Option<KernelsArg>,
    /// The same as --kernels avx512.
    #[arg(long, conflicts_with_all = ["kernels", "fp32_portable"])]
    pub mkl_avx512: bool,
    /// The same as --kernels portable.
    #[arg(long, conflicts_with = "kernels")]
    pub fp32_portable: bool,
}

/// `--kernels` as given: auto (None) or a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelsArg(pub Option<crate::mkl::Kernels>);

fn parse_kernels(s: &str) -> std::result::Result<KernelsArg, String> {
    crate::mkl::Kernels::parse(s).map(KernelsArg)
}

impl MklArg {
    /// The path these options ask for: None where none is given (or auto); Some(None)
    /// for an explicit auto.
    fn asked(&self) -> Option<Option<crate::mkl::Kernels>> {
        use crate::mkl::Kernels;
        match (self.kernels, self.mkl_avx512, self.fp32_portable) {
            (Some(k), _, _) => Some(k.0),
            (None, true, _) => Some(Some(Kernels::Avx512)),
            (None, false, true) => Some(Some(Kernels::Portable)),
            (None, false, false) => None,
        }
    }
}

impl Command {
    /// The command's kernel options, where it trains.
    fn mkl(&self) -> Option<&MklArg> {
        match self {
            Command::Cv(a) => Some(&a.mkl),
            Command::Run(a) => Some(&a.exec.mkl),
            Command::Resume(a) => Some(&a.exec.mkl),
            Command::Rerun(a) => Some(&a.exec.mkl),
            Command::Evaluate(a) => Some(&a.training.mkl),
            Command::Report(a) => Some(&a.training.mkl),
            Command::Bench(a) => Some(&a.mkl),
            _ => None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write the built-in synthetic data set (the study's shape: 6 imbalanced genres, 19 features).
    DemoData(DemoDataArgs),
    /// Cross-validate one configuration (K-fold on the training part) and print its scores.
    Cv(cv_cmd::CvArgs),
    /// Show what a spec would run (configurations, duplicates removed, cost); changes nothing.
    Plan(sweep_cmd::PlanArgs),
    /// Run a sweep from a spec (continues it if it exists: done folds are never re-run).
    Run(sweep_cmd::RunArgs),
    /// Continue a sweep of the database by name, with its stored spec.
    Resume(sweep_cmd::ResumeArgs),
    /// Train the best K of a sweep (or of an imported file) again with repeated K-fold CV, as a new sweep (then `analyze` it).
    Rerun(sweep_cmd::RerunArgs),
    /// Fold counts per state, rate, ETA and failures of a sweep.
    Status(view_cmd::StatusArgs),
    /// The sweeps in the database.
    List(view_cmd::ListArgs),
    /// Remove a sweep and everything recorded of it (refused while a worker holds one of its folds, unless --force).
    Delete(view_cmd::DeleteArgs),
    /// Write (and with --submit, submit) a Slurm job array whose tasks run the sweep against a PostgreSQL database.
    Slurm(slurm_cmd::SlurmArgs),
    /// Copy a sweep (spec, configurations, folds with histories, evaluations) between two databases, idempotently.
    Copy(view_cmd::CopyArgs),
    /// Rank complete configurations by the weighted score.
    Rank(view_cmd::RankArgs),
    /// Export results as HPO_combined.csv or scikit-learn cv_results_ CSV.
    Export(view_cmd::ExportArgs),
    /// Import results made elsewhere (the study's HPO_combined.csv, or scikit-learn's cv_results_) as a read-only sweep.
    Import(import_cmd::ImportArgs),
    /// How sure is the choice: who wins under other weights, the Pareto front, hyperparameter importance (fANOVA) and marginals per sub-grid, and t-tests of the runners-up against the winner.
    Analyze(analyze_cmd::AnalyzeArgs),
    /// Evaluate a search strategy (successive halving, hyperband, race) on a sweep's recorded full runs, without training.
    Replay(replay_cmd::ReplayArgs),
    /// Benchmark: matmul peak, then real sweeps (batch 512 and 64) measured against it.
    Bench(bench_cmd::BenchArgs),
    /// Benchmark the scheduler and store: many workers in several processes, simulated folds, on SQLite and PostgreSQL.
    BenchScheduler(bench_sched::BenchSchedulerArgs),
    /// Train a configuration once more (default: rank 1), score it on the test part, compare with baselines, save it.
    Evaluate(eval_cmd::EvaluateArgs),
    /// Most-frequent, random, KNN and RBF-SVM baselines on a sweep's split, scored on the test part.
    Baselines(eval_cmd::BaselinesArgs),
    /// Classify the rows of a CSV with a model saved by `evaluate`.
    Predict(eval_cmd::PredictArgs),
    /// One HTML page with plots: sweep summary, top configurations, evaluation, baselines (evaluates if needed).
    Report(eval_cmd::ReportArgs),
    /// A live, read-only view of the database in the browser: sweeps, progress, workers, leaderboard with the tie set.
    Serve(serve_cmd::ServeArgs),
}

#[derive(Args, Debug)]
pub struct DemoDataArgs {
    /// Where to write the CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of rows (the study kept 6,446).
    #[arg(long, default_value_t = crate::data::demo::DEFAULT_ROWS)]
    pub rows: usize,
    /// Seed of the generator: the same seed writes the same file.
    #[arg(long, default_value_t = crate::data::demo::DEFAULT_SEED)]
    pub seed: u64,
}

/// How the data file is read and split (the spec's `dataset` section).
#[derive(Args, Debug, Clone)]
pub struct DatasetArgs {
    /// CSV file with a header row.
    #[arg(long)]
    pub data: PathBuf,
    /// Label column.
    #[arg(long, default_value = "Genre")]
    pub label: String,
    /// A column that is not a feature (repeatable). The unnamed row-index column (an
    /// empty header or `Unnamed: 0`, as pandas writes it) is never a feature.
    #[arg(long = "drop", value_name = "COLUMN")]
    pub drop: Vec<String>,
    /// How a text column is encoded: COLUMN=onehot (the default for text columns),
    /// ordinal or drop (repeatable). Naming a numeric column treats its values as
    /// categories.
    #[arg(long = "encode", value_name = "COLUMN=HOW")]
    pub encode: Vec<String>,
    /// The field separator: `,` `;` `|` or `tab` (default: guessed from the header).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<char>,
    /// Numbers are written with a decimal comma (`0,673`; needs a separator other than `,`).
    #[arg(long)]
    pub decimal_comma: bool,
    /// Comma-separated labels to keep (others are dropped), e.g. the study's
    /// "classic,metal,rock,hip hop,electronic,pop". Default: all.
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    pub keep_labels: Option<Vec<String>>,
    /// Test part, as a fraction of all rows.
    #[arg(long, default_value_t = 0.3)]
    pub test_fraction: f64,
    /// Validation part, as a fraction of what the test split leaves.
    #[arg(long, default_value_t = 0.3)]
    pub validation_fraction: f64,
    /// Seed of the train/validation/test split.
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
}

impl DatasetArgs {
    pub fn spec(&self) -> Result<DatasetSpec> {
        let mut s = DatasetSpec::new(&self.data);
        s.label = self.label.clone();
        // Added to the default (the index column), not instead of it.
        s.drop.extend(
            self.drop
                .iter()
                .filter(|d| !s.drop.contains(d))
                .cloned()
                .collect::<Vec<_>>(),
        );
        for e in &self.encode {
            let (col, how) = e
                .split_once('=')
                .with_context(|| format!("--encode {e}: expected COLUMN=onehot|ordinal|drop"))?;
            let how = crate::data::encode::Encoding::parse(how)
                .with_context(|| format!("--encode {e}: `{how}` is not onehot, ordinal or drop"))?;
            s.encode.insert(col.trim().to_string(), how);
        }
        s.delimiter = self.delimiter;
        s.decimal_comma = self.decimal_comma;
        s.keep_labels = self.keep_labels.as_ref().map(|ls| {
            ls.iter()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        });
        s.test_fraction = self.test_fraction;
        s.validation_fraction = self.validation_fraction;
        s.seed = self.split_seed;
        Ok(s)
    }
}

/// `--delimiter`: one character, or `tab`.
fn parse_delimiter(s: &str) -> std::result::Result<char, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok('\t'),
        "," | ";" | "|" => Ok(s.chars().next().unwrap_or(',')),
        other => Err(format!("`{other}`: expected `,` `;` `|` or `tab`")),
    }
}

/// A delimiter as the CSV reader takes it.
pub fn delimiter_byte(c: char) -> Result<u8> {
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .with_context(|| format!("delimiter {c:?}: expected an ASCII character"))
}

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    SomeFailed,
    /// Stopped by Ctrl-C (or SIGINT) with folds left to run.
    Interrupted,
    /// Ended by SIGTERM (a batch system's time limit), running folds saved and released.
    Terminated,
}

impl Outcome {
    /// The process exit status: 0 ok, 1 some folds failed, 130 stopped by Ctrl-C
    /// before the end (as shells report SIGINT), 143 ended by SIGTERM (as shells report
    /// it, and as batch systems expect of a job they stopped); 2 is for errors.
    pub fn code(self) -> i32 {
        match self {
            Outcome::Ok => 0,
            Outcome::SomeFailed => 1,
            Outcome::Interrupted => 130,
            Outcome::Terminated => 143,
        }
    }
}

pub fn run(cli: Cli) -> Result<Outcome> {
    // Before anything multiplies: MKL chooses its kernels once, at its first call.
    crate::mkl::vendor_from_env()?;
    let requested = requested_kernels(&cli)?;
    let recorded = recorded_kernels(&cli.command);
    let recorded = recorded.as_ref().map(|(k, name)| (*k, name.as_str()));
    crate::mkl::apply(crate::mkl::resolve(
        requested,
        recorded,
        crate::mkl::Cpu::this(),
    )?)?;
    match cli.command {
        Command::DemoData(a) => {
            crate::data::demo::write_csv(&a.out, a.rows, a.seed)
                .with_context(|| format!("writing {}", a.out.display()))?;
            eprintln!(
                "gridsweep: wrote {} rows of demo data to {}",
                a.rows,
                a.out.display()
            );
            Ok(Outcome::Ok)
        }
        Command::Cv(a) => cv_cmd::run(a),
        Command::Plan(a) => sweep_cmd::plan(a),
        Command::Run(a) => sweep_cmd::run(a),
        Command::Resume(a) => sweep_cmd::resume(a),
        Command::Rerun(a) => sweep_cmd::rerun(a),
        Command::Status(a) => view_cmd::status(a),
        Command::List(a) => view_cmd::list(a),
        Command::Serve(a) => serve_cmd::serve(a),
        Command::Copy(a) => view_cmd::copy(a),
        Command::Delete(a) => view_cmd::delete(a),
        Command::Slurm(a) => slurm_cmd::run(a),
        Command::Rank(a) => view_cmd::rank(a),
        Command::Export(a) => view_cmd::export(a),
        Command::Import(a) => import_cmd::import(a),
        Command::Replay(a) => replay_cmd::replay(a),
        Command::Analyze(a) => analyze_cmd::analyze(a),
        Command::Bench(a) => bench_cmd::run(a),
        Command::BenchScheduler(a) => bench_sched::run(a),
        Command::Evaluate(a) => eval_cmd::evaluate(a),
        Command::Baselines(a) => eval_cmd::baselines(a),
        Command::Predict(a) => eval_cmd::predict(a),
        Command::Report(a) => eval_cmd::report(a),
    }
}

/// An error and its causes on one line, each cause once: the library's error types
/// write their cause into their own message (so they read well alone), and anyhow's
/// chain would repeat it.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if !text.contains(&c) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&c);
        }
    }
    text
}

/// GRIDSWEEP_MKL_AVX512 and GRIDSWEEP_FP32_PORTABLE: 1 asks for the option, 0 or
/// unset does not.
/// The kernel path asked for: the command line's (before or after the command; two
/// different ones are refused), else GRIDSWEEP_KERNELS, else the old variables
/// (GRIDSWEEP_MKL_AVX512=1, GRIDSWEEP_FP32_PORTABLE=1); None: auto.
fn requested_kernels(cli: &Cli) -> Result<Option<crate::mkl::Kernels>> {
    use crate::mkl::{Kernels, KERNELS_ENV};
    if cli.command.mkl().is_none() {
        // A command that trains nothing: the option has nothing to choose, and the
        // environment is not read (a malformed variable is a training command's error).
        if cli.mkl.asked().is_some() {
            anyhow::bail!("--kernels (and --mkl-avx512, --fp32-portable) chooses the kernels of the commands that train; this one trains nothing");
        }
        return Ok(None);
    }
    let asked: Vec<Option<Kernels>> = [cli.mkl.asked(), cli.command.mkl().and_then(MklArg::asked)]
        .into_iter()
        .flatten()
        .collect();
    if let [first, rest @ ..] = asked.as_slice() {
        if rest.iter().any(|k| k != first) {
            anyhow::bail!(
                "the kernel path is given twice, before and after the command, with different paths (--kernels, --mkl-avx512 = --kernels avx512, --fp32-portable = --kernels portable); give one"
            );
        }
        return Ok(*first);
    }
    let new = std::env::var(KERNELS_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let new = match new {
        Some(v) => Some(Kernels::parse(&v).map_err(|e| anyhow::anyhow!("{KERNELS_ENV}={v}: {e}"))?),
        None => None,
    };
    let (avx512, portable) = (
        switch_from_env(crate::mkl::ENV, "MKL's AVX-512 kernels")?,
        switch_from_env(crate::mkl::PORTABLE_ENV, "the portable fp32 path")?,
    );
    let old = match (avx512, portable) {
        (true, true) => anyhow::bail!(
            "{}=1 and {}=1 ask for different kernel paths; set one (or {KERNELS_ENV})",
            crate::mkl::ENV,
            crate::mkl::PORTABLE_ENV
        ),
        (true, false) => Some((crate::mkl::ENV, Kernels::Avx512)),
        (false, true) => Some((crate::mkl::PORTABLE_ENV, Kernels::Portable)),
        (false, false) => None,
    };
    match (new, old) {
        (Some(n), Some((var, o))) if n != Some(o) => anyhow::bail!(
            "{KERNELS_ENV}={} and {var}=1 ask for different kernel paths; set one",
            n.map_or("auto", Kernels::name)
        ),
        (Some(n), _) => Ok(n),
        (None, Some((_, o))) => Ok(Some(o)),
        (None, None) => Ok(None),
    }
}

/// The recorded kernel path of the sweep a `run` or `resume` continues (the path of
/// most of its done CPU folds), and the sweep's name. Best effort: a spec or database
/// that cannot be read here is reported by the command itself.
fn recorded_kernels(command: &Command) -> Option<(crate::mkl::Kernels, String)> {
    let (db, name) = match command {
        Command::Run(a) => (&a.exec.db.db, crate::spec::Spec::load(&a.spec).ok()?.name),
        Command::Resume(a) => (&a.exec.db.db, a.name.clone()),
        _ => return None,
    };
    let paths = sweep_cmd::runtime()
        .ok()?
        .block_on(crate::store::Store::recorded_cpu_paths(db, &name))
        .ok()?;
    let (label, _) = paths.first()?;
    Some((crate::mkl::Kernels::of_label(label)?, name))
}

fn switch_from_env(var: &str, what: &str) -> Result<bool> {
    match std::env::var(var) {
        Err(_) => Ok(false),
        Ok(v) => match v.trim() {
            "1" => Ok(true),
            "0" | "" => Ok(false),
            other => anyhow::bail!("{var}={other}: expected 1 ({what}) or 0"),
        },
    }
}

pub(crate) use crate::text::sh_quote;

/// A rank (`evaluate --rank`): 1 is the best, as `rank` numbers them.
pub fn rank_number(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("ranks start at 1 (the best), as `gridsweep rank` numbers them".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a rank (a whole number from 1)")),
    }
}

/// A count that must be at least 1 (`--jobs 0` would run nothing, or silently 1).
pub fn positive(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

/// Default LibTorch threads per job, in every command: parallelism comes from jobs.
pub const THREADS_PER_JOB: usize = 1;

/// Default number of parallel jobs: every core busy.
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
