//! `gridsweep bench`: the matrix-multiply peak, then real sweeps through the binary's
//! own scheduler and store, measured against that peak (and, with `--keras-python`,
//! against the study's Keras stack run side by side).

use super::{available_cores, Outcome};
use crate::bench;
use crate::params::{HyperParams, Precision, Protocol};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use tch::Kind;

pub const SHARED_DATA: &str = "../shared/data/genre-factor/data_selected_v1.csv";
pub const KERAS_SCRIPT: &str = "../shared/bench/keras_reference.py";
const KEEP: [&str; 6] = ["classic", "metal", "rock", "hip hop", "electronic", "pop"];

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub mkl: super::MklArg,
    /// Data (default: the study's file at ../shared/data/genre-factor/ when present,
    /// else the built-in synthetic data of the same shape).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Parallel jobs (default: cores).
    #[arg(long, value_parser = super::positive)]
    pub jobs: Option<usize>,
    /// LibTorch threads per job (default 1: the jobs keep the cores busy; several
    /// threads per job only pay with fewer jobs than cores, and oversubscribing the
    /// cores, e.g. with several processes, costs far more than it gains).
    #[arg(long, alias = "threads", value_parser = super::positive)]
    pub threads_per_job: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// fp32, bf16 or both.
    #[arg(long, default_value = "both")]
    pub precision: String,
    /// Protocols of the sweeps: gridsearchcv, notebook or both (each case once per
    /// protocol; compare their milliseconds per fold-epoch).
    #[arg(long, default_value = "gridsearchcv")]
    pub protocol: String,
    /// `run --checkpoint-every` values to run each case with (0: no saved training
    /// states), e.g. `0,10` for the cost of saving them; default: run's default.
    #[arg(long, value_delimiter = ',')]
    pub checkpoint_every: Vec<u32>,
    /// Batch sizes to run (each a sweep of 4 configurations × 3 folds around the final model).
    #[arg(long, value_delimiter = ',', default_value = "512,64")]
    pub batch_sizes: Vec<u32>,
    /// Also run the study's Keras stack (../shared/bench/keras_reference.py --grid small4)
    /// with this Python, for each batch size, in the same run.
    #[arg(long)]
    pub keras_python: Option<PathBuf>,
    /// The Keras reference script that --keras-python runs.
    #[arg(long, default_value = KERAS_SCRIPT)]
    pub keras_script: PathBuf,
    /// Runs of each case (gridsweep and Keras alike); the run with the median wall time
    /// is reported, with every run's wall time beside it. Timings on a shared machine
    /// vary by several percent from run to run.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Seconds per peak measurement.
    #[arg(long, default_value_t = 3.0)]
    pub peak_seconds: f64,
    /// Print every figure as one JSON document at the end.
    #[arg(long)]
    pub json: bool,
    /// Leave out the fp32 cases on MKL's AVX-512 kernels (`--mkl-avx512`), which the
    /// benchmark otherwise adds on CPUs where that option changes MKL's choice.
    #[arg(long)]
    pub no_mkl_avx512_cases: bool,
    /// Measure the fp32 matmul peak only and print it as JSON (the benchmark runs this in
    /// a child process to measure MKL's AVX-512 peak beside its default one).
    #[arg(long, hide = true)]
    pub peaks_only: bool,
}

/// One benchmark case: a precision, for fp32 whether MKL runs its AVX-512 kernels, and
/// the protocol the folds are trained and scored by.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Case {
    precision: Precision,
    mkl_avx512: bool,
    protocol: Protocol,
    /// `run --checkpoint-every`.
    checkpoint_every: u32,
}

impl Case {
    fn name(self) -> String {
        let base = match (self.precision, self.mkl_avx512) {
            (Precision::Fp32, true) => "fp32+mkl-avx512",
            (p, _) => p.name(),
        };
        let base = match self.protocol {
            Protocol::GridSearchCv => base.to_string(),
            Protocol::Notebook => format!("{base}+notebook"),
        };
        match self.checkpoint_every {
            crate::sched::CHECKPOINT_EVERY => base,
            0 => format!("{base}+no-checkpoints"),
            n => format!("{base}+checkpoint-every-{n}"),
        }
    }
}

