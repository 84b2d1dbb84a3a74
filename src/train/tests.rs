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
        y.push(if s < -0.7 {
            0
        } else if s < 0.7 {
            1
        } else {
            2
        });
        x.extend(row);
    }
    (x, y)
}

fn fold_data() -> FoldData {
    let (train_x, train_y) = synthetic(230, 1);
    let (val_x, val_y) = synthetic(90, 2);
    FoldData {
        n_features: 7,
        n_classes: 3,
        train_x,
        train_y,
        val_x,
        val_y,
    }
}

/// States without their seconds of training (which no two runs share).
fn untimed(states: Vec<TrainState>) -> Vec<TrainState> {
    states
        .into_iter()
        .map(|s| TrainState { seconds: 0.0, ..s })
        .collect()
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
        (
            Activation::LeakyRelu,
            3,
            OptimizerKind::Nadam,
            Monitor::Loss,
            Precision::Fp32,
        ),
        (
            Activation::Relu,
            2,
            OptimizerKind::Adam,
            Monitor::ValLoss,
            Precision::Fp32,
        ),
        (
            Activation::LeakyRelu,
            1,
            OptimizerKind::Sgd,
            Monitor::Accuracy,
            Precision::Fp32,
        ),
        (
            Activation::LeakyRelu,
            3,
            OptimizerKind::Nadam,
            Monitor::Loss,
            Precision::Bf16,
        ),
        (
            Activation::Relu,
            2,
            OptimizerKind::Adam,
            Monitor::ValLoss,
            Precision::Bf16,
        ),
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
            train_fold_inner(
                &data,
                &p,
                7,
                1,
                Device::Cpu,
                &mut Silent,
                path,
                Span::default(),
            )
            .map(without_timings)
            .expect("trains")
        };
        let written_out = run(StepPath::Fastest);
        let autograd = run(StepPath::Autograd);
        assert_eq!(
            written_out, autograd,
            "{activation:?} × {layers} layers, {optimizer:?}, {precision:?}"
        );
        assert!(
            written_out.train_loss < 1.0,
            "it learns: {}",
            written_out.train_loss
        );
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
        (
            Protocol::Notebook,
            OptimizerKind::Nadam,
            Activation::LeakyRelu,
            Monitor::Loss,
            Precision::Fp32,
            4,
        ),
        (
            Protocol::GridSearchCv,
            OptimizerKind::Adam,
            Activation::Relu,
            Monitor::ValLoss,
            Precision::Fp32,
            3,
        ),
        (
            Protocol::GridSearchCv,
            OptimizerKind::Rmsprop,
            Activation::LeakyRelu,
            Monitor::Loss,
            Precision::Bf16,
            30,
        ),
        (
            Protocol::GridSearchCv,
            OptimizerKind::Sgd,
            Activation::Tanh,
            Monitor::Accuracy,
            Precision::Fp32,
            30,
        ),
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
            monitor: if protocol == Protocol::Notebook {
                Monitor::Loss
            } else {
                monitor
            },
            weight_constraint: Some(1.0),
            precision,
            protocol,
            ..HyperParams::default()
        };
        let what = format!("{protocol:?} {optimizer:?} {activation:?} {monitor:?} {precision:?}");
        let run = |obs: &mut dyn FoldObserver, span: Span| {
            train_fold_span(&data, &p, 7, 1, Device::Cpu, obs, span)
                .map(without_timings)
                .expect("trains")
        };
        let full = run(&mut Silent, Span::default());
        assert!(!full.partial);
        let mut saver = Saver {
            every: 3,
            saved: Vec::new(),
        };
        assert_eq!(
            run(&mut saver, Span::default()),
            full,
            "saving changed the training: {what}"
        );
        assert!(!saver.saved.is_empty(), "{what}");
        for state in saver.saved {
            let at = state.epochs_done();
            let decoded = TrainState::decode(&state.encode()).expect("decodes");
            assert_eq!(decoded, state);
            let continued = run(
                &mut Silent,
                Span {
                    from: Some(decoded),
                    until: None,
                },
            );
            assert_eq!(continued, full, "continued from epoch {at}: {what}");
        }
        // A span that ends early: the partial result is the fold's state at that
        // epoch, and continuing from it ends as the uninterrupted fold.
        let mut saver = Saver {
            every: 1000,
            saved: Vec::new(),
        };
        let part = run(
            &mut saver,
            Span {
                from: None,
                until: Some(5),
            },
        );
        assert_eq!(
            part.history[..],
            full.history[..part.history.len()],
            "{what}"
        );
        if full.epochs_run > 5 {
            assert!(part.partial && part.epochs_run == 5, "{what}");
            let state = saver.saved.pop().expect("the state at the span's end");
            assert_eq!(state.epochs_done(), 5);
            let rest = run(
                &mut Silent,
                Span {
                    from: Some(state),
                    until: None,
                },
            );
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
    let full = train_fold_span(&data, &p, 7, 1, Device::Cpu, &mut Silent, Span::default())
        .map(without_timings)
        .unwrap();
    let h = &full.history;
    assert!(
        h.iter()
            .filter(|e| e.checkpoint_train_accuracy.is_some())
            .count()
            >= 2,
        "{h:?}"
    );
    for e in 1..=full.epochs_run {
        let upto = &h[..e as usize];
        let best = upto
            .iter()
            .map(|r| r.val_accuracy.unwrap())
            .fold(f64::NEG_INFINITY, f64::max);
        let kept = upto
            .iter()
            .find(|r| r.val_accuracy.unwrap() == best)
            .unwrap();
        let stopped = train_fold_span(
            &data,
            &p,
            7,
            1,
            Device::Cpu,
            &mut Silent,
            Span {
                from: None,
                until: Some(e),
            },
        )
        .unwrap();
        assert_eq!(stopped.scored_epoch, kept.epoch, "epoch {e}");
        assert_eq!(Some(stopped.val_accuracy), kept.val_accuracy, "epoch {e}");
        assert_eq!(
            Some(stopped.train_accuracy),
            kept.checkpoint_train_accuracy,
            "epoch {e}"
        );
        assert_eq!(
            Some(stopped.train_loss),
            kept.checkpoint_train_loss,
            "epoch {e}"
        );
    }
    // The recorded train scores are the kept weights' scores computed afresh.
    let train = to_tensors(&data.train_x, &data.train_y, 7, Device::Cpu);
    let val = to_tensors(&data.val_x, &data.val_y, 7, Device::Cpu);
    let watch = Watch {
        part: Some(&val),
        checkpoint: true,
    };
    let fitted = fit_epochs(
        &train,
        watch,
        7,
        3,
        &p,
        7,
        1,
        Device::Cpu,
        &mut Silent,
        StepPath::Fastest,
        Span::default(),
        Clock::Alone(std::time::Instant::now()),
    )
    .unwrap();
    let kept = &fitted.history[fitted.kept_epoch as usize - 1];
    let (loss, accuracy) = evaluate(&fitted.net, &train);
    assert_eq!(
        (kept.checkpoint_train_loss, kept.checkpoint_train_accuracy),
        (Some(loss), Some(accuracy))
    );
}

