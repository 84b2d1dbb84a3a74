//! The sweep benchmark's measurements: the machine's matrix-multiply peak through
//! LibTorch, and what a sweep achieves against it.
//!
//! A benchmark, not a timed test: it reports ratios on one machine in one run (fold-fits
//! per minute, achieved GFLOP/s as a share of the measured peak, the share of wall time
//! spent outside training), which is what stays comparable between machines.

use crate::params::{HyperParams, Precision, Protocol};
use serde_json::json;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// Sustained GFLOP/s of `jobs` threads, each multiplying square `n`×`n` matrices of
/// `kind` with `threads_per_job` LibTorch threads, for about `secs` seconds.
pub fn matmul_peak(
    kind: Kind,
    n: i64,
    jobs: usize,
    threads_per_job: usize,
    device: Device,
    secs: f64,
) -> f64 {
    let round = move || {
        let a = Tensor::ones([n, n], (kind, device)) * 0.5;
        let b = Tensor::ones([n, n], (kind, device)) * 0.25;
        let out = Tensor::empty([n, n], (kind, device));
        Some(move || {
            for _ in 0..ROUND {
                let _ = a.matmul_out(&out, &b);
            }
            sync(device);
            Some(())
        })
    };
    sustained_gflops(
        jobs,
        threads_per_job,
        secs,
        ROUND as f64 * 2.0 * (n as f64).powi(3),
        round,
    )
    .unwrap_or(0.0)
}

/// The fp32 matrix-multiply peak of LibTorch's other CPU library, oneDNN
/// (`mkldnn_linear` on an input in its own layout), in GFLOP/s for `jobs` jobs at once;
/// None where LibTorch has no oneDNN. fp32 training does not use it: LibTorch's fp32
/// `matmul`/`addmm` go to MKL's sgemm (see `matmul_peak`), and moving them would change
/// every fp32 result's rounding. On CPUs where MKL picks a narrower kernel than oneDNN
/// (AMD with AVX-512: MKL's AVX2 "zen" path) this is the higher of the two.
pub fn onednn_fp32_peak(n: i64, jobs: usize, threads_per_job: usize, secs: f64) -> Option<f64> {
    let round = move || {
        let a = (Tensor::ones([n, n], (Kind::Float, Device::Cpu)) * 0.5)
            .f_to_mkldnn(None)
            .ok()?;
        let w = Tensor::ones([n, n], (Kind::Float, Device::Cpu)) * 0.25;
        Some(move || {
            for _ in 0..ROUND {
                let _ = a.f_mkldnn_linear(&w, None::<Tensor>).ok()?;
            }
            Some(())
        })
    };
    sustained_gflops(
        jobs,
        threads_per_job,
        secs,
        ROUND as f64 * 2.0 * (n as f64).powi(3),
        round,
    )
}

/// Products per timed round (a GPU is synchronised once per round).
const ROUND: usize = 4;

/// Sustained GFLOP/s of `jobs` threads at once, each with `threads_per_job` LibTorch
/// threads, each repeating the round that `make` builds for about `secs` seconds after
/// one warm-up round (first-call dispatch, page faults). None when a round could not be
/// built or run on some thread.
fn sustained_gflops<R>(
    jobs: usize,
    threads_per_job: usize,
    secs: f64,
    flops_per_round: f64,
    make: impl Fn() -> Option<R> + Sync,
) -> Option<f64>
where
    R: FnMut() -> Option<()>,
{
    let deadline = Duration::from_secs_f64(secs);
    let results: Vec<Option<(u64, f64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| {
                    tch::set_num_threads(threads_per_job as i32);
                    let mut round = make()?;
                    round()?;
                    let start = Instant::now();
                    let mut rounds = 0u64;
                    while start.elapsed() < deadline {
                        round()?;
                        rounds += 1;
                    }
                    Some((rounds, start.elapsed().as_secs_f64()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let total = results.into_iter().try_fold(0.0, |sum, r| {
        r.map(|(rounds, t)| sum + rounds as f64 * flops_per_round / t)
    })?;
    Some(total / 1e9)
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// The process floor: median wall time, over `runs`, of `exe --version`, i.e. of
/// starting and ending a process that links LibTorch (loading it and running its static
/// initialisation, which registers every operator) and does nothing else. Every
/// benchmark sweep pays it once, whatever gridsweep does.
pub fn process_floor(exe: &std::path::Path, runs: usize) -> std::io::Result<f64> {
    let mut walls = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let t = std::time::Instant::now();
        let status = std::process::Command::new(exe)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "{} --version: {status}",
                exe.display()
            )));
        }
        walls.push(t.elapsed().as_secs_f64());
    }
    walls.sort_by(f64::total_cmp);
    Ok(walls[walls.len() / 2])
}