fn protocols(s: &str) -> Result<Vec<Protocol>> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "both" => vec![Protocol::GridSearchCv, Protocol::Notebook],
        other => vec![Protocol::parse(other).with_context(|| format!("--protocol {other}: expected gridsearchcv, notebook or both"))?],
    })
}

fn precisions(s: &str) -> Result<Vec<Precision>> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "both" => vec![Precision::Fp32, Precision::Bf16],
        other => vec![Precision::parse(other).with_context(|| format!("--precision {other}: expected fp32, bf16 or both"))?],
    })
}

pub fn run(a: BenchArgs) -> Result<Outcome> {
    let device = crate::device::parse(&a.device)?;
    let jobs = a.jobs.unwrap_or_else(available_cores).max(1);
    let threads = a.threads_per_job.unwrap_or(super::THREADS_PER_JOB);
    let mut precs = precisions(&a.precision)?;
    let protos = protocols(&a.protocol)?;
    let bf16_ok = bench::bf16_supported(device);
    if !bf16_ok {
        if a.precision.eq_ignore_ascii_case("bf16") {
            bail!("--precision bf16: this CPU has no native bf16 arithmetic (no avx512_bf16 or amx_bf16 flag)");
        }
        precs.retain(|p| *p == Precision::Fp32);
    }
    let (data, data_label): (PathBuf, String) = match &a.data {
        Some(d) => (d.clone(), d.display().to_string()),
        None if std::path::Path::new(SHARED_DATA).exists() => (PathBuf::from(SHARED_DATA), SHARED_DATA.to_string()),
        None => (PathBuf::from(crate::spec::BUILTIN_DEMO), "builtin:demo (the study's data is absent)".into()),
    };
    // The sweep specs live in a temporary folder: give them an absolute path.
    let data = if data.as_os_str() == crate::spec::BUILTIN_DEMO { data } else { std::path::absolute(&data)? };
    let say = |s: String| {
        if !a.json {
            println!("{s}");
        }
    };
    say(format!("gridsweep bench — {} jobs × {} LibTorch thread(s) on {}; data {}", jobs, threads, crate::device::name(device), data_label));
    let optimizer_root = crate::train::vml_sqrt::describe();
    say(format!("CPU optimizer: {optimizer_root}"));

    // 1. Peaks.
    let (mut peaks, peak_all, onednn) = measure_peaks(&a, jobs, threads, device, bf16_ok, &say);
    if a.peaks_only {
        println!("{}", serde_json::to_string(&peaks)?);
        return Ok(Outcome::Ok);
    }
    let exe = std::env::current_exe().context("locating the gridsweep binary")?;
    // MKL's AVX-512 peak, where `--mkl-avx512` would change MKL's choice: measured in a
    // child process, as MKL's choice is made once per process.
    let mut case_list: Vec<Case> =
        precs.iter().map(|&precision| Case { precision, mkl_avx512: false, protocol: Protocol::GridSearchCv, checkpoint_every: crate::sched::CHECKPOINT_EVERY }).collect();
    let mut avx512_peak = None;
    if device == tch::Device::Cpu && precs.contains(&Precision::Fp32) && !a.no_mkl_avx512_cases && !crate::mkl::avx512_forced() && crate::mkl::avx512_would_change_mkl() {
        let (one, all) = mkl_avx512_peak(&exe, jobs, threads, a.peak_seconds)?;
        if let (Some(one), Some(all)) = (one, all) {
            say(format!("peak fp32 on MKL's AVX-512 kernels (--mkl-avx512): {one:.1} GFLOP/s for one job, {all:.1} GFLOP/s for {jobs} jobs"));
            avx512_peak = Some((one, all));
            case_list.insert(1, Case { precision: Precision::Fp32, mkl_avx512: true, protocol: Protocol::GridSearchCv, checkpoint_every: crate::sched::CHECKPOINT_EVERY });
        }
    }
    // Each case once per protocol asked for, the protocols of a case side by side.
    let case_list: Vec<Case> =
        case_list.into_iter().flat_map(|c| protos.iter().map(move |&protocol| Case { protocol, ..c })).collect();
    // ... and once per checkpoint interval asked for.
    let intervals = if a.checkpoint_every.is_empty() { vec![crate::sched::CHECKPOINT_EVERY] } else { a.checkpoint_every.clone() };
    let case_list: Vec<Case> =
        case_list.into_iter().flat_map(|c| intervals.iter().map(move |&checkpoint_every| Case { checkpoint_every, ..c })).collect();
    if let Some((one, all)) = avx512_peak {
        peaks.insert("fp32_mkl_avx512".into(), json!({"one_job_gflops": one, "all_jobs_gflops": all}));
    }

    // 2. Sweeps through the real binary, after the floor every such process pays.
    let floor = bench::process_floor(&exe, 7).context("timing the process floor")?;
    say(format!("process floor: {:.3} s to start and end a process linking LibTorch (`gridsweep --version`, median of 7)", floor));
    let tmp = std::env::temp_dir().join(format!("gridsweep-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut cases = Vec::new();
    for &batch in &a.batch_sizes {
        let mut fp32_rate = None;
        for &c in &case_list {
            let name = format!("bench-b{batch}-{}", c.name());
            let spec = write_case_spec(&tmp, &name, &data, batch, c)?;
            let mut runs = Vec::new();
            for r in 0..a.repeat.max(1) {
                let db = tmp.join(format!("{name}-{r}.db"));
                runs.push(one_run(&rt, &exe, &spec, &db, &name, c, jobs, threads, &a.device)?);
            }
            // The median run by wall time.
            let walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
            runs.sort_by(|x, y| x.wall.total_cmp(&y.wall));
            let run = runs.swap_remove(runs.len() / 2);
            let reference = Reference { jobs, floor, peak_all: &peak_all, avx512_peak, onednn, default_interval: intervals[0] };
            cases.push(case_report(c, batch, run, &walls, &reference, &mut fp32_rate, &say));
        }
        if let Some(py) = &a.keras_python {
            cases.push(keras_case(py, &a, &data, jobs, batch, fp32_rate, &say)?);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json!({
            "jobs": jobs, "threads_per_job": threads, "device": crate::device::name(device), "data": data_label,
            "optimizer_root": optimizer_root, "process_floor_seconds": floor, "peaks": peaks, "cases": cases,
        }))?);
    }
    Ok(Outcome::Ok)
}

/// A benchmark case's spec: the Keras reference's `small4` grid at one batch size.
fn write_case_spec(tmp: &Path, name: &str, data: &PathBuf, batch: u32, c: Case) -> Result<PathBuf> {
    let prec = c.precision;
    let spec = tmp.join(format!("{name}.json"));
    let mut dataset = json!({"path": data});
    if data.as_os_str() != crate::spec::BUILTIN_DEMO {
        dataset["keep_labels"] = json!(KEEP);
    }
    let doc = json!({
        "name": name, "dataset": dataset, "cv": {"folds": 3}, "seed": 42,
        "fixed": {"batch_size": batch, "precision": prec.name(), "protocol": c.protocol.name()},
        // The Keras reference's `small4` grid: the final model with 2 optimizers × 2 dropouts.
        "grid": {"optimizer": ["adam", "nadam"], "dropout": [0.3, 0.4]},
    });
    std::fs::write(&spec, serde_json::to_string_pretty(&doc)?)?;
    Ok(spec)
}

/// What a case's figures are measured against.
struct Reference<'a> {
    jobs: usize,
    /// Seconds to start and end a process linking LibTorch.
    floor: f64,
    /// The all-jobs matmul peak per precision, GFLOP/s.
    peak_all: &'a std::collections::HashMap<&'static str, f64>,
    /// fp32 peaks (one job, all jobs) on MKL's AVX-512 kernels, and oneDNN's.
    avx512_peak: Option<(f64, f64)>,
    onednn: Option<(f64, f64)>,
    /// The first checkpoint interval asked for: the default case's.
    default_interval: u32,
}