/// A state of another format or of another fold shape is refused, not misread.
#[test]
fn a_foreign_state_is_refused() {
    let data = fold_data();
    let p = HyperParams {
        neurons: [24, 40, 16, 8],
        epochs: 4,
        batch_size: 64,
        ..HyperParams::default()
    };
    let mut saver = Saver {
        every: 2,
        saved: Vec::new(),
    };
    train_fold_span(&data, &p, 7, 1, Device::Cpu, &mut saver, Span::default()).unwrap();
    let state = saver.saved.pop().unwrap();
    let mut bytes = state.encode();
    bytes[10] ^= 1;
    assert!(TrainState::decode(&bytes)
        .unwrap_err()
        .contains("another format"));
    let wider = HyperParams {
        neurons: [32, 40, 16, 8],
        ..p.clone()
    };
    let e = train_fold_span(
        &data,
        &wider,
        7,
        1,
        Device::Cpu,
        &mut Silent,
        Span {
            from: Some(state),
            until: None,
        },
    )
    .unwrap_err();
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
        let net = DenseNet::new(
            &vs.root(),
            7,
            3,
            &p,
            &mut stream(1, 0, Stream::InitialWeights),
        );
        let mut sampler = DropoutSampler::new(stream(1, 0, Stream::Dropout), p.dropout);
        backprop::step(
            &net,
            &x,
            &y,
            &mut sampler,
            &mut backprop::Scratch::default(),
        )
        .map(|s| s.grads.len() == net.parameters().len())
    };
    let base = HyperParams {
        num_hidden_layers: 2,
        neurons: [8, 8, 8, 8],
        ..HyperParams::default()
    };
    assert_eq!(applies(base.clone()), Some(true));
    assert_eq!(
        applies(HyperParams {
            activation: Activation::Relu,
            ..base.clone()
        }),
        Some(true)
    );
    assert_eq!(
        applies(HyperParams {
            activation: Activation::Tanh,
            ..base.clone()
        }),
        None
    );
    assert_eq!(
        applies(HyperParams {
            dropout: 0.0,
            ..base.clone()
        }),
        None
    );
    assert_eq!(
        applies(HyperParams {
            precision: Precision::Bf16,
            ..base.clone()
        }),
        Some(true)
    );
    assert_eq!(
        applies(HyperParams {
            activation: Activation::Gelu,
            precision: Precision::Bf16,
            ..base
        }),
        None
    );
}

