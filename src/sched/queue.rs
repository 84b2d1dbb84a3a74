//! What the dispatcher needs of the results database, as a trait.
//!
//! The dispatcher claims, records, renews and releases folds through [`FoldQueue`];
//! the store implements it over SQLite or PostgreSQL, and the dispatcher's unit tests
//! over an in-memory queue that can lose its connection, hold a rung elsewhere or take
//! a lease away on cue. Every method is one of the store's transactions: the
//! guarantees (a fold claimed once, a result written only by its holder, a rung
//! promoted once) are the store's, not the dispatcher's.

use super::RungProgress;
use crate::domain::{Claim, Counts, Owner, Recorded, RungStep};
use crate::score::ScoreRule;
use crate::search::Halving;
use crate::store::{Store, StoreError};

/// The summary of a configuration's folds by `rule`, as the store writes it.
fn summarizer(rule: &ScoreRule) -> impl Fn(&[FoldResult]) -> crate::score::CvSummary + Sync + '_ {
    move |folds| crate::score::summarize(folds, rule)
}
use crate::fold::FoldResult;
use std::time::Duration;

pub type QueueResult<T> = Result<T, StoreError>;

/// The claim a worker makes with its result: sweep, owner, lease, device label.
pub type NextClaim<'a> = (i64, &'a Owner, Duration, &'a str);

/// The fold queue of a sweep. Futures need not be `Send`: the dispatcher runs on one
/// thread.
#[allow(async_fn_in_trait)] // implemented and awaited inside this crate, on one thread
pub trait FoldQueue {
    /// The database as messages name it.
    fn name(&self) -> &str;
    /// Running folds of this host's processes that are gone return to pending.
    async fn reclaim_dead(&self, sweep: i64, me: &Owner) -> QueueResult<u64>;
    async fn counts(&self, sweep: i64) -> QueueResult<Counts>;
    /// Successive halving and Hyperband (`brackets` of them): the rungs in progress,
    /// with their folds done and in all.
    async fn rung_progress(&self, sweep: i64, brackets: usize)
        -> QueueResult<Option<RungProgress>>;
    /// The sweep's best complete configuration: (id, score).
    async fn best(&self, sweep: i64) -> QueueResult<Option<(String, f64)>>;
    async fn claim(
        &self,
        sweep: i64,
        owner: &Owner,
        worker: &str,
        lease: Duration,
        device: &str,
    ) -> QueueResult<Option<Claim>>;
    /// Successive halving, when nothing is claimable: promote `bracket`'s complete rung.
    async fn advance_rung(&self, sweep: i64, bracket: u32, h: &Halving) -> QueueResult<RungStep>;
    /// A race, when nothing is claimable: decide its barrier.
    /// (`idle`: workers with nothing to do, for folds to train ahead while it waits.)
    async fn advance_race(
        &self,
        sweep: i64,
        rules: &crate::race::Rules,
        idle: usize,
    ) -> QueueResult<RungStep>;
    /// Successive halving, when `config_id`'s rung summary was written: the saved
    /// states of its rung's configurations that can no longer go on are deleted.
    async fn drop_hopeless_states(
        &self,
        sweep: i64,
        config_id: &str,
        h: &Halving,
    ) -> QueueResult<u64>;
    /// Successive halving: how complete rung `rung` of `bracket` ranks its
    /// configurations against the rung before (`search::rung_agreement`).
    async fn rung_agreement(&self, sweep: i64, bracket: u32, rung: u32)
        -> QueueResult<Option<f64>>;
    /// A fold's saved training state: (epochs, encoded state).
    async fn checkpoint(&self, fold_id: i64) -> QueueResult<Option<(i64, Vec<u8>)>>;
    async fn save_checkpoint(
        &self,
        fold_id: i64,
        worker: &str,
        epochs: u32,
        state: &[u8],
    ) -> QueueResult<bool>;
    /// A fold's result and, in the same transaction, the worker's next claim.
    async fn record_done_then_claim(
        &self,
        fold_id: i64,
        worker: &str,
        r: &FoldResult,
        rule: &ScoreRule,
        next: Option<NextClaim<'_>>,
    ) -> QueueResult<Recorded>;
    async fn record_failed(&self, fold_id: i64, worker: &str, error: &str) -> QueueResult<()>;
    /// A claimed fold goes back to pending (abandoned, or never started).
    async fn release(&self, fold_id: i64, worker: &str) -> QueueResult<()>;
    /// Heartbeat: the leases of this process's running folds.
    async fn renew(&self, sweep: i64, owner: &Owner, lease: Duration) -> QueueResult<()>;
    /// Everything this process still holds goes back to pending.
    async fn release_owned(&self, sweep: i64, owner: &Owner) -> QueueResult<u64>;
}

