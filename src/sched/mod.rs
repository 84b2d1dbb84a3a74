//! The scheduler: a dispatcher that owns the database's side, and workers that only
//! run folds.
//!
//! The dispatcher ([`dispatcher`]) claims folds through a [`FoldQueue`] (the store),
//! hands each to an idle worker ([`runner`]: an OS thread with its own LibTorch
//! thread count, running a [`FoldRunner`]), records what comes back, renews the leases
//! of running folds on a heartbeat, and follows the signals ([`signals`]). Workers
//! never touch the database, so every write happens in one place and a fold's result
//! is one transaction. Everything the user sees is an [`Event`] sent to the reporter,
//! which never looks at the scheduler's state.
//!
//! Ctrl-C once: stop claiming, let running folds finish. Twice, or SIGTERM: the
//! running folds save their training states and return to pending within an epoch.
//! Three times: return at once (the folds are reclaimed by the next run, as after
//! `kill -9`). How it ended is in [`RunSummary::stopped`]; `main` turns it into the
//! exit code.

pub mod dispatcher;
pub mod queue;
pub mod runner;
pub mod signals;
#[cfg(test)]
mod tests;

pub use queue::FoldQueue;
pub use runner::{FoldRunner, SimulatedRunner, TrainRunner};
pub use signals::{Signal, Stopped};

use crate::domain::{Counts, Owner};
use crate::params::HyperParams;
use crate::score::ScoreRule;
use crate::search::Halving;
use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tch::Device;
use tokio::sync::mpsc as amsc;

/// What the scheduler tells the reporter.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        sweep: String,
        configs: usize,
        new_configs: usize,
        counts: Counts,
        jobs: usize,
        threads_per_job: usize,
        /// Folds a job trains as one (`--fuse`; 1: one at a time).
        fuse: usize,
        device: String,
        /// The data: rows, features, what is not a feature.
        data: String,
        /// Successive halving and Hyperband: the rungs in progress, with their folds
        /// done and in all (the progress a staged run shows is theirs).
        rung: Option<RungProgress>,
        /// The sweep's best complete configuration when the run starts.
        best: Option<(String, f64)>,
    },
    /// `label`: the hyperparameters that vary in the sweep, as `rank` shows them.
    /// `from_epoch`: the epochs of the saved state it continues from (0: the start);
    /// `until`: the epoch it stops at (a rung's budget, or `epochs`).
    FoldStarted {
        worker: usize,
        config_id: String,
        label: String,
        fold: i64,
        epochs: u32,
        from_epoch: u32,
        until: u32,
    },
    Epoch {
        worker: usize,
        epoch: u32,
        epochs: u32,
        loss: f64,
    },
    FoldDone {
        worker: usize,
        config_id: String,
        fold: i64,
        val_accuracy: f64,
        fit_seconds: f64,
    },
    FoldFailed {
        worker: usize,
        config_id: String,
        fold: i64,
        error: String,
    },
    FoldAbandoned {
        worker: usize,
        config_id: String,
        fold: i64,
    },
    /// A fold's saved training state could not be continued from; it trains from its start.
    StateRefused {
        worker: usize,
        config_id: String,
        fold: i64,
        why: String,
    },
    /// A fold finished after its lease had expired and another worker had taken it
    /// over: this result was not recorded (the other worker's is).
    FoldLost {
        worker: usize,
        config_id: String,
        fold: i64,
    },
    /// A fold trained ahead while a race's barrier waited, which the race then did not
    /// need (its configuration left the race, or the race ended): its result is not
    /// recorded.
    FoldNotNeeded {
        worker: usize,
        config_id: String,
        fold: i64,
        /// This process saw the race end (its last barrier decided): the fold was not
        /// needed because the race was over, whatever became of its configuration.
        race_over: bool,
    },
    /// A claimed fold belongs to a configuration this process does not know (another
    /// spec version added it): released, and this process claims no more.
    UnknownConfiguration {
        config_id: String,
        fold: i64,
    },
    /// Every fold a configuration has so far is done. In a staged search (halving,
    /// Hyperband, race: `staged`) that is the end of its current stage, not of the
    /// configuration: a barrier may still send it on.
    ConfigCompleted {
        config_id: String,
        score: f64,
        mean_val_accuracy: f64,
        staged: bool,
    },
    /// The sweep's best complete configuration changed (completed by this process or
    /// by another one on the same sweep).
    Best {
        config_id: String,
        score: f64,
    },
    /// Successive halving: a rung was complete; `configurations` went on to `rung`
    /// (`folds` more folds to train), `pruned` stopped. `bracket`: which, in a sweep of
    /// Hyperband (None: plain halving). `weak`: the complete rung ranked its
    /// configurations unlike the rung before it (`search::rung_agreement` below
    /// `search::WEAK_AGREEMENT`), and what to do about it.
    RungPromoted {
        bracket: Option<u32>,
        rung: u32,
        configurations: usize,
        pruned: usize,
        folds: u64,
        weak: Option<String>,
    },
    /// A race's barrier was decided: `left` configurations go on to their next fold
    /// (`folds` folds to train), `dropped` left the race as credibly worse; `stage` is
    /// the barrier's number (0: after the first folds).
    RaceStage {
        stage: u32,
        left: usize,
        dropped: usize,
        folds: u64,
    },
    /// A race's barrier waits on its last folds: `folds` next folds were added for idle
    /// workers to train ahead (kept for the configurations the barrier sends on).
    TrainingAhead {
        folds: u64,
    },
    /// A race's last barrier: `left` are left, `dropped` left at it, and why it ended.
    RaceEnded {
        stage: u32,
        left: usize,
        dropped: usize,
        why: String,
    },
    Stopping {
        running: usize,
    },
    /// The database connection was lost; the dispatcher retries (results are kept).
    WaitingForDatabase {
        error: String,
        patience_seconds: f64,
    },
    /// It is back after this long.
    DatabaseBack {
        waited_seconds: f64,
    },
    Abandoning {
        running: usize,
    },
    /// SIGTERM (a batch system's time limit): running folds save their training states
    /// and return to pending, and the process ends.
    Terminating {
        running: usize,
    },
    /// Ctrl-C a third time: the run returns at once.
    Aborted {
        running: usize,
    },
    Finished(RunSummary),
}

