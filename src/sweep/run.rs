//! Running a sweep: what `run`, `resume` and `rerun` share once their arguments are
//! parsed.
//!
//! The order matters and is the reason this is one function: the data is read and
//! split first, so a spec whose data cannot be read fails before anything is recorded;
//! then the sweep is registered (or continued), the scheduler's job built from the
//! store, and the scheduler run with its events sent to whatever front end listens.
//! Notes a user should see (a replaced sweep, mixed MKL kernels, data warnings) come
//! back through `note` as sentences; the front end decides where they go.

use super::{Result, SweepError};
use crate::cv::CvSets;
use crate::sched::{self, Event, RunOptions};
use crate::spec::Spec;
use crate::store::{DbLocation, Store, StoreError};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How a run goes, as the command line or another front end sets it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The workers' devices, one entry per worker (`device::workers`).
    pub devices: Vec<tch::Device>,
    pub threads_per_job: usize,
    /// Requeue failed folds first.
    pub retry_failed: bool,
    /// How long a claimed fold stays reserved without a heartbeat.
    pub lease: Duration,
    /// How long to wait for a lost database connection.
    pub db_patience: Duration,
    pub checkpoint_every: u32,
    /// Folds a worker trains as one (`train::fused`); 1: one at a time.
    pub fuse: usize,
    /// Simulated folds of this many milliseconds instead of training (the scheduler
    /// benchmark).
    pub simulate_ms: Option<u64>,
    /// ` --db X` for the hints that name a command (empty for the default database).
    pub db_hint: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every fold it could run is done.
    Complete,
    /// Done, but some folds failed.
    SomeFailed,
    /// Stopped by Ctrl-C, or aborted, with folds left.
    Interrupted,
    /// Ended by SIGTERM, running folds saved and released.
    Terminated,
}

/// Registers `spec`'s sweep in `db` (or continues it) and runs its folds, sending the
/// scheduler's events to `events`.
pub async fn execute(
    spec: &Spec,
    db: &DbLocation,
    s: &Settings,
    events: &mpsc::Sender<Event>,
    note: &mut dyn FnMut(String),
) -> Result<Ended> {
    let expansion = spec.expand()?;
    let device = s.devices.first().copied().unwrap_or(tch::Device::Cpu);
    for c in &expansion.configs {
        crate::device::check_precision(c.params.precision, device)?;
    }
    // The data first: a spec whose data cannot be read or split fails here, before
    // anything is recorded.
    let mut data = CvSets::load(
        &spec.dataset,
        spec.cv.folds,
        spec.cv.repeats,
        spec.seed,
        spec.cv.splitter,
        expansion.configs.iter().map(|c| c.params.split.as_ref()),
    )?;
    let store = Store::open(db).await?;
    if let Some(dir) = store.created_dir() {
        note(format!(
            "note: created the directory {} for the database {}",
            dir.display(),
            store.name()
        ));
    }
    let result = run_on(&store, spec, &expansion, &mut data, s, events, note).await;
    store.close().await;
    let summary = match result {
        Err(SweepError::Store(e @ StoreError::Interrupted { .. })) => {
            note(e.to_string());
            return Ok(Ended::Interrupted);
        }
        r => r?,
    };
    Ok(if summary.terminated() {
        Ended::Terminated
    } else if summary.stopped == Some(sched::Stopped::Aborted) || summary.interrupted() {
        Ended::Interrupted
    } else if summary.counts.failed > 0 {
        Ended::SomeFailed
    } else {
        Ended::Complete
    })
}

async fn run_on(
    store: &Store,
    spec: &Spec,
    expansion: &crate::spec::Expansion,
    data: &mut CvSets,
    s: &Settings,
    events: &mpsc::Sender<Event>,
    note: &mut dyn FnMut(String),
) -> Result<sched::RunSummary> {
    let r = super::register::register(store, spec, expansion, s.retry_failed, &s.db_hint).await?;
    if let Some(why) = &r.replaced {
        note(format!(
            "note: sweep `{}` in {} had no done fold ({}); it is replaced by this spec",
            spec.name,
            store.name(),
            why.split(". ").next().unwrap_or_default()
        ));
    }
    // fp32 results depend on the kernel path (`--kernels`): say so where this run's
    // differ from those the sweep's done folds ran with.
    let device = s.devices.first().copied().unwrap_or(tch::Device::Cpu);
    if device == tch::Device::Cpu {
        let here = crate::device::label(device);
        for (there, n) in super::job::other_cpu_kernels(store, r.sweep_id, &here).await? {
            note(format!(
                "note: {n} done fold(s) of sweep `{}` ran on `{there}`, this run on `{here}`: \
                 their fp32 results differ in rounding (the kernel path: see --kernels), and the sweep will hold both",
                spec.name
            ));
        }
    }
    let resume_hint = format!(
        "gridsweep resume {}{}",
        crate::text::shell_word(&spec.name),
        s.db_hint
    );
    let job = super::job::job(store, spec, data, r.sweep_id, r.new_configs, resume_hint).await?;
    // Configurations an earlier version of the spec added may use partitions this one
    // does not name.
    data.add(job.params.values().map(|p| p.split.as_ref()))?;
    let mut warned = std::collections::HashSet::new();
    for w in data.all().flat_map(|(_, d)| d.prepared.warnings.iter()) {
        if warned.insert(w) {
            note(format!("warning: {w}"));
        }
    }
    let runner: Arc<dyn sched::FoldRunner> = match s.simulate_ms {
        Some(ms) => Arc::new(sched::SimulatedRunner {
            work: Duration::from_millis(ms),
        }),
        None => Arc::new(sched::TrainRunner::new(data, spec.seed)),
    };
    let opts = RunOptions {
        jobs: s.devices.len(),
        threads_per_job: s.threads_per_job,
        devices: s.devices.clone(),
        lease: s.lease,
        heartbeat: Duration::from_secs((s.lease.as_secs() / 4).max(1)),
        db_patience: s.db_patience,
        checkpoint_every: s.checkpoint_every,
        fuse: s.fuse.max(1),
    };
    let summary = sched::run(store, job, &opts, runner, events).await?;
    // Deleted meanwhile: its folds were gone, so the run ended with nothing left to
    // claim; that is no sweep done.
    if store
        .sweep_by_name(&spec.name)
        .await?
        .is_none_or(|row| row.id != r.sweep_id)
    {
        return Err(super::SweepError::Deleted {
            name: spec.name.clone(),
            db: store.name().to_string(),
        });
    }
    Ok(summary)
}
