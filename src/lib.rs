//! gridsweep: hyperparameter grid searches for dense networks on tabular data, with
//! the semantics of the study "The Genre Factor" (scikit-learn GridSearchCV + SciKeras
//! + Keras), on LibTorch.
//!
//! The flow, one module each: `params` (one configuration) → `data` (CSV,
//! preprocessing, splits) → `train` (model, optimizers, callbacks, one fold) → `cv`
//! (K folds of one configuration, the weighted score). The binary's commands live in
//! `cli`. Sweeps add `spec` (grid specs → configurations) → `sched` (dispatcher and
//! workers) → `store` (SQLite) → `rank` / `export`; `reporter` displays the
//! scheduler's events.

pub mod analyze;
pub mod baselines;
pub mod bench;
pub mod cli;
pub mod config;
pub mod cv;
pub mod data;
pub mod device;
pub mod domain;
pub mod evaluate;
pub mod export;
pub mod fold;
pub mod metrics;
pub mod mkl;
pub mod params;
pub mod plots;
pub mod race;
pub mod rank;
pub mod report;
pub mod reporter;
pub mod rng;
pub mod sched;
pub mod score;
pub mod search;
pub mod serve;
pub mod spec;
pub mod store;
pub mod sweep;
pub mod text;
pub mod tieset;
pub mod train;

/// Keeps freed tensor buffers in the process heap instead of returning them to the OS.
///
/// LibTorch allocates a fresh output for nearly every op; with glibc's defaults, buffers
/// above 128 KiB come from `mmap` and go back with `munmap`, so every step paid for page
/// faults and zeroed pages, and two workers contended on the kernel's memory locks
/// (profiled: about a fifth of the time at batch 64). Call once, before any work.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