/// Training FLOPs of one fold-fit as run: forward and backward (≈ 3 × the forward
/// multiply-adds × 2) for every training row of every epoch actually run.
pub fn fold_fit_flops(
    p: &HyperParams,
    n_features: usize,
    n_classes: usize,
    fit_rows: usize,
    epochs_run: u32,
) -> f64 {
    let mut prev = n_features as f64;
    let mut macs = 0.0;
    for w in p.hidden_widths() {
        macs += prev * w as f64;
        prev = w as f64;
    }
    macs += prev * n_classes as f64;
    6.0 * macs * fit_rows as f64 * epochs_run as f64
}

/// Peak resident memory of a finished child process, in bytes, and its exit status.
#[cfg(unix)]
pub fn wait_with_rusage(child: &std::process::Child) -> std::io::Result<(i32, u64)> {
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is fully written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage.ru_maxrss as u64 * 1024))
}

/// Where a sweep process's worker time went besides training, as shares of
/// `jobs × wall` (percent).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OutsideTraining {
    /// Everything but the folds' claim-to-result time.
    pub total: f64,
    /// Before the first claim and after the last result: process start (loading
    /// LibTorch), reading and preprocessing the data, opening the store, and exit.
    pub start_and_exit: f64,
    /// Between a worker's result and its next claim (recording, claiming): the
    /// scheduler and the store.
    pub between_folds: f64,
    /// Workers idle while the last folds run on the others: no work left to claim.
    pub idle_tail: f64,
}

/// Each worker's busy time as disjoint spans: its folds' (worker, claimed at,
/// recorded at) with overlapping ones merged. Under `run --fuse` a worker's folds are
/// claimed together and trained as one group, so their spans overlap; counted one by
/// one they would give the worker more busy time than the wall clock has.
pub fn merged_spans(spans: &[(String, f64, f64)]) -> Vec<(String, f64, f64)> {
    let mut sorted = spans.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<(String, f64, f64)> = Vec::with_capacity(sorted.len());
    for (w, start, end) in sorted {
        match out.last_mut() {
            Some(last) if last.0 == w && start <= last.2 => last.2 = last.2.max(end),
            _ => out.push((w, start, end)),
        }
    }
    out
}

/// Splits the time outside training from the folds' spans: (worker, claimed at,
/// result recorded at), in seconds (overlapping spans of one worker count once).
pub fn outside_training(spans: &[(String, f64, f64)], jobs: usize, wall: f64) -> OutsideTraining {
    let spans = &merged_spans(spans)[..];
    let total_time = jobs as f64 * wall;
    let pct = |x: f64| 100.0 * x / total_time;
    if spans.is_empty() || total_time <= 0.0 {
        return OutsideTraining {
            total: 100.0,
            start_and_exit: 100.0,
            between_folds: 0.0,
            idle_tail: 0.0,
        };
    }
    let first = spans.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let last = spans.iter().map(|s| s.2).fold(f64::NEG_INFINITY, f64::max);
    let busy: f64 = spans.iter().map(|s| s.2 - s.1).sum();
    let mut tail = 0.0;
    let mut workers: Vec<&str> = spans.iter().map(|s| s.0.as_str()).collect();
    workers.sort_unstable();
    workers.dedup();
    for w in &workers {
        let done = spans
            .iter()
            .filter(|s| s.0 == *w)
            .map(|s| s.2)
            .fold(f64::NEG_INFINITY, f64::max);
        tail += last - done;
    }
    // Workers that never got a fold idled the whole window.
    tail += (jobs.saturating_sub(workers.len())) as f64 * (last - first);
    let window = jobs as f64 * (last - first);
    OutsideTraining {
        total: pct(total_time - busy),
        start_and_exit: pct(total_time - window),
        between_folds: pct(window - busy - tail),
        idle_tail: pct(tail),
    }
}

// ---------------------------------------------------------------- benchmark cases

/// One benchmark case: a precision, for fp32 whether it runs on MKL's AVX2 kernels
/// (`--kernels avx2`, beside the default AVX-512 path on CPUs that have AVX-512: the
/// path AMD CPUs took by default before), and the protocol the folds are trained and
/// scored by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Case {
    pub precision: Precision,
    pub avx2: bool,
    /// fp32 on the vendor-independent path (`--fp32-portable`).
    pub portable: bool,
    pub protocol: Protocol,
    /// `run --checkpoint-every`.
    pub checkpoint_every: u32,
    /// `run --fuse` (1: one fold at a time).
    pub fuse: usize,
}

