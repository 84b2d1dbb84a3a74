//! Training one fold: the epoch loop, as Keras' `model.fit` runs it.
//!
//! Per epoch: shuffle the training rows, take batches of `batch_size` (the last one
//! partial), forward with dropout, cross-entropy, backward, optimizer step, MaxNorm.
//! The epoch's loss and accuracy are the sample-weighted means over its batches (as
//! Keras' logs), accumulated on the device and read once per epoch, not per batch.
//! Then the callbacks (EarlyStopping, ReduceLROnPlateau) see the monitored value.
//!
//! How a fold is scored is its protocol (`params::Protocol`), the two ways the study
//! made its `HPO_combined.csv`:
//! - `gridsearchcv`: after training, the training fold and the validation fold are
//!   scored in evaluation mode, as GridSearchCV scores them;
//! - `notebook`: the validation fold is scored after every epoch (it is Keras'
//!   `validation_data`, which the callbacks watch), a checkpoint keeps the weights of
//!   the epoch of best validation accuracy, and the fold's scores are that epoch's
//!   validation accuracy and loss and the checkpoint's accuracy on the training fold.
//!
//! A step's gradients come from autograd, except on the CPU with ReLU or LeakyReLU and
//! dropout (the study's model), where the step is written out (`backprop`): the same
//! LibTorch products and the same roundings, without the graph and with the
//! element-wise work fused, so the results are bit for bit autograd's.

pub mod backprop;
pub mod callbacks;
pub mod fused;
pub mod model;
pub mod optim;
pub mod saved;
pub mod state;
pub mod vml_sqrt;

use crate::data::split::stratified_split;
use crate::params::{HyperParams, Monitor, Protocol};
use crate::rng::{stream, Stream};
use callbacks::{BestCheckpoint, EarlyStopping, Mode, ReduceLrOnPlateau};
use model::{DenseNet, DropoutSampler};
use optim::Optimizer;
use rand::seq::SliceRandom;
use rand::RngCore;
use state::{SavedTensor, TrainState};
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};

/// The rows of one fold, already preprocessed.
#[derive(Debug, Clone)]
pub struct FoldData {
    pub n_features: usize,
    pub n_classes: usize,
    /// Row-major, `n_features` per row.
    pub train_x: Vec<f32>,
    pub train_y: Vec<i64>,
    pub val_x: Vec<f32>,
    pub val_y: Vec<i64>,
}

use crate::fold::{EpochRecord, FoldResult};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FoldError {
    #[error("diverged at epoch {epoch}: the training loss is {value}")]
    Diverged { epoch: u32, value: f64 },
    #[error("LibTorch error: {0}")]
    Torch(String),
    #[error("the inner validation split (monitor on val_*) is impossible: {0}")]
    InnerSplit(String),
    #[error("abandoned (cancelled while running)")]
    Cancelled,
    #[error("cannot continue from the saved training state: {0}")]
    BadState(String),
    #[error("no data for it: {0}")]
    Data(String),
}

impl From<tch::TchError> for FoldError {
    fn from(e: tch::TchError) -> Self {
        FoldError::Torch(e.to_string())
    }
}

/// Progress of a running fold, for whoever displays it.
#[derive(Debug, Clone, Copy)]
pub struct EpochProgress {
    pub epoch: u32,
    pub epochs: u32,
    pub loss: f64,
}

/// Hooks into a running fold: progress out, cancellation in.
pub trait FoldObserver {
    fn on_epoch(&mut self, _progress: EpochProgress) {}
    /// Checked once per epoch; true abandons the fold (after saving its state).
    fn cancelled(&self) -> bool {
        false
    }
    /// Asked after each epoch but the last: save the training state now?
    fn checkpoint_due(&self, _epochs_done: u32) -> bool {
        false
    }
    /// The training state: when `checkpoint_due` said so, when the fold is cancelled,
    /// and at the end of a span that leaves epochs to run.
    fn checkpoint(&mut self, _state: TrainState) {}
}

/// An observer that does nothing.
pub struct Silent;
impl FoldObserver for Silent {}

