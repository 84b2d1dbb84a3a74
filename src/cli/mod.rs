//! Command-line interface: argument definitions and one function per command.
//!
//! Errors inside the library are typed; here they become `anyhow` errors with the
//! context a user needs, and `main` turns them into exit code 2.

mod bench_cmd;
mod cv_cmd;
mod eval_cmd;
pub mod sweep_cmd;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::data::DatasetSpec;

#[derive(Parser, Debug)]
#[command(name = "gridsweep", version, about = "Hyperparameter grid searches for dense networks on tabular data (LibTorch)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Run fp32 products on MKL's AVX-512 kernels on CPUs that have AVX-512 but are not
    /// Intel's (AMD Zen 4/5), where MKL otherwise takes its AVX2 ones: about twice the
    /// fp32 training speed, with results that differ from the default in rounding (not
    /// bit for bit). Also GRIDSWEEP_MKL_AVX512=1. No effect on Intel CPUs or on bf16.
    #[arg(long, global = true)]
    pub mkl_avx512: bool,
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
    /// Fold counts per state, rate, ETA and failures of a sweep.
    Status(sweep_cmd::StatusArgs),
    /// The sweeps in the database.
    List(sweep_cmd::ListArgs),
    /// Rank complete configurations by the weighted score.
    Rank(sweep_cmd::RankArgs),
    /// Export results as HPO_combined.csv or scikit-learn cv_results_ CSV.
    Export(sweep_cmd::ExportArgs),
    /// Benchmark: matmul peak, then real sweeps (batch 512 and 64) measured against it.
    Bench(bench_cmd::BenchArgs),
    /// Train a configuration once more (default: rank 1), score it on the test part, compare with baselines, save it.
    Evaluate(eval_cmd::EvaluateArgs),
    /// Most-frequent, random, KNN and RBF-SVM baselines on a sweep's split, scored on the test part.
    Baselines(eval_cmd::BaselinesArgs),
    /// Classify the rows of a CSV with a model saved by `evaluate`.
    Predict(eval_cmd::PredictArgs),
    /// One HTML page with plots: sweep summary, top configurations, evaluation, baselines (evaluates if needed).
    Report(eval_cmd::ReportArgs),
}

#[derive(Args, Debug)]
pub struct DemoDataArgs {
    /// Where to write the CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of rows (the study kept 6,446).
    #[arg(long, default_value_t = crate::data::demo::DEFAULT_ROWS)]
    pub rows: usize,
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
    /// Column to ignore (repeatable). Default: the unnamed index column `Unnamed: 0`.
    #[arg(long = "drop", value_name = "COLUMN")]
    pub drop: Vec<String>,
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
    pub fn spec(&self) -> DatasetSpec {
        let mut s = DatasetSpec::new(&self.data);
        s.label = self.label.clone();
        if !self.drop.is_empty() {
            s.drop = self.drop.clone();
        }
        s.keep_labels = self
            .keep_labels
            .as_ref()
            .map(|ls| ls.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect());
        s.test_fraction = self.test_fraction;
        s.validation_fraction = self.validation_fraction;
        s.seed = self.split_seed;
        s
    }
}

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    SomeFailed,
}

impl Outcome {
    /// The process exit status: 0 ok, 1 some folds failed (2 is for errors).
    pub fn code(self) -> i32 {
        match self {
            Outcome::Ok => 0,
            Outcome::SomeFailed => 1,
        }
    }

}

pub fn run(cli: Cli) -> Result<Outcome> {
    // Before anything multiplies: MKL chooses its kernels once, at its first call.
    if cli.mkl_avx512 || mkl_avx512_from_env()? {
        crate::mkl::force_avx512()?;
    }
    match cli.command {
        Command::DemoData(a) => {
            crate::data::demo::write_csv(&a.out, a.rows, a.seed)
                .with_context(|| format!("writing {}", a.out.display()))?;
            eprintln!("gridsweep: wrote {} rows of demo data to {}", a.rows, a.out.display());
            Ok(Outcome::Ok)
        }
        Command::Cv(a) => cv_cmd::run(a),
        Command::Plan(a) => sweep_cmd::plan(a),
        Command::Run(a) => sweep_cmd::run(a),
        Command::Resume(a) => sweep_cmd::resume(a),
        Command::Status(a) => sweep_cmd::status(a),
        Command::List(a) => sweep_cmd::list(a),
        Command::Rank(a) => sweep_cmd::rank_cmd(a),
        Command::Export(a) => sweep_cmd::export(a),
        Command::Bench(a) => bench_cmd::run(a),
        Command::Evaluate(a) => eval_cmd::evaluate(a),
        Command::Baselines(a) => eval_cmd::baselines(a),
        Command::Predict(a) => eval_cmd::predict(a),
        Command::Report(a) => eval_cmd::report(a),
    }
}

/// GRIDSWEEP_MKL_AVX512: 1 asks for `--mkl-avx512`, 0 or unset does not.
fn mkl_avx512_from_env() -> Result<bool> {
    match std::env::var(crate::mkl::ENV) {
        Err(_) => Ok(false),
        Ok(v) => match v.trim() {
            "1" => Ok(true),
            "0" | "" => Ok(false),
            other => anyhow::bail!("{}={other}: expected 1 (MKL's AVX-512 kernels) or 0", crate::mkl::ENV),
        },
    }
}

/// Default number of parallel jobs: every core busy.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Refuses bf16 where the hardware has no native bf16 arithmetic.
pub fn check_precision(p: crate::params::Precision, device: tch::Device) -> anyhow::Result<()> {
    if p == crate::params::Precision::Bf16 && !crate::bench::bf16_supported(device) {
        anyhow::bail!(
            "precision bf16: this CPU has no native bf16 arithmetic (no avx512_bf16 or amx_bf16 flag in /proc/cpuinfo); use fp32"
        );
    }
    Ok(())
}
