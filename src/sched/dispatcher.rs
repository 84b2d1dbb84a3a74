//! The dispatcher: one state struct, and one small method per input.
//!
//! Inputs are a worker's message, a heartbeat tick, a signal, or the poll while a
//! halving rung's last folds run elsewhere. Each is handled by a method of
//! [`Dispatcher`] that updates the state and talks to the [`FoldQueue`]; the loop in
//! [`Dispatcher::run`] only waits for the next input. Every store call goes through
//! [`Dispatcher::patiently`], which waits through a lost connection (saying so) for up
//! to `--db-timeout`, and which a signal ends at once.

use super::queue::FoldQueue;
use super::runner::{Job, WorkerMsg};
use super::signals::{Action, Escalation, Signal, Stopped};
use super::{Event, RunOptions, RunSummary, SweepJob, RUNG_POLL};
use crate::domain::{Claim, Owner, RungStep};
use crate::fold::FoldResult;
use crate::store::StoreError;
use crate::train::FoldError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tch::Device;
use tokio::sync::mpsc as amsc;

/// Folds done, failed and abandoned by this run.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    done: usize,
    failed: usize,
    abandoned: usize,
    /// Done, but trained ahead for a configuration that left its race.
    not_needed: usize,
}

pub(super) struct Dispatcher<'a, Q: FoldQueue> {
    queue: &'a Q,
    job: &'a SweepJob,
    opts: &'a RunOptions,
    owner: Owner,
    emit: &'a dyn Fn(Event),
    signals: amsc::UnboundedReceiver<Signal>,
    /// One sender per worker thread: a fold, or a group of folds trained as one.
    workers: Vec<mpsc::Sender<Vec<Job>>>,
    /// Read by the workers once per epoch: abandon the fold (after saving its state).
    cancel: Arc<AtomicBool>,
    idle: Vec<usize>,
    /// Each busy worker's folds (several under `--fuse`).
    running: HashMap<usize, Vec<Claim>>,
    /// `--fuse`: per worker, folds it claimed that wait for a group of their network
    /// shape (see `train::fused::GroupKey`). A claim is written in its claimer's name
    /// and device, so it stays that worker's. Handed out before anything new is
    /// claimed; released with the rest of what the process holds at its end.
    pool: HashMap<usize, Vec<Claim>>,
    /// Claims made in the same transaction as a worker's last result, not yet handed out.
    prefetched: HashMap<usize, Claim>,
    /// No more claims (a signal, an error, the database gone).
    stopping: bool,
    escalation: Escalation,
    /// A halving rung's last folds are running (here or elsewhere): look again soon.
    waiting: bool,
    /// Brackets with nothing left to promote.
    finished: std::collections::HashSet<usize>,
    /// The database is given up on: running folds are abandoned, nothing more is written.
    db_gone: bool,
    tally: Tally,
    best: Option<(String, f64)>,
    error: Option<StoreError>,
}

/// How [`Dispatcher::run`] ended.
pub(super) enum Ended {
    /// The loop is over; the workers may be joined and the summary written.
    Normally,
    /// Out at once (a third Ctrl-C): nothing is waited for.
    Aborted,
}

impl<'a, Q: FoldQueue> Dispatcher<'a, Q> {
    #[allow(clippy::too_many_arguments)] // the run's parts, each given once
    pub(super) fn new(
        queue: &'a Q,
        job: &'a SweepJob,
        opts: &'a RunOptions,
        owner: Owner,
        emit: &'a dyn Fn(Event),
        signals: amsc::UnboundedReceiver<Signal>,
        workers: Vec<mpsc::Sender<Vec<Job>>>,
        cancel: Arc<AtomicBool>,
        best: Option<(String, f64)>,
    ) -> Self {
        let idle = (0..workers.len()).rev().collect();
        Dispatcher {
            queue,
            job,
            opts,
            owner,
            emit,
            signals,
            workers,
            cancel,
            idle,
            running: HashMap::new(),
            pool: HashMap::new(),
            prefetched: HashMap::new(),
            stopping: false,
            escalation: Escalation::default(),
            waiting: false,
            finished: Default::default(),
            db_gone: false,
            tally: Tally::default(),
            best,
            error: None,
        }
    }