/// Fused training (`fused`): sixteen folds of one network shape and batch size, with
/// their own seeds, folds, dropout rates, activations, optimizers, learning rates,
/// callbacks and both protocols (early stopping at different epochs, a val_* monitor
/// fitting on fewer rows, MaxNorm), plus one that cannot fuse (tanh) and one of another
/// batch size. Trained in groups of 1, 3 and all of them, each fold's result is bit for
/// bit its unfused result: a member's result does not depend on its group.
#[test]
fn fused_folds_train_bit_for_bit_as_alone_whatever_their_group() {
    for precision in [Precision::Fp32, Precision::Bf16] {
        let data = fold_data();
        let configs: Vec<(HyperParams, u64, u64)> = (0..18u32)
            .map(|i| {
                let p = HyperParams {
                    num_hidden_layers: 2,
                    neurons: [24, 40, 16, 8],
                    activation: if i % 3 == 0 {
                        Activation::Relu
                    } else {
                        Activation::LeakyRelu
                    },
                    dropout: [0.2, 0.3, 0.5][i as usize % 3],
                    optimizer: [
                        OptimizerKind::Adam,
                        OptimizerKind::Nadam,
                        OptimizerKind::Sgd,
                        OptimizerKind::Rmsprop,
                    ][i as usize % 4],
                    learning_rate: [0.01, 0.003][i as usize % 2],
                    batch_size: 64,
                    epochs: 6 + i % 5,
                    early_stopping_patience: 1 + i % 3,
                    reduce_lr_patience: 1,
                    monitor: if i % 5 == 1 {
                        Monitor::ValLoss
                    } else {
                        Monitor::Loss
                    },
                    weight_constraint: (i % 4 == 2).then_some(1.0),
                    protocol: if i % 2 == 0 {
                        Protocol::Notebook
                    } else {
                        Protocol::GridSearchCv
                    },
                    precision,
                    ..HyperParams::default()
                };
                let p = match i {
                    16 => HyperParams {
                        activation: Activation::Tanh,
                        ..p
                    },
                    17 => HyperParams {
                        batch_size: 48,
                        ..p
                    },
                    _ => p,
                };
                (p, 3 + i as u64 % 4, i as u64 % 3)
            })
            .collect();
        let alone: Vec<FoldResult> = configs
            .iter()
            .map(|(p, seed, fold)| {
                train_fold(&data, p, *seed, *fold, Device::Cpu, &mut Silent)
                    .map(without_timings)
                    .expect("trains")
            })
            .collect();
        let epochs: std::collections::BTreeSet<u32> = alone.iter().map(|r| r.epochs_run).collect();
        assert!(
            epochs.len() >= 3,
            "members leave at different epochs: {epochs:?}"
        );
        for size in [1, 3, configs.len()] {
            let mut got: Vec<Option<FoldResult>> = vec![None; configs.len()];
            for chunk in (0..configs.len()).collect::<Vec<_>>().chunks(size) {
                let mut observers: Vec<Silent> = chunk.iter().map(|_| Silent).collect();
                let folds = chunk
                    .iter()
                    .zip(observers.iter_mut())
                    .map(|(&i, obs)| fused::GroupFold {
                        data: &data,
                        p: &configs[i].0,
                        seed: configs[i].1,
                        fold: configs[i].2,
                        observer: obs,
                        span: Span::default(),
                    })
                    .collect();
                fused::train_group(folds, Device::Cpu, &mut |k, r| {
                    assert!(got[chunk[k]].is_none(), "one result per fold");
                    got[chunk[k]] = Some(r.map(without_timings).expect("trains"));
                });
            }
            for (i, (g, a)) in got.into_iter().zip(&alone).enumerate() {
                assert_eq!(
                    g.as_ref(),
                    Some(a),
                    "{precision:?}, groups of {size}: fold {i} ({:?})",
                    configs[i].0
                );
            }
        }
    }
}

