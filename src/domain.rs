//! The vocabulary the scheduler, the search strategies and the store share: where a
//! fold is, who holds it, what a claim is, the queue's counts, and what a rung of a
//! staged search decided.
//!
//! Neutral ground, so that none of them borrows another's types: the store maps these
//! to and from its tables, the scheduler and `search` reason in them, and neither
//! depends on SQL or on the other.

use crate::score::CvSummary;

/// Where a fold is in the queue. Stored as its name in `folds.state`, which the
/// schema checks (`CHECK (state IN (...))`); the SQL in this module spells the same
/// names, and a test holds the two lists together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FoldState {
    Pending,
    Running,
    Done,
    Failed,
}

impl FoldState {
    pub const ALL: [FoldState; 4] = [
        FoldState::Pending,
        FoldState::Running,
        FoldState::Done,
        FoldState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FoldState::Pending => "pending",
            FoldState::Running => "running",
            FoldState::Done => "done",
            FoldState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for FoldState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state that is none of the four (a database written by something else).
#[derive(Debug, thiserror::Error)]
#[error("unknown fold state `{0}`")]
pub struct UnknownFoldState(String);

impl TryFrom<String> for FoldState {
    type Error = UnknownFoldState;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        FoldState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(UnknownFoldState(s))
    }
}

/// Who holds a claim: this host, this process, and the worker slot in it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
}

impl Owner {
    pub fn this_process() -> Owner {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".into());
        Owner {
            host,
            pid: std::process::id(),
        }
    }

    pub fn worker(&self, slot: usize) -> String {
        format!("{}:{}:{}", self.host, self.pid, slot)
    }
}

/// A claimed fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub fold_id: i64,
    pub config_id: String,
    pub fold: i64,
    /// Train to this many epochs (a rung's budget); None: all of them.
    pub budget: Option<i64>,
    /// Epochs of the saved training state to continue from, if there is one.
    pub checkpoint_epochs: Option<i64>,
}

/// A configuration whose folds are all done.
#[derive(Debug, Clone)]
pub struct CompletedConfig {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    pub summary: CvSummary,
}

/// What recording a fold's result did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// False when the worker no longer held the fold (its lease expired and another
    /// worker took it over): nothing was written.
    pub written: bool,
    /// Not written because the fold no longer exists: a race's speculative fold whose
    /// configuration left the race while it trained.
    pub gone: bool,
    /// The configuration, if this was its last fold.
    pub completed: Option<CompletedConfig>,
    /// This was the last fold of the configuration's rung: its rung summary was
    /// written (successive halving; `completed` is None then).
    pub rung_summary: bool,
    /// The worker's next claim, made in the same transaction.
    pub next: Option<Claim>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub failed: i64,
}

impl Counts {
    pub fn total(&self) -> i64 {
        self.pending + self.running + self.done + self.failed
    }
}

/// A configuration of a complete rung, as the store hands it to the rung's planner.
#[derive(Debug, Clone, PartialEq)]
pub struct RungCandidate {
    pub config_id: String,
    pub position: i64,
    /// Its hyperparameters (canonical JSON, as stored).
    pub params_json: String,
    /// All its folds are done and summarised (a failed fold leaves it unscored).
    pub scored: bool,
    /// The sweep's score at this rung (None when unscored).
    pub score: Option<f64>,
    pub mean_val_accuracy: Option<f64>,
    /// The epochs its rung summary was taken at; None: it trained to its end.
    pub resource_epochs: Option<i64>,
    /// A fold of it still holds a saved training state (deleted once it cannot go on).
    pub holds_state: bool,
}