/// Trains one fold. `seed` and `fold` decide every random draw (initial weights,
/// shuffles, dropout masks, the inner hold-out), so the result does not depend on
/// what else runs in the process. LibTorch errors (out of memory, a bad device) are
/// returned, not raised.
pub fn train_fold(
    data: &FoldData,
    p: &HyperParams,
    seed: u64,
    fold: u64,
    device: Device,
    observer: &mut dyn FoldObserver,
) -> Result<FoldResult, FoldError> {
    train_fold_span(data, p, seed, fold, device, observer, Span::default())
}

/// [`train_fold`] over a span: from a saved state, up to a number of epochs. Continuing
/// from a state gives, bit for bit, what the uninterrupted fold gives.
pub fn train_fold_span(
    data: &FoldData,
    p: &HyperParams,
    seed: u64,
    fold: u64,
    device: Device,
    observer: &mut dyn FoldObserver,
    span: Span,
) -> Result<FoldResult, FoldError> {
    // tch panics on LibTorch errors in its non-`f_` API; a fold must fail, not the run.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_fold_inner(
            data,
            p,
            seed,
            fold,
            device,
            observer,
            StepPath::Fastest,
            span,
        )
    })) {
        Ok(r) => r,
        Err(panic) => Err(FoldError::Torch(panic_message(&panic))),
    }
}

/// The random streams of the final training use this fold index, so they differ
/// from every cross-validation fold's.
pub const FINAL_FOLD: u64 = 1 << 20;

/// The study's final training: fit on `data.train_*` with `data.val_*` as Keras'
/// `validation_data`, watched by the callbacks (monitor as `p.monitor`; with a `val_*`
/// monitor the best epoch's weights are restored). The returned network can be
/// scored with [`predict_proba`] and saved through its `VarStore`.
pub fn train_final(
    data: &FoldData,
    p: &HyperParams,
    seed: u64,
    device: Device,
    observer: &mut dyn FoldObserver,
) -> Result<Fitted, FoldError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let nf = data.n_features;
        let train = to_tensors(&data.train_x, &data.train_y, nf, device);
        let val = to_tensors(&data.val_x, &data.val_y, nf, device);
        let monitor = p.callback_monitor().is_validation().then_some(&val);
        let watch = Watch {
            part: monitor,
            checkpoint: false,
        };
        let clock = Clock::Alone(Instant::now());
        fit_epochs(
            &train,
            watch,
            nf,
            data.n_classes,
            p,
            seed,
            FINAL_FOLD,
            device,
            observer,
            StepPath::Fastest,
            Span::default(),
            clock,
        )
    })) {
        Ok(r) => r,
        Err(panic) => Err(FoldError::Torch(panic_message(&panic))),
    }
}

/// Mean loss and accuracy of a trained network on row-major `x` with labels `y`, in
/// evaluation mode: the way folds are scored and `val_loss` is watched.
pub fn score(
    net: &DenseNet,
    x: &[f32],
    y: &[i64],
    n_features: usize,
    device: Device,
) -> Result<(f64, f64), FoldError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        evaluate(net, &to_tensors(x, y, n_features, device))
    })) {
        Ok(r) => Ok(r),
        Err(panic) => Err(FoldError::Torch(panic_message(&panic))),
    }
}

/// Class probabilities (softmax of the logits, evaluation mode) for row-major `x`,
/// `n_classes` per row.
pub fn predict_proba(
    net: &DenseNet,
    x: &[f32],
    n_features: usize,
    device: Device,
) -> Result<Vec<f32>, FoldError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tch::no_grad(|| {
            let rows = (x.len() / n_features.max(1)) as i64;
            let xt = Tensor::from_slice(x)
                .view([rows, n_features as i64])
                .to_device(device);
            let probs = net
                .forward(&xt, None)
                .to_kind(Kind::Float)
                .softmax(-1, Kind::Float)
                .to_device(Device::Cpu);
            Vec::<f32>::try_from(probs.flatten(0, -1)).map_err(FoldError::from)
        })
    })) {
        Ok(r) => r,
        Err(panic) => Err(FoldError::Torch(panic_message(&panic))),
    }
}

pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let msg = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    // LibTorch messages carry a C++ backtrace after the first lines.
    msg.lines().take(3).collect::<Vec<_>>().join(" ")
}

struct Part {
    x: Tensor,
    y: Tensor,
}

impl Part {
    /// The same tensors (no copy).
    fn share(&self) -> Part {
        Part {
            x: self.x.shallow_clone(),
            y: self.y.shallow_clone(),
        }
    }
}

fn to_tensors(x: &[f32], y: &[i64], n_features: usize, device: Device) -> Part {
    let rows = y.len() as i64;
    Part {
        x: Tensor::from_slice(x)
            .view([rows, n_features as i64])
            .to_device(device),
        y: Tensor::from_slice(y).to_device(device),
    }
}

/// Mean loss and accuracy in evaluation mode, in chunks to bound memory.
fn evaluate(net: &DenseNet, part: &Part) -> (f64, f64) {
    tch::no_grad(|| {
        let n = part.y.size()[0];
        if n == 0 {
            return (f64::NAN, f64::NAN);
        }
        let chunk = 16_384;
        let mut loss_sum = Tensor::zeros([], (Kind::Double, part.x.device()));
        let mut correct = Tensor::zeros([], (Kind::Int64, part.x.device()));
        let mut start = 0;
        while start < n {
            let len = chunk.min(n - start);
            let xb = part.x.narrow(0, start, len);
            let yb = part.y.narrow(0, start, len);
            let logits = net.forward(&xb, None);
            let l = logits.log_softmax(-1, Kind::Float).nll_loss(&yb);
            loss_sum += l.to_kind(Kind::Double) * len as f64;
            correct += logits.argmax(-1, false).eq_tensor(&yb).sum(Kind::Int64);
            start += len;
        }
        (
            loss_sum.double_value(&[]) / n as f64,
            correct.int64_value(&[]) as f64 / n as f64,
        )
    })
}

/// How a training step computes its gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepPath {
    /// Written out (`backprop`) where that applies, autograd elsewhere.
    Fastest,
    /// Always autograd (the tests' reference for the written-out step).
    #[cfg_attr(not(test), allow(dead_code))]
    Autograd,
}

#[allow(clippy::too_many_arguments)]
fn train_fold_inner(
    data: &FoldData,
    p: &HyperParams,
    seed: u64,
    fold: u64,
    device: Device,
    observer: &mut dyn FoldObserver,
    path: StepPath,
    span: Span,
) -> Result<FoldResult, FoldError> {
    let started = Instant::now();
    let prepared = Prepared::new(data, p, seed, fold, device)?;
    let fitted = fit_epochs(
        &prepared.fit,
        prepared.watch(),
        data.n_features,
        data.n_classes,
        p,
        seed,
        fold,
        device,
        observer,
        path,
        span,
        Clock::Alone(started),
    )?;
    Ok(prepared.score(fitted))
}

/// A fold's tensors, and what its epoch loop fits on and watches: how its protocol
/// (`params::Protocol`) sets the fold up before training and scores it after.
struct Prepared {
    whole_train: Part,
    val: Part,
    /// The rows it trains on.
    fit: Part,
    /// The rows the callbacks watch after every epoch, if any.
    watched: Option<Part>,
    notebook: bool,
}

