//! The scheduler: a dispatcher that owns the store, and workers that only train.
//!
//! The dispatcher (one async task) claims folds from the database, hands each to an
//! idle worker (an OS thread with its own LibTorch thread count), records what comes
//! back, renews the leases of running folds on a heartbeat, and listens for Ctrl-C.
//! Workers never touch the database, so every write happens in one place and a fold's
//! result is one transaction. Everything the user sees is an [`Event`] sent to the
//! reporter, which never looks at the scheduler's state.
//!
//! Ctrl-C once: stop claiming, let running folds finish. Twice: abandon them (each
//! worker notices within an epoch; its fold returns to pending) and exit. Three
//! times: exit at once (the folds are reclaimed by the next run, as after `kill -9`).

use crate::cv::{CvData, ScoreRule};
use crate::params::HyperParams;
use crate::search::Halving;
use crate::store::{Claim, Counts, Owner, RungStep, Store, StoreError};
use crate::train::state::TrainState;
use crate::train::{self, EpochProgress, FoldData, FoldError, FoldObserver, FoldResult, Span};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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
        device: String,
        /// The data: rows, features, what is not a feature.
        data: String,
        /// Successive halving: the rung in progress, with its folds done and in all
        /// (the progress a halving run shows is the current rung's).
        rung: Option<RungProgress>,
        /// The sweep's best complete configuration when the run starts.
        best: Option<(String, f64)>,
    },
    /// `label`: the hyperparameters that vary in the sweep, as `rank` shows them.
    /// `from_epoch`: the epochs of the saved state it continues from (0: the start);
    /// `until`: the epoch it stops at (a rung's budget, or `epochs`).
    FoldStarted { worker: usize, config_id: String, label: String, fold: i64, epochs: u32, from_epoch: u32, until: u32 },
    Epoch { worker: usize, epoch: u32, epochs: u32, loss: f64 },
    FoldDone { worker: usize, config_id: String, fold: i64, val_accuracy: f64, fit_seconds: f64 },
    FoldFailed { worker: usize, config_id: String, fold: i64, error: String },
    FoldAbandoned { worker: usize, config_id: String, fold: i64 },
    /// A fold's saved training state could not be continued from; it trains from its start.
    StateRefused { worker: usize, config_id: String, fold: i64, why: String },
    ConfigCompleted { config_id: String, score: f64, mean_val_accuracy: f64 },
    /// The sweep's best complete configuration changed (completed by this process or
    /// by another one on the same sweep).
    Best { config_id: String, score: f64 },
    /// Successive halving: a rung was complete; `configurations` went on to `rung`
    /// (`folds` more folds to train), `pruned` stopped.
    RungPromoted { rung: u32, configurations: usize, pruned: usize, folds: u64 },
    Stopping { running: usize },
    /// The database connection was lost; the dispatcher retries (results are kept).
    WaitingForDatabase { error: String, patience_seconds: f64 },
    /// It is back after this long.
    DatabaseBack { waited_seconds: f64 },
    Abandoning { running: usize },
    /// SIGTERM (a batch system's time limit): running folds save their training states
    /// and return to pending, and the process ends.
    Terminating { running: usize },
    Finished(RunSummary),
}

/// The rung a halving run is on: its number, folds done (or failed), folds in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RungProgress {
    pub rung: u32,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub sweep: String,
    pub counts: Counts,
    /// Folds this run finished, failed, abandoned.
    pub done: usize,
    pub failed: usize,
    pub abandoned: usize,
    pub interrupted: bool,
    /// Ended by SIGTERM (running folds saved and released).
    pub terminated: bool,
    pub wall_seconds: f64,
    /// The sweep's best complete configuration (from the database, whoever trained it).
    pub best: Option<(String, f64)>,
    /// The command that continues the sweep, as the user would type it.
    pub resume_hint: String,
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
    /// Instead of training, each fold sleeps this long and records a fixed result: the
    /// scheduler benchmark's simulated work (`gridsweep bench-scheduler`).
    pub simulate: Option<Duration>,
    /// Save a running fold's training state every this many epochs (0: never).
    pub checkpoint_every: u32,
}

