//! `gridsweep bench`: the matrix-multiply peak, then real sweeps through the binary's
//! own scheduler and store, measured against that peak (and, with `--keras-python`,
//! against the study's Keras stack run side by side).

use super::{available_cores, Outcome};
use crate::bench::{self, Case, Reference, Run};
use crate::params::{Precision, Protocol};
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

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub mkl: super::MklArg,
    /// Data (default: the study's file at ../shared/data/genre-factor/ when present,
    /// else the built-in synthetic data of the same shape).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub jobs: super::flags::JobsArg,
    #[command(flatten)]
    pub threads: super::flags::ThreadsArg,
    #[command(flatten)]
    pub device: super::flags::DeviceArg,
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
    /// `run --fuse` values to run each case with, e.g. `1,4,16` (folds a job trains as
    /// one; the benchmark's 12 folds share one network shape); default: 1.
    #[arg(long, value_delimiter = ',', value_parser = super::positive)]
    pub fuse: Vec<usize>,
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
    /// Leave out the fp32 cases on MKL's AVX2 kernels (`--kernels avx2`), which the
    /// benchmark otherwise adds beside the default AVX-512 path on CPUs that have AVX-512.
    #[arg(long, alias = "no-mkl-avx512-cases")]
    pub no_avx2_cases: bool,
    /// Also run the fp32 cases on the vendor-independent path (`--kernels portable`), for
    /// its cost against the default path in the same run.
    #[arg(long)]
    pub portable_case: bool,
    /// Measure the fp32 matmul peak only and print it as JSON (the benchmark runs this in
    /// a child process to measure MKL's AVX2 peak beside its default one).
    #[arg(long, hide = true)]
    pub peaks_only: bool,
}

fn protocols(s: &str) -> Result<Vec<Protocol>> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "both" => vec![Protocol::GridSearchCv, Protocol::Notebook],
        other => vec![Protocol::parse(other).with_context(|| {
            format!("--protocol {other}: expected gridsearchcv, notebook or both")
        })?],
    })
}

fn precisions(s: &str) -> Result<Vec<Precision>> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "both" => vec![Precision::Fp32, Precision::Bf16],
        other => vec![Precision::parse(other)
            .with_context(|| format!("--precision {other}: expected fp32, bf16 or both"))?],
    })
}