/// A case's figures from its median run: the JSON object, and the line said.
fn case_report(c: Case, batch: u32, run: Run, walls: &[f64], r: &Reference, fp32_rate: &mut Option<f64>, say: &dyn Fn(String)) -> Value {
    let Run { wall, maxrss, fits, flops, spans, val, epochs } = run;
    let prec = c.precision;
    let outside = bench::outside_training(&spans, r.jobs, wall);
    // A fold's time with its worker per epoch it trained: comparable across
    // protocols, whose callbacks stop training at different epochs.
    let ms_per_fold_epoch = 1e3 * spans.iter().map(|(_, start, end)| end - start).sum::<f64>() / epochs.max(1) as f64;
    let gflops = flops / wall / 1e9;
    let peak = match c.mkl_avx512 {
        true => r.avx512_peak.map(|(_, all)| all),
        false => r.peak_all.get(prec.name()).copied(),
    };
    let rate = fits as f64 / wall * 60.0;
    let is_default_fp32 = prec == Precision::Fp32 && !c.mkl_avx512 && c.protocol == Protocol::GridSearchCv
        && c.checkpoint_every == r.default_interval;
    if is_default_fp32 {
        *fp32_rate = Some(rate);
    }
    let case = json!({
        "batch_size": batch, "precision": prec.name(), "case": c.name(), "protocol": c.protocol.name(),
        "checkpoint_every": c.checkpoint_every,
        "fold_epochs": epochs, "ms_per_fold_epoch": ms_per_fold_epoch,
        "mkl_avx512": c.mkl_avx512 || (prec == Precision::Fp32 && crate::mkl::avx512_forced()),
        "fold_fits": fits, "wall_seconds": wall,
        "wall_seconds_of_every_run": walls,
        "fold_fits_per_minute": rate, "seconds_per_fold_fit": wall / fits as f64,
        "training_tflop": flops / 1e12, "achieved_gflops": gflops,
        "percent_of_peak": peak.map(|p| 100.0 * gflops / p),
        "percent_of_fp32_peak": r.peak_all.get("fp32").map(|p| 100.0 * gflops / p),
        "percent_of_mkl_avx512_fp32_peak": r.avx512_peak.map(|(_, all)| 100.0 * gflops / all),
        "percent_of_onednn_fp32_peak": r.onednn.map(|(_, all)| 100.0 * gflops / all),
        "outside_training_percent": outside.total,
        "outside_training": outside,
        "process_floor_percent": 100.0 * r.floor / wall,
        "peak_rss_mb_per_worker": maxrss as f64 / 1e6 / r.jobs as f64,
        "peak_rss_mb_process": maxrss as f64 / 1e6,
        "speedup_vs_fp32": fp32_rate.filter(|_| !is_default_fp32 && c.protocol == Protocol::GridSearchCv).map(|f| rate / f),
        "mean_val_accuracy": val.iter().map(|(o, d, v)| json!({"optimizer": o, "dropout": d, "mean_val_accuracy": v})).collect::<Vec<_>>(),
    });
    say(format!(
        "batch {batch:>4} {:>4}: {fits} fold-fits in {wall:.1} s = {rate:.1}/min, {:.2} s per fold-fit, {epochs} fold-epochs at {ms_per_fold_epoch:.1} ms each; {:.1} TFLOP, {gflops:.0} GFLOP/s = {}% of peak{}; {:.1}% of wall outside training ({:.1}% start and exit, of which {:.1}% the process floor; {:.1}% between folds, {:.1}% idle tail); peak RSS {:.0} MB per worker{}",
        c.name(), wall / fits as f64, flops / 1e12,
        peak.map(|p| format!("{:.0}", 100.0 * gflops / p)).unwrap_or_else(|| "?".into()),
        r.onednn.filter(|_| prec == Precision::Fp32).map(|(_, all)| format!(" ({:.0}% of oneDNN's fp32 peak)", 100.0 * gflops / all)).unwrap_or_default(),
        outside.total,
        outside.start_and_exit,
        100.0 * r.floor / wall,
        outside.between_folds,
        outside.idle_tail,
        case["peak_rss_mb_per_worker"].as_f64().unwrap_or(0.0),
        case["speedup_vs_fp32"].as_f64().map(|s| format!("; {s:.2}× the fp32 throughput")).unwrap_or_default(),
    ) + &runs_note(walls));
    case
}

