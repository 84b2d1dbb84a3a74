//! The dispatcher against an in-memory fold queue and a stand-in runner: no
//! LibTorch training, no database. The queue can lose its connection for a number of
//! calls, hold a halving rung "elsewhere" for a number of polls, take a lease away,
//! and hand out a fold of a configuration the run does not know.

use super::queue::{FoldQueue, NextClaim, QueueResult};
use super::runner::{FoldRunner, Job, WorkerObserver};
use super::*;
use crate::domain::{Claim, CompletedConfig, Recorded, RungStep};
use crate::fold::FoldResult;
use crate::train::{FoldError, FoldObserver};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq)]
struct MemFold {
    id: i64,
    config: String,
    fold: i64,
    state: &'static str,
    worker: Option<String>,
    /// Recorded results' val accuracy.
    val: Option<f64>,
}

#[derive(Default)]
struct Mem {
    folds: Vec<MemFold>,
    /// The next this many calls fail as a lost connection.
    down_for: usize,
    /// `advance_rung` answers Waiting this many times, then promotes `promote`.
    waiting_polls: usize,
    promote: Vec<MemFold>,
    /// Record of fold id: taken over by another worker before its result comes.
    steal: Option<i64>,
    released: Vec<i64>,
    /// The next claim is made, but its answer is lost on the way back (as a dropped
    /// connection can do): the fold stays held by this worker.
    swallow: bool,
    /// The rung `promote` goes to (default 1), and the rank agreement of the rung just
    /// complete with the one before.
    promote_to: u32,
    agreement: Option<f64>,
}

#[derive(Default)]
struct MemQueue {
    mem: Mutex<Mem>,
}

fn lost() -> StoreError {
    StoreError::Sql {
        db: "mem".into(),
        source: sqlx::Error::PoolTimedOut,
    }
}

impl MemQueue {
    fn new(configs: &[&str], folds: i64) -> Self {
        let q = MemQueue::default();
        let mut id = 0;
        for c in configs {
            for k in 0..folds {
                id += 1;
                q.mem.lock().unwrap().folds.push(MemFold {
                    id,
                    config: c.to_string(),
                    fold: k,
                    state: "pending",
                    worker: None,
                    val: None,
                });
            }
        }
        q
    }

    /// Fails while the connection is "down".
    fn up(&self) -> QueueResult<std::sync::MutexGuard<'_, Mem>> {
        let mut m = self.mem.lock().unwrap();
        if m.down_for > 0 {
            m.down_for -= 1;
            return Err(lost());
        }
        Ok(m)
    }

    fn states(&self) -> Vec<&'static str> {
        self.mem
            .lock()
            .unwrap()
            .folds
            .iter()
            .map(|f| f.state)
            .collect()
    }

    fn take(m: &mut Mem, worker: &str) -> Option<Claim> {
        let f = m.folds.iter_mut().find(|f| f.state == "pending")?;
        f.state = "running";
        f.worker = Some(worker.to_string());
        Some(Claim {
            fold_id: f.id,
            config_id: f.config.clone(),
            fold: f.fold,
            budget: None,
            checkpoint_epochs: None,
        })
    }
}