pub fn run(a: BenchArgs) -> Result<Outcome> {
    let device = crate::device::parse(&a.device.device)?;
    let jobs = a.jobs.jobs.unwrap_or_else(available_cores).max(1);
    let threads = a.threads.get();
    let mut precs = precisions(&a.precision)?;
    let protos = protocols(&a.protocol)?;
    let bf16_ok = crate::device::bf16_supported(device);
    if !bf16_ok {
        if a.precision.eq_ignore_ascii_case("bf16") {
            bail!("--precision bf16: this CPU has no native bf16 arithmetic (no avx512_bf16 or amx_bf16 flag)");
        }
        precs.retain(|p| *p == Precision::Fp32);
    }
    let (data, data_label): (PathBuf, String) = match &a.data {
        Some(d) => (d.clone(), d.display().to_string()),
        None if std::path::Path::new(SHARED_DATA).exists() => {
            (PathBuf::from(SHARED_DATA), SHARED_DATA.to_string())
        }
        None => (
            PathBuf::from(crate::spec::BUILTIN_DEMO),
            "builtin:demo (the study's data is absent)".into(),
        ),
    };
    // The sweep specs live in a temporary folder: give them an absolute path.
    let data = if data.as_os_str() == crate::spec::BUILTIN_DEMO {
        data
    } else {
        std::path::absolute(&data)?
    };
    let say = |s: String| {
        if !a.json {
            println!("{s}");
        }
    };
    say(format!(
        "gridsweep bench — {} jobs × {} LibTorch thread(s) on {}; data {}",
        jobs,
        threads,
        crate::device::name(device),
        data_label
    ));
    let optimizer_root = crate::train::vml_sqrt::describe();
    say(format!("CPU optimizer: {optimizer_root}"));

    // 1. Peaks.
    let (mut peaks, peak_all, onednn) = measure_peaks(&a, jobs, threads, device, bf16_ok, &say);
    if a.peaks_only {
        println!("{}", serde_json::to_string(&peaks)?);
        return Ok(Outcome::Ok);
    }
    let exe = std::env::current_exe().context("locating the gridsweep binary")?;
    // Where the default path is MKL's AVX-512 kernels, the AVX2 path beside it (the one
    // AMD CPUs took by default before): its peak measured in a child process, as MKL's
    // choice is made once per process.
    let mut case_list: Vec<Case> = precs
        .iter()
        .map(|&precision| Case {
            precision,
            avx2: false,
            portable: false,
            protocol: Protocol::GridSearchCv,
            checkpoint_every: crate::sched::CHECKPOINT_EVERY,
            fuse: 1,
        })
        .collect();
    let mut avx2_peak = None;
    if device == tch::Device::Cpu
        && precs.contains(&Precision::Fp32)
        && !a.no_avx2_cases
        && crate::mkl::current() == crate::mkl::Kernels::Avx512
    {
        let (one, all) = avx2_peak_in_child(&exe, jobs, threads, a.peak_seconds)?;
        if let (Some(one), Some(all)) = (one, all) {
            say(format!("peak fp32 on MKL's AVX2 kernels (--kernels avx2): {one:.1} GFLOP/s for one job, {all:.1} GFLOP/s for {jobs} jobs"));
            avx2_peak = Some((one, all));
            case_list.insert(
                1,
                Case {
                    precision: Precision::Fp32,
                    avx2: true,
                    portable: false,
                    protocol: Protocol::GridSearchCv,
                    checkpoint_every: crate::sched::CHECKPOINT_EVERY,
                    fuse: 1,
                },
            );
        }
    }
    // The vendor-independent path beside the default, where asked for.
    if a.portable_case
        && device == tch::Device::Cpu
        && precs.contains(&Precision::Fp32)
        && !crate::mkl::portable_path()
    {
        let at = case_list
            .iter()
            .position(|c| c.precision == Precision::Fp32)
            .map_or(0, |i| i + 1);
        case_list.insert(
            at,
            Case {
                precision: Precision::Fp32,
                avx2: false,
                portable: true,
                protocol: Protocol::GridSearchCv,
                checkpoint_every: crate::sched::CHECKPOINT_EVERY,
                fuse: 1,
            },
        );
    }
    // Each case once per protocol asked for, the protocols of a case side by side.
    let case_list: Vec<Case> = case_list
        .into_iter()
        .flat_map(|c| protos.iter().map(move |&protocol| Case { protocol, ..c }))
        .collect();
    // ... and once per checkpoint interval asked for.
    let intervals = if a.checkpoint_every.is_empty() {
        vec![crate::sched::CHECKPOINT_EVERY]
    } else {
        a.checkpoint_every.clone()
    };
    let case_list: Vec<Case> = case_list
        .into_iter()
        .flat_map(|c| {
            intervals.iter().map(move |&checkpoint_every| Case {
                checkpoint_every,
                ..c
            })
        })
        .collect();
    // ... and once per fusion group size asked for.
    let fusions = if a.fuse.is_empty() {
        vec![1]
    } else {
        a.fuse.clone()
    };
    let case_list: Vec<Case> = case_list
        .into_iter()
        .flat_map(|c| fusions.iter().map(move |&fuse| Case { fuse, ..c }))
        .collect();
    if let Some((one, all)) = avx2_peak {
        peaks.insert(
            "fp32_mkl_avx2".into(),
            json!({"one_job_gflops": one, "all_jobs_gflops": all}),
        );
    }

    // 2. Sweeps through the real binary, after the floor every such process pays.
    let floor = bench::process_floor(&exe, 7).context("timing the process floor")?;
    say(format!("process floor: {:.3} s to start and end a process linking LibTorch (`gridsweep --version`, median of 7)", floor));
    let tmp = std::env::temp_dir().join(format!("gridsweep-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut cases = Vec::new();
    for &batch in &a.batch_sizes {
        let mut fp32_rate = None;
        for &c in &case_list {
            let name = format!("bench-b{batch}-{}", c.name());
            let spec = write_case_spec(&tmp, &name, &data, batch, c)?;
            let mut runs = Vec::new();
            for r in 0..a.repeat.max(1) {
                let db = tmp.join(format!("{name}-{r}.db"));
                runs.push(one_run(
                    &rt,
                    &exe,
                    &spec,
                    &db,
                    &name,
                    c,
                    jobs,
                    threads,
                    &a.device.device,
                )?);
            }
            // The median run by wall time.
            let walls: Vec<f64> = runs.iter().map(|r| r.wall).collect();
            runs.sort_by(|x, y| x.wall.total_cmp(&y.wall));
            let run = runs.swap_remove(runs.len() / 2);
            let reference = Reference {
                jobs,
                floor,
                peak_all: &peak_all,
                avx2_peak,
                onednn,
                default_interval: intervals[0],
            };
            cases.push(case_report(
                c,
                batch,
                run,
                &walls,
                &reference,
                &mut fp32_rate,
                &say,
            ));
        }
        if let Some(py) = &a.keras_python {
            cases.push(keras_case(py, &a, &data, jobs, batch, fp32_rate, &say)?);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "jobs": jobs, "threads_per_job": threads, "device": crate::device::name(device), "data": data_label,
                "optimizer_root": optimizer_root, "process_floor_seconds": floor, "peaks": peaks, "cases": cases,
            }))?
        );
    }
    Ok(Outcome::Ok)
}

