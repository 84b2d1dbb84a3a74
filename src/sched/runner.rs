//! The workers: OS threads that run folds and never touch the database.
//!
//! What a fold's work is comes from a [`FoldRunner`]: training ([`TrainRunner`]), or
//! the scheduler benchmark's fixed sleep ([`SimulatedRunner`]), or a test's stand-in.
//! A worker reports through messages only (epochs, training states to save, the
//! result), so every write happens in the dispatcher.

use crate::cv::CvSets;
use crate::data::partition::Partition;
use crate::domain::Claim;
use crate::fold::FoldResult;
use crate::params::HyperParams;
use crate::train::state::TrainState;
use crate::train::{self, EpochProgress, FoldData, FoldError, FoldObserver, Span};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tch::Device;
use tokio::sync::mpsc as amsc;

/// A claimed fold, handed to a worker.
pub struct Job {
    pub claim: Claim,
    pub params: HyperParams,
    /// The saved training state to continue from (encoded).
    pub resume: Option<Vec<u8>>,
}

/// What a worker tells the dispatcher.
pub enum WorkerMsg {
    Epoch {
        worker: usize,
        p: EpochProgress,
    },
    /// A training state to save (encoded in the worker's thread).
    Checkpoint {
        fold_id: i64,
        worker: usize,
        epochs: u32,
        state: Vec<u8>,
    },
    /// A saved state that could not be continued from: the fold trains from its start.
    StateRefused {
        worker: usize,
        config_id: String,
        fold: i64,
        why: String,
    },
    Done {
        worker: usize,
        claim: Claim,
        result: Result<FoldResult, FoldError>,
    },
}

/// Runs one fold's work in a worker thread.
pub trait FoldRunner: Send + Sync {
    fn run(
        &self,
        job: &Job,
        device: Device,
        obs: &mut WorkerObserver,
    ) -> Result<FoldResult, FoldError>;

    /// Runs a group of folds (`run --fuse`), reporting each one's result through
    /// `worker` as soon as it has one. By default one after the other.
    fn run_group(&self, jobs: Vec<Job>, device: Device, worker: &WorkerContext) {
        for job in jobs {
            let mut obs = worker.observer(job.claim.fold_id);
            let result = self.run(&job, device, &mut obs);
            worker.done(job.claim, result);
        }
    }
}

/// What a worker thread reports through: its number, the state-saving interval, the
/// dispatcher's channel and cancel flag.
pub struct WorkerContext {
    worker: usize,
    every: u32,
    tx: amsc::UnboundedSender<WorkerMsg>,
    cancel: Arc<AtomicBool>,
}

impl WorkerContext {
    /// The observer of fold `fold_id` on this worker.
    pub fn observer(&self, fold_id: i64) -> WorkerObserver<'_> {
        WorkerObserver {
            worker: self.worker,
            fold_id,
            every: self.every,
            tx: &self.tx,
            cancel: &self.cancel,
        }
    }

    /// A fold's result, to the dispatcher (false: the dispatcher is gone).
    pub fn done(&self, claim: Claim, result: Result<FoldResult, FoldError>) -> bool {
        self.tx
            .send(WorkerMsg::Done {
                worker: self.worker,
                claim,
                result,
            })
            .is_ok()
    }
}

/// A worker's view of its fold: progress and states go to the dispatcher, and the
/// dispatcher's cancel flag is read once per epoch.
pub struct WorkerObserver<'a> {
    worker: usize,
    fold_id: i64,
    every: u32,
    tx: &'a amsc::UnboundedSender<WorkerMsg>,
    cancel: &'a AtomicBool,
}

impl WorkerObserver<'_> {
    /// A saved state was not usable: said, and the fold starts over.
    pub fn refuse_state(&self, claim: &Claim, why: String) {
        let _ = self.tx.send(WorkerMsg::StateRefused {
            worker: self.worker,
            config_id: claim.config_id.clone(),
            fold: claim.fold,
            why,
        });
    }
}

impl FoldObserver for WorkerObserver<'_> {
    fn on_epoch(&mut self, p: EpochProgress) {
        let _ = self.tx.send(WorkerMsg::Epoch {
            worker: self.worker,
            p,
        });
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    fn checkpoint_due(&self, epochs_done: u32) -> bool {
        self.every > 0 && epochs_done.is_multiple_of(self.every)
    }
    fn checkpoint(&mut self, state: TrainState) {
        let (epochs, state) = (state.epochs_done(), state.encode());
        let _ = self.tx.send(WorkerMsg::Checkpoint {
            fold_id: self.fold_id,
            worker: self.worker,
            epochs,
            state,
        });
    }
}