impl Prepared {
    /// `gridsearchcv`: with a val_* monitor, an inner hold-out carved from the training
    /// fold (never the CV validation fold) is what the callbacks watch. `notebook`: the
    /// CV fold is the validation data the callbacks watch.
    fn new(
        data: &FoldData,
        p: &HyperParams,
        seed: u64,
        fold: u64,
        device: Device,
    ) -> Result<Prepared, FoldError> {
        let nf = data.n_features;
        let whole_train = to_tensors(&data.train_x, &data.train_y, nf, device);
        let val = to_tensors(&data.val_x, &data.val_y, nf, device);
        if p.protocol == Protocol::Notebook {
            return Ok(Prepared {
                fit: whole_train.share(),
                watched: Some(val.share()),
                whole_train,
                val,
                notebook: true,
            });
        }
        let (fit, watched) = if p.monitor.is_validation() {
            let labels: Vec<usize> = data.train_y.iter().map(|&y| y as usize).collect();
            let rows: Vec<usize> = (0..labels.len()).collect();
            let inner_seed = (crate::rng::stream(seed, fold, Stream::InnerSplit).next_u32()) as u32;
            let (fit_rows, inner_rows) =
                stratified_split(&rows, &labels, p.inner_validation, inner_seed)
                    .map_err(|e| FoldError::InnerSplit(format!("{e:?}")))?;
            let idx = |r: &[usize]| {
                Tensor::from_slice(&r.iter().map(|&i| i as i64).collect::<Vec<_>>())
                    .to_device(device)
            };
            let (fi, ii) = (idx(&fit_rows), idx(&inner_rows));
            (
                Part {
                    x: whole_train.x.index_select(0, &fi),
                    y: whole_train.y.index_select(0, &fi),
                },
                Some(Part {
                    x: whole_train.x.index_select(0, &ii),
                    y: whole_train.y.index_select(0, &ii),
                }),
            )
        } else {
            (whole_train.share(), None)
        };
        Ok(Prepared {
            whole_train,
            val,
            fit,
            watched,
            notebook: false,
        })
    }

    fn watch(&self) -> Watch<'_> {
        Watch {
            part: self.watched.as_ref(),
            checkpoint: self.notebook,
        }
    }

    /// The fold's scores from its trained network. `gridsearchcv`: the training and
    /// validation folds scored in evaluation mode. `notebook`: the best-`val_accuracy`
    /// epoch's (the first to reach the maximum) and its checkpoint's accuracy and loss
    /// on the training fold.
    fn score(&self, fitted: Fitted) -> FoldResult {
        let fit_seconds = fitted.seconds;
        let scoring = Instant::now();
        // Timed as scikit-learn's `score_time`: the validation fold's scoring only.
        let (train_loss, train_accuracy, val_loss, val_accuracy, score_seconds) = if self.notebook {
            // The checkpoint's weights are what the epoch loop left in the network, and
            // their scores on the training fold were recorded when they were kept (a
            // state saved by an older build lacks them: score the weights now, which
            // gives the same numbers).
            let best = &fitted.history[fitted.kept_epoch as usize - 1];
            let (l, a) = match (best.checkpoint_train_loss, best.checkpoint_train_accuracy) {
                (Some(l), Some(a)) => (l, a),
                _ => evaluate(&fitted.net, &self.whole_train),
            };
            (
                l,
                a,
                best.val_loss.unwrap_or(f64::NAN),
                best.val_accuracy.unwrap_or(f64::NAN),
                scoring.elapsed().as_secs_f64(),
            )
        } else {
            let (vl, va) = evaluate(&fitted.net, &self.val);
            let score_seconds = scoring.elapsed().as_secs_f64();
            let (tl, ta) = evaluate(&fitted.net, &self.whole_train);
            (tl, ta, vl, va, score_seconds)
        };
        FoldResult {
            train_accuracy,
            train_loss,
            val_accuracy,
            val_loss,
            epochs_run: fitted.history.len() as u32,
            final_learning_rate: fitted.final_learning_rate,
            fit_seconds,
            score_seconds,
            scored_epoch: fitted.kept_epoch,
            history: fitted.history,
            partial: fitted.partial,
            fused: 1,
        }
    }
}

/// What the epoch loop scores after every epoch, and which weights it keeps.
#[derive(Clone, Copy)]
struct Watch<'a> {
    /// Scored after every epoch as `val_loss`/`val_accuracy`.
    part: Option<&'a Part>,
    /// Keep the weights of the epoch of best `val_accuracy` (Keras' `ModelCheckpoint(
    /// monitor="val_accuracy", mode="max", save_best_only=True)`) instead of the
    /// early-stopping monitor's best.
    checkpoint: bool,
}