/// One benchmark sweep through the real binary, and what its database says of it.
struct Run {
    wall: f64,
    maxrss: u64,
    fits: usize,
    flops: f64,
    /// (worker, claimed at, recorded at) of each fold.
    spans: Vec<(String, f64, f64)>,
    /// (optimizer, dropout, mean val accuracy) of each configuration.
    val: Vec<(String, f64, f64)>,
    epochs: u64,
}

#[allow(clippy::too_many_arguments)]
fn one_run(
    rt: &tokio::runtime::Runtime,
    exe: &Path,
    spec: &Path,
    db: &Path,
    name: &str,
    c: Case,
    jobs: usize,
    threads: usize,
    device: &str,
) -> Result<Run> {
    let started = Instant::now();
    let child = Command::new(exe)
        .args(c.mkl_avx512.then_some("--mkl-avx512"))
        .arg("run").arg(spec).arg("--db").arg(db)
        .args(["--jobs", &jobs.to_string(), "--threads-per-job", &threads.to_string(), "--device", device, "--quiet"])
        .args(["--checkpoint-every", &c.checkpoint_every.to_string()])
        .stdout(Stdio::null()).stderr(Stdio::piped())
        .spawn().context("starting gridsweep run")?;
    let (code, maxrss) = bench::wait_with_rusage(&child)?;
    let wall = started.elapsed().as_secs_f64();
    if code != 0 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("benchmark sweep {name} exited with {code}: {}", err.trim());
    }
    let (fits, flops, spans, val, epochs) = rt.block_on(async {
        let store = Store::open(db).await?;
        let sweep = store.sweep_by_name(name).await?.context("benchmark sweep missing")?;
        let rows = store.configurations(sweep.id).await?;
        let (mut fits, mut flops, mut val, mut epochs) = (0usize, 0.0, Vec::new(), 0u64);
        let data = crate::cv::CvData::load(&crate::sweep::stored_spec(&sweep)?.dataset, 3)?;
        for r in &rows {
            let p = HyperParams::from_object(&r.params)?;
            for (k, f) in store.fold_results(sweep.id, &r.config_id).await?.iter().enumerate() {
                let fit_rows = data.fold_of.iter().filter(|&&x| x != k).count();
                flops += bench::fold_fit_flops(&p, data.n_features(), data.n_classes(), fit_rows, f.epochs_run);
                fits += 1;
                epochs += f.epochs_run as u64;
            }
            if let Some(s) = &r.summary {
                val.push((p.optimizer.name().to_string(), p.dropout, s.mean_val_accuracy));
            }
        }
        // Each fold's time with its worker, claim to recorded result: training,
        // scoring, moving its data to tensors. The rest is outside training.
        let spans = store.fold_spans(sweep.id).await?;
        store.close().await;
        anyhow::Ok((fits, flops, spans, val, epochs))
    })?;
    Ok(Run { wall, maxrss, fits, flops, spans, val, epochs })
}