impl FoldQueue for MemQueue {
    fn name(&self) -> &str {
        "mem"
    }
    async fn reclaim_dead(&self, _sweep: i64, _me: &Owner) -> QueueResult<u64> {
        Ok(0)
    }
    async fn counts(&self, _sweep: i64) -> QueueResult<Counts> {
        let m = self.up()?;
        let n = |s: &str| m.folds.iter().filter(|f| f.state == s).count() as i64;
        Ok(Counts {
            pending: n("pending"),
            running: n("running"),
            done: n("done"),
            failed: n("failed"),
        })
    }
    async fn rung_progress(
        &self,
        _sweep: i64,
        _brackets: usize,
    ) -> QueueResult<Option<RungProgress>> {
        Ok(None)
    }
    async fn best(&self, _sweep: i64) -> QueueResult<Option<(String, f64)>> {
        let m = self.up()?;
        let mut by: HashMap<&str, Vec<f64>> = HashMap::new();
        for f in &m.folds {
            by.entry(&f.config).or_default().extend(f.val);
        }
        let complete = |c: &str| {
            m.folds
                .iter()
                .filter(|f| f.config == c)
                .all(|f| f.state == "done")
        };
        Ok(by
            .into_iter()
            .filter(|(c, _)| complete(c))
            .map(|(c, v)| (c.to_string(), v.iter().sum::<f64>() / v.len() as f64))
            .max_by(|a, b| a.1.total_cmp(&b.1)))
    }
    async fn claim(
        &self,
        _sweep: i64,
        _owner: &Owner,
        worker: &str,
        _lease: Duration,
        _device: &str,
    ) -> QueueResult<Option<Claim>> {
        let mut m = self.up()?;
        let c = MemQueue::take(&mut m, worker);
        if c.is_some() && m.swallow {
            m.swallow = false;
            return Err(lost());
        }
        Ok(c)
    }
    async fn advance_race(
        &self,
        _sweep: i64,
        _rules: &crate::race::Rules,
        _idle: usize,
    ) -> QueueResult<RungStep> {
        // Races are the store's (tests/race.rs); this queue has none.
        Ok(RungStep::Finished)
    }
    async fn advance_rung(
        &self,
        _sweep: i64,
        _bracket: u32,
        _h: &Halving,
    ) -> QueueResult<RungStep> {
        let mut m = self.up()?;
        if m.folds
            .iter()
            .any(|f| f.state == "running" || f.state == "pending")
        {
            return Ok(RungStep::Waiting);
        }
        if m.waiting_polls > 0 {
            m.waiting_polls -= 1;
            return Ok(RungStep::Waiting);
        }
        if m.promote.is_empty() {
            return Ok(RungStep::Finished);
        }
        let next: Vec<MemFold> = std::mem::take(&mut m.promote);
        let folds = next.len() as u64;
        m.folds.extend(next);
        Ok(RungStep::Promoted {
            rung: m.promote_to.max(1),
            configurations: 1,
            pruned: 0,
            folds,
        })
    }
    async fn drop_hopeless_states(
        &self,
        _sweep: i64,
        _config_id: &str,
        _h: &Halving,
    ) -> QueueResult<u64> {
        Ok(0)
    }
    async fn rung_agreement(
        &self,
        _sweep: i64,
        _bracket: u32,
        _rung: u32,
    ) -> QueueResult<Option<f64>> {
        Ok(self.up()?.agreement)
    }
    async fn checkpoint(&self, _fold_id: i64) -> QueueResult<Option<(i64, Vec<u8>)>> {
        Ok(None)
    }
    async fn save_checkpoint(
        &self,
        _fold_id: i64,
        _worker: &str,
        _epochs: u32,
        _state: &[u8],
    ) -> QueueResult<bool> {
        Ok(true)
    }
    async fn record_done_then_claim(
        &self,
        fold_id: i64,
        worker: &str,
        r: &FoldResult,
        rule: &ScoreRule,
        next: Option<NextClaim<'_>>,
    ) -> QueueResult<Recorded> {
        let mut m = self.up()?;
        if m.steal == Some(fold_id) {
            return Ok(Recorded {
                written: false,
                gone: false,
                completed: None,
                rung_summary: false,
                next: None,
            });
        }
        let f = m.folds.iter_mut().find(|f| {
            f.id == fold_id && f.state == "running" && f.worker.as_deref() == Some(worker)
        });
        let Some(f) = f else {
            return Ok(Recorded {
                written: false,
                gone: false,
                completed: None,
                rung_summary: false,
                next: None,
            });
        };
        f.state = "done";
        f.val = Some(r.val_accuracy);
        let config = f.config.clone();
        let done: Vec<FoldResult> = m
            .folds
            .iter()
            .filter(|f| f.config == config)
            .map(|f| FoldResult {
                val_accuracy: f.val.unwrap_or(0.0),
                ..r.clone()
            })
            .collect();
        let complete = m
            .folds
            .iter()
            .filter(|f| f.config == config)
            .all(|f| f.state == "done");
        let completed = complete.then(|| CompletedConfig {
            config_id: config.clone(),
            position: 0,
            params_json: "{}".into(),
            summary: crate::score::summarize(&done, rule),
        });
        let next = next.and_then(|_| MemQueue::take(&mut m, worker));
        Ok(Recorded {
            written: true,
            gone: false,
            completed,
            rung_summary: false,
            next,
        })
    }
    async fn record_failed(&self, fold_id: i64, _worker: &str, _error: &str) -> QueueResult<()> {
        let mut m = self.up()?;
        if let Some(f) = m.folds.iter_mut().find(|f| f.id == fold_id) {
            f.state = "failed";
        }
        Ok(())
    }
    async fn release(&self, fold_id: i64, _worker: &str) -> QueueResult<()> {
        let mut m = self.up()?;
        m.released.push(fold_id);
        if let Some(f) = m
            .folds
            .iter_mut()
            .find(|f| f.id == fold_id && f.state == "running")
        {
            f.state = "pending";
            f.worker = None;
        }
        Ok(())
    }
    async fn renew(&self, _sweep: i64, _owner: &Owner, _lease: Duration) -> QueueResult<()> {
        self.up().map(|_| ())
    }
    async fn release_owned(&self, _sweep: i64, owner: &Owner) -> QueueResult<u64> {
        let mut m = self.up()?;
        let mine = format!("{}:{}:", owner.host, owner.pid);
        let mut n = 0;
        for f in m.folds.iter_mut().filter(|f| {
            f.state == "running" && f.worker.as_deref().is_some_and(|w| w.starts_with(&mine))
        }) {
            f.state = "pending";
            f.worker = None;
            n += 1;
        }
        Ok(n)
    }
}