/// The configurations of sweep $1 in rung $2 of bracket $3 that are still in the
/// search (their own training, not pruned), as [`CandidateColumns`], in grid order;
/// `and` adds conditions on `c`.
/// The sweep logic's decision on a complete rung.
#[derive(Debug, Clone, PartialEq)]
pub struct RungPlan {
    /// Nothing goes on: the rung's scores are recorded and the search is over.
    pub last: bool,
    /// One per candidate, in the candidates' order.
    pub decisions: Vec<RungDecision>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RungDecision {
    /// The epochs its rung score is of.
    pub epochs: i64,
    /// It goes on, its folds trained next to this many epochs; None: it stops here.
    pub next_budget: Option<i64>,
}

/// What [`Store::advance_rung_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RungStep {
    /// The rung was complete: `configurations` went on to rung `rung`, `pruned` stopped.
    Promoted {
        rung: u32,
        configurations: usize,
        pruned: usize,
        folds: u64,
    },
    /// Folds of the current rung are still pending or running.
    Waiting,
    /// Nothing is left to train.
    Finished,
    /// A race's barrier waits on its last folds, and `folds` speculative folds were
    /// added for the idle workers: each configuration's next fold, kept if the barrier
    /// sends it on.
    Speculated { folds: u64 },
    /// A race's last barrier was just decided (once): `configurations` are left,
    /// `pruned` left at it, and why it is over.
    Ended {
        rung: u32,
        configurations: usize,
        pruned: usize,
        why: String,
    },
}

/// A configuration's result at a complete rung of successive halving.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RungScore {
    /// Its bracket (0 for plain successive halving).
    pub bracket: i64,
    pub config_id: String,
    pub rung: i64,
    /// The epochs its rung summary was taken at (None: it trained to its end).
    pub resource_epochs: Option<i64>,
    /// None when a failed fold left it unscored.
    pub score: Option<f64>,
    pub mean_val_accuracy: Option<f64>,
    /// It went on to the next rung.
    pub promoted: bool,
}

/// Every rung score of a sweep, as [`RungScoreColumns`].
/// One rung of a halving sweep, for `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RungRow {
    pub bracket: i64,
    pub rung: i64,
    pub configurations: i64,
    /// The largest epoch budget of the rung.
    pub epochs: Option<i64>,
    /// Folds done of all: the rung in progress's; a decided rung's are all done
    /// (`status` fills them in).
    pub folds_done: Option<i64>,
    pub folds: Option<i64>,
    /// For a complete rung: how many went on (None for the rung in progress and for
    /// the last one).
    pub promoted: Option<i64>,
    /// Its scores are recorded: it is complete (else in progress).
    pub decided: bool,
}

/// A configuration still in a race, as the store hands it to the barrier's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceEntry {
    pub config_id: String,
    pub position: i64,
    /// Its hyperparameters (canonical JSON, as stored).
    pub params_json: String,
    /// (fold, train accuracy, val accuracy, fit seconds) of each done fold, by fold.
    pub folds: Vec<(i64, f64, f64, f64)>,
    /// A fold of it failed.
    pub failed: bool,
}

/// The sweep logic's decision at a barrier.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceDecision {
    /// Leave the race.
    pub drop: Vec<String>,
    /// The fold the others train next; None: the race is over.
    pub next_fold: Option<i64>,
    /// Stay in the race without a next fold: a budget's last, partial stage trains
    /// the leaders only.
    pub hold: Vec<String>,
    /// Each entry's mean score so far (its stage score), in the entries' order.
    pub scores: Vec<Option<f64>>,
    /// Why the race ended (with `next_fold` None).
    pub ended: Option<String>,
}

/// A configuration in a race, as a barrier that waits shows it to the sweep logic
/// deciding which folds to train ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct Ahead {
    pub config_id: String,
    /// Its folds (not speculative), done or not.
    pub folds: i64,
    /// Its speculative folds.
    pub ahead: i64,
    /// (mean train accuracy, mean val accuracy) of its done folds, if any.
    pub means: Option<(f64, f64)>,
}

/// What an imported row's file states beyond its scores: the hyperparameters it
/// states, in the file's column order, and a scikit-learn `cv_results_` row's timings
/// (each None where the file has no such column or an empty cell). Exports write these
/// back instead of what gridsweep's defaults or its per-fold records would make of them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportedDetails {
    pub stated: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_fit_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_fit_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_score_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_score_time: Option<f64>,
}

/// The first 12 characters of an id or a fingerprint, as every page and message shows
/// them (the whole of a shorter one; never cut inside a character).
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

#[cfg(test)]
mod short_id_tests {
    #[test]
    fn short_ids_are_12_characters_or_the_whole() {
        assert_eq!(super::short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(super::short_id("abc"), "abc");
        assert_eq!(super::short_id("ééééééééééééé"), "éééééééééééé");
    }
}
