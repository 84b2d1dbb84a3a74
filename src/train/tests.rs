use super::*;
use crate::params::{Activation, OptimizerKind, Precision};
use rand::Rng as _;

/// Synthetic rows: 7 features, 3 classes that depend on them, plus noise.
fn synthetic(rows: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
    let mut rng = stream(seed, 0, Stream::DemoData);
    let mut x = Vec::with_capacity(rows * 7);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let row: Vec<f32> = (0..7).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
        let s = row[0] + 0.5 * row[3] - row[5] + rng.gen_range(-0.5f32..0.5);
        y.push(if s < -0.7 { 0 } else if s < 0.7 { 1 } else { 2 });
        x.extend(row);
    }
    (x, y)
}

fn fold_data() -> FoldData {
    let (train_x, train_y) = synthetic(230, 1);
    let (val_x, val_y) = synthetic(90, 2);
    FoldData { n_features: 7, n_classes: 3, train_x, train_y, val_x, val_y }
}

fn without_timings(mut r: FoldResult) -> FoldResult {
    r.fit_seconds = 0.0;
    r.score_seconds = 0.0;
    r
}

/// The written-out step (`backprop`) trains bit for bit as autograd does: same
/// losses and accuracies at every epoch, same scores, for LeakyReLU and ReLU in
/// fp32 and bf16, with partial last batches, MaxNorm, a learning-rate cut and an
/// inner hold-out.
#[test]
fn the_written_out_step_trains_bit_for_bit_as_autograd() {
    let data = fold_data();
    let cases = [
        (Activation::LeakyRelu, 3, OptimizerKind::Nadam, Monitor::Loss, Precision::Fp32),
        (Activation::Relu, 2, OptimizerKind::Adam, Monitor::ValLoss, Precision::Fp32),
        (Activation::LeakyRelu, 1, OptimizerKind::Sgd, Monitor::Accuracy, Precision::Fp32),
        (Activation::LeakyRelu, 3, OptimizerKind::Nadam, Monitor::Loss, Precision::Bf16),
        (Activation::Relu, 2, OptimizerKind::Adam, Monitor::ValLoss, Precision::Bf16),
    ];
    for (activation, layers, optimizer, monitor, precision) in cases {
        let p = HyperParams {
            num_hidden_layers: layers,
            neurons: [24, 40, 16, 8],
            activation,
            dropout: 0.3,
            optimizer,
            batch_size: 64,
            epochs: 12,
            reduce_lr_patience: 2,
            learning_rate: 0.01,
            monitor,
            precision,
            ..HyperParams::default()
        };
        let run = |path| {
            train_fold_inner(&data, &p, 7, 1, Device::Cpu, &mut Silent, path, Span::default()).map(without_timings).expect("trains")
        };
        let written_out = run(StepPath::Fastest);
        let autograd = run(StepPath::Autograd);
        assert_eq!(written_out, autograd, "{activation:?} × {layers} layers, {optimizer:?}, {precision:?}");
        assert!(written_out.train_loss < 1.0, "it learns: {}", written_out.train_loss);
    }
}

/// Saves the state every `every` epochs (and at a span's end).
struct Saver {
    every: u32,
    saved: Vec<TrainState>,
}

impl FoldObserver for Saver {
    fn checkpoint_due(&self, epochs_done: u32) -> bool {
        epochs_done.is_multiple_of(self.every)
    }
    fn checkpoint(&mut self, state: TrainState) {
        self.saved.push(state);
    }
}

