//! `gridsweep cv`: K-fold cross-validation of one configuration.

use super::{available_cores, DatasetArgs, Outcome};
use crate::cv::{self, CvData, CvSummary};
use crate::fold::FoldResult;
use crate::params::HyperParams;
use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CvArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Hyperparameters over the defaults (the study's final model): a JSON file holding
    /// one object, or the object itself inline, e.g. --config '{"dropout": 0.3}'.
    #[arg(long, value_name = "FILE|JSON")]
    pub config: Option<String>,
    /// Set one hyperparameter, e.g. --set optimizer=adam --set dropout=0.3 (repeatable;
    /// applied after --config).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Folds of the stratified K-fold split of the training part.
    #[arg(long, default_value_t = 3)]
    pub folds: usize,
    /// Seed of the weights, shuffles and dropout masks.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub jobs: super::flags::JobsArg,
    #[command(flatten)]
    pub threads: super::flags::ThreadsArg,
    #[command(flatten)]
    pub device: super::flags::DeviceArg,
    #[command(flatten)]
    pub score: super::sweep_cmd::ScoreArgs,
    #[command(flatten)]
    pub mkl: super::MklArg,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn load_params(config: Option<&str>, sets: &[String]) -> Result<HyperParams> {
    let mut p = HyperParams::default();
    // What the user gave, for the protocol check once everything is applied.
    let mut explicit = serde_json::Map::new();
    if let Some(config) = config {
        // Inline JSON starts with `{`; anything else names a file.
        let (text, what) = if config.trim_start().starts_with('{') {
            (config.to_string(), "--config".to_string())
        } else {
            let path = PathBuf::from(config);
            (
                std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "--config {}: reading the file (or give the JSON object inline)",
                        path.display()
                    )
                })?,
                path.display().to_string(),
            )
        };
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("{what}: not valid JSON"))?;
        let obj = v
            .as_object()
            .with_context(|| format!("{what}: expected a JSON object of hyperparameters"))?;
        p.apply_object(obj).with_context(|| what.clone())?;
        explicit.extend(obj.clone());
    }
    for s in sets {
        let (k, v) = crate::params::parse_assignment(s).with_context(|| format!("--set {s}"))?;
        p.set(&k, &v).with_context(|| format!("--set {s}"))?;
        explicit.insert(k, v);
    }
    p.check_protocol(explicit.iter().map(|(k, v)| (k.as_str(), v)))?;
    Ok(p)
}