/// Folds that take `work` (or until cancelled, checked every 5 ms) and score by their
/// configuration's name length.
struct Fake {
    work: Duration,
    started: AtomicUsize,
}

impl FoldRunner for Fake {
    fn run(
        &self,
        job: &Job,
        _device: Device,
        obs: &mut WorkerObserver,
    ) -> Result<FoldResult, FoldError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let t = Instant::now();
        while t.elapsed() < self.work {
            if obs.cancelled() {
                return Err(FoldError::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let v = job.claim.config_id.len() as f64 / 10.0;
        Ok(FoldResult {
            train_accuracy: v,
            train_loss: 1.0,
            val_accuracy: v,
            val_loss: 1.0,
            epochs_run: 1,
            final_learning_rate: 1e-3,
            fit_seconds: 0.0,
            score_seconds: 0.0,
            scored_epoch: 1,
            history: Vec::new(),
            partial: false,
            fused: 1,
        })
    }
}

fn job(configs: &[&str], halving: bool) -> SweepJob {
    SweepJob {
        sweep_id: 1,
        name: "t".into(),
        params: configs
            .iter()
            .map(|c| (c.to_string(), HyperParams::default()))
            .collect(),
        configs: configs.len(),
        new_configs: 0,
        data_description: String::new(),
        score: ScoreRule::default(),
        labels: HashMap::new(),
        brackets: if halving {
            vec![Halving {
                factor: 3,
                min_epochs: 1,
            }]
        } else {
            Vec::new()
        },
        race: None,
        resume_hint: "gridsweep resume t".into(),
    }
}

fn opts(jobs: usize) -> RunOptions {
    RunOptions {
        jobs,
        threads_per_job: 1,
        devices: vec![Device::Cpu; jobs],
        lease: Duration::from_secs(60),
        heartbeat: Duration::from_millis(50),
        db_patience: Duration::from_secs(30),
        checkpoint_every: 0,
        fuse: 1,
    }
}

/// Runs the dispatcher on a thread of its own (a current-thread runtime, as the binary
/// has); returns the signal sender, and a handle giving the result and every event.
#[allow(clippy::type_complexity)]
fn start(
    q: Arc<MemQueue>,
    job: SweepJob,
    opts: RunOptions,
    work: Duration,
) -> (
    amsc::UnboundedSender<Signal>,
    std::thread::JoinHandle<(Result<RunSummary, StoreError>, Vec<Event>)>,
) {
    let (stx, srx) = amsc::unbounded_channel();
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (etx, erx) = mpsc::channel();
        let runner: Arc<dyn FoldRunner> = Arc::new(Fake {
            work,
            started: AtomicUsize::new(0),
        });
        let r = rt.block_on(run_with_signals(q.as_ref(), job, &opts, runner, &etx, srx));
        drop(etx);
        (r, erx.into_iter().collect())
    });
    (stx, h)
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

/// Waits until `cond` holds of the queue (5 s at most).
fn until(q: &MemQueue, cond: impl Fn(&Mem) -> bool) {
    let t = Instant::now();
    while !cond(&q.mem.lock().unwrap()) {
        assert!(t.elapsed() < Duration::from_secs(5), "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn every_fold_is_run_once_and_the_best_comes_from_the_queue() {
    let q = Arc::new(MemQueue::new(&["a", "bbb", "cc"], 3));
    let (_s, h) = start(
        q.clone(),
        job(&["a", "bbb", "cc"], false),
        opts(2),
        Duration::from_millis(1),
    );
    let (r, events) = h.join().unwrap();
    let s = r.unwrap();
    assert_eq!(q.states(), vec!["done"; 9]);
    assert_eq!((s.done, s.failed, s.abandoned, s.stopped), (9, 0, 0, None));
    assert_eq!(s.best.as_ref().map(|b| b.0.as_str()), Some("bbb"));
    assert_eq!(
        count(&events, |e| matches!(e, Event::ConfigCompleted { .. })),
        3
    );
    assert!(matches!(events.last(), Some(Event::Finished(_))));
}

#[test]
fn ctrl_c_once_lets_running_folds_finish_twice_abandons_three_times_leaves() {
    // Once: the two running folds finish, nothing new starts, the prefetched claims
    // made with their results go back.
    let q = Arc::new(MemQueue::new(&["a", "b"], 3));
    let (s, h) = start(
        q.clone(),
        job(&["a", "b"], false),
        opts(2),
        Duration::from_millis(300),
    );
    until(&q, |m| {
        m.folds.iter().filter(|f| f.state == "running").count() == 2
    });
    s.send(Signal::Interrupt).unwrap();
    let (r, events) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!(sum.stopped, Some(Stopped::Interrupted));
    assert_eq!((sum.done, sum.abandoned), (2, 0));
    assert_eq!(q.states().iter().filter(|s| **s == "done").count(), 2);
    assert!(
        !q.states().contains(&"running"),
        "nothing is left held: {:?}",
        q.states()
    );
    assert!(sum.interrupted());
    assert_eq!(
        count(&events, |e| matches!(e, Event::Stopping { running: 2 })),
        1
    );

    // Twice: the running folds are abandoned (released), none is recorded.
    let q = Arc::new(MemQueue::new(&["a", "b"], 3));
    let (s, h) = start(
        q.clone(),
        job(&["a", "b"], false),
        opts(2),
        Duration::from_secs(30),
    );
    until(&q, |m| {
        m.folds.iter().filter(|f| f.state == "running").count() == 2
    });
    s.send(Signal::Interrupt).unwrap();
    s.send(Signal::Interrupt).unwrap();
    let (r, events) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!(
        (sum.done, sum.abandoned, sum.stopped),
        (0, 2, Some(Stopped::Interrupted))
    );
    assert_eq!(q.states(), vec!["pending"; 6]);
    assert_eq!(q.mem.lock().unwrap().released.len(), 2);
    assert_eq!(
        count(&events, |e| matches!(e, Event::Abandoning { running: 2 })),
        1
    );

    // Three times: out at once, while the folds still run.
    let q = Arc::new(MemQueue::new(&["a"], 3));
    let (s, h) = start(
        q.clone(),
        job(&["a"], false),
        opts(1),
        Duration::from_secs(30),
    );
    until(&q, |m| m.folds.iter().any(|f| f.state == "running"));
    let t = Instant::now();
    for _ in 0..3 {
        s.send(Signal::Interrupt).unwrap();
    }
    let (r, events) = h.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(r.unwrap().stopped, Some(Stopped::Aborted));
    assert!(matches!(events.last(), Some(Event::Aborted { .. })));
}

#[test]
fn sigterm_abandons_running_folds_at_once() {
    let q = Arc::new(MemQueue::new(&["a", "b"], 3));
    let (s, h) = start(
        q.clone(),
        job(&["a", "b"], false),
        opts(2),
        Duration::from_secs(30),
    );
    until(&q, |m| {
        m.folds.iter().filter(|f| f.state == "running").count() == 2
    });
    s.send(Signal::Terminate).unwrap();
    let (r, events) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!((sum.abandoned, sum.stopped), (2, Some(Stopped::Terminated)));
    assert!(sum.terminated());
    assert_eq!(q.states(), vec!["pending"; 6]);
    assert_eq!(
        count(&events, |e| matches!(e, Event::Terminating { running: 2 })),
        1
    );
}

#[test]
fn a_lost_database_is_waited_for_and_nothing_is_lost() {
    let q = Arc::new(MemQueue::new(&["a", "b"], 3));
    let (_s, h) = start(
        q.clone(),
        job(&["a", "b"], false),
        opts(2),
        Duration::from_millis(50),
    );
    // Down for a few calls while folds run: results wait in memory.
    until(&q, |m| m.folds.iter().any(|f| f.state == "running"));
    q.mem.lock().unwrap().down_for = 4;
    let (r, events) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!(q.states(), vec!["done"; 6]);
    assert_eq!(sum.done, 6);
    assert!(count(&events, |e| matches!(e, Event::WaitingForDatabase { .. })) >= 1);
    assert!(count(&events, |e| matches!(e, Event::DatabaseBack { .. })) >= 1);

    // Gone for longer than the patience: the run ends with the error, the folds it
    // held are abandoned to their leases.
    let q = Arc::new(MemQueue::new(&["a"], 3));
    let mut o = opts(1);
    o.db_patience = Duration::from_millis(300);
    let (_s, h) = start(q.clone(), job(&["a"], false), o, Duration::from_millis(100));
    until(&q, |m| m.folds.iter().any(|f| f.state == "running"));
    q.mem.lock().unwrap().down_for = usize::MAX;
    let (r, events) = h.join().unwrap();
    assert!(matches!(r, Err(StoreError::Unreachable { .. })), "{r:?}");
    assert!(count(&events, |e| matches!(e, Event::FoldAbandoned { .. })) <= 1);
}

#[test]
fn a_signal_while_waiting_for_the_database_ends_the_wait() {
    let q = Arc::new(MemQueue::new(&["a"], 3));
    let (s, h) = start(
        q.clone(),
        job(&["a"], false),
        opts(1),
        Duration::from_millis(50),
    );
    until(&q, |m| m.folds.iter().any(|f| f.state == "running"));
    q.mem.lock().unwrap().down_for = usize::MAX;
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    s.send(Signal::Interrupt).unwrap();
    let (r, _) = h.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(matches!(r, Err(StoreError::Interrupted { .. })), "{r:?}");
}

#[test]
fn a_rung_held_elsewhere_is_waited_for_then_its_promotion_is_run() {
    let q = Arc::new(MemQueue::new(&["a"], 3));
    {
        let mut m = q.mem.lock().unwrap();
        m.waiting_polls = 2;
        m.promote = (0..3)
            .map(|k| MemFold {
                id: 100 + k,
                config: "a".into(),
                fold: k,
                state: "pending",
                worker: None,
                val: None,
            })
            .collect();
    }
    let (_s, h) = start(
        q.clone(),
        job(&["a"], true),
        opts(2),
        Duration::from_millis(1),
    );
    let (r, events) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!(sum.done, 6, "the rung's folds, then the promoted ones");
    assert_eq!(q.states(), vec!["done"; 6]);
    assert_eq!(
        count(&events, |e| matches!(
            e,
            Event::RungPromoted { folds: 3, .. }
        )),
        1
    );
    assert_eq!(
        q.mem.lock().unwrap().waiting_polls,
        0,
        "it polled through the wait"
    );
}

/// A promotion after a rung that ranked its configurations unlike the rung before says
/// so, with what to change; one that agreed says nothing; rung 0 has nothing before it.
#[test]
fn a_rung_that_disagrees_with_the_one_before_is_said() {
    let weak_of = |promote_to: u32, agreement: Option<f64>| {
        let q = Arc::new(MemQueue::new(&["a"], 1));
        {
            let mut m = q.mem.lock().unwrap();
            m.promote = vec![MemFold {
                id: 100,
                config: "a".into(),
                fold: 0,
                state: "pending",
                worker: None,
                val: None,
            }];
            (m.promote_to, m.agreement) = (promote_to, agreement);
        }
        let (_s, h) = start(
            q.clone(),
            job(&["a"], true),
            opts(1),
            Duration::from_millis(1),
        );
        let (r, events) = h.join().unwrap();
        r.unwrap();
        events.into_iter().find_map(|e| match e {
            Event::RungPromoted { weak, .. } => Some(weak),
            _ => None,
        })
    };
    let weak = weak_of(2, Some(-0.3))
        .expect("a promotion")
        .expect("a note");
    assert!(
        weak.contains("rung 0")
            && weak.contains("rung 1")
            && weak.contains("-0.30")
            && weak.contains("raise min_epochs"),
        "{weak}"
    );
    assert_eq!(weak_of(2, Some(0.9)), Some(None));
    assert_eq!(
        weak_of(1, Some(-0.3)),
        Some(None),
        "rung 0 has no rung before it"
    );
}

#[test]
fn a_fold_of_an_unknown_configuration_is_said_and_released() {
    let q = Arc::new(MemQueue::new(&["zz", "a"], 1));
    let (_s, h) = start(
        q.clone(),
        job(&["a"], false),
        opts(1),
        Duration::from_millis(1),
    );
    let (r, events) = h.join().unwrap();
    r.unwrap();
    assert_eq!(
        count(
            &events,
            |e| matches!(e, Event::UnknownConfiguration { config_id, .. } if config_id == "zz")
        ),
        1
    );
    assert_eq!(
        q.states(),
        vec!["pending", "pending"],
        "released, and nothing more claimed"
    );
}

#[test]
fn a_lease_lost_mid_fold_is_said_and_not_recorded() {
    let q = Arc::new(MemQueue::new(&["a"], 2));
    q.mem.lock().unwrap().steal = Some(1);
    let (_s, h) = start(
        q.clone(),
        job(&["a"], false),
        opts(1),
        Duration::from_millis(1),
    );
    let (r, events) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!(
        count(&events, |e| matches!(e, Event::FoldLost { fold: 0, .. })),
        1
    );
    assert_eq!(
        count(&events, |e| matches!(e, Event::ConfigCompleted { .. })),
        0
    );
    assert_eq!(sum.counts.done, 1, "only the other fold is recorded");
}

#[test]
fn whatever_the_process_still_holds_is_released_at_exit() {
    // A claim whose answer was lost: the fold is held in the queue, but no worker has
    // it. The run goes on (the retry claims another), and at the end it goes back.
    let q = Arc::new(MemQueue::new(&["a", "b"], 2));
    q.mem.lock().unwrap().swallow = true;
    let (_s, h) = start(
        q.clone(),
        job(&["a", "b"], false),
        opts(1),
        Duration::from_millis(1),
    );
    let (r, _) = h.join().unwrap();
    let sum = r.unwrap();
    assert_eq!(sum.done, 3);
    assert_eq!(
        q.states(),
        vec!["pending", "done", "done", "done"],
        "the orphaned claim is pending again, nothing is left held"
    );
    assert_eq!(sum.counts.pending, 1);
}