/// The rungs a staged run is on: (bracket, rung) of each bracket with one in
/// progress, and their folds done (or failed) and in all. `brackets`: the sweep's
/// brackets (1: plain successive halving; 0: a race, whose rung is its stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RungProgress {
    pub brackets: usize,
    pub rungs: Vec<(u32, u32)>,
    pub done: u64,
    pub total: u64,
}

impl RungProgress {
    /// How the progress bar names it: `rung 2`, or Hyperband's `brackets 0:2 1:1`.
    pub fn label(&self) -> String {
        if self.brackets == 0 {
            return self
                .rungs
                .first()
                .map_or_else(|| "stage -".into(), |r| format!("stage {}", r.1));
        }
        if self.brackets == 1 {
            return self
                .rungs
                .first()
                .map_or_else(|| "rung -".into(), |r| format!("rung {}", r.1));
        }
        let at: Vec<String> = self.rungs.iter().map(|(b, r)| format!("{b}:{r}")).collect();
        format!("brackets {}", at.join(" "))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub sweep: String,
    pub counts: Counts,
    /// Folds this run finished, failed, abandoned. Under a staged search (halving,
    /// Hyperband) a fold trains once per rung it reaches, and each such rung span counts.
    pub done: usize,
    pub failed: usize,
    pub abandoned: usize,
    /// Of `done`: folds trained ahead while a race's barrier waited, for configurations
    /// that then left the race (not recorded).
    pub not_needed: usize,
    /// How a signal stopped it, if one did.
    pub stopped: Option<Stopped>,
    pub wall_seconds: f64,
    /// The sweep's best complete configuration (from the database, whoever trained it).
    pub best: Option<(String, f64)>,
    /// The command that continues the sweep, as the user would type it.
    pub resume_hint: String,
    /// A staged search: `done` counts rung spans, `counts` folds.
    pub staged: bool,
    /// A staged search (race, halving, Hyperband) whose end this run did not reach.
    pub stages_left: bool,
}

impl RunSummary {
    /// Stopped by Ctrl-C (or SIGTERM) with folds or stages left.
    pub fn interrupted(&self) -> bool {
        self.stopped.is_some()
            && (self.counts.pending + self.counts.running > 0 || self.stages_left)
    }