/// A trained network with its variables.
pub struct Fitted {
    pub vs: nn::VarStore,
    pub net: DenseNet,
    pub history: Vec<EpochRecord>,
    pub final_learning_rate: f64,
    /// The epoch whose weights the network holds (1-based): the last, or the best
    /// monitored one when best weights were restored.
    pub kept_epoch: u32,
    /// Stopped at the span's end with epochs left.
    pub partial: bool,
    /// Seconds of training, over every span it took (a resumed fold's earlier spans
    /// included): its `fit_seconds`.
    pub seconds: f64,
}

/// How a fold's own training time is counted in this span: by the wall clock from
/// the span's start (a fold trained alone), or charged to it piece by piece by the
/// group it trains in (`fused`: each step's time shared among the folds it stepped),
/// so that a group's folds' times add up to the group's.
#[derive(Debug, Clone, Copy)]
enum Clock {
    Alone(Instant),
    Charged(f64),
}

/// Where a fold's training starts and where it stops.
#[derive(Debug, Default)]
pub struct Span {
    /// Continue from this state instead of from the first epoch.
    pub from: Option<TrainState>,
    /// Stop after this many epochs (a rung's budget) even where more are configured;
    /// the state at that point goes to the observer's `checkpoint`, and the result is
    /// marked partial.
    pub until: Option<u32>,
}

/// What the epoch loop carries from one epoch to the next: exactly what a
/// [`TrainState`] saves.
struct Progress {
    opt: Optimizer,
    dropout: DropoutSampler,
    shuffle_rng: crate::rng::Rng,
    early: EarlyStopping,
    plateau: ReduceLrOnPlateau,
    checkpoint: Option<BestCheckpoint>,
    /// The weights to restore at the end and their epoch (1-based).
    kept: Option<Vec<Tensor>>,
    kept_epoch: u32,
    order: Vec<i64>,
    history: Vec<EpochRecord>,
    finished: bool,
    /// Seconds of training in the spans before this one (from the state it resumed).
    seconds_before: f64,
}

impl Progress {
    /// The state now, `seconds` of training so far.
    fn save(&self, vs: &nn::VarStore, seconds: f64) -> TrainState {
        TrainState {
            seconds,
            history: self.history.clone(),
            weights: vs
                .trainable_variables()
                .iter()
                .map(SavedTensor::of)
                .collect(),
            optimizer: self.opt.state(),
            early: self.early.clone(),
            plateau: self.plateau.clone(),
            checkpoint: self.checkpoint.clone(),
            kept: self
                .kept
                .as_ref()
                .map(|k| k.iter().map(SavedTensor::of).collect()),
            kept_epoch: self.kept_epoch,
            order: self.order.clone(),
            shuffle_rng: self.shuffle_rng.clone(),
            dropout_rng: self.dropout.rng().clone(),
            finished: self.finished,
        }
    }

    fn restore(&mut self, vs: &nn::VarStore, s: TrainState) -> Result<(), String> {
        if s.order.len() != self.order.len() {
            return Err(format!(
                "the state is of {} training rows, this fold has {}",
                s.order.len(),
                self.order.len()
            ));
        }
        if self.checkpoint.is_some() != s.checkpoint.is_some() {
            return Err("the state is of another protocol".into());
        }
        state::copy_into(&vs.trainable_variables(), &s.weights, "weights")?;
        self.opt.restore(&s.optimizer)?;
        self.kept = match s.kept {
            Some(k) => {
                let live: Vec<Tensor> =
                    tch::no_grad(|| vs.trainable_variables().iter().map(|t| t.copy()).collect());
                state::copy_into(&live, &k, "kept weights")?;
                Some(live)
            }
            None => None,
        };
        self.dropout.set_rng(s.dropout_rng);
        self.shuffle_rng = s.shuffle_rng;
        self.early = s.early;
        self.plateau = s.plateau;
        self.checkpoint = s.checkpoint;
        self.kept_epoch = s.kept_epoch;
        self.order = s.order;
        self.history = s.history;
        self.finished = s.finished;
        self.seconds_before = s.seconds;
        Ok(())
    }
}

