//! Training through the library's public interface, on small synthetic data.

use gridsweep::cv::{self, CvData};
use gridsweep::data::{demo, DatasetSpec};
use gridsweep::params::HyperParams;
use gridsweep::rng::{stream, Stream};
use gridsweep::train::{self, model::DenseNet, FoldError, Silent};
use std::path::PathBuf;
use tch::{nn, Device, Kind};

fn demo_file(name: &str, rows: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gridsweep-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    demo::write_csv(&path, rows, 7).unwrap();
    path
}

fn small_params() -> HyperParams {
    let mut p = HyperParams::default();
    for s in [
        "epochs=4",
        "batch_size=64",
        "neurons_1=32",
        "neurons_2=32",
        "neurons_3=16",
    ] {
        p.set_assignment(s).unwrap();
    }
    p
}

#[test]
fn study_final_model_has_402438_parameters() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut rng = stream(1, 0, Stream::InitialWeights);
    let _net = DenseNet::new(&vs.root(), 19, 6, &HyperParams::default(), &mut rng);
    let total: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    assert_eq!(total, 402_438);
}

#[test]
fn glorot_uniform_bounds_and_zero_biases() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut rng = stream(1, 0, Stream::InitialWeights);
    let _net = DenseNet::new(&vs.root(), 19, 6, &HyperParams::default(), &mut rng);
    let vars = vs.variables();
    let w = &vars["dense0.weight"];
    assert_eq!(w.size(), vec![256, 19]);
    let limit = (6.0f64 / (19.0 + 256.0)).sqrt();
    let max = w.abs().max().double_value(&[]);
    assert!(
        max <= limit && max > 0.9 * limit,
        "max |w| {max}, limit {limit}"
    );
    assert_eq!(
        vars["dense0.bias"].abs().sum(Kind::Float).double_value(&[]),
        0.0
    );
}

#[test]
fn max_norm_clips_first_layer_columns() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut rng = stream(1, 0, Stream::InitialWeights);
    let mut p = HyperParams::default();
    p.set_assignment("weight_constraint=0.5").unwrap();
    let mut net = DenseNet::new(&vs.root(), 19, 6, &p, &mut rng);
    let mut w = vs.variables()["dense0.weight"].shallow_clone();
    tch::no_grad(|| {
        w *= 10.0;
    });
    net.apply_constraints();
    let norms = w.square().sum_dim_intlist(1, false, Kind::Float).sqrt();
    let max = norms.max().double_value(&[]);
    assert!(max <= 0.5 + 1e-5 && max > 0.49, "max norm {max}");
    // Other layers are untouched.
    let w2 = &vs.variables()["dense1.weight"];
    let n2 = w2
        .square()
        .sum_dim_intlist(1, false, Kind::Float)
        .sqrt()
        .max()
        .double_value(&[]);
    assert!(n2 > 0.5, "{n2}");
}

#[test]
fn folds_are_deterministic_alone_or_beside_other_threads() {
    let path = demo_file("det.csv", 900);
    let data = CvData::load(&DatasetSpec::new(&path), 3).unwrap();
    let p = small_params();
    tch::set_num_threads(1);
    let alone = train::train_fold(&data.fold(1), &p, 5, 1, Device::Cpu, &mut Silent).unwrap();
    // Fold 1 again while folds 0 and 2 and a different seed train in other threads.
    let busy = std::thread::scope(|s| {
        let others: Vec<_> = [(0u64, 5u64), (2, 5), (1, 99)]
            .into_iter()
            .map(|(k, seed)| {
                let (data, p) = (&data, &p);
                s.spawn(move || {
                    tch::set_num_threads(1);
                    train::train_fold(&data.fold(k as usize), p, seed, k, Device::Cpu, &mut Silent)
                })
            })
            .collect();
        let mine = s.spawn(|| {
            tch::set_num_threads(1);
            train::train_fold(&data.fold(1), &p, 5, 1, Device::Cpu, &mut Silent)
        });
        let mine = mine.join().unwrap().unwrap();
        let other_seed = others
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .last()
            .unwrap();
        (mine, other_seed)
    });
    let (mine, other_seed) = busy;
    assert_eq!(alone.history, mine.history);
    assert_eq!(alone.train_accuracy, mine.train_accuracy);
    assert_eq!(alone.val_accuracy, mine.val_accuracy);
    assert_eq!(alone.val_loss, mine.val_loss);
    // and the seed matters
    assert_ne!(alone.history, other_seed.history);
}

