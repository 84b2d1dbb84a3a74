//! A fold's complete training state between two epochs, so that training can stop and
//! continue later, in another process or on another machine, bit for bit as if it had
//! not stopped.
//!
//! Why everything below is needed: the next epoch's numbers depend on the weights, the
//! optimizer's moments and step count (Adam's bias correction, Nadam's μ product), the
//! learning rate ReduceLROnPlateau left, the callbacks' counters and best values, the
//! weights kept for restoring (the best epoch's or the checkpoint's), the shuffle
//! order (each epoch shuffles the previous permutation) and the positions of the
//! shuffle and dropout streams; and the fold's result includes the history so far.
//! Tensors are kept as their raw bytes with shape and kind, so nothing is rounded.
//!
//! Encoded with bincode behind a format line; a state written by another format or
//! another random scheme is refused (the fold then trains from its start, which is
//! always correct, only slower).

use super::callbacks::{BestCheckpoint, EarlyStopping, ReduceLrOnPlateau};
use super::optim::OptimizerState;
pub use super::saved::{copy_into, SavedTensor};
use super::EpochRecord;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The first bytes of an encoded state: the format and the random scheme (the
/// streams of `crate::rng`, dropout drawn from its own stream). A change to either
/// must change this line, so that no fold continues from a state of another scheme.
///
/// v2: the history keeps the checkpoint's train-fold scores (notebook protocol).
/// v3: the seconds of training so far, so that a resumed fold's `fit_seconds` is its
/// whole training's (a v2 state is refused: its fold trains again from its start).
pub const FORMAT: &[u8] = b"gridsweep-train-state v3 xoshiro256++/dropout-stream\n";

/// Everything a fold's training depends on after its history's epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    #[serde(with = "history_rows")]
    pub history: Vec<EpochRecord>,
    /// The trainable variables, in `VarStore::trainable_variables` order.
    pub weights: Vec<SavedTensor>,
    pub optimizer: OptimizerState,
    pub early: EarlyStopping,
    pub plateau: ReduceLrOnPlateau,
    pub checkpoint: Option<BestCheckpoint>,
    /// The weights kept for the end (best epoch or checkpoint), and their epoch.
    pub kept: Option<Vec<SavedTensor>>,
    pub kept_epoch: u32,
    /// The current permutation of the training rows (each epoch shuffles it further).
    pub order: Vec<i64>,
    pub shuffle_rng: Rng,
    pub dropout_rng: Rng,
    /// Training stopped (early stopping or the last epoch): nothing is left to run.
    pub finished: bool,
    /// Seconds of training up to this state, over every span so far (the fold's own
    /// share where it trained in a fused group).
    pub seconds: f64,
}

impl TrainState {
    /// Epochs trained so far.
    pub fn epochs_done(&self) -> u32 {
        self.history.len() as u32
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = FORMAT.to_vec();
        // Serialising plain data into a Vec cannot fail.
        out.extend(bincode::serialize(self).unwrap_or_default());
        out
    }

    /// Decodes a state; refuses one of another format or random scheme.
    pub fn decode(bytes: &[u8]) -> Result<TrainState, String> {
        let body = bytes.strip_prefix(FORMAT).ok_or_else(|| {
            let head = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            format!("a training state of another format or random scheme ({:?}; this build writes {:?})",
                String::from_utf8_lossy(head), String::from_utf8_lossy(&FORMAT[..FORMAT.len() - 1]))
        })?;
        bincode::deserialize(body).map_err(|e| format!("a damaged training state: {e}"))
    }

    /// Encoded size in bytes (for the storage figures).
    pub fn size(&self) -> usize {
        FORMAT.len() + bincode::serialized_size(self).unwrap_or(0) as usize
    }
}

/// The history as plain tuples: `EpochRecord` leaves out absent validation values when
/// written as JSON, which a format without field names (bincode) cannot read back.
mod history_rows {
    use super::EpochRecord;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Row = (
        u32,
        f64,
        f64,
        f64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    );

    pub fn serialize<S: Serializer>(h: &[EpochRecord], s: S) -> Result<S::Ok, S::Error> {
        let rows: Vec<Row> = h
            .iter()
            .map(|e| {
                (
                    e.epoch,
                    e.loss,
                    e.accuracy,
                    e.learning_rate,
                    e.val_loss,
                    e.val_accuracy,
                    e.checkpoint_train_loss,
                    e.checkpoint_train_accuracy,
                )
            })
            .collect();
        rows.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EpochRecord>, D::Error> {
        let rows = Vec::<Row>::deserialize(d)?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    epoch,
                    loss,
                    accuracy,
                    learning_rate,
                    val_loss,
                    val_accuracy,
                    checkpoint_train_loss,
                    checkpoint_train_accuracy,
                )| EpochRecord {
                    epoch,
                    loss,
                    accuracy,
                    learning_rate,
                    val_loss,
                    val_accuracy,
                    checkpoint_train_loss,
                    checkpoint_train_accuracy,
                },
            )
            .collect())
    }
}