/// The Keras reference's runs of one batch size: the median by wall time, beside
/// gridsweep's fp32 throughput.
fn keras_case(py: &PathBuf, a: &BenchArgs, data: &PathBuf, jobs: usize, batch: u32, fp32_rate: Option<f64>, say: &dyn Fn(String)) -> Result<Value> {
    let mut ks = Vec::new();
    for _ in 0..a.repeat.max(1) {
        ks.push(keras(py, &a.keras_script, data, jobs, batch)?);
    }
    let kwalls: Vec<f64> = ks.iter().map(|k| k["wall_s"].as_f64().unwrap_or(f64::NAN)).collect();
    ks.sort_by(|x, y| x["wall_s"].as_f64().unwrap_or(f64::NAN).total_cmp(&y["wall_s"].as_f64().unwrap_or(f64::NAN)));
    let mut k = ks.swap_remove(ks.len() / 2);
    k["wall_seconds_of_every_run"] = json!(kwalls);
    let fits = k["fits"].as_f64().unwrap_or(0.0);
    let wall = k["wall_s"].as_f64().unwrap_or(f64::NAN);
    let krate = fits / wall * 60.0;
    say(format!(
        "batch {batch:>4} keras: {fits} fold-fits in {wall:.1} s = {krate:.1}/min, {:.2} s per fold-fit{}",
        wall / fits,
        fp32_rate.map(|r| format!("; gridsweep fp32 is {:.2}× its throughput", r / krate)).unwrap_or_default()
    ) + &runs_note(&kwalls));
    Ok(json!({"batch_size": batch, "precision": "keras", "keras": k, "fold_fits_per_minute": krate,
                      "seconds_per_fold_fit": wall / fits, "gridsweep_fp32_speedup": fp32_rate.map(|r| r / krate)}))
}