/// Training: each fold of the sweep's data, from its saved state when it has one.
pub struct TrainRunner {
    /// Each partition's folds (`None`: the spec's own partition).
    folds: Vec<(Option<Partition>, Vec<Arc<FoldData>>)>,
    seed: u64,
}

impl TrainRunner {
    pub fn new(data: &CvSets, seed: u64) -> Self {
        let folds = data
            .all()
            .map(|(p, d)| {
                (
                    p.cloned(),
                    (0..d.total_folds()).map(|k| Arc::new(d.fold(k))).collect(),
                )
            })
            .collect();
        TrainRunner { folds, seed }
    }
}

impl FoldRunner for TrainRunner {
    /// Trains a claimed fold over its span: from its saved state when it has one (a
    /// state that cannot be continued from is reported and the fold starts over, which
    /// gives the same result), up to its budget.
    fn run(
        &self,
        job: &Job,
        device: Device,
        obs: &mut WorkerObserver,
    ) -> Result<FoldResult, FoldError> {
        let Some((_, folds)) = self
            .folds
            .iter()
            .find(|(p, _)| p.as_ref() == job.params.split.as_ref())
        else {
            // The partitions loaded are those of the spec's configurations, which are
            // the sweep's: only a database changed under the run gets here.
            return Err(FoldError::Data(format!(
                "configuration {}'s partition ({}) is none of the spec's",
                job.claim.config_id,
                job.params
                    .split
                    .as_ref()
                    .map(Partition::describe)
                    .unwrap_or_default()
            )));
        };
        let data = &folds[job.claim.fold as usize % folds.len()];
        let Span { from, until } = span_of(job, obs);
        let resumed = from.is_some();
        let fold = job.claim.fold as u64;
        match train::train_fold_span(
            data,
            &job.params,
            self.seed,
            fold,
            device,
            obs,
            Span { from, until },
        ) {
            Err(FoldError::BadState(why)) if resumed => {
                obs.refuse_state(&job.claim, why);
                train::train_fold_span(
                    data,
                    &job.params,
                    self.seed,
                    fold,
                    device,
                    obs,
                    Span { from: None, until },
                )
            }
            r => r,
        }
    }

    /// Trains the group's folds as one (`train::fused`), each from its saved state when
    /// it has one; a state refused once training begins trains its fold alone from
    /// its start afterwards, as `run` does.
    fn run_group(&self, jobs: Vec<Job>, device: Device, worker: &WorkerContext) {
        let mut ready = Vec::new();
        for job in jobs {
            match self
                .folds
                .iter()
                .find(|(p, _)| p.as_ref() == job.params.split.as_ref())
            {
                Some((_, folds)) => {
                    let data = folds[job.claim.fold as usize % folds.len()].clone();
                    ready.push((job, data));
                }
                // As in `run`: the fold fails, the others train.
                None => {
                    let mut obs = worker.observer(job.claim.fold_id);
                    let r = self.run(&job, device, &mut obs);
                    worker.done(job.claim, r);
                }
            }
        }
        let mut observers: Vec<WorkerObserver> = ready
            .iter()
            .map(|(j, _)| worker.observer(j.claim.fold_id))
            .collect();
        let mut spans = Vec::with_capacity(ready.len());
        for ((job, _), obs) in ready.iter().zip(&observers) {
            let span = span_of(job, obs);
            spans.push((span.from.is_some(), span));
        }
        let resumed: Vec<bool> = spans.iter().map(|(r, _)| *r).collect();
        let folds = ready
            .iter()
            .zip(observers.iter_mut())
            .zip(spans)
            .map(|(((job, data), obs), (_, span))| train::fused::GroupFold {
                data: data.as_ref(),
                p: &job.params,
                seed: self.seed,
                fold: job.claim.fold as u64,
                observer: obs,
                span,
            })
            .collect();
        let mut again = Vec::new();
        train::fused::train_group(folds, device, &mut |k, r| match r {
            Err(FoldError::BadState(why)) if resumed[k] => again.push((k, why)),
            r => {
                worker.done(ready[k].0.claim.clone(), r);
            }
        });
        for (k, why) in again {
            let (job, data) = &ready[k];
            let mut obs = worker.observer(job.claim.fold_id);
            obs.refuse_state(&job.claim, why);
            let span = Span {
                from: None,
                until: job.claim.budget.map(|b| b as u32),
            };
            let r = train::train_fold_span(
                data,
                &job.params,
                self.seed,
                job.claim.fold as u64,
                device,
                &mut obs,
                span,
            );
            worker.done(job.claim.clone(), r);
        }
    }
}