/// The epoch loop. `watch.part`, when given, is scored after every epoch as
/// `val_loss`/`val_accuracy`, and the weights of the best monitored epoch are restored
/// at the end (Keras' `restore_best_weights=True`), or, with `watch.checkpoint`, those
/// of the best-`val_accuracy` epoch. `span` says where it starts (the first epoch or a
/// saved state) and where it stops.
#[allow(clippy::too_many_arguments)]
fn fit_epochs(
    fit: &Part,
    watch: Watch,
    nf: usize,
    n_classes: usize,
    p: &HyperParams,
    seed: u64,
    fold: u64,
    device: Device,
    observer: &mut dyn FoldObserver,
    path: StepPath,
    span: Span,
    clock: Clock,
) -> Result<Fitted, FoldError> {
    let mut run = FoldRun::new(
        fit, watch, nf, n_classes, p, seed, fold, device, observer, span, clock,
    )?;
    while run.begin_epoch()? {
        while let Some((xb, yb)) = run.next_batch() {
            run.step_alone(&xb, &yb, path);
        }
        run.end_epoch()?;
    }
    Ok(run.finish())
}

/// One fold's epoch loop as a state machine, so that several folds can run it in
/// step (`fused`): [`begin_epoch`](Self::begin_epoch), then a step per
/// [`next_batch`](Self::next_batch), then [`end_epoch`](Self::end_epoch), until
/// `begin_epoch` says it is over; then [`finish`](Self::finish). It reads as Keras'
/// `fit` runs an epoch: shuffle, batches, the epoch's metrics, callbacks, checkpoint.
struct FoldRun<'a> {
    fit: &'a Part,
    watch: Watch<'a>,
    p: &'a HyperParams,
    observer: &'a mut dyn FoldObserver,
    device: Device,
    vs: nn::VarStore,
    net: DenseNet,
    scratch: backprop::Scratch,
    monitor: Monitor,
    restore_best: bool,
    /// Training rows.
    n: i64,
    s: Progress,
    /// The epoch it stops after (the span's end, at most `epochs`).
    until: u32,
    resumed_at: u32,
    /// The running epoch's shuffle, learning rate, sums and next batch's first row.
    epoch: Option<EpochSums>,
    clock: Clock,
}

struct EpochSums {
    perm: Tensor,
    lr_used: f64,
    loss_sum: Tensor,
    correct: Tensor,
    start: i64,
}