impl Case {
    pub fn name(self) -> String {
        let base = match (self.precision, self.avx2, self.portable) {
            (Precision::Fp32, true, _) => "fp32+avx2",
            (Precision::Fp32, _, true) => "fp32+portable",
            (p, _, _) => p.name(),
        };
        let base = match self.protocol {
            Protocol::GridSearchCv => base.to_string(),
            Protocol::Notebook => format!("{base}+notebook"),
        };
        let base = match self.checkpoint_every {
            crate::sched::CHECKPOINT_EVERY => base,
            0 => format!("{base}+no-checkpoints"),
            n => format!("{base}+checkpoint-every-{n}"),
        };
        match self.fuse {
            0 | 1 => base,
            n => format!("{base}+fuse-{n}"),
        }
    }
}

/// The labels the study kept: the benchmark's data is cut to them, as the Keras
/// reference's.
pub const KEEP_LABELS: [&str; 6] = ["classic", "metal", "rock", "hip hop", "electronic", "pop"];

/// A benchmark case's spec: the Keras reference's `small4` grid at one batch size.
pub fn case_spec(name: &str, data: &std::path::Path, batch: u32, c: Case) -> serde_json::Value {
    let mut dataset = json!({"path": data});
    if data.as_os_str() != crate::spec::BUILTIN_DEMO {
        dataset["keep_labels"] = json!(KEEP_LABELS);
    }
    json!({
        "name": name, "dataset": dataset, "cv": {"folds": 3}, "seed": 42,
        "fixed": {"batch_size": batch, "precision": c.precision.name(), "protocol": c.protocol.name()},
        // The Keras reference's `small4` grid: the final model with 2 optimizers × 2 dropouts.
        "grid": {"optimizer": ["adam", "nadam"], "dropout": [0.3, 0.4]},
    })
}

/// What a case's figures are measured against.
pub struct Reference<'a> {
    pub jobs: usize,
    /// Seconds to start and end a process linking LibTorch.
    pub floor: f64,
    /// The all-jobs matmul peak per precision, GFLOP/s.
    pub peak_all: &'a std::collections::HashMap<&'static str, f64>,
    /// fp32 peaks (one job, all jobs) on MKL's AVX2 kernels (`--kernels avx2`), and
    /// oneDNN's.
    pub avx2_peak: Option<(f64, f64)>,
    pub onednn: Option<(f64, f64)>,
    /// The first checkpoint interval asked for: the default case's.
    pub default_interval: u32,
}

/// A case's figures from its median run, as the JSON object `bench --json` prints;
/// `fp32_rate` carries the default fp32 case's fold-fits per minute to the cases after it.
pub fn case_figures(
    c: Case,
    batch: u32,
    run: Run,
    walls: &[f64],
    r: &Reference,
    fp32_rate: &mut Option<f64>,
) -> serde_json::Value {
    let Run {
        wall,
        maxrss,
        fits,
        flops,
        spans,
        val,
        epochs,
    } = run;
    let prec = c.precision;
    let outside = outside_training(&spans, r.jobs, wall);
    // The workers' busy time per epoch trained: comparable across protocols, whose
    // callbacks stop training at different epochs (a fused group's folds share their
    // worker's time: `merged_spans`).
    let ms_per_fold_epoch = 1e3
        * merged_spans(&spans)
            .iter()
            .map(|(_, start, end)| end - start)
            .sum::<f64>()
        / epochs.max(1) as f64;
    let gflops = flops / wall / 1e9;
    let peak = match c.avx2 {
        true => r.avx2_peak.map(|(_, all)| all),
        false => r.peak_all.get(prec.name()).copied(),
    };
    let rate = fits as f64 / wall * 60.0;
    let is_default_fp32 = prec == Precision::Fp32
        && !c.avx2
        && !c.portable
        && c.protocol == Protocol::GridSearchCv
        && c.checkpoint_every == r.default_interval
        && c.fuse <= 1;
    if is_default_fp32 {
        *fp32_rate = Some(rate);
    }
    let case = json!({
        "batch_size": batch, "precision": prec.name(), "case": c.name(), "protocol": c.protocol.name(),
        "checkpoint_every": c.checkpoint_every, "fuse": c.fuse,
        "fold_epochs": epochs, "ms_per_fold_epoch": ms_per_fold_epoch,
        "kernels": if prec != Precision::Fp32 { "onednn" } else if c.avx2 { "avx2" } else if c.portable { "portable" } else { crate::mkl::current().name() },
        "fp32_portable": prec == Precision::Fp32 && (c.portable || crate::mkl::portable_path()),
        "fold_fits": fits, "wall_seconds": wall,
        "wall_seconds_of_every_run": walls,
        "fold_fits_per_minute": rate, "seconds_per_fold_fit": wall / fits as f64,
        "training_tflop": flops / 1e12, "achieved_gflops": gflops,
        "percent_of_peak": peak.map(|p| 100.0 * gflops / p),
        "percent_of_fp32_peak": r.peak_all.get("fp32").map(|p| 100.0 * gflops / p),
        "percent_of_mkl_avx2_fp32_peak": r.avx2_peak.map(|(_, all)| 100.0 * gflops / all),
        "percent_of_onednn_fp32_peak": r.onednn.map(|(_, all)| 100.0 * gflops / all),
        "outside_training_percent": outside.total,
        "outside_training": outside,
        "process_floor_percent": 100.0 * r.floor / wall,
        "peak_rss_mb_per_worker": maxrss as f64 / 1e6 / r.jobs as f64,
        "peak_rss_mb_process": maxrss as f64 / 1e6,
        "speedup_vs_fp32": fp32_rate.filter(|_| !is_default_fp32 && c.protocol == Protocol::GridSearchCv).map(|f| rate / f),
        "mean_val_accuracy": val.iter().map(|(o, d, v)| json!({"optimizer": o, "dropout": d, "mean_val_accuracy": v})).collect::<Vec<_>>(),
    });
    case
}

