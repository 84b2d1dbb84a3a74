//! What a fold's training produced: its history, epoch by epoch, and its scores. The
//! record that training writes, the store keeps and the score rule summarises; apart
//! from `train` so that those who only read results do not depend on LibTorch's side.

use serde::{Deserialize, Serialize};

/// One epoch of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: u32,
    pub loss: f64,
    pub accuracy: f64,
    /// The learning rate used during this epoch.
    pub learning_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_accuracy: Option<f64>,
    /// Under the notebook protocol, on an epoch whose weights became the checkpoint:
    /// those weights' loss and accuracy on the training fold, i.e. the fold's train
    /// scores were it to stop here or at any later epoch before the next checkpoint.
    /// Recorded so that `replay` can score a rung at any epoch without training.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checkpoint_train_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checkpoint_train_accuracy: Option<f64>,
}

/// What one fold produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldResult {
    pub train_accuracy: f64,
    pub train_loss: f64,
    pub val_accuracy: f64,
    pub val_loss: f64,
    pub epochs_run: u32,
    pub final_learning_rate: f64,
    pub fit_seconds: f64,
    pub score_seconds: f64,
    /// The epoch (1-based) whose weights were scored: the last one, the restored best
    /// one (a `val_*` monitor), or the checkpoint's (the notebook protocol).
    #[serde(default)]
    pub scored_epoch: u32,
    pub history: Vec<EpochRecord>,
    /// Stopped at a span's end (a rung's budget) with epochs left: the scores are those
    /// of the fold's state at that epoch, and training can continue from it.
    #[serde(default)]
    pub partial: bool,
    /// The `run --fuse N` of the worker that trained it (1: one fold at a time). Above
    /// 1 its claim-to-record span and `fit_seconds` are its group's (it trained beside
    /// the others, or waited for them), not its own: `plan --calibrate` leaves it out.
    #[serde(default = "one_at_a_time")]
    pub fused: u32,
}

fn one_at_a_time() -> u32 {
    1
}