impl FoldQueue for Store {
    fn name(&self) -> &str {
        Store::name(self)
    }
    async fn reclaim_dead(&self, sweep: i64, me: &Owner) -> QueueResult<u64> {
        Store::reclaim_dead(self, sweep, me).await
    }
    async fn counts(&self, sweep: i64) -> QueueResult<Counts> {
        Store::counts(self, sweep).await
    }
    async fn rung_progress(
        &self,
        sweep: i64,
        brackets: usize,
    ) -> QueueResult<Option<RungProgress>> {
        Ok(self.rungs(sweep).await?.map(|rows| {
            let mut p = RungProgress {
                brackets,
                rungs: Vec::new(),
                done: 0,
                total: 0,
            };
            for r in rows {
                if let (Some(done), Some(total)) = (r.folds_done, r.folds) {
                    p.rungs.push((r.bracket as u32, r.rung as u32));
                    p.done += done as u64;
                    p.total += total as u64;
                }
            }
            p
        }))
    }
    async fn best(&self, sweep: i64) -> QueueResult<Option<(String, f64)>> {
        Store::best(self, sweep).await
    }
    async fn claim(
        &self,
        sweep: i64,
        owner: &Owner,
        worker: &str,
        lease: Duration,
        device: &str,
    ) -> QueueResult<Option<Claim>> {
        Store::claim(self, sweep, owner, worker, lease, device).await
    }
    async fn advance_rung(&self, sweep: i64, bracket: u32, h: &Halving) -> QueueResult<RungStep> {
        self.advance_rung_with(sweep, bracket, |rung, candidates| {
            crate::search::plan_rung(h, rung, candidates)
        })
        .await
    }
    async fn advance_race(
        &self,
        sweep: i64,
        rules: &crate::race::Rules,
        idle: usize,
    ) -> QueueResult<RungStep> {
        self.advance_race_with(
            sweep,
            |_, entries, spent| crate::race::plan(rules, entries, spent),
            |race| crate::race::speculate(rules, race, idle),
            &summarizer(&rules.rule),
        )
        .await
    }
    async fn drop_hopeless_states(
        &self,
        sweep: i64,
        config_id: &str,
        h: &Halving,
    ) -> QueueResult<u64> {
        self.drop_states_with(sweep, config_id, |n, settled| {
            crate::search::hopeless(h, n, settled)
        })
        .await
    }
    async fn rung_agreement(
        &self,
        sweep: i64,
        bracket: u32,
        rung: u32,
    ) -> QueueResult<Option<f64>> {
        Ok(crate::search::rung_agreement(
            &self.rung_scores(sweep).await?,
            bracket as i64,
            rung as i64,
        ))
    }
    async fn checkpoint(&self, fold_id: i64) -> QueueResult<Option<(i64, Vec<u8>)>> {
        Store::checkpoint(self, fold_id).await
    }
    async fn save_checkpoint(
        &self,
        fold_id: i64,
        worker: &str,
        epochs: u32,
        state: &[u8],
    ) -> QueueResult<bool> {
        Store::save_checkpoint(self, fold_id, worker, epochs, state).await
    }
    async fn record_done_then_claim(
        &self,
        fold_id: i64,
        worker: &str,
        r: &FoldResult,
        rule: &ScoreRule,
        next: Option<NextClaim<'_>>,
    ) -> QueueResult<Recorded> {
        Store::record_done_then_claim(self, fold_id, worker, r, &summarizer(rule), next).await
    }
    async fn record_failed(&self, fold_id: i64, worker: &str, error: &str) -> QueueResult<()> {
        Store::record_failed(self, fold_id, worker, error).await
    }
    async fn release(&self, fold_id: i64, worker: &str) -> QueueResult<()> {
        Store::release(self, fold_id, worker).await
    }
    async fn renew(&self, sweep: i64, owner: &Owner, lease: Duration) -> QueueResult<()> {
        Store::renew(self, sweep, owner, lease).await
    }
    async fn release_owned(&self, sweep: i64, owner: &Owner) -> QueueResult<u64> {
        Store::release_owned(self, sweep, owner).await
    }
}