/// A fold stopped at any saved epoch and continued from its encoded state gives
/// bit for bit the uninterrupted fold's result (every epoch of the history, the
/// scores, the scored epoch), under both protocols, with a learning-rate cut, early
/// stopping, kept best weights, MaxNorm, every optimizer's moments and bf16; and
/// saving states does not change the training.
#[test]
fn a_fold_continued_from_its_saved_state_is_the_uninterrupted_fold() {
    let data = fold_data();
    let cases = [
        (Protocol::Notebook, OptimizerKind::Nadam, Activation::LeakyRelu, Monitor::Loss, Precision::Fp32, 4),
        (Protocol::GridSearchCv, OptimizerKind::Adam, Activation::Relu, Monitor::ValLoss, Precision::Fp32, 3),
        (Protocol::GridSearchCv, OptimizerKind::Rmsprop, Activation::LeakyRelu, Monitor::Loss, Precision::Bf16, 30),
        (Protocol::GridSearchCv, OptimizerKind::Sgd, Activation::Tanh, Monitor::Accuracy, Precision::Fp32, 30),
    ];
    for (protocol, optimizer, activation, monitor, precision, patience) in cases {
        let p = HyperParams {
            num_hidden_layers: 2,
            neurons: [24, 40, 16, 8],
            activation,
            dropout: 0.3,
            optimizer,
            batch_size: 64,
            epochs: 14,
            early_stopping_patience: patience,
            reduce_lr_patience: 2,
            learning_rate: 0.01,
            monitor: if protocol == Protocol::Notebook { Monitor::Loss } else { monitor },
            weight_constraint: Some(1.0),
            precision,
            protocol,
            ..HyperParams::default()
        };
        let what = format!("{protocol:?} {optimizer:?} {activation:?} {monitor:?} {precision:?}");
        let run = |obs: &mut dyn FoldObserver, span: Span| {
            train_fold_span(&data, &p, 7, 1, Device::Cpu, obs, span).map(without_timings).expect("trains")
        };
        let full = run(&mut Silent, Span::default());
        assert!(!full.partial);
        let mut saver = Saver { every: 3, saved: Vec::new() };
        assert_eq!(run(&mut saver, Span::default()), full, "saving changed the training: {what}");
        assert!(!saver.saved.is_empty(), "{what}");
        for state in saver.saved {
            let at = state.epochs_done();
            let decoded = TrainState::decode(&state.encode()).expect("decodes");
            assert_eq!(decoded, state);
            let continued = run(&mut Silent, Span { from: Some(decoded), until: None });
            assert_eq!(continued, full, "continued from epoch {at}: {what}");
        }
        // A span that ends early: the partial result is the fold's state at that
        // epoch, and continuing from it ends as the uninterrupted fold.
        let mut saver = Saver { every: 1000, saved: Vec::new() };
        let part = run(&mut saver, Span { from: None, until: Some(5) });
        assert_eq!(part.history[..], full.history[..part.history.len()], "{what}");
        if full.epochs_run > 5 {
            assert!(part.partial && part.epochs_run == 5, "{what}");
            let state = saver.saved.pop().expect("the state at the span's end");
            assert_eq!(state.epochs_done(), 5);
            let rest = run(&mut Silent, Span { from: Some(state), until: None });
            assert_eq!(rest, full, "{what}");
        }
    }
}