pub fn run(a: CvArgs) -> Result<Outcome> {
    let spec = a.dataset.spec()?;
    // `--set split={…}`: the partition, its keys set over the command's own (as a
    // spec's sub-grid sets them over its dataset's), so that cv cuts the rows a
    // sweep's configuration with that split trained on.
    let base =
        crate::data::partition::Partition::of(&spec, crate::data::split::Splitter::Stratified);
    let sets: Vec<String> = a
        .set
        .iter()
        .map(|s| match crate::params::parse_assignment(s) {
            Ok((k, v)) if k == "split" && !v.is_null() => {
                let p =
                    crate::data::partition::Partition::over(&base, &v).map_err(|(key, why)| {
                        anyhow::anyhow!(
                            "--set {s}: {}{why}",
                            if key.is_empty() {
                                String::new()
                            } else {
                                format!("split.{key}: ")
                            }
                        )
                    })?;
                Ok(format!("split={}", serde_json::to_string(&p)?))
            }
            _ => Ok(s.clone()),
        })
        .collect::<Result<_>>()?;
    let params = load_params(a.config.as_deref(), &sets)?;
    let rule = a.score.rule(cv::ScoreRule::default())?;
    let device = crate::device::parse(&a.device.device)?;
    crate::device::check_precision(params.precision, device)?;
    let data = match &params.split {
        Some(p) => CvData::load_repeated(&p.apply(&spec), a.folds, 1, 0, p.splitter)?,
        None => CvData::load(&spec, a.folds)?,
    };
    let jobs = a
        .jobs
        .jobs
        .unwrap_or_else(available_cores)
        .min(a.folds)
        .max(1);
    let threads = a.threads.get();
    let ds = &data.prepared.dataset;
    for w in &data.prepared.warnings {
        eprintln!("gridsweep: warning: {w}");
    }
    if !a.json {
        println!(
            "data: {} — {} rows, {} features, {} classes; training part {} rows, {} folds",
            ds.file.display(),
            ds.y.len(),
            ds.x.cols,
            ds.n_classes(),
            data.prepared.train.len(),
            a.folds
        );
        println!("features: {}", ds.describe_features());
        println!("configuration: {params}");
        println!(
            "running {} folds on {} ({} at a time, {} LibTorch thread(s) each)…",
            a.folds,
            crate::device::name(device),
            jobs.min(a.folds),
            threads
        );
    }
    let started = std::time::Instant::now();
    let results = cv::run_folds(&data, &params, a.seed, device, jobs, threads);
    let wall = started.elapsed().as_secs_f64();
    let ok: Vec<FoldResult> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let failed: Vec<(usize, String)> = results
        .iter()
        .enumerate()
        .filter_map(|(k, r)| r.as_ref().err().map(|e| (k, e.to_string())))
        .collect();
    let summary = (failed.is_empty()).then(|| cv::summarize(&ok, &rule));

    if a.json {
        let doc = json!({
            "data": { "file": ds.file, "rows": ds.y.len(), "features": ds.feature_names,
                      "classes": ds.class_names, "train_rows": data.prepared.train.len() },
            "params": params.canonical(),
            // The device and, on the CPU, the kernel path (as sweeps record it).
            "device": crate::device::label(device),
            "folds": results.iter().map(|r| match r {
                Ok(f) => serde_json::to_value(f).unwrap_or(Value::Null),
                Err(e) => json!({ "error": e.to_string() }),
            }).collect::<Vec<_>>(),
            "summary": summary,
            "weights": { "w1": rule.w1, "w2": rule.w2 },
            "score_rule": rule,
            "seed": a.seed,
            "wall_seconds": wall,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_table(&results, summary.as_ref(), &rule, wall);
    }
    Ok(if failed.is_empty() {
        Outcome::Ok
    } else {
        Outcome::SomeFailed
    })
}

fn print_table(
    results: &[Result<FoldResult, crate::train::FoldError>],
    summary: Option<&CvSummary>,
    rule: &cv::ScoreRule,
    wall: f64,
) {
    println!(
        "{:>4}  {:>9}  {:>9}  {:>10}  {:>9}  {:>6}  {:>6}  {:>9}  {:>7}",
        "fold",
        "train_acc",
        "val_acc",
        "train_loss",
        "val_loss",
        "epochs",
        "scored",
        "final_lr",
        "fit_s"
    );
    for (k, r) in results.iter().enumerate() {
        match r {
            Ok(f) => println!(
                "{:>4}  {:>9.4}  {:>9.4}  {:>10.4}  {:>9.4}  {:>6}  {:>6}  {:>9.1e}  {:>7.1}",
                k,
                f.train_accuracy,
                f.val_accuracy,
                f.train_loss,
                f.val_loss,
                f.epochs_run,
                f.scored_epoch,
                f.final_learning_rate,
                f.fit_seconds
            ),
            Err(e) => println!("{k:>4}  failed: {e}"),
        }
    }
    match summary {
        Some(s) => {
            println!(
                "mean  train {:.4} ± {:.4}   val {:.4} ± {:.4}",
                s.mean_train_accuracy,
                s.std_train_accuracy,
                s.mean_val_accuracy,
                s.std_val_accuracy
            );
            println!(
                "Δacc {}   score {:.4}   wall {:.1} s",
                crate::text::four(s.delta_accuracy),
                s.score,
                wall
            );
            println!("({})", rule.describe());
        }
        None => println!("some folds failed: no summary"),
    }
}