/// In a group, a fold continued from a saved state (and stopped at a rung's budget)
/// gives what it gives alone, with the same states saved; a fold cancelled mid-group
/// saves its state and says so while the others go on to their results.
#[test]
fn fused_folds_resume_and_cancel_as_alone() {
    let data = fold_data();
    let p = HyperParams {
        neurons: [24, 40, 16, 8],
        dropout: 0.3,
        batch_size: 64,
        epochs: 9,
        early_stopping_patience: 30,
        protocol: Protocol::Notebook,
        ..HyperParams::default()
    };
    let q = HyperParams {
        optimizer: OptimizerKind::Nadam,
        protocol: Protocol::GridSearchCv,
        ..p.clone()
    };
    // A state at epoch 3 of fold (p, 7, 0), saved by the unfused run.
    let mut saver = Saver {
        every: 3,
        saved: Vec::new(),
    };
    train_fold_span(&data, &p, 7, 0, Device::Cpu, &mut saver, Span::default()).unwrap();
    let state = saver
        .saved
        .into_iter()
        .find(|s| s.epochs_done() == 3)
        .expect("a state at epoch 3");
    let alone_span = {
        let mut s = Saver {
            every: 2,
            saved: Vec::new(),
        };
        let r = train_fold_span(
            &data,
            &p,
            7,
            0,
            Device::Cpu,
            &mut s,
            Span {
                from: Some(state.clone()),
                until: Some(7),
            },
        )
        .map(without_timings)
        .unwrap();
        (r, s.saved)
    };
    let alone_q = train_fold(&data, &q, 8, 1, Device::Cpu, &mut Silent)
        .map(without_timings)
        .unwrap();

    /// Cancels before its epoch `at` (saving states every epoch).
    struct CancelAt {
        at: u32,
        epochs: std::cell::Cell<u32>,
        saved: Vec<TrainState>,
    }
    impl FoldObserver for CancelAt {
        fn on_epoch(&mut self, p: EpochProgress) {
            self.epochs.set(p.epoch);
        }
        fn cancelled(&self) -> bool {
            self.epochs.get() >= self.at
        }
        fn checkpoint(&mut self, state: TrainState) {
            self.saved.push(state);
        }
    }
    let mut span_saver = Saver {
        every: 2,
        saved: Vec::new(),
    };
    let mut cancel = CancelAt {
        at: 4,
        epochs: std::cell::Cell::new(0),
        saved: Vec::new(),
    };
    let mut silent = Silent;
    let folds = vec![
        fused::GroupFold {
            data: &data,
            p: &p,
            seed: 7,
            fold: 0,
            observer: &mut span_saver,
            span: Span {
                from: Some(state),
                until: Some(7),
            },
        },
        fused::GroupFold {
            data: &data,
            p: &q,
            seed: 8,
            fold: 1,
            observer: &mut silent,
            span: Span::default(),
        },
        fused::GroupFold {
            data: &data,
            p: &q,
            seed: 9,
            fold: 2,
            observer: &mut cancel,
            span: Span::default(),
        },
    ];
    let mut got: Vec<Option<Result<FoldResult, FoldError>>> = vec![None, None, None];
    fused::train_group(folds, Device::Cpu, &mut |k, r| {
        got[k] = Some(r.map(without_timings))
    });
    assert_eq!(got[0].clone().unwrap().unwrap(), alone_span.0);
    assert!(alone_span.0.partial && alone_span.0.epochs_run == 7);
    assert_eq!(
        untimed(span_saver.saved),
        untimed(alone_span.1),
        "the same states saved"
    );
    assert_eq!(got[1].clone().unwrap().unwrap(), alone_q);
    assert_eq!(got[2].clone().unwrap().unwrap_err(), FoldError::Cancelled);
    let last = cancel.saved.last().expect("the cancelled fold's state");
    assert_eq!(last.epochs_done(), 4);
    // Its state continues, alone, to its uninterrupted result.
    let whole = train_fold(&data, &q, 9, 2, Device::Cpu, &mut Silent)
        .map(without_timings)
        .unwrap();
    let rest = train_fold_span(
        &data,
        &q,
        9,
        2,
        Device::Cpu,
        &mut Silent,
        Span {
            from: Some(last.clone()),
            until: None,
        },
    )
    .map(without_timings)
    .unwrap();
    assert_eq!(rest, whole);
}