/// Epochs between two saved training states of a running fold, by default. Measured
/// (docs/performance.md): at 10 the saving costs under 1 % of training time on the
/// study's model.
pub const CHECKPOINT_EVERY: u32 = 10;

/// Runs a store operation, waiting through lost connections (a database restart, a
/// network blip) with backoff, and saying so on the display, for up to `patience`;
/// any other error returns at once. A finished fold's result stays in memory meanwhile,
/// so nothing is lost.
async fn patiently<T, Fut>(
    patience: Duration,
    emit: &dyn Fn(Event),
    db: &str,
    mut op: impl FnMut() -> Fut,
) -> Result<T, StoreError>
where
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    let mut waiting = false;
    let interrupted = || StoreError::Interrupted { db: db.into(), seconds: started.elapsed().as_secs_f64() };
    loop {
        // While it waits, Ctrl-C ends the wait (the dispatcher's own Ctrl-C handling is
        // not polled meanwhile).
        let attempt = op();
        let outcome = if waiting {
            tokio::select! {
                r = attempt => r,
                _ = stop_signal() => return Err(interrupted()),
            }
        } else {
            attempt.await
        };
        match outcome {
            Ok(v) => {
                if waiting {
                    emit(Event::DatabaseBack { waited_seconds: started.elapsed().as_secs_f64() });
                }
                return Ok(v);
            }
            Err(e) if e.is_connection_lost() => {
                if started.elapsed() >= patience {
                    return Err(StoreError::Unreachable { db: db.into(), seconds: started.elapsed().as_secs_f64(), last: e.to_string() });
                }
                if !waiting {
                    emit(Event::WaitingForDatabase { error: e.to_string(), patience_seconds: patience.as_secs_f64() });
                    waiting = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop_signal() => return Err(interrupted()),
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Resolves at Ctrl-C or SIGTERM: either ends a wait for a lost database.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A sweep ready to run.
pub struct SweepJob {
    pub sweep_id: i64,
    pub name: String,
    pub seed: u64,
    pub data: Arc<CvData>,
    pub params: HashMap<String, HyperParams>,
    pub configs: usize,
    pub new_configs: usize,
    /// The sweep's score rule: the stored summaries' Δacc and score.
    pub score: ScoreRule,
    /// Per configuration, its varying hyperparameters (`dropout 0.2, optimizer adam`).
    pub labels: HashMap<String, String>,
    /// Successive halving: when nothing is claimable, promote the next rung.
    pub halving: Option<Halving>,
    /// The command that continues this sweep (`gridsweep resume NAME --db …`).
    pub resume_hint: String,
}

/// How often a process with idle workers looks again for work while a halving rung's
/// last folds run elsewhere.
const RUNG_POLL: Duration = Duration::from_millis(500);

struct Job {
    claim: Claim,
    params: HyperParams,
    data: Arc<FoldData>,
    /// The saved training state to continue from (encoded).
    resume: Option<Vec<u8>>,
}

enum WorkerMsg {
    Epoch { worker: usize, p: EpochProgress },
    /// A training state to save (encoded in the worker's thread).
    Checkpoint { fold_id: i64, worker: usize, epochs: u32, state: Vec<u8> },
    /// A saved state that could not be continued from: the fold trains from its start.
    StateRefused { worker: usize, config_id: String, fold: i64, why: String },
    Done { worker: usize, claim: Claim, result: Result<FoldResult, FoldError> },
}

struct WorkerObserver<'a> {
    worker: usize,
    fold_id: i64,
    every: u32,
    tx: &'a amsc::UnboundedSender<WorkerMsg>,
    cancel: &'a AtomicBool,
}

impl FoldObserver for WorkerObserver<'_> {
    fn on_epoch(&mut self, p: EpochProgress) {
        let _ = self.tx.send(WorkerMsg::Epoch { worker: self.worker, p });
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    fn checkpoint_due(&self, epochs_done: u32) -> bool {
        self.every > 0 && epochs_done.is_multiple_of(self.every)
    }
    fn checkpoint(&mut self, state: TrainState) {
        let (epochs, state) = (state.epochs_done(), state.encode());
        let _ = self.tx.send(WorkerMsg::Checkpoint { fold_id: self.fold_id, worker: self.worker, epochs, state });
    }
}

/// Trains a claimed fold over its span: from its saved state when it has one (a state
/// that cannot be continued from is reported and the fold starts over, which gives
/// the same result), up to its budget.
fn train_job(job: &Job, seed: u64, device: Device, obs: &mut WorkerObserver) -> Result<FoldResult, FoldError> {
    let until = job.claim.budget.map(|b| b as u32);
    let from = match job.resume.as_deref().map(TrainState::decode) {
        Some(Ok(s)) => Some(s),
        Some(Err(why)) => {
            let _ = obs.tx.send(WorkerMsg::StateRefused { worker: obs.worker, config_id: job.claim.config_id.clone(), fold: job.claim.fold, why });
            None
        }
        None => None,
    };
    let resumed = from.is_some();
    let fold = job.claim.fold as u64;
    match train::train_fold_span(&job.data, &job.params, seed, fold, device, obs, Span { from, until }) {
        Err(FoldError::BadState(why)) if resumed => {
            let _ = obs.tx.send(WorkerMsg::StateRefused { worker: obs.worker, config_id: job.claim.config_id.clone(), fold: job.claim.fold, why });
            train::train_fold_span(&job.data, &job.params, seed, fold, device, obs, Span { from: None, until })
        }
        r => r,
    }
}

/// The fixed result of a simulated fold.
fn simulated(work: Duration) -> FoldResult {
    FoldResult {
        train_accuracy: 0.5,
        train_loss: 1.0,
        val_accuracy: 0.5,
        val_loss: 1.0,
        epochs_run: 1,
        final_learning_rate: 1e-3,
        fit_seconds: work.as_secs_f64(),
        score_seconds: 0.0,
        scored_epoch: 1,
        history: Vec::new(),
        partial: false,
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_worker(
    worker: usize,
    threads: usize,
    device: Device,
    seed: u64,
    simulate: Option<Duration>,
    every: u32,
    jobs: mpsc::Receiver<Job>,
    tx: amsc::UnboundedSender<WorkerMsg>,
    cancel: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("gridsweep-worker-{worker}"))
        .spawn(move || {
            // OpenMP's thread count is per thread: set it here, before any work.
            tch::set_num_threads(threads as i32);
            while let Ok(job) = jobs.recv() {
                let mut obs = WorkerObserver { worker, fold_id: job.claim.fold_id, every, tx: &tx, cancel: &cancel };
                let result = match simulate {
                    Some(work) => {
                        std::thread::sleep(work);
                        Ok(simulated(work))
                    }
                    None => train_job(&job, seed, device, &mut obs),
                };
                if tx.send(WorkerMsg::Done { worker, claim: job.claim, result }).is_err() {
                    break;
                }
            }
        })
        .expect("spawning a worker thread")
}

/// Runs a sweep's claimable folds to completion (or interruption).
pub async fn run(
    store: &Store,
    job: SweepJob,
    opts: &RunOptions,
    events: &mpsc::Sender<Event>,
) -> Result<RunSummary, StoreError> {
    let started = Instant::now();
    let owner = Owner::this_process();
    let emit = |e: Event| {
        let _ = events.send(e);
    };
    let (patience, db) = (opts.db_patience, store.name().to_string());
    store.reclaim_dead(job.sweep_id, &owner).await?;
    let counts = store.counts(job.sweep_id).await?;
    let rung = match &job.halving {
        Some(_) => store.rungs(job.sweep_id).await?.and_then(|rows| {
            rows.iter().find_map(|r| match (r.folds_done, r.folds) {
                (Some(done), Some(total)) => Some(RungProgress { rung: r.rung as u32, done: done as u64, total: total as u64 }),
                _ => None,
            })
        }),
        None => None,
    };
    let mut best = store.best(job.sweep_id).await?;
    let mut names: Vec<String> = opts.devices.iter().map(|d| crate::device::label(*d)).collect();
    names.dedup();
    let device_name = names.join(",");
    emit(Event::Started {
        sweep: job.name.clone(),
        configs: job.configs,
        new_configs: job.new_configs,
        counts,
        jobs: opts.jobs,
        threads_per_job: opts.threads_per_job,
        device: device_name.clone(),
        data: format!(
            "{} rows ({} training), {}",
            job.data.prepared.dataset.y.len(),
            job.data.prepared.train.len(),
            job.data.prepared.dataset.describe_features()
        ),
        rung,
        best: best.clone(),
    });

    let folds: Vec<Arc<FoldData>> = (0..job.data.folds).map(|k| Arc::new(job.data.fold(k))).collect();
    let (tx, mut rx) = amsc::unbounded_channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for w in 0..opts.jobs {
        let (jtx, jrx) = mpsc::channel();
        senders.push(jtx);
        let device = opts.devices.get(w).copied().unwrap_or(Device::Cpu);
        handles.push(spawn_worker(w, opts.threads_per_job, device, job.seed, opts.simulate, opts.checkpoint_every, jrx, tx.clone(), cancel.clone()));
    }
    drop(tx);

    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| StoreError::Io { db: store.name().into(), source: e })?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| StoreError::Io { db: store.name().into(), source: e })?;
    let mut heartbeat = tokio::time::interval(opts.heartbeat);
    heartbeat.tick().await;

    let mut idle: Vec<usize> = (0..opts.jobs).rev().collect();
    let mut running: HashMap<usize, Claim> = HashMap::new();
    // Claims made in the same transaction as the worker's last result, not yet handed out.
    let mut prefetched: HashMap<usize, Claim> = HashMap::new();
    let (mut stopping, mut interrupts, mut terminated) = (false, 0, false);
    let (mut done, mut failed, mut abandoned) = (0, 0, 0);
    let mut result = Ok(());
    // The sweep's best, read again when a configuration completes here and on every
    // heartbeat (others may complete one); a change is an event.
    macro_rules! refresh_best {
        () => {
            if let Ok(now_best) = store.best(job.sweep_id).await {
                if now_best.is_some() && now_best != best {
                    if let Some((config_id, score)) = now_best.clone() {
                        emit(Event::Best { config_id, score });
                    }
                    best = now_best;
                }
            }
        };
    }

    // A halving rung's last folds are running (here or elsewhere): look again soon.
    let mut waiting = false;
    // The database is gone (given up on, or Ctrl-C while waiting for it): running folds
    // are abandoned and nothing more is written.
    let mut db_gone = false;
    loop {
        if !db_gone && matches!(result, Err(StoreError::Unreachable { .. } | StoreError::Interrupted { .. })) {
            db_gone = true;
            stopping = true;
            cancel.store(true, Ordering::Relaxed);
        }
        if !stopping {
            waiting = false;
            while let Some(w) = idle.pop() {
                let dname = crate::device::label(opts.devices.get(w).copied().unwrap_or(Device::Cpu));
                let wname = owner.worker(w);
                let next = match prefetched.remove(&w) {
                    Some(c) => Ok(Some(c)),
                    None => patiently(patience, &emit, &db, || store.claim(job.sweep_id, &owner, &wname, opts.lease, &dname)).await,
                };
                let claim = match next {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        idle.push(w);
                        if let Some(h) = &job.halving {
                            match patiently(patience, &emit, &db, || store.advance_rung(job.sweep_id, h)).await {
                                Ok(RungStep::Promoted { rung, configurations, pruned, folds }) => {
                                    emit(Event::RungPromoted { rung, configurations, pruned, folds });
                                    continue;
                                }
                                Ok(RungStep::Waiting) => waiting = true,
                                Ok(RungStep::Finished) => {}
                                Err(e) => {
                                    result = Err(e);
                                    stopping = true;
                                }
                            }
                        }
                        break;
                    }
                    Err(e) => {
                        idle.push(w);
                        result = Err(e);
                        stopping = true;
                        break;
                    }
                };
                let Some(params) = job.params.get(&claim.config_id).cloned() else {
                    // A configuration another spec version added: not ours to run.
                    let _ = store.release(claim.fold_id, &owner.worker(w)).await;
                    idle.push(w);
                    stopping = true;
                    break;
                };
                // The saved state it continues from, if any (a fold interrupted mid-way, or
                // one promoted to the next rung).
                let resume = match claim.checkpoint_epochs {
                    Some(_) => match patiently(patience, &emit, &db, || store.checkpoint(claim.fold_id)).await {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = store.release(claim.fold_id, &owner.worker(w)).await;
                            idle.push(w);
                            result = Err(e);
                            stopping = true;
                            break;
                        }
                    },
                    None => None,
                };
                let label = job.labels.get(&claim.config_id).cloned().unwrap_or_default();
                let until = claim.budget.map(|b| (b as u32).min(params.epochs)).unwrap_or(params.epochs);
                let from_epoch = resume.as_ref().map(|(e, _)| *e as u32).unwrap_or(0);
                emit(Event::FoldStarted { worker: w, config_id: claim.config_id.clone(), label, fold: claim.fold, epochs: params.epochs, from_epoch, until });
                let data = folds[claim.fold as usize % folds.len()].clone();
                running.insert(w, claim.clone());
                if senders[w].send(Job { claim, params, data, resume: resume.map(|(_, s)| s) }).is_err() {
                    running.remove(&w);
                }
            }
        }
        if running.is_empty() {
            if waiting && !stopping {
                tokio::select! {
                    _ = tokio::time::sleep(RUNG_POLL) => continue,
                    _ = sigint.recv() => {
                        interrupts += 1;
                        stopping = true;
                        emit(Event::Stopping { running: 0 });
                        continue;
                    }
                    _ = sigterm.recv() => {
                        terminated = true;
                        stopping = true;
                        emit(Event::Terminating { running: 0 });
                        continue;
                    }
                }
            }
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(RUNG_POLL), if waiting && !stopping && !idle.is_empty() => {}
            msg = rx.recv() => match msg {
                Some(WorkerMsg::Epoch { worker, p }) => {
                    emit(Event::Epoch { worker, epoch: p.epoch, epochs: p.epochs, loss: p.loss });
                }
                Some(WorkerMsg::Checkpoint { .. }) if db_gone => {}
                Some(WorkerMsg::Done { worker, claim, .. }) if db_gone => {
                    running.remove(&worker);
                    abandoned += 1;
                    emit(Event::FoldAbandoned { worker, config_id: claim.config_id.clone(), fold: claim.fold });
                }
                Some(WorkerMsg::Checkpoint { fold_id, worker, epochs, state }) => {
                    // A state is a shortcut, never needed for a correct result: one that
                    // cannot be written now is skipped.
                    match store.save_checkpoint(fold_id, &owner.worker(worker), epochs, &state).await {
                        Err(e) if !e.is_connection_lost() => { result = Err(e); stopping = true; }
                        _ => {}
                    }
                }
                Some(WorkerMsg::StateRefused { worker, config_id, fold, why }) => {
                    emit(Event::StateRefused { worker, config_id, fold, why });
                }
                Some(WorkerMsg::Done { worker, claim, result: r }) => {
                    running.remove(&worker);
                    idle.push(worker);
                    let wname = owner.worker(worker);
                    match r {
                        Ok(fr) => {
                            done += 1;
                            emit(Event::FoldDone { worker, config_id: claim.config_id.clone(), fold: claim.fold,
                                                   val_accuracy: fr.val_accuracy, fit_seconds: fr.fit_seconds });
                            // The result and this worker's next claim in one transaction.
                            let dname = crate::device::label(opts.devices.get(worker).copied().unwrap_or(Device::Cpu));
                            let next = (!stopping).then_some((job.sweep_id, &owner, opts.lease, dname.as_str()));
                            match patiently(patience, &emit, &db, || store.record_done_then_claim(claim.fold_id, &wname, &fr, &job.score, next)).await {
                                Ok((completed, next_claim)) => {
                                    if let Some(c) = completed {
                                        refresh_best!();
                                        emit(Event::ConfigCompleted { config_id: c.config_id, score: c.summary.score,
                                                                      mean_val_accuracy: c.summary.mean_val_accuracy });
                                    }
                                    if let Some(n) = next_claim {
                                        prefetched.insert(worker, n);
                                    }
                                }
                                Err(e) => { result = Err(e); stopping = true; }
                            }
                        }
                        Err(FoldError::Cancelled) => {
                            abandoned += 1;
                            emit(Event::FoldAbandoned { worker, config_id: claim.config_id.clone(), fold: claim.fold });
                            if let Err(e) = patiently(patience, &emit, &db, || store.release(claim.fold_id, &wname)).await { result = Err(e); }
                        }
                        Err(e) => {
                            failed += 1;
                            let msg = e.to_string();
                            emit(Event::FoldFailed { worker, config_id: claim.config_id.clone(), fold: claim.fold, error: msg.clone() });
                            if let Err(e) = patiently(patience, &emit, &db, || store.record_failed(claim.fold_id, &wname, &msg)).await { result = Err(e); stopping = true; }
                        }
                    }
                }
                None => break,
            },
            _ = heartbeat.tick() => {
                // A heartbeat that cannot reach the database is tried again at the next
                // tick; the leases cover a lost one or two.
                match store.renew(job.sweep_id, &owner, opts.lease).await {
                    Err(e) if e.is_connection_lost() => {}
                    Err(e) => {
                        result = Err(e);
                        stopping = true;
                    }
                    Ok(()) => refresh_best!(),
                }
            }
            _ = sigint.recv() => {
                interrupts += 1;
                match interrupts {
                    1 => { stopping = true; emit(Event::Stopping { running: running.len() }); }
                    2 => { cancel.store(true, Ordering::Relaxed); emit(Event::Abandoning { running: running.len() }); }
                    _ => std::process::exit(130),
                }
            }
            _ = sigterm.recv(), if !terminated => {
                // A batch system's time limit (Slurm sends SIGTERM, then SIGKILL): the
                // running folds save their states and go back, so the next run
                // continues them instead of waiting for their leases.
                terminated = true;
                stopping = true;
                cancel.store(true, Ordering::Relaxed);
                emit(Event::Terminating { running: running.len() });
            }
        }
    }
    drop(senders);
    for h in handles {
        let _ = h.join();
    }
    // With the database gone nothing more can be written; the leases return what this
    // process held.
    let mut result = match result {
        Err(e) if db_gone => return Err(e),
        r => r,
    };
    // Claims made with a result but never handed out (Ctrl-C, an error) go back, and so
    // does anything else this process still holds (a claim whose answer a lost
    // connection swallowed): nothing waits for a lease to expire.
    if let Err(e) = store.release_owned(job.sweep_id, &owner).await {
        if result.is_ok() {
            result = Err(e);
        }
    }
    result?;
    let counts = patiently(patience, &emit, &db, || store.counts(job.sweep_id)).await?;
    if let Ok(b) = store.best(job.sweep_id).await {
        best = b;
    }
    let summary = RunSummary {
        sweep: job.name,
        counts,
        done,
        failed,
        abandoned,
        interrupted: interrupts > 0 || terminated,
        terminated,
        wall_seconds: started.elapsed().as_secs_f64(),
        best,
        resume_hint: job.resume_hint,
    };
    emit(Event::Finished(summary.clone()));
    Ok(summary)
}