impl<'a> FoldRun<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        fit: &'a Part,
        watch: Watch<'a>,
        nf: usize,
        n_classes: usize,
        p: &'a HyperParams,
        seed: u64,
        fold: u64,
        device: Device,
        observer: &'a mut dyn FoldObserver,
        span: Span,
        clock: Clock,
    ) -> Result<Self, FoldError> {
        let vs = nn::VarStore::new(device);
        let mut init_rng = stream(seed, fold, Stream::InitialWeights);
        let net = DenseNet::new(&vs.root(), nf as i64, n_classes as i64, p, &mut init_rng);
        let monitor = p.callback_monitor();
        let mode = if monitor.higher_is_better() {
            Mode::Max
        } else {
            Mode::Min
        };
        let n = fit.y.size()[0];
        let mut s = Progress {
            opt: Optimizer::new(p.optimizer, net.parameters(), p.learning_rate as f32),
            dropout: DropoutSampler::new(stream(seed, fold, Stream::Dropout), p.dropout),
            shuffle_rng: stream(seed, fold, Stream::Shuffle),
            early: EarlyStopping::new(mode, p.early_stopping_patience),
            plateau: ReduceLrOnPlateau::new(
                mode,
                p.reduce_lr_factor,
                p.reduce_lr_patience,
                p.reduce_lr_min_lr,
            ),
            checkpoint: watch.checkpoint.then(BestCheckpoint::new),
            kept: None,
            kept_epoch: 0,
            order: (0..n).collect(),
            history: Vec::with_capacity(p.epochs as usize),
            finished: false,
            seconds_before: 0.0,
        };
        if let Some(from) = span.from {
            s.restore(&vs, from).map_err(FoldError::BadState)?;
        }
        let until = span.until.unwrap_or(p.epochs).min(p.epochs);
        let resumed_at = s.history.len() as u32;
        Ok(FoldRun {
            fit,
            watch,
            p,
            observer,
            device,
            vs,
            net,
            scratch: backprop::Scratch::default(),
            monitor,
            restore_best: watch.part.is_some() && !watch.checkpoint,
            n,
            s,
            until,
            resumed_at,
            epoch: None,
            clock,
        })
    }

    /// Seconds of training so far, earlier spans included.
    fn seconds(&self) -> f64 {
        self.s.seconds_before
            + match self.clock {
                Clock::Alone(t) => t.elapsed().as_secs_f64(),
                Clock::Charged(x) => x,
            }
    }

    /// Charges `seconds` of a group's time to this fold (`Clock::Charged`).
    fn charge(&mut self, seconds: f64) {
        if let Clock::Charged(x) = &mut self.clock {
            *x += seconds;
        }
    }

    fn save(&self) -> TrainState {
        self.s.save(&self.vs, self.seconds())
    }

    /// Starts the next epoch (shuffles the rows); false when there is none to run.
    /// Cancelled, it saves the training state (if an epoch ran) and says so.
    fn begin_epoch(&mut self) -> Result<bool, FoldError> {
        let epoch = self.s.history.len() as u32;
        if self.s.finished || epoch >= self.until {
            return Ok(false);
        }
        if self.observer.cancelled() {
            if epoch > self.resumed_at {
                self.observer.checkpoint(self.save());
            }
            return Err(FoldError::Cancelled);
        }
        let lr_used = self.s.opt.learning_rate as f64;
        self.s.order.shuffle(&mut self.s.shuffle_rng);
        self.epoch = Some(EpochSums {
            perm: Tensor::from_slice(&self.s.order).to_device(self.device),
            lr_used,
            loss_sum: Tensor::zeros([], (Kind::Float, self.device)),
            correct: Tensor::zeros([], (Kind::Int64, self.device)),
            start: 0,
        });
        Ok(true)
    }

    /// The epoch's next batch (rows, labels), the last one partial; None at its end.
    fn next_batch(&self) -> Option<(Tensor, Tensor)> {
        let e = self.epoch.as_ref()?;
        if e.start >= self.n {
            return None;
        }
        let len = (self.p.batch_size as i64).min(self.n - e.start);
        let idx = e.perm.narrow(0, e.start, len);
        Some((
            self.fit.x.index_select(0, &idx),
            self.fit.y.index_select(0, &idx),
        ))
    }

    /// One training step on the batch, on its own: written out (`backprop`) where that
    /// applies, autograd elsewhere.
    fn step_alone(&mut self, xb: &Tensor, yb: &Tensor, path: StepPath) {
        let written_out = match path {
            StepPath::Fastest => {
                backprop::step(&self.net, xb, yb, &mut self.s.dropout, &mut self.scratch)
            }
            StepPath::Autograd => None,
        };
        match written_out {
            Some(step) => self.take_step(step.loss, &step.logits, yb, step.grads),
            None => {
                let logits = self.net.forward(xb, Some(&mut self.s.dropout));
                let loss = logits.log_softmax(-1, Kind::Float).nll_loss(yb);
                // Gradients as fresh tensors (torch.autograd.grad), not accumulated
                // into `.grad`: that would add each one onto a zeroed buffer.
                let grads = Tensor::run_backward(&[&loss], self.s.opt.params(), false, false);
                self.take_step(loss, &logits, yb, grads);
            }
        }
    }

    /// The step's update from its gradients (one per parameter, as
    /// `DenseNet::parameters`), the constraints, and the batch's loss and accuracy.
    fn take_step(&mut self, loss: Tensor, logits: &Tensor, yb: &Tensor, grads: Vec<Tensor>) {
        self.s.opt.step_with(grads);
        self.net.apply_constraints();
        let e = self.epoch.as_mut().expect("a step within an epoch");
        let len = yb.size()[0];
        tch::no_grad(|| {
            e.loss_sum += loss.detach() * len as f64;
            e.correct += logits.argmax(-1, false).eq_tensor(yb).sum(Kind::Int64);
        });
        e.start += len;
    }

    /// The epoch's metrics and scores, the callbacks, the checkpoint.
    fn end_epoch(&mut self) -> Result<(), FoldError> {
        let e = self.epoch.take().expect("an epoch was begun");
        let epoch = self.s.history.len() as u32;
        let (n, p) = (self.n, self.p);
        let loss = e.loss_sum.double_value(&[]) / n as f64;
        let accuracy = e.correct.int64_value(&[]) as f64 / n as f64;
        if !loss.is_finite() {
            return Err(FoldError::Diverged {
                epoch: epoch + 1,
                value: loss,
            });
        }
        let (val_loss, val_accuracy) = match self.watch.part {
            Some(part) => {
                let (l, a) = evaluate(&self.net, part);
                (Some(l), Some(a))
            }
            None => (None, None),
        };
        self.s.history.push(EpochRecord {
            epoch: epoch + 1,
            loss,
            accuracy,
            learning_rate: e.lr_used,
            val_loss,
            val_accuracy,
            checkpoint_train_loss: None,
            checkpoint_train_accuracy: None,
        });
        self.observer.on_epoch(EpochProgress {
            epoch: epoch + 1,
            epochs: p.epochs,
            loss,
        });

        let monitored = match self.monitor {
            Monitor::Loss => loss,
            Monitor::Accuracy => accuracy,
            Monitor::ValLoss => val_loss.unwrap_or(f64::NAN),
            Monitor::ValAccuracy => val_accuracy.unwrap_or(f64::NAN),
        };
        let s = &mut self.s;
        let decision = s.early.on_epoch_end(epoch, monitored);
        let keep = match &mut s.checkpoint {
            Some(c) => c.on_epoch_end(epoch, val_accuracy.unwrap_or(f64::NAN)),
            None => self.restore_best && decision.improved,
        };
        if keep {
            if self.watch.checkpoint {
                let (l, a) = evaluate(&self.net, self.fit);
                let last = s
                    .history
                    .last_mut()
                    .expect("this epoch's record was just pushed");
                (last.checkpoint_train_loss, last.checkpoint_train_accuracy) = (Some(l), Some(a));
            }
            s.kept_epoch = epoch + 1;
            s.kept = Some(tch::no_grad(|| {
                self.vs
                    .trainable_variables()
                    .iter()
                    .map(|t| t.copy())
                    .collect()
            }));
        }
        if let Some(new_lr) = s.plateau.on_epoch_end(monitored, s.opt.learning_rate) {
            s.opt.learning_rate = new_lr;
        }
        s.finished = decision.stop || epoch + 1 == p.epochs;
        if !s.finished && epoch + 1 < self.until && self.observer.checkpoint_due(epoch + 1) {
            let state = self.save();
            self.observer.checkpoint(state);
        }
        Ok(())
    }

    /// The trained network: the kept weights restored where there are any; a span that
    /// stopped with epochs left saves its state to continue from.
    fn finish(self) -> Fitted {
        let seconds = self.seconds();
        let s = self.s;
        let partial = !s.finished;
        if partial && s.history.len() as u32 > self.resumed_at {
            self.observer.checkpoint(s.save(&self.vs, seconds));
        }
        let mut kept_epoch = s.kept_epoch;
        if let Some(best) = s.kept {
            tch::no_grad(|| {
                for (mut var, b) in self.vs.trainable_variables().into_iter().zip(best) {
                    var.copy_(&b);
                }
            });
        } else {
            kept_epoch = s.history.len() as u32;
        }
        Fitted {
            vs: self.vs,
            net: self.net,
            final_learning_rate: s.opt.learning_rate as f64,
            history: s.history,
            kept_epoch,
            partial,
            seconds,
        }
    }
}

#[cfg(test)]
mod tests;
