//! Rows as the store reads them: by column name into named structs (sqlx's `FromRow`,
//! generic over the backend's row type, so one struct serves SQLite and PostgreSQL),
//! then into the domain's values. Columns that SQL computes carry an `AS` name.

use super::{Store, StoreError};
use crate::fold::FoldResult;
use crate::score::CvSummary;

/// The columns [`SummaryColumns`] reads.
pub(super) const SUMMARY_READ: &str =
    "mean_train_accuracy, std_train_accuracy, mean_val_accuracy, std_val_accuracy, mean_train_loss,
        std_train_loss, mean_val_loss, std_val_loss, delta_accuracy, score, total_fit_seconds";

/// A configuration's summary columns (NULL until it is summarised).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SummaryColumns {
    mean_train_accuracy: Option<f64>,
    std_train_accuracy: Option<f64>,
    mean_val_accuracy: Option<f64>,
    std_val_accuracy: Option<f64>,
    mean_train_loss: Option<f64>,
    std_train_loss: Option<f64>,
    mean_val_loss: Option<f64>,
    std_val_loss: Option<f64>,
    delta_accuracy: Option<f64>,
    score: Option<f64>,
    total_fit_seconds: Option<f64>,
}

impl SummaryColumns {
    /// The summary; a column left NULL (a database written by hand) reads as NaN, which
    /// ranks last, rather than failing the whole read.
    pub(super) fn summary(&self) -> CvSummary {
        let v = |x: Option<f64>| x.unwrap_or(f64::NAN);
        CvSummary {
            mean_train_accuracy: v(self.mean_train_accuracy),
            std_train_accuracy: v(self.std_train_accuracy),
            mean_val_accuracy: v(self.mean_val_accuracy),
            std_val_accuracy: v(self.std_val_accuracy),
            mean_train_loss: v(self.mean_train_loss),
            std_train_loss: v(self.std_train_loss),
            mean_val_loss: v(self.mean_val_loss),
            std_val_loss: v(self.std_val_loss),
            delta_accuracy: v(self.delta_accuracy),
            score: v(self.score),
            total_fit_seconds: v(self.total_fit_seconds),
        }
    }
}

/// The done folds of configuration `$2` of sweep `$1` as [`FoldColumns`]: its own, or
/// those of the configuration whose training it shares.
pub(super) const FOLD_RESULTS: &str = "SELECT train_accuracy, train_loss, val_accuracy, val_loss, epochs_run, final_learning_rate,
        fit_seconds, score_seconds, history_json, COALESCE(scored_epoch, epochs_run) AS scored_epoch, partial, fused
 FROM folds WHERE sweep_id = $1 AND state = 'done' AND speculative = 0
   AND config_id = (SELECT COALESCE(trained_by, config_id) FROM configurations WHERE sweep_id = $1 AND config_id = $2)
 ORDER BY fold";

/// A done fold's result columns.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct FoldColumns {
    train_accuracy: f64,
    train_loss: f64,
    val_accuracy: f64,
    val_loss: f64,
    epochs_run: i64,
    final_learning_rate: f64,
    fit_seconds: f64,
    score_seconds: f64,
    history_json: String,
    scored_epoch: i64,
    partial: i64,
    fused: i64,
}

impl FoldColumns {
    /// The fold's result; an unreadable history is an error naming the database.
    pub(super) fn result(self, store: &Store) -> Result<FoldResult, StoreError> {
        let history =
            serde_json::from_str(&self.history_json).map_err(|e| StoreError::Corrupt {
                db: store.name().to_string(),
                message: format!("a fold's history_json is not a history ({e})"),
            })?;
        Ok(FoldResult {
            train_accuracy: self.train_accuracy,
            train_loss: self.train_loss,
            val_accuracy: self.val_accuracy,
            val_loss: self.val_loss,
            epochs_run: self.epochs_run as u32,
            final_learning_rate: self.final_learning_rate,
            fit_seconds: self.fit_seconds,
            score_seconds: self.score_seconds,
            scored_epoch: self.scored_epoch as u32,
            history,
            partial: self.partial != 0,
            fused: self.fused.max(1) as u32,
        })
    }
}

/// `SweepRow`s; a sweep's `updated_at` is its spec's last change or its last
/// finished fold, whichever is later.
pub(super) const SWEEPS: &str = "SELECT id, name, spec_json, dataset_fingerprint, folds, seed, created_at, source, source_sha256,
        CASE WHEN (SELECT MAX(finished_at) FROM folds WHERE folds.sweep_id = sweeps.id) > updated_at
             THEN (SELECT MAX(finished_at) FROM folds WHERE folds.sweep_id = sweeps.id) ELSE updated_at END AS updated_at
 FROM sweeps";

/// What the claim statements return, as a `Claim` reads it.
pub(super) const CLAIM_RETURNING: &str =
    "RETURNING id AS fold_id, config_id, fold, budget, checkpoint_epochs";