/// A fold's `fit_seconds` is its whole training's: a fold continued from a saved state
/// counts the seconds before the state (which the state carries) and after it.
#[test]
fn a_resumed_folds_fit_time_counts_every_span() {
    let data = fold_data();
    let p = HyperParams {
        neurons: [64, 64, 64, 8],
        dropout: 0.3,
        batch_size: 16,
        epochs: 12,
        early_stopping_patience: 100,
        ..HyperParams::default()
    };
    let mut saver = Saver {
        every: 1000,
        saved: Vec::new(),
    };
    let first = train_fold_span(
        &data,
        &p,
        7,
        0,
        Device::Cpu,
        &mut saver,
        Span {
            from: None,
            until: Some(6),
        },
    )
    .unwrap();
    let state = saver.saved.pop().expect("the state at the span's end");
    assert!(
        state.seconds > 0.0 && state.seconds <= first.fit_seconds,
        "{} of {}",
        state.seconds,
        first.fit_seconds
    );
    let decoded = TrainState::decode(&state.encode()).unwrap();
    assert_eq!(decoded.seconds, state.seconds);
    let before = std::time::Instant::now();
    let rest = train_fold_span(
        &data,
        &p,
        7,
        0,
        Device::Cpu,
        &mut Silent,
        Span {
            from: Some(decoded),
            until: None,
        },
    )
    .unwrap();
    let this_span = before.elapsed().as_secs_f64();
    assert!(
        rest.fit_seconds > state.seconds,
        "{} ≤ the {} s before the state",
        rest.fit_seconds,
        state.seconds
    );
    assert!(
        (rest.fit_seconds - state.seconds) <= this_span,
        "the rest took at most this span's {this_span} s"
    );
}

/// The folds of a fused group share its time: each records its share, so that their
/// `fit_seconds` add up to at most the group's wall time (and most of it), where each
/// recording the group's time would add up to about three times that.
#[test]
fn fused_folds_record_their_share_of_the_groups_time() {
    let data = fold_data();
    let p = HyperParams {
        neurons: [64, 64, 64, 8],
        dropout: 0.3,
        batch_size: 16,
        epochs: 10,
        early_stopping_patience: 100,
        ..HyperParams::default()
    };
    let mut observers = [Silent, Silent, Silent];
    let folds = observers
        .iter_mut()
        .enumerate()
        .map(|(i, obs)| fused::GroupFold {
            data: &data,
            p: &p,
            seed: 7,
            fold: i as u64,
            observer: obs,
            span: Span::default(),
        })
        .collect();
    let mut seconds = Vec::new();
    let started = std::time::Instant::now();
    fused::train_group(folds, Device::Cpu, &mut |_, r| {
        seconds.push(r.expect("trains").fit_seconds)
    });
    let wall = started.elapsed().as_secs_f64();
    let sum: f64 = seconds.iter().sum();
    assert_eq!(seconds.len(), 3);
    assert!(
        sum <= wall && sum >= 0.5 * wall,
        "shares {seconds:?} add up to {sum} s of the group's {wall} s"
    );
}
