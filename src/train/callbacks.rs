//! Keras' `EarlyStopping`, `ReduceLROnPlateau` and `ModelCheckpoint(save_best_only)`,
//! as small state machines.
//!
//! They are ports of Keras 3's `on_epoch_end` logic line for line, because the epoch
//! at which training stops and the epochs at which the learning rate drops decide the
//! study's numbers. Each takes the monitored value of one epoch and says what to do;
//! the epoch loop acts on it. Tested with synthetic metric sequences.

use serde::{Deserialize, Serialize};

/// Direction of improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    Min,
    Max,
}

/// `EarlyStopping(monitor, patience, min_delta=0, restore_best_weights)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    mode: Mode,
    patience: u32,
    min_delta: f64,
    wait: u32,
    best: f64,
    /// Epoch (0-based) of the best value so far.
    pub best_epoch: Option<u32>,
}

/// What `EarlyStopping` decided at the end of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopDecision {
    /// This epoch is the best so far (snapshot the weights if restoring).
    pub improved: bool,
    /// Stop training after this epoch.
    pub stop: bool,
}

impl EarlyStopping {
    pub fn new(mode: Mode, patience: u32) -> Self {
        EarlyStopping {
            mode,
            patience,
            min_delta: 0.0,
            wait: 0,
            best: match mode {
                Mode::Min => f64::INFINITY,
                Mode::Max => f64::NEG_INFINITY,
            },
            best_epoch: None,
        }
    }

    fn is_improvement(&self, current: f64) -> bool {
        match self.mode {
            Mode::Min => current - self.min_delta < self.best,
            Mode::Max => current + self.min_delta > self.best,
        }
    }

    pub fn on_epoch_end(&mut self, epoch: u32, current: f64) -> StopDecision {
        // Keras counts first, then resets on improvement.
        self.wait += 1;
        if self.is_improvement(current) {
            self.best = current;
            self.best_epoch = Some(epoch);
            self.wait = 0;
            return StopDecision {
                improved: true,
                stop: false,
            };
        }
        // Keras only records a first snapshot when nothing improved yet (a NaN first
        // epoch); that case ends the fold as diverged before we get here.
        StopDecision {
            improved: false,
            stop: self.wait >= self.patience && epoch > 0,
        }
    }
}

/// `ReduceLROnPlateau(monitor, factor, patience, min_lr, min_delta=1e-4, cooldown=0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceLrOnPlateau {
    mode: Mode,
    factor: f64,
    patience: u32,
    min_lr: f64,
    min_delta: f64,
    cooldown: u32,
    cooldown_counter: u32,
    wait: u32,
    best: f64,
}

impl ReduceLrOnPlateau {
    pub fn new(mode: Mode, factor: f64, patience: u32, min_lr: f64) -> Self {
        ReduceLrOnPlateau {
            mode,
            factor,
            patience,
            min_lr,
            min_delta: 1e-4,
            cooldown: 0,
            cooldown_counter: 0,
            wait: 0,
            best: match mode {
                Mode::Min => f64::INFINITY,
                Mode::Max => f64::NEG_INFINITY,
            },
        }
    }

    fn improves(&self, current: f64) -> bool {
        match self.mode {
            Mode::Min => current < self.best - self.min_delta,
            Mode::Max => current > self.best + self.min_delta,
        }
    }

    /// Returns the new learning rate when it is reduced this epoch.
    ///
    /// Keras keeps the learning rate in a float32 variable: `lr` is that value, the
    /// comparison with `min_lr` is made in float32, and the new value is rounded to
    /// float32 when assigned.
    pub fn on_epoch_end(&mut self, current: f64, lr: f32) -> Option<f32> {
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if self.improves(current) {
            self.best = current;
            self.wait = 0;
            return None;
        }
        if self.cooldown_counter > 0 {
            return None;
        }
        self.wait += 1;
        if self.wait >= self.patience && lr > self.min_lr as f32 {
            let new_lr = (lr as f64 * self.factor).max(self.min_lr);
            self.cooldown_counter = self.cooldown;
            self.wait = 0;
            return Some(new_lr as f32);
        }
        None
    }
}