#[test]
fn cv_learns_the_demo_data_well_above_chance() {
    let path = demo_file("learn.csv", 1500);
    let data = CvData::load(&DatasetSpec::new(&path), 3).unwrap();
    let mut p = small_params();
    p.set_assignment("epochs=25").unwrap();
    let results = cv::run_folds(&data, &p, 42, Device::Cpu, 2, 1);
    let folds: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    let s = cv::summarize(&folds, &cv::ScoreRule::default());
    let majority = *data.prepared.dataset.class_counts().iter().max().unwrap() as f64
        / data.prepared.dataset.y.len() as f64;
    assert!(
        s.mean_val_accuracy > majority + 0.08,
        "val {} vs majority {majority}",
        s.mean_val_accuracy
    );
    assert!(s.mean_val_accuracy < 0.95);
    assert_eq!(
        s.delta_accuracy,
        s.mean_train_accuracy - s.mean_val_accuracy
    );
    // Epoch history is complete and the losses go down.
    for f in &folds {
        assert_eq!(f.history.len() as u32, f.epochs_run);
        assert!(f.history.last().unwrap().loss < f.history[0].loss);
    }
}

#[test]
fn every_optimizer_and_activation_trains() {
    let path = demo_file("opts.csv", 600);
    let data = CvData::load(&DatasetSpec::new(&path), 3).unwrap();
    let fold = data.fold(0);
    for (opt, act) in [
        ("adam", "relu"),
        ("sgd", "elu"),
        ("rmsprop", "selu"),
        ("adamw", "tanh"),
        ("nadam", "sigmoid"),
        ("adam", "gelu"),
        ("adam", "swish"),
    ] {
        let mut p = small_params();
        p.set_assignment(&format!("optimizer={opt}")).unwrap();
        p.set_assignment(&format!("activation={act}")).unwrap();
        let r = train::train_fold(&fold, &p, 1, 0, Device::Cpu, &mut Silent).unwrap();
        assert!(
            r.train_loss.is_finite() && r.val_accuracy > 0.2,
            "{opt}/{act}: {r:?}"
        );
    }
}

#[test]
fn a_diverging_fold_fails_with_its_epoch() {
    let path = demo_file("diverge.csv", 600);
    let data = CvData::load(&DatasetSpec::new(&path), 3).unwrap();
    let mut p = small_params();
    for s in [
        "optimizer=sgd",
        "learning_rate=1e12",
        "activation=relu",
        "weight_constraint=0",
        "dropout=0",
    ] {
        p.set_assignment(s).unwrap();
    }
    let e = train::train_fold(&data.fold(0), &p, 1, 0, Device::Cpu, &mut Silent).unwrap_err();
    match e {
        FoldError::Diverged { epoch, .. } => assert!((1..=4).contains(&epoch)),
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(e.to_string().starts_with("diverged at epoch "));
}

#[test]
fn val_loss_monitor_uses_an_inner_hold_out_and_restores_best_weights() {
    let path = demo_file("inner.csv", 900);
    let data = CvData::load(&DatasetSpec::new(&path), 3).unwrap();
    let mut p = small_params();
    for s in [
        "monitor=val_loss",
        "epochs=30",
        "early_stopping_patience=3",
        "learning_rate=0.01",
    ] {
        p.set_assignment(s).unwrap();
    }
    let r = train::train_fold(&data.fold(0), &p, 3, 0, Device::Cpu, &mut Silent).unwrap();
    assert!(r
        .history
        .iter()
        .all(|e| e.val_loss.is_some() && e.val_accuracy.is_some()));
    let best = r
        .history
        .iter()
        .map(|e| e.val_loss.unwrap())
        .fold(f64::INFINITY, f64::min);
    let best_epoch = r
        .history
        .iter()
        .position(|e| e.val_loss.unwrap() == best)
        .unwrap();
    // Early stopping waited `patience` epochs after the best one, or ran out of epochs.
    assert!(
        r.epochs_run as usize == best_epoch + 1 + 3 || r.epochs_run == 30,
        "{:?}",
        r.history
    );
}