    /// Hands out folds and records results until nothing is left to run or the run is
    /// stopped.
    pub(super) async fn run(&mut self, rx: &mut amsc::UnboundedReceiver<WorkerMsg>) -> Ended {
        let mut heartbeat = tokio::time::interval(self.opts.heartbeat);
        heartbeat.tick().await;
        loop {
            if !self.stopping {
                self.fill().await;
            }
            if self.running.is_empty() {
                if !self.waiting || self.stopping {
                    return Ended::Normally;
                }
                tokio::select! {
                    _ = tokio::time::sleep(RUNG_POLL) => {}
                    Some(s) = self.signals.recv() => if self.on_signal(s) { return Ended::Aborted },
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(RUNG_POLL), if self.waiting && !self.stopping && !self.idle.is_empty() => {}
                msg = rx.recv() => match msg {
                    Some(m) => self.on_worker(m).await,
                    None => return Ended::Normally,
                },
                _ = heartbeat.tick() => self.on_heartbeat().await,
                Some(s) = self.signals.recv() => if self.on_signal(s) { return Ended::Aborted },
            }
        }
    }

    /// Runs a store operation, waiting through lost connections (a database restart, a
    /// network blip) with backoff, and saying so, for up to `--db-timeout`; any other
    /// error returns at once, and so does a signal while it waits. A finished fold's
    /// result stays in memory meanwhile, so nothing is lost.
    async fn patiently<T, Fut>(
        signals: &mut amsc::UnboundedReceiver<Signal>,
        emit: &dyn Fn(Event),
        (patience, db): (Duration, &str),
        mut op: impl FnMut() -> Fut,
    ) -> Result<T, StoreError>
    where
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(200);
        let mut waiting = false;
        let interrupted = || StoreError::Interrupted {
            db: db.into(),
            seconds: started.elapsed().as_secs_f64(),
        };
        loop {
            let attempt = op();
            let outcome = if waiting {
                tokio::select! {
                    r = attempt => r,
                    Some(_) = signals.recv() => return Err(interrupted()),
                }
            } else {
                attempt.await
            };
            match outcome {
                Ok(v) => {
                    if waiting {
                        emit(Event::DatabaseBack {
                            waited_seconds: started.elapsed().as_secs_f64(),
                        });
                    }
                    return Ok(v);
                }
                Err(e) if e.is_connection_lost() => {
                    if started.elapsed() >= patience {
                        return Err(StoreError::Unreachable {
                            db: db.into(),
                            seconds: started.elapsed().as_secs_f64(),
                            last: e.to_string(),
                        });
                    }
                    if !waiting {
                        emit(Event::WaitingForDatabase {
                            error: e.to_string(),
                            patience_seconds: patience.as_secs_f64(),
                        });
                        waiting = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        Some(_) = signals.recv() => return Err(interrupted()),
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// An error from the store: no more claims. When the database is given up on (or a
    /// signal ended the wait for it), running folds are abandoned and nothing more is
    /// written; their leases return them.
    fn fail(&mut self, e: StoreError) {
        if matches!(
            e,
            StoreError::Unreachable { .. } | StoreError::Interrupted { .. }
        ) && !self.db_gone
        {
            self.db_gone = true;
            self.cancel.store(true, Ordering::Relaxed);
        }
        self.stopping = true;
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn device_label(&self, worker: usize) -> String {
        crate::device::label(
            self.opts
                .devices
                .get(worker)
                .copied()
                .unwrap_or(Device::Cpu),
        )
    }

    /// Idle workers get folds: a prefetched claim, or a new one; with nothing to claim,
    /// successive halving promotes the complete rung (or waits for it). Under `--fuse N`
    /// a worker gets up to N folds of one network shape (`train::fused::GroupKey`):
    /// pooled ones first, then new claims, a claim of another shape going to the pool.
    async fn fill(&mut self) {
        self.waiting = false;
        let size = self.opts.fuse.max(1);
        while let Some(w) = self.idle.pop() {
            let mut group: Vec<Job> = Vec::new();
            let mut key: Option<crate::train::fused::GroupKey> = None;
            let mut stop = false;
            while group.len() < size {
                let next = match self.take_pooled(w, key.as_ref()) {
                    Some(c) => Ok(Some(c)),
                    None => match self.prefetched.remove(&w) {
                        Some(c) => Ok(Some(c)),
                        None => {
                            let (dname, wname) = (self.device_label(w), self.owner.worker(w));
                            let (q, sweep, owner, lease) =
                                (self.queue, self.job.sweep_id, &self.owner, self.opts.lease);
                            let how = (self.opts.db_patience, q.name());
                            Self::patiently(&mut self.signals, self.emit, how, || {
                                q.claim(sweep, owner, &wname, lease, &dname)
                            })
                            .await
                        }
                    },
                };
                match next {
                    Ok(Some(claim)) => {
                        let k = self
                            .job
                            .params
                            .get(&claim.config_id)
                            .map(crate::train::fused::GroupKey::of);
                        if key.is_some() && k != key {
                            // Another shape: it waits for a group of its own.
                            let pool = self.pool.entry(w).or_default();
                            pool.push(claim);
                            if pool.len() >= size {
                                break;
                            }
                            continue;
                        }
                        match self.prepare(w, claim).await {
                            Some(job) => {
                                key = k;
                                group.push(job);
                            }
                            None => {
                                stop = true;
                                break;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.fail(e);
                        stop = true;
                        break;
                    }
                }
            }
            if group.is_empty() {
                self.idle.push(w);
                if !stop && self.advance().await {
                    continue;
                }
                break;
            }
            if self.workers[w].send(group).is_err() {
                self.running.remove(&w);
            }
            if stop {
                break;
            }
        }
    }

    /// One of worker `w`'s pooled claims: of shape `key`, or with no key the oldest.
    fn take_pooled(
        &mut self,
        w: usize,
        key: Option<&crate::train::fused::GroupKey>,
    ) -> Option<Claim> {
        let pool = self.pool.get_mut(&w)?;
        let params = &self.job.params;
        let at = match key {
            None => (!pool.is_empty()).then_some(0),
            Some(k) => pool.iter().position(|c| {
                params
                    .get(&c.config_id)
                    .map(crate::train::fused::GroupKey::of)
                    .as_ref()
                    == Some(k)
            }),
        }?;
        Some(pool.remove(at))
    }

    /// Successive halving with nothing to claim: each bracket whose rung is complete is
    /// promoted; true when one was (there is work again). A bracket waiting on its
    /// rung's last folds does not hold up the others: Hyperband's brackets fill each
    /// other's idle time, while each one's promotions stay synchronous.
    async fn advance(&mut self) -> bool {
        if let Some(rules) = self.job.race {
            if self.finished.contains(&0) {
                return false;
            }
            let (q, sweep) = (self.queue, self.job.sweep_id);
            let how = (self.opts.db_patience, q.name());
            let idle = self.idle.len();
            return match Self::patiently(&mut self.signals, self.emit, how, || {
                q.advance_race(sweep, &rules, idle)
            })
            .await
            {
                Ok(RungStep::Promoted {
                    rung,
                    configurations,
                    pruned,
                    folds,
                }) => {
                    (self.emit)(Event::RaceStage {
                        stage: rung - 1,
                        left: configurations,
                        dropped: pruned,
                        folds,
                    });
                    true
                }
                Ok(RungStep::Waiting) => {
                    self.waiting = true;
                    false
                }
                // Next folds to train ahead while the barrier waits.
                Ok(RungStep::Speculated { folds }) => {
                    (self.emit)(Event::TrainingAhead { folds });
                    true
                }
                Ok(RungStep::Ended {
                    rung,
                    configurations,
                    pruned,
                    why,
                }) => {
                    (self.emit)(Event::RaceEnded {
                        stage: rung,
                        left: configurations,
                        dropped: pruned,
                        why,
                    });
                    self.finished.insert(0);
                    false
                }
                Ok(RungStep::Finished) => {
                    self.finished.insert(0);
                    false
                }
                Err(e) => {
                    self.fail(e);
                    false
                }
            };
        }
        let brackets = self.job.brackets.clone();
        let several = brackets.len() > 1;
        let mut promoted = false;
        for (b, h) in brackets.iter().enumerate() {
            if self.finished.contains(&b) {
                continue;
            }
            let (q, sweep) = (self.queue, self.job.sweep_id);
            let how = (self.opts.db_patience, q.name());
            match Self::patiently(&mut self.signals, self.emit, how, || {
                q.advance_rung(sweep, b as u32, h)
            })
            .await
            {
                Ok(RungStep::Promoted {
                    rung,
                    configurations,
                    pruned,
                    folds,
                }) => {
                    // Did the rung just complete rank its configurations as the one before?
                    // (Advice only: a lost connection here costs the note, not the run.)
                    let complete = rung - 1;
                    let weak = match complete {
                        0 => None,
                        r => q
                            .rung_agreement(sweep, b as u32, r)
                            .await
                            .ok()
                            .flatten()
                            .filter(|a| *a < crate::search::WEAK_AGREEMENT)
                            .map(|a| {
                                let epochs = self
                                    .job
                                    .params
                                    .values()
                                    .map(|p| p.epochs)
                                    .max()
                                    .unwrap_or(0);
                                crate::search::weak_rung_advice(
                                    h,
                                    several.then_some(b as u32),
                                    r,
                                    a,
                                    epochs,
                                )
                            }),
                    };
                    (self.emit)(Event::RungPromoted {
                        bracket: several.then_some(b as u32),
                        rung,
                        configurations,
                        pruned,
                        folds,
                        weak,
                    });
                    promoted = true;
                }
                Ok(RungStep::Waiting | RungStep::Speculated { .. }) => self.waiting = true,
                // For good: nothing is added to a staged sweep under way.
                Ok(RungStep::Finished | RungStep::Ended { .. }) => {
                    self.finished.insert(b);
                }
                Err(e) => {
                    self.fail(e);
                    return false;
                }
            }
        }
        promoted
    }

    /// A claimed fold for worker `w`, with its saved state if it has one, marked
    /// running. None when claiming should stop (the claim is released).
    async fn prepare(&mut self, w: usize, claim: Claim) -> Option<Job> {
        let wname = self.owner.worker(w);
        let Some(params) = self.job.params.get(&claim.config_id).cloned() else {
            // A configuration another spec version added: not this process's to run.
            (self.emit)(Event::UnknownConfiguration {
                config_id: claim.config_id.clone(),
                fold: claim.fold,
            });
            let _ = self.queue.release(claim.fold_id, &wname).await;
            self.stopping = true;
            return None;
        };
        // The saved state it continues from, if any (a fold interrupted mid-way, or one
        // promoted to the next rung).
        let resume = match claim.checkpoint_epochs {
            Some(_) => {
                let (q, fold_id) = (self.queue, claim.fold_id);
                let how = (self.opts.db_patience, q.name());
                match Self::patiently(&mut self.signals, self.emit, how, || q.checkpoint(fold_id))
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = self.queue.release(claim.fold_id, &wname).await;
                        self.fail(e);
                        return None;
                    }
                }
            }
            None => None,
        };
        let label = self
            .job
            .labels
            .get(&claim.config_id)
            .cloned()
            .unwrap_or_default();
        let until = claim
            .budget
            .map(|b| (b as u32).min(params.epochs))
            .unwrap_or(params.epochs);
        let from_epoch = resume.as_ref().map(|(e, _)| *e as u32).unwrap_or(0);
        (self.emit)(Event::FoldStarted {
            worker: w,
            config_id: claim.config_id.clone(),
            label,
            fold: claim.fold,
            epochs: params.epochs,
            from_epoch,
            until,
        });
        self.running.entry(w).or_default().push(claim.clone());
        Some(Job {
            claim,
            params,
            resume: resume.map(|(_, s)| s),
        })
    }

    /// Worker `w`'s fold `claim` is over; the worker is idle once all its folds are.
    fn finished_on(&mut self, w: usize, claim: &Claim) {
        if let Some(claims) = self.running.get_mut(&w) {
            claims.retain(|c| c.fold_id != claim.fold_id);
            if claims.is_empty() {
                self.running.remove(&w);
                if !self.db_gone {
                    self.idle.push(w);
                }
            }
        }
    }

    /// Folds running on the workers.
    fn running_folds(&self) -> usize {
        self.running.values().map(Vec::len).sum()
    }

    async fn on_worker(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::Epoch { worker, p } => (self.emit)(Event::Epoch {
                worker,
                epoch: p.epoch,
                epochs: p.epochs,
                loss: p.loss,
            }),
            WorkerMsg::Checkpoint { .. } if self.db_gone => {}
            WorkerMsg::Checkpoint {
                fold_id,
                worker,
                epochs,
                state,
            } => {
                // A state is a shortcut, never needed for a correct result: one that
                // cannot be written now is skipped.
                match self
                    .queue
                    .save_checkpoint(fold_id, &self.owner.worker(worker), epochs, &state)
                    .await
                {
                    Err(e) if !e.is_connection_lost() => self.fail(e),
                    _ => {}
                }
            }
            WorkerMsg::StateRefused {
                worker,
                config_id,
                fold,
                why,
            } => (self.emit)(Event::StateRefused {
                worker,
                config_id,
                fold,
                why,
            }),
            WorkerMsg::Done { worker, claim, .. } if self.db_gone => {
                self.finished_on(worker, &claim);
                self.tally.abandoned += 1;
                (self.emit)(Event::FoldAbandoned {
                    worker,
                    config_id: claim.config_id,
                    fold: claim.fold,
                });
            }
            WorkerMsg::Done {
                worker,
                claim,
                result,
            } => {
                self.finished_on(worker, &claim);
                match result {
                    Ok(r) => self.on_done(worker, claim, r).await,
                    Err(FoldError::Cancelled) => self.on_abandoned(worker, claim).await,
                    Err(e) => self.on_failed(worker, claim, e.to_string()).await,
                }
            }
        }
    }

    /// A fold's result, and the worker's next claim in the same transaction.
    async fn on_done(&mut self, worker: usize, claim: Claim, r: FoldResult) {
        // Under `--fuse` its span was its group's: recorded, so that timings can tell.
        let r = FoldResult {
            fused: self.opts.fuse.max(1) as u32,
            ..r
        };
        self.tally.done += 1;
        (self.emit)(Event::FoldDone {
            worker,
            config_id: claim.config_id.clone(),
            fold: claim.fold,
            val_accuracy: r.val_accuracy,
            fit_seconds: r.fit_seconds,
        });
        let (wname, dname) = (self.owner.worker(worker), self.device_label(worker));
        // The worker's next fold in the same transaction (not under `--fuse`: a
        // group is claimed when all of the worker's folds are over).
        let next = (!self.stopping && self.opts.fuse <= 1).then_some((
            self.job.sweep_id,
            &self.owner,
            self.opts.lease,
            dname.as_str(),
        ));
        let (q, rule) = (self.queue, &self.job.score);
        let how = (self.opts.db_patience, q.name());
        let recorded = Self::patiently(&mut self.signals, self.emit, how, || {
            q.record_done_then_claim(claim.fold_id, &wname, &r, rule, next)
        })
        .await;
        match recorded {
            Ok(rec) if rec.gone => {
                // A fold trained ahead of a race's barrier, whose configuration left.
                self.tally.not_needed += 1;
                (self.emit)(Event::FoldNotNeeded {
                    worker,
                    config_id: claim.config_id,
                    fold: claim.fold,
                    race_over: self.finished.contains(&0),
                });
            }
            Ok(rec) if !rec.written => {
                // Its lease expired and another worker took the fold over: the other
                // worker's result is the one recorded.
                (self.emit)(Event::FoldLost {
                    worker,
                    config_id: claim.config_id,
                    fold: claim.fold,
                });
            }
            Ok(rec) => {
                if let Some(c) = rec.completed {
                    self.refresh_best().await;
                    (self.emit)(Event::ConfigCompleted {
                        config_id: c.config_id,
                        score: c.summary.score,
                        mean_val_accuracy: c.summary.mean_val_accuracy,
                        staged: self.job.race.is_some() || !self.job.brackets.is_empty(),
                    });
                }
                if let Some(n) = rec.next {
                    self.prefetched.insert(worker, n);
                }
                // A rung summary: states of the rung's configurations that can no
                // longer go on are deleted now rather than at the promotion, so that a
                // large rung 0 keeps about 1/factor of its states. (Storage only: a
                // failure here costs space, not results.)
                if rec.rung_summary {
                    // (Every bracket has the same factor, which is all it needs.)
                    if let Some(h) = self.job.brackets.first() {
                        let _ = q
                            .drop_hopeless_states(self.job.sweep_id, &claim.config_id, h)
                            .await;
                    }
                }
            }
            Err(e) => self.fail(e),
        }
    }

    async fn on_abandoned(&mut self, worker: usize, claim: Claim) {
        self.tally.abandoned += 1;
        (self.emit)(Event::FoldAbandoned {
            worker,
            config_id: claim.config_id.clone(),
            fold: claim.fold,
        });
        let (q, wname) = (self.queue, self.owner.worker(worker));
        let how = (self.opts.db_patience, q.name());
        if let Err(e) = Self::patiently(&mut self.signals, self.emit, how, || {
            q.release(claim.fold_id, &wname)
        })
        .await
        {
            self.fail(e);
        }
    }

    async fn on_failed(&mut self, worker: usize, claim: Claim, msg: String) {
        self.tally.failed += 1;
        (self.emit)(Event::FoldFailed {
            worker,
            config_id: claim.config_id.clone(),
            fold: claim.fold,
            error: msg.clone(),
        });
        let (q, wname) = (self.queue, self.owner.worker(worker));
        let how = (self.opts.db_patience, q.name());
        if let Err(e) = Self::patiently(&mut self.signals, self.emit, how, || {
            q.record_failed(claim.fold_id, &wname, &msg)
        })
        .await
        {
            self.fail(e);
        }
    }

    /// The sweep's best, read again; a change is an event.
    async fn refresh_best(&mut self) {
        if let Ok(now) = self.queue.best(self.job.sweep_id).await {
            if now.is_some() && now != self.best {
                if let Some((config_id, score)) = now.clone() {
                    (self.emit)(Event::Best { config_id, score });
                }
                self.best = now;
            }
        }
    }

    /// Renews the leases; a heartbeat that cannot reach the database is tried again at
    /// the next tick (the leases cover a lost one or two). Other processes may have
    /// completed configurations meanwhile: the best is read again.
    async fn on_heartbeat(&mut self) {
        match self
            .queue
            .renew(self.job.sweep_id, &self.owner, self.opts.lease)
            .await
        {
            Err(e) if e.is_connection_lost() => {}
            Err(e) => self.fail(e),
            Ok(()) => self.refresh_best().await,
        }
    }

    /// True when the run must end at once.
    fn on_signal(&mut self, s: Signal) -> bool {
        let running = self.running_folds();
        match self.escalation.on(s) {
            Action::StopClaiming => {
                self.stopping = true;
                (self.emit)(Event::Stopping { running });
            }
            Action::Abandon => {
                self.stopping = true;
                self.cancel.store(true, Ordering::Relaxed);
                (self.emit)(match s {
                    Signal::Terminate => Event::Terminating { running },
                    Signal::Interrupt => Event::Abandoning { running },
                });
            }
            Action::Abort => return true,
            Action::Nothing => {}
        }
        false
    }

    /// After the loop: claims never handed out, and anything else this process still
    /// holds, go back (nothing waits for a lease); then the summary.
    pub(super) async fn finish(mut self, started: Instant) -> Result<RunSummary, StoreError> {
        if self.db_gone {
            // Nothing more can be written; the leases return what this process held.
            return Err(self.error.take().unwrap_or(StoreError::Unreachable {
                db: self.queue.name().into(),
                seconds: 0.0,
                last: String::new(),
            }));
        }
        if let Err(e) = self
            .queue
            .release_owned(self.job.sweep_id, &self.owner)
            .await
        {
            self.error.get_or_insert(e);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let (q, sweep) = (self.queue, self.job.sweep_id);
        let how = (self.opts.db_patience, q.name());
        let counts = Self::patiently(&mut self.signals, self.emit, how, || q.counts(sweep)).await?;
        if let Ok(b) = self.queue.best(self.job.sweep_id).await {
            self.best = b;
        }
        Ok(RunSummary {
            sweep: self.job.name.clone(),
            counts,
            done: self.tally.done,
            failed: self.tally.failed,
            abandoned: self.tally.abandoned,
            not_needed: self.tally.not_needed,
            stopped: self.escalation.stopped(),
            wall_seconds: started.elapsed().as_secs_f64(),
            best: self.best.clone(),
            resume_hint: self.job.resume_hint.clone(),
            staged: !self.job.brackets.is_empty(),
            // A staged search this run did not see to its end: a barrier may be
            // undecided with no fold pending (stopped between stages).
            stages_left: (self.job.race.is_some() && !self.finished.contains(&0))
                || (!self.job.brackets.is_empty() && self.finished.len() < self.job.brackets.len()),
        })
    }

    /// Where the escalation ended (for a run that returned at once).
    pub(super) fn stopped(&self) -> Option<Stopped> {
        self.escalation.stopped()
    }
}