/// Writes a case's spec (`bench::case_spec`) into `tmp`.
fn write_case_spec(tmp: &Path, name: &str, data: &Path, batch: u32, c: Case) -> Result<PathBuf> {
    let spec = tmp.join(format!("{name}.json"));
    std::fs::write(
        &spec,
        serde_json::to_string_pretty(&bench::case_spec(name, data, batch, c))?,
    )?;
    Ok(spec)
}

/// A case's figures (`bench::case_figures`), and its line said.
fn case_report(
    c: Case,
    batch: u32,
    run: Run,
    walls: &[f64],
    r: &Reference,
    fp32_rate: &mut Option<f64>,
    say: &dyn Fn(String),
) -> Value {
    let case = bench::case_figures(c, batch, run, walls, r, fp32_rate);
    let f = |k: &str| case[k].as_f64().unwrap_or(f64::NAN);
    let o = |k: &str| case["outside_training"][k].as_f64().unwrap_or(f64::NAN);
    say(format!(
        "batch {batch:>4} {:>4}: {} fold-fits in {:.1} s = {:.1}/min, {:.2} s per fold-fit, {} fold-epochs at {:.1} ms each; {:.1} TFLOP, {:.0} GFLOP/s = {}% of peak{}; {:.1}% of wall outside training ({:.1}% start and exit, of which {:.1}% the process floor; {:.1}% between folds, {:.1}% idle tail); peak RSS {:.0} MB per worker{}",
        c.name(), case["fold_fits"], f("wall_seconds"), f("fold_fits_per_minute"), f("seconds_per_fold_fit"), case["fold_epochs"], f("ms_per_fold_epoch"),
        f("training_tflop"), f("achieved_gflops"),
        case["percent_of_peak"].as_f64().map(|p| format!("{p:.0}")).unwrap_or_else(|| "?".into()),
        case["percent_of_onednn_fp32_peak"].as_f64().filter(|_| c.precision == Precision::Fp32).map(|p| format!(" ({p:.0}% of oneDNN's fp32 peak)")).unwrap_or_default(),
        o("total"), o("start_and_exit"), f("process_floor_percent"), o("between_folds"), o("idle_tail"),
        f("peak_rss_mb_per_worker"),
        case["speedup_vs_fp32"].as_f64().map(|s| format!("; {s:.2}× the fp32 throughput")).unwrap_or_default(),
    ) + &runs_note(walls));
    case
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
        .args(if c.avx2 {
            &["--kernels", "avx2"][..]
        } else if c.portable {
            &["--kernels", "portable"][..]
        } else {
            &[][..]
        })
        .arg("run")
        .arg(spec)
        .arg("--db")
        .arg(db)
        .args([
            "--jobs",
            &jobs.to_string(),
            "--threads-per-job",
            &threads.to_string(),
            "--device",
            device,
            "--quiet",
        ])
        .args([
            "--checkpoint-every",
            &c.checkpoint_every.to_string(),
            "--fuse",
            &c.fuse.max(1).to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting gridsweep run")?;
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
    let r = rt.block_on(async {
        let store = Store::open(db).await?;
        let r = crate::sweep::bench::recorded(&store, name).await;
        store.close().await;
        r
    })?;
    Ok(Run {
        wall,
        maxrss,
        fits: r.fits,
        flops: r.flops,
        spans: r.spans,
        val: r.val,
        epochs: r.epochs,
    })
}

/// The Keras reference's runs of one batch size: the median by wall time, beside
/// gridsweep's fp32 throughput.
fn keras_case(
    py: &PathBuf,
    a: &BenchArgs,
    data: &PathBuf,
    jobs: usize,
    batch: u32,
    fp32_rate: Option<f64>,
    say: &dyn Fn(String),
) -> Result<Value> {
    let mut ks = Vec::new();
    for _ in 0..a.repeat.max(1) {
        ks.push(keras(py, &a.keras_script, data, jobs, batch)?);
    }
    let kwalls: Vec<f64> = ks
        .iter()
        .map(|k| k["wall_s"].as_f64().unwrap_or(f64::NAN))
        .collect();
    ks.sort_by(|x, y| {
        x["wall_s"]
            .as_f64()
            .unwrap_or(f64::NAN)
            .total_cmp(&y["wall_s"].as_f64().unwrap_or(f64::NAN))
    });
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
    Ok(
        json!({"batch_size": batch, "precision": "keras", "keras": k, "fold_fits_per_minute": krate,
                      "seconds_per_fold_fit": wall / fits, "gridsweep_fp32_speedup": fp32_rate.map(|r| r / krate)}),
    )
}

/// fp32 peaks (one job, all jobs) on MKL's AVX2 kernels, measured in a child process:
/// MKL chooses its kernels once per process.
fn avx2_peak_in_child(
    exe: &Path,
    jobs: usize,
    threads: usize,
    peak_seconds: f64,
) -> Result<(Option<f64>, Option<f64>)> {
    let out = Command::new(exe)
        .args(["--kernels", "avx2", "bench", "--peaks-only", "--json"])
        .args([
            "--jobs",
            &jobs.to_string(),
            "--threads-per-job",
            &threads.to_string(),
            "--peak-seconds",
            &peak_seconds.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("measuring MKL's AVX2 peak in a child process")?;
    if !out.status.success() {
        bail!(
            "measuring MKL's AVX2 peak: the child process exited with {}",
            out.status
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("reading the child's peaks")?;
    let (one, all) = (
        v["fp32"]["one_job_gflops"].as_f64(),
        v["fp32"]["all_jobs_gflops"].as_f64(),
    );
    Ok((one, all))
}

type Peaks = (
    serde_json::Map<String, Value>,
    std::collections::HashMap<&'static str, f64>,
    Option<(f64, f64)>,
);

/// The fp32 and bf16 matmul peaks (and oneDNN's fp32 peak on the CPU; with
/// `--peaks-only`, fp32 alone): the JSON object, the all-jobs peak per precision, and
/// oneDNN's (one job, all jobs).
fn measure_peaks(
    a: &BenchArgs,
    jobs: usize,
    threads: usize,
    device: tch::Device,
    bf16_ok: bool,
    say: &impl Fn(String),
) -> Peaks {
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
        peaks.insert(
            name.into(),
            json!({"one_job_gflops": one, "all_jobs_gflops": all}),
        );
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
        peaks.insert(
            "fp32_onednn".into(),
            json!({"one_job_gflops": one, "all_jobs_gflops": all}),
        );
    }
    (peaks, peak_all, onednn)
}

/// " (median of N runs: a, b, c s)" when a case ran more than once.
fn runs_note(walls: &[f64]) -> String {
    if walls.len() < 2 {
        return String::new();
    }
    let list: Vec<String> = walls.iter().map(|w| format!("{w:.1}")).collect();
    format!(
        " (median of {} runs; walls {} s)",
        walls.len(),
        list.join(", ")
    )
}

fn keras(py: &PathBuf, script: &PathBuf, data: &PathBuf, jobs: usize, batch: u32) -> Result<Value> {
    if data.as_os_str() == crate::spec::BUILTIN_DEMO {
        bail!("--keras-python needs the study's data file (the Keras script reads a CSV)");
    }
    let out = Command::new(py)
        .arg(script)
        .arg("--data")
        .arg(data)
        .args([
            "--n-jobs",
            &jobs.to_string(),
            "--grid",
            "small4",
            "--batch-size",
            &batch.to_string(),
        ])
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .output()
        .with_context(|| format!("running {} {}", py.display(), script.display()))?;
    if !out.status.success() {
        bail!(
            "the Keras reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line from the Keras reference")?;
    Ok(serde_json::from_str(line)?)
}