/// Under the notebook protocol the history alone says what the fold would score had
/// it stopped at any epoch e (a rung): the first epoch of best `val_accuracy` up to
/// e, its validation scores and its recorded train-fold scores, which are the
/// checkpoint's weights scored afresh.
#[test]
fn a_notebook_history_scores_every_epoch_without_training() {
    let data = fold_data();
    let p = HyperParams {
        neurons: [24, 40, 16, 8],
        dropout: 0.3,
        epochs: 16,
        batch_size: 64,
        learning_rate: 0.01,
        reduce_lr_patience: 2,
        protocol: Protocol::Notebook,
        ..HyperParams::default()
    };
    let full = train_fold_span(&data, &p, 7, 1, Device::Cpu, &mut Silent, Span::default()).map(without_timings).unwrap();
    let h = &full.history;
    assert!(h.iter().filter(|e| e.checkpoint_train_accuracy.is_some()).count() >= 2, "{h:?}");
    for e in 1..=full.epochs_run {
        let upto = &h[..e as usize];
        let best = upto.iter().map(|r| r.val_accuracy.unwrap()).fold(f64::NEG_INFINITY, f64::max);
        let kept = upto.iter().find(|r| r.val_accuracy.unwrap() == best).unwrap();
        let stopped = train_fold_span(&data, &p, 7, 1, Device::Cpu, &mut Silent, Span { from: None, until: Some(e) }).unwrap();
        assert_eq!(stopped.scored_epoch, kept.epoch, "epoch {e}");
        assert_eq!(Some(stopped.val_accuracy), kept.val_accuracy, "epoch {e}");
        assert_eq!(Some(stopped.train_accuracy), kept.checkpoint_train_accuracy, "epoch {e}");
        assert_eq!(Some(stopped.train_loss), kept.checkpoint_train_loss, "epoch {e}");
    }
    // The recorded train scores are the kept weights' scores computed afresh.
    let train = to_tensors(&data.train_x, &data.train_y, 7, Device::Cpu);
    let val = to_tensors(&data.val_x, &data.val_y, 7, Device::Cpu);
    let watch = Watch { part: Some(&val), checkpoint: true };
    let fitted = fit_epochs(&train, watch, 7, 3, &p, 7, 1, Device::Cpu, &mut Silent, StepPath::Fastest, Span::default()).unwrap();
    let kept = &fitted.history[fitted.kept_epoch as usize - 1];
    let (loss, accuracy) = evaluate(&fitted.net, &train);
    assert_eq!((kept.checkpoint_train_loss, kept.checkpoint_train_accuracy), (Some(loss), Some(accuracy)));
}

/// A state of another format or of another fold shape is refused, not misread.
#[test]
fn a_foreign_state_is_refused() {
    let data = fold_data();
    let p = HyperParams { neurons: [24, 40, 16, 8], epochs: 4, batch_size: 64, ..HyperParams::default() };
    let mut saver = Saver { every: 2, saved: Vec::new() };
    train_fold_span(&data, &p, 7, 1, Device::Cpu, &mut saver, Span::default()).unwrap();
    let state = saver.saved.pop().unwrap();
    let mut bytes = state.encode();
    bytes[10] ^= 1;
    assert!(TrainState::decode(&bytes).unwrap_err().contains("another format"));
    let wider = HyperParams { neurons: [32, 40, 16, 8], ..p.clone() };
    let e = train_fold_span(&data, &wider, 7, 1, Device::Cpu, &mut Silent, Span { from: Some(state), until: None }).unwrap_err();
    assert!(matches!(e, FoldError::BadState(_)), "{e}");
}

/// The written-out step takes the CPU ReLU/LeakyReLU cases with dropout (fp32 and
/// bf16) and leaves every other case (another activation, no dropout) to autograd.
#[test]
fn the_written_out_step_applies_only_where_it_is_exact() {
    let data = fold_data();
    let x = Tensor::from_slice(&data.train_x[..7 * 20]).view([20, 7]);
    let y = Tensor::from_slice(&data.train_y[..20]);
    let applies = |p: HyperParams| {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = DenseNet::new(&vs.root(), 7, 3, &p, &mut stream(1, 0, Stream::InitialWeights));
        let mut sampler = DropoutSampler::new(stream(1, 0, Stream::Dropout), p.dropout);
        backprop::step(&net, &x, &y, &mut sampler, &mut backprop::Scratch::default())
            .map(|s| s.grads.len() == net.parameters().len())
    };
    let base = HyperParams { num_hidden_layers: 2, neurons: [8, 8, 8, 8], ..HyperParams::default() };
    assert_eq!(applies(base.clone()), Some(true));
    assert_eq!(applies(HyperParams { activation: Activation::Relu, ..base.clone() }), Some(true));
    assert_eq!(applies(HyperParams { activation: Activation::Tanh, ..base.clone() }), None);
    assert_eq!(applies(HyperParams { dropout: 0.0, ..base.clone() }), None);
    assert_eq!(applies(HyperParams { precision: Precision::Bf16, ..base.clone() }), Some(true));
    assert_eq!(applies(HyperParams { activation: Activation::Gelu, precision: Precision::Bf16, ..base }), None);
}