/// A claimed fold's span: from its saved state when it has one that decodes (one that
/// does not is reported, and the fold starts over), up to its rung's budget.
fn span_of(job: &Job, obs: &WorkerObserver) -> Span {
    let from = match job.resume.as_deref().map(TrainState::decode) {
        Some(Ok(s)) => Some(s),
        Some(Err(why)) => {
            obs.refuse_state(&job.claim, why);
            None
        }
        None => None,
    };
    Span {
        from,
        until: job.claim.budget.map(|b| b as u32),
    }
}

/// The scheduler benchmark's folds: a sleep and a made-up result, through the real
/// dispatcher and store (`gridsweep bench-scheduler`). A fold of all its epochs sleeps
/// `work`; a span of a staged search (from its saved state's epochs to its rung's
/// budget) sleeps its share of it, saves a state when it stops early, and scores by a
/// hash of the configuration, so that rungs promote some and prune others.
pub struct SimulatedRunner {
    pub work: Duration,
}

impl FoldRunner for SimulatedRunner {
    fn run(
        &self,
        job: &Job,
        _device: Device,
        obs: &mut WorkerObserver,
    ) -> Result<FoldResult, FoldError> {
        let epochs = job.params.epochs.max(1);
        let from = job
            .claim
            .checkpoint_epochs
            .filter(|_| job.resume.is_some())
            .unwrap_or(0)
            .clamp(0, epochs as i64) as u32;
        let until = job
            .claim
            .budget
            .map_or(epochs, |b| (b as u32).clamp(from, epochs));
        let slept = self
            .work
            .mul_f64(f64::from(until - from) / f64::from(epochs));
        std::thread::sleep(slept);
        let partial = until < epochs;
        if partial {
            let _ = obs.tx.send(WorkerMsg::Checkpoint {
                fold_id: obs.fold_id,
                worker: obs.worker,
                epochs: until,
                state: Vec::new(),
            });
        }
        // A score of the configuration (spread 0.2) and of the fold (±0.01, as the
        // study's fold-to-fold noise), so that a race's paired tests have variance to
        // work on; deterministic, so a benchmark's decisions repeat.
        let hash = |s: &str, seed: u64| {
            s.bytes()
                .fold(seed, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        };
        let h = hash(&job.claim.config_id, 0);
        let noise = (hash(&job.claim.config_id, 7 + job.claim.fold as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> 40) as f64
            / (1u64 << 24) as f64;
        let val = 0.4
            + (h % 1000) as f64 / 5000.0
            + 0.01 * f64::from(until) / f64::from(epochs)
            + 0.02 * (noise - 0.5);
        Ok(FoldResult {
            train_accuracy: val,
            train_loss: 1.0,
            val_accuracy: val,
            val_loss: 1.0,
            epochs_run: until,
            final_learning_rate: 1e-3,
            fit_seconds: slept.as_secs_f64(),
            score_seconds: 0.0,
            scored_epoch: until,
            history: Vec::new(),
            partial,
            fused: 1,
        })
    }
}

/// One worker thread: its own LibTorch thread count, folds from `jobs` until that
/// closes.
pub struct WorkerSpec {
    pub worker: usize,
    pub threads: usize,
    pub device: Device,
    /// Save a running fold's state every this many epochs (0: never).
    pub every: u32,
}

/// A worker thread: folds from `jobs` until that closes, one at a time, or a group
/// at a time (`run --fuse`).
pub fn spawn_worker(
    spec: WorkerSpec,
    runner: Arc<dyn FoldRunner>,
    jobs: mpsc::Receiver<Vec<Job>>,
    tx: amsc::UnboundedSender<WorkerMsg>,
    cancel: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("gridsweep-worker-{}", spec.worker))
        .spawn(move || {
            // OpenMP's thread count is per thread: set it here, before any work.
            tch::set_num_threads(spec.threads as i32);
            let ctx = WorkerContext {
                worker: spec.worker,
                every: spec.every,
                tx,
                cancel,
            };
            while let Ok(mut group) = jobs.recv() {
                if group.len() == 1 {
                    let job = group.pop().expect("one job");
                    let mut obs = ctx.observer(job.claim.fold_id);
                    let result = runner.run(&job, spec.device, &mut obs);
                    if !ctx.done(job.claim, result) {
                        break;
                    }
                } else {
                    runner.run_group(group, spec.device, &ctx);
                }
            }
        })
}