    pub fn terminated(&self) -> bool {
        self.stopped == Some(Stopped::Terminated)
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub jobs: usize,
    pub threads_per_job: usize,
    /// The device of each worker (`jobs` entries; several workers may share a GPU).
    pub devices: Vec<Device>,
    /// How long a claim stays valid without a heartbeat.
    pub lease: Duration,
    pub heartbeat: Duration,
    /// How long to wait for a lost database connection before giving up.
    pub db_patience: Duration,
    /// Save a running fold's training state every this many epochs (0: never).
    pub checkpoint_every: u32,
    /// Folds a worker trains as one (`train::fused`); 1: one at a time.
    pub fuse: usize,
}

/// Epochs between two saved training states of a running fold, by default. Measured
/// (docs/performance.md): at 10 the saving costs under 1 % of training time on the
/// study's model.
pub const CHECKPOINT_EVERY: u32 = 10;

/// A sweep ready to run.
pub struct SweepJob {
    pub sweep_id: i64,
    pub name: String,
    /// Every configuration of the sweep the workers may be handed.
    pub params: HashMap<String, HyperParams>,
    pub configs: usize,
    pub new_configs: usize,
    /// The data, as the run's header shows it (rows, features, what is not a feature).
    pub data_description: String,
    /// The sweep's score rule: the stored summaries' Δacc and score.
    pub score: ScoreRule,
    /// Per configuration, its varying hyperparameters (`dropout 0.2, optimizer adam`).
    pub labels: HashMap<String, String>,
    /// Successive halving (one) and Hyperband (several): each bracket's halving; when
    /// nothing is claimable, a complete rung of one of them is promoted. Empty for
    /// grid and random search.
    pub brackets: Vec<Halving>,
    /// A race: when nothing is claimable, its barrier is decided.
    pub race: Option<crate::race::Rules>,
    /// The command that continues this sweep (`gridsweep resume NAME --db …`).
    pub resume_hint: String,
}

/// How often a process with idle workers looks again for work while a halving rung's
/// last folds run elsewhere.
pub(crate) const RUNG_POLL: Duration = Duration::from_millis(500);

/// Runs a sweep's claimable folds to completion (or interruption), with the process's
/// SIGINT and SIGTERM as the signals.
pub async fn run<Q: FoldQueue>(
    queue: &Q,
    job: SweepJob,
    opts: &RunOptions,
    runner: Arc<dyn FoldRunner>,
    events: &mpsc::Sender<Event>,
) -> Result<RunSummary, StoreError> {
    let (tx, rx) = amsc::unbounded_channel();
    let listener = listen_for_signals(tx, queue.name())?;
    let r = run_with_signals(queue, job, opts, runner, events, rx).await;
    listener.abort();
    r
}

/// Forwards SIGINT and SIGTERM to the dispatcher.
fn listen_for_signals(
    tx: amsc::UnboundedSender<Signal>,
    db: &str,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    use tokio::signal::unix::{signal, SignalKind};
    let io = |e| StoreError::Io {
        db: db.into(),
        source: e,
    };
    let mut int = signal(SignalKind::interrupt()).map_err(io)?;
    let mut term = signal(SignalKind::terminate()).map_err(io)?;
    Ok(tokio::spawn(async move {
        loop {
            let s = tokio::select! {
                Some(_) = int.recv() => Signal::Interrupt,
                Some(_) = term.recv() => Signal::Terminate,
                else => return,
            };
            if tx.send(s).is_err() {
                return;
            }
        }
    }))
}

/// [`run`] with the signals from `signals` (tests send their own).
pub async fn run_with_signals<Q: FoldQueue>(
    queue: &Q,
    job: SweepJob,
    opts: &RunOptions,
    runner: Arc<dyn FoldRunner>,
    events: &mpsc::Sender<Event>,
    signals: amsc::UnboundedReceiver<Signal>,
) -> Result<RunSummary, StoreError> {
    let started = Instant::now();
    let owner = Owner::this_process();
    let emit = |e: Event| {
        let _ = events.send(e);
    };
    queue.reclaim_dead(job.sweep_id, &owner).await?;
    let counts = queue.counts(job.sweep_id).await?;
    let rung = match job.brackets.len() {
        0 if job.race.is_some() => queue
            .rung_progress(job.sweep_id, 1)
            .await?
            .map(|r| RungProgress { brackets: 0, ..r }),
        0 => None,
        n => queue.rung_progress(job.sweep_id, n).await?,
    };
    let best = queue.best(job.sweep_id).await?;
    let mut names: Vec<String> = opts
        .devices
        .iter()
        .map(|d| crate::device::label(*d))
        .collect();
    names.dedup();
    emit(Event::Started {
        sweep: job.name.clone(),
        configs: job.configs,
        new_configs: job.new_configs,
        counts,
        jobs: opts.jobs,
        threads_per_job: opts.threads_per_job,
        fuse: opts.fuse,
        device: names.join(","),
        data: job.data_description.clone(),
        rung,
        best: best.clone(),
    });

    let (tx, mut rx) = amsc::unbounded_channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for w in 0..opts.jobs {
        let (jtx, jrx) = mpsc::channel();
        senders.push(jtx);
        let spec = runner::WorkerSpec {
            worker: w,
            threads: opts.threads_per_job,
            device: opts.devices.get(w).copied().unwrap_or(Device::Cpu),
            every: opts.checkpoint_every,
        };
        let handle = runner::spawn_worker(spec, runner.clone(), jrx, tx.clone(), cancel.clone())
            .map_err(|e| StoreError::Io {
                db: queue.name().into(),
                source: e,
            })?;
        handles.push(handle);
    }
    drop(tx);

    let mut d = dispatcher::Dispatcher::new(
        queue, &job, opts, owner, &emit, signals, senders, cancel, best,
    );
    match d.run(&mut rx).await {
        dispatcher::Ended::Aborted => {
            // Out at once: the workers are left to the process's end, their folds to
            // the next run on this host (or their leases).
            emit(Event::Aborted {
                running: handles.len(),
            });
            let counts = Counts::default();
            return Ok(RunSummary {
                sweep: job.name.clone(),
                counts,
                done: 0,
                failed: 0,
                abandoned: 0,
                not_needed: 0,
                stopped: d.stopped(),
                wall_seconds: started.elapsed().as_secs_f64(),
                best: None,
                resume_hint: job.resume_hint.clone(),
                staged: !job.brackets.is_empty(),
                stages_left: job.race.is_some() || !job.brackets.is_empty(),
            });
        }
        dispatcher::Ended::Normally => {}
    }
    let summary = {
        // The workers end when their job channels close.
        let finish = d.finish(started);
        let summary = finish.await;
        for h in handles {
            let _ = h.join();
        }
        summary?
    };
    emit(Event::Finished(summary.clone()));
    Ok(summary)
}