/// `ModelCheckpoint(monitor="val_accuracy", mode="max", save_best_only=True)`: says
/// at which epochs the weights are saved. Keras saves when the value is strictly
/// greater than the best so far (`np.greater`, starting from −∞), so the epoch kept is
/// the first to reach the maximum (`np.argmax` of the history), and a NaN never saves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BestCheckpoint {
    best: Option<f64>,
    /// Epoch (0-based) of the saved weights.
    pub best_epoch: Option<u32>,
}

impl BestCheckpoint {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when this epoch's weights are to be saved.
    pub fn on_epoch_end(&mut self, epoch: u32, current: f64) -> bool {
        let better = match self.best {
            None => current > f64::NEG_INFINITY,
            Some(best) => current > best,
        };
        if better {
            self.best = Some(current);
            self.best_epoch = Some(epoch);
        }
        better
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The epochs a checkpoint saves at, and the one it keeps.
    fn checkpoint(seq: &[f64]) -> (Vec<u32>, Option<u32>) {
        let mut c = BestCheckpoint::new();
        let saved = seq
            .iter()
            .enumerate()
            .filter(|(e, &v)| c.on_epoch_end(*e as u32, v))
            .map(|(e, _)| e as u32)
            .collect();
        (saved, c.best_epoch)
    }

    #[test]
    fn checkpoint_keeps_the_first_epoch_of_the_maximum() {
        // Ties do not save again: the first epoch reaching the maximum is kept.
        assert_eq!(
            checkpoint(&[0.5, 0.6, 0.6, 0.55, 0.6]),
            (vec![0, 1], Some(1))
        );
        // The first epoch is the best.
        assert_eq!(checkpoint(&[0.9, 0.5, 0.8]), (vec![0], Some(0)));
        // A NaN never saves, nor does it block a later save.
        assert_eq!(
            checkpoint(&[f64::NAN, 0.3, f64::NAN, 0.4]),
            (vec![1, 3], Some(3))
        );
        assert_eq!(checkpoint(&[]), (vec![], None));
    }

    /// The notebook protocol's three callbacks together on one synthetic history:
    /// early stopping on val_loss ends training before val_accuracy's best is
    /// forgotten, and the checkpoint's epoch is not early stopping's.
    #[test]
    fn notebook_callbacks_on_one_history() {
        let val_loss = [1.0, 0.8, 0.7, 0.72, 0.75, 0.71, 0.9, 0.95];
        let val_acc = [0.40, 0.50, 0.55, 0.58, 0.58, 0.57, 0.52, 0.50];
        let mut early = EarlyStopping::new(Mode::Min, 3);
        let mut cp = BestCheckpoint::new();
        let mut stopped = None;
        for (e, (&l, &a)) in val_loss.iter().zip(&val_acc).enumerate() {
            cp.on_epoch_end(e as u32, a);
            if early.on_epoch_end(e as u32, l).stop {
                stopped = Some(e as u32);
                break;
            }
        }
        // val_loss best at epoch 2; epochs 3, 4, 5 do not improve: stops after epoch 5.
        assert_eq!(stopped, Some(5));
        assert_eq!(early.best_epoch, Some(2));
        // val_accuracy's maximum 0.58 first at epoch 3 (after early stopping's best).
        assert_eq!(cp.best_epoch, Some(3));
    }

    /// Runs a loss sequence through EarlyStopping; returns the epoch it stops at.
    fn stop_epoch(patience: u32, losses: &[f64]) -> Option<u32> {
        let mut es = EarlyStopping::new(Mode::Min, patience);
        losses
            .iter()
            .enumerate()
            .find_map(|(e, &l)| es.on_epoch_end(e as u32, l).stop.then_some(e as u32))
    }

    #[test]
    fn early_stopping_waits_patience_epochs_without_improvement() {
        // Best at epoch 1; epochs 2, 3, 4 do not improve; patience 3 stops at epoch 4.
        assert_eq!(stop_epoch(3, &[1.0, 0.5, 0.6, 0.5, 0.7, 0.1]), Some(4));
        // An equal value is no improvement (min_delta 0, strict less).
        assert_eq!(stop_epoch(1, &[1.0, 1.0]), Some(1));
        // Improvement resets the count.
        assert_eq!(
            stop_epoch(2, &[1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.86]),
            Some(6)
        );
        assert_eq!(stop_epoch(2, &[3.0, 2.0, 1.0, 0.5]), None);
    }

    #[test]
    fn early_stopping_patience_zero_never_stops_at_epoch_zero() {
        // Keras: `wait >= patience and epoch > 0`.
        let mut es = EarlyStopping::new(Mode::Min, 0);
        assert!(!es.on_epoch_end(0, 1.0).stop);
        assert!(es.on_epoch_end(1, 2.0).stop);
    }

    #[test]
    fn early_stopping_max_mode_tracks_best_epoch() {
        let mut es = EarlyStopping::new(Mode::Max, 2);
        let seq = [0.5, 0.6, 0.55, 0.7, 0.69, 0.7];
        let decisions: Vec<StopDecision> = seq
            .iter()
            .enumerate()
            .map(|(e, &v)| es.on_epoch_end(e as u32, v))
            .collect();
        assert_eq!(decisions.iter().filter(|d| d.improved).count(), 3);
        assert!(decisions[5].stop);
        assert_eq!(es.best_epoch, Some(3));
    }

    fn lr_trace(factor: f64, patience: u32, min_lr: f64, losses: &[f64]) -> Vec<f32> {
        let mut cb = ReduceLrOnPlateau::new(Mode::Min, factor, patience, min_lr);
        let mut lr = 0.001f32;
        losses
            .iter()
            .map(|&l| {
                if let Some(n) = cb.on_epoch_end(l, lr) {
                    lr = n;
                }
                lr
            })
            .collect()
    }

    fn assert_trace(got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(((*g as f64) - w).abs() <= 1e-6 * w, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn reduce_lr_drops_after_patience_flat_epochs() {
        // Improvements smaller than min_delta (1e-4) do not count.
        let losses = [1.0, 0.99995, 0.99991, 0.5, 0.5, 0.5];
        let t = lr_trace(0.1, 2, 0.0, &losses);
        assert_trace(&t, &[1e-3, 1e-3, 1e-4, 1e-4, 1e-4, 1e-5]);
    }

    #[test]
    fn reduce_lr_stops_at_min_lr() {
        // 1e-3 → 1e-4 → … → 1e-7, then stays.
        let t = lr_trace(0.1, 1, 1e-7, &[1.0; 10]);
        assert_trace(
            &t,
            &[1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7, 1e-7],
        );
        assert!(t.iter().all(|&l| l >= 1e-7f32));
    }

    #[test]
    fn reduce_lr_on_val_loss_with_the_notebook_grid_b_settings() {
        // factor 0.5, patience 7, min_lr 1e-5 on a flat val_loss: a halving every 7
        // epochs (epochs 7, 14, …), the seventh (1e-3 · 0.5^7 < 1e-5) clamped to the
        // floor at epoch 49, and none after.
        let t = lr_trace(0.5, 7, 1e-5, &[1.0; 61]);
        assert_trace(&t[..8], &[1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 5e-4]);
        assert_trace(&t[13..15], &[5e-4, 2.5e-4]);
        assert_trace(&t[48..50], &[1.5625e-5, 1e-5]);
        assert_trace(&t[50..], &[1e-5; 11]);
    }

    #[test]
    fn reduce_lr_clamps_to_min_lr_and_honours_improvement() {
        let t = lr_trace(0.5, 1, 4e-4, &[1.0, 1.0, 1.0, 1.0]);
        assert_trace(&t, &[1e-3, 5e-4, 4e-4, 4e-4]);
        // Steady improvement never reduces.
        let t = lr_trace(0.1, 1, 0.0, &[1.0, 0.9, 0.8, 0.7]);
        assert_trace(&t, &[1e-3; 4]);
    }
}