/// fp32 peaks (one job, all jobs) on MKL's AVX-512 kernels, measured in a child
/// process: MKL chooses its kernels once per process.
fn mkl_avx512_peak(exe: &Path, jobs: usize, threads: usize, peak_seconds: f64) -> Result<(Option<f64>, Option<f64>)> {
    let out = Command::new(exe)
        .args(["--mkl-avx512", "bench", "--peaks-only", "--json"])
        .args(["--jobs", &jobs.to_string(), "--threads-per-job", &threads.to_string(), "--peak-seconds", &peak_seconds.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("measuring MKL's AVX-512 peak in a child process")?;
    if !out.status.success() {
        bail!("measuring MKL's AVX-512 peak: the child process exited with {}", out.status);
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("reading the child's peaks")?;
    let (one, all) = (v["fp32"]["one_job_gflops"].as_f64(), v["fp32"]["all_jobs_gflops"].as_f64());
    Ok((one, all))
}

type Peaks = (serde_json::Map<String, Value>, std::collections::HashMap<&'static str, f64>, Option<(f64, f64)>);

/// The fp32 and bf16 matmul peaks (and oneDNN's fp32 peak on the CPU; with
/// `--peaks-only`, fp32 alone): the JSON object, the all-jobs peak per precision, and
/// oneDNN's (one job, all jobs).
fn measure_peaks(a: &BenchArgs, jobs: usize, threads: usize, device: tch::Device, bf16_ok: bool, say: &impl Fn(String)) -> Peaks {
    let mut peaks = serde_json::Map::new();
    let mut peak_all = std::collections::HashMap::new();
    for (name, kind) in [("fp32", Kind::Float), ("bf16", Kind::BFloat16)] {
        if name == "bf16" && a.peaks_only {
            break;
        }
        if name == "bf16" && !bf16_ok {
            say("peak bf16: not measured (no native bf16 on this CPU)".into());
            continue;
        }
        let one = bench::matmul_peak(kind, 1024, 1, threads, device, a.peak_seconds);
        let all = bench::matmul_peak(kind, 1024, jobs, threads, device, a.peak_seconds);
        say(format!("peak {name}: {one:.1} GFLOP/s for one job, {all:.1} GFLOP/s for {jobs} jobs (1024×1024 matmul; {})",
            if name == "fp32" { crate::mkl::describe() } else { "oneDNN on the CPU" }));
        peaks.insert(name.into(), json!({"one_job_gflops": one, "all_jobs_gflops": all}));
        peak_all.insert(name, all);
    }
    if a.peaks_only {
        return (peaks, peak_all, None);
    }
    let onednn = (device == tch::Device::Cpu)
        .then(|| {
            let one = bench::onednn_fp32_peak(1024, 1, threads, a.peak_seconds)?;
            let all = bench::onednn_fp32_peak(1024, jobs, threads, a.peak_seconds)?;
            Some((one, all))
        })
        .flatten();
    if let Some((one, all)) = onednn {
        say(format!(
            "peak fp32 through oneDNN: {one:.1} GFLOP/s for one job, {all:.1} GFLOP/s for {jobs} jobs \
             (not used by fp32 training, which runs on MKL's sgemm; see the README)"
        ));
        peaks.insert("fp32_onednn".into(), json!({"one_job_gflops": one, "all_jobs_gflops": all}));
    }
    (peaks, peak_all, onednn)
}

/// " (median of N runs: a, b, c s)" when a case ran more than once.
fn runs_note(walls: &[f64]) -> String {
    if walls.len() < 2 {
        return String::new();
    }
    let list: Vec<String> = walls.iter().map(|w| format!("{w:.1}")).collect();
    format!(" (median of {} runs; walls {} s)", walls.len(), list.join(", "))
}

fn keras(py: &PathBuf, script: &PathBuf, data: &PathBuf, jobs: usize, batch: u32) -> Result<Value> {
    if data.as_os_str() == crate::spec::BUILTIN_DEMO {
        bail!("--keras-python needs the study's data file (the Keras script reads a CSV)");
    }
    let out = Command::new(py)
        .arg(script).arg("--data").arg(data)
        .args(["--n-jobs", &jobs.to_string(), "--grid", "small4", "--batch-size", &batch.to_string()])
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .output()
        .with_context(|| format!("running {} {}", py.display(), script.display()))?;
    if !out.status.success() {
        bail!("the Keras reference failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON line from the Keras reference")?;
    Ok(serde_json::from_str(line)?)
}