/// One benchmark sweep through the real binary: its wall time and peak memory, and
/// what its database says of it (`sweep::bench::recorded`).
pub struct Run {
    pub wall: f64,
    pub maxrss: u64,
    pub fits: usize,
    pub flops: f64,
    /// (worker, claimed at, recorded at) of each fold.
    pub spans: Vec<(String, f64, f64)>,
    /// (optimizer, dropout, mean val accuracy) of each configuration.
    pub val: Vec<(String, f64, f64)>,
    pub epochs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_of_the_final_model() {
        // 401,152 multiply-adds per row (19·256 + 256·512 + 512·512 + 512·6).
        let f = fold_fit_flops(&HyperParams::default(), 19, 6, 1, 1);
        assert_eq!(f, 6.0 * 401_152.0);
    }

    #[test]
    fn onednn_peak_is_measured() {
        // This LibTorch is built with oneDNN (USE_MKLDNN=ON).
        let g = onednn_fp32_peak(128, 1, 1, 0.05).expect("oneDNN in LibTorch");
        assert!(g > 0.1, "{g}");
    }

    #[test]
    fn peak_is_positive() {
        let g = matmul_peak(Kind::Float, 128, 1, 1, Device::Cpu, 0.05);
        assert!(g > 0.1, "{g}");
    }

    #[test]
    fn outside_training_parts_add_up() {
        // Two workers over a 10 s process: folds from 1 s to 9 s; worker b ends at 8 s.
        let spans = vec![
            ("a".to_string(), 1.0, 5.0),
            ("a".to_string(), 5.5, 9.0),
            ("b".to_string(), 1.0, 4.0),
            ("b".to_string(), 4.0, 8.0),
        ];
        let o = outside_training(&spans, 2, 10.0);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        close(o.start_and_exit, 100.0 * 4.0 / 20.0);
        close(o.idle_tail, 100.0 * 1.0 / 20.0);
        close(o.between_folds, 100.0 * 0.5 / 20.0);
        close(o.total, o.start_and_exit + o.idle_tail + o.between_folds);
    }

    #[test]
    fn a_fused_groups_overlapping_spans_count_once() {
        // Worker a trains three folds as one group from 1 s (each recorded as it ends),
        // then one alone; b trains one fold. 10 s process, 2 workers.
        let spans = vec![
            ("a".to_string(), 1.0, 4.0),
            ("a".to_string(), 1.0, 5.0),
            ("a".to_string(), 1.0, 6.0),
            ("a".to_string(), 6.5, 9.0),
            ("b".to_string(), 1.0, 9.0),
        ];
        let merged = merged_spans(&spans);
        assert_eq!(
            merged,
            vec![
                ("a".to_string(), 1.0, 6.0),
                ("a".to_string(), 6.5, 9.0),
                ("b".to_string(), 1.0, 9.0)
            ]
        );
        let o = outside_training(&spans, 2, 10.0);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        // Busy 5 + 2.5 + 8 = 15.5 of 20 worker-seconds.
        close(o.total, 100.0 * 4.5 / 20.0);
        close(o.between_folds, 100.0 * 0.5 / 20.0);
        assert!(o.total >= 0.0);
    }
}
