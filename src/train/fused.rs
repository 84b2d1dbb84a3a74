//! Fused training: several folds of same-shape networks trained as one.
//!
//! Why: a small dense net's step is a handful of small products, and on a GPU each is a
//! kernel launch that leaves most of the chip idle. Stacking N networks' weights along a
//! member axis turns each layer's N products into one batched product (`baddbmm`,
//! `bmm`), as HFTA (Wang et al., MLSys 2021) does for many trainings on one accelerator.
//!
//! What fuses is only the products. Everything else stays each fold's own, run by its
//! own [`FoldRun`](super::FoldRun): its initial weights, data order and dropout masks
//! (its own seeded streams), its activation's factors, its optimizer and callbacks,
//! early stopping and best-weight restore, the notebook protocol's checkpoints, its
//! saved training states, its cancellation. The folds run their epoch loops in step,
//! batch by batch; a fold whose training ends (early stopping, its span's end, an
//! error) leaves the group and costs nothing more.
//!
//! The same answer: each member's slice of a batched product is computed as the
//! unfused product is (`baddbmm` for `linear`'s `addmm`, `bmm` for the backward's two
//! `mm`s), and every other operation runs on the member's own slice, so where the
//! backend computes a slice of a batched product as it computes the product alone
//! (the CPU with one thread, checked by `scripts/fusion-kernels.py` and by the tests
//! here, whole trainings bit for bit) a fused fold trains to exactly its unfused
//! result, whatever else is in its group. Where it does not (a GPU's batched kernels),
//! the difference is measured by `scripts/gpu-check.sh`.
//!
//! What fuses: folds whose networks have the same layer widths and kind (fp32, bf16),
//! with ReLU or LeakyReLU and dropout (the study's model, the case `backprop` writes
//! out on the CPU); their batches of the same size step together. Other folds in a
//! group train in the same lock step, each with its own unfused step.

use super::{
    Clock, FoldData, FoldError, FoldObserver, FoldResult, FoldRun, Prepared, Span, StepPath,
};
use crate::params::HyperParams;
use std::time::Instant;
use tch::{Device, Kind, Reduction, Tensor};

/// One fold of a group: its data, configuration, random streams (`seed`, `fold`), the
/// observer its progress, states and cancellation go through, and its span.
pub struct GroupFold<'a> {
    pub data: &'a FoldData,
    pub p: &'a HyperParams,
    pub seed: u64,
    pub fold: u64,
    pub observer: &'a mut dyn FoldObserver,
    pub span: Span,
}

/// What must agree for folds to share batched products: the layer widths and the
/// kind of the products (and the data's features and classes, which a sweep's
/// configurations share); and what makes them worth sharing: the same batch size, so
/// that their steps coincide. Batches of different sizes (an epoch's partial last
/// batch, folds of different row counts) are stepped apart, so a fold's result never
/// depends on its group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub widths: Vec<i64>,
    pub precision: crate::params::Precision,
    pub batch_size: u32,
    /// ReLU or LeakyReLU with dropout: the step fuses; otherwise the members step
    /// one by one (in lock step).
    pub fusable: bool,
}

impl GroupKey {
    /// `hidden 128×256, batch 64, fp32` (and `, steps apart` where it cannot fuse).
    pub fn describe(&self) -> String {
        let widths: Vec<String> = self.widths.iter().map(i64::to_string).collect();
        let apart = if self.fusable {
            ""
        } else {
            ", steps apart (not ReLU/LeakyReLU with dropout)"
        };
        format!(
            "hidden {}, batch {}, {}{apart}",
            widths.join("×"),
            self.batch_size,
            self.precision.name()
        )
    }

    pub fn of(p: &HyperParams) -> GroupKey {
        GroupKey {
            widths: p.hidden_widths(),
            precision: p.precision,
            batch_size: p.batch_size,
            fusable: matches!(
                p.activation,
                crate::params::Activation::Relu | crate::params::Activation::LeakyRelu
            ) && p.dropout > 0.0,
        }
    }
}

/// Trains `folds` on `device` as groups of same-key folds (see [`GroupKey`]), each
/// group's folds in step with their products batched, and calls `done(i, result)` for
/// fold `i` as soon as it leaves its group (its training over, failed or cancelled),
/// so that its result can be recorded while the others go on. Each fold's result is
/// the one [`super::train_fold_span`] gives it; `fit_seconds` is the fold's share of
/// the group's time: its own setup, epochs' starts and ends and unfused steps, and an
/// equal share of each fused step (so the group's folds add up to the group's time).
pub fn train_group(
    folds: Vec<GroupFold<'_>>,
    device: Device,
    done: &mut dyn FnMut(usize, Result<FoldResult, FoldError>),
) {
    // Sub-groups by key, in the order of their first fold.
    let mut keys: Vec<((GroupKey, usize, usize), Vec<usize>)> = Vec::new();
    for (i, f) in folds.iter().enumerate() {
        let key = (GroupKey::of(f.p), f.data.n_features, f.data.n_classes);
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => keys.push((key, vec![i])),
        }
    }
    let mut slots: Vec<Option<GroupFold>> = folds.into_iter().map(Some).collect();
    for (key, members) in keys {
        let group: Vec<(usize, GroupFold)> = members
            .iter()
            .map(|&i| (i, slots[i].take().expect("each fold in one group")))
            .collect();
        let mut reported = vec![false; slots.len()];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_group(group, key.0.fusable, device, &mut |i, r| {
                reported[i] = true;
                done(i, r);
            })
        }));
        if let Err(panic) = outcome {
            let why = super::panic_message(&panic);
            for &i in &members {
                if !reported[i] {
                    done(i, Err(FoldError::Torch(why.clone())));
                }
            }
        }
    }
}

fn run_group(
    group: Vec<(usize, GroupFold)>,
    fusable: bool,
    device: Device,
    done: &mut dyn FnMut(usize, Result<FoldResult, FoldError>),
) {
    // Each fold's tensors first (the runs borrow them), then its run; each timed as
    // the fold's own.
    let mut prepared: Vec<(usize, Prepared, GroupFold, f64)> = Vec::new();
    for (i, f) in group {
        let t = Instant::now();
        match Prepared::new(f.data, f.p, f.seed, f.fold, device) {
            Ok(p) => prepared.push((i, p, f, t.elapsed().as_secs_f64())),
            Err(e) => done(i, Err(e)),
        }
    }
    let mut running: Vec<(usize, &Prepared, FoldRun)> = Vec::new();
    for (i, prep, f, setup) in prepared.iter_mut() {
        let d = f.data;
        let t = Instant::now();
        let span = std::mem::take(&mut f.span);
        match FoldRun::new(
            &prep.fit,
            prep.watch(),
            d.n_features,
            d.n_classes,
            f.p,
            f.seed,
            f.fold,
            device,
            &mut *f.observer,
            span,
            Clock::Charged(*setup),
        ) {
            Ok(mut run) => {
                run.charge(t.elapsed().as_secs_f64());
                running.push((*i, &*prep, run))
            }
            Err(e) => done(*i, Err(e)),
        }
    }
    while !running.is_empty() {
        // Folds whose training is over leave before the epoch.
        let mut members = Vec::with_capacity(running.len());
        for (i, prep, mut run) in running.drain(..) {
            let t = Instant::now();
            match run.begin_epoch() {
                Ok(true) => {
                    run.charge(t.elapsed().as_secs_f64());
                    members.push((i, prep, run))
                }
                Ok(false) => done(i, Ok(prep.score(run.finish()))),
                Err(e) => done(i, Err(e)),
            }
        }
        // Batch by batch until every member's epoch is through; batches of the same
        // size step together.
        loop {
            let mut pending: Vec<(&mut FoldRun, (Tensor, Tensor))> = members
                .iter_mut()
                .filter_map(|(_, _, r)| r.next_batch().map(|b| (r, b)))
                .collect();
            if pending.is_empty() {
                break;
            }
            while !pending.is_empty() {
                let rows = pending[0].1 .0.size()[0];
                let (same, rest): (Vec<_>, Vec<_>) = pending
                    .into_iter()
                    .partition(|(_, (x, _))| x.size()[0] == rows);
                pending = rest;
                let (mut runs, batches): (Vec<&mut FoldRun>, Vec<(Tensor, Tensor)>) =
                    same.into_iter().unzip();
                let t = Instant::now();
                if fusable {
                    step_fused(&mut runs, &batches);
                    let share = t.elapsed().as_secs_f64() / runs.len() as f64;
                    runs.iter_mut().for_each(|r| r.charge(share));
                } else {
                    for (run, (xb, yb)) in runs.iter_mut().zip(&batches) {
                        let t = Instant::now();
                        run.step_alone(xb, yb, StepPath::Fastest);
                        run.charge(t.elapsed().as_secs_f64());
                    }
                }
            }
        }
        for (i, prep, mut run) in members {
            let t = Instant::now();
            match run.end_epoch() {
                Ok(()) => {
                    run.charge(t.elapsed().as_secs_f64());
                    running.push((i, prep, run))
                }
                Err(e) => done(i, Err(e)),
            }
        }
    }
}

/// One training step of every member, their products batched: forward with each
/// member's dropout and activation, cross-entropy, backward, then each member's own
/// update (`FoldRun::take_step`). The arithmetic per member is `backprop::step`'s
/// (the products as `baddbmm`/`bmm` slices, everything else on the member's slice).
fn step_fused(runs: &mut [&mut FoldRun], batches: &[(Tensor, Tensor)]) {
    let kind = runs[0].net.compute_kind();
    let cast = |t: &Tensor| {
        if kind == Kind::Float {
            t.shallow_clone()
        } else {
            t.to_kind(kind)
        }
    };
    let to_fp32 = |t: Tensor| {
        if kind == Kind::Float {
            t
        } else {
            t.to_kind(Kind::Float)
        }
    };
    let layers = runs[0].net.hidden_layers().len();
    let m = runs.len() as i64;
    let steps: Vec<(Tensor, Tensor, Vec<Tensor>)> = tch::no_grad(|| {
        // The stacked weights (members × out × in) and biases (members × 1 × out) of
        // layer `l` (`layers`: the output layer), in the products' kind.
        let mut stacked = (0..=layers)
            .map(|l| {
                let (ws, bs): (Vec<Tensor>, Vec<Tensor>) = runs
                    .iter()
                    .map(|r| {
                        let d = if l < layers {
                            &r.net.hidden_layers()[l]
                        } else {
                            r.net.output_layer()
                        };
                        (cast(&d.weight), cast(&d.bias))
                    })
                    .unzip();
                (Tensor::stack(&ws, 0), Tensor::stack(&bs, 0).unsqueeze(1))
            })
            .collect::<Vec<(Tensor, Tensor)>>()
            .into_iter();
        let mut h = Tensor::stack(&batches.iter().map(|(x, _)| cast(x)).collect::<Vec<_>>(), 0);
        let mut inputs = Vec::with_capacity(layers + 1);
        let mut weights = Vec::with_capacity(layers + 1);
        // Per hidden layer, per member: the factors its backward multiplies by.
        let mut factors: Vec<Vec<Factors>> = Vec::with_capacity(layers);
        for _ in 0..layers {
            let (w, b) = stacked.next().expect("one per layer");
            let z = b.baddbmm(&h, &w.transpose(1, 2), 1.0, 1.0);
            let mut per_member = Vec::with_capacity(runs.len());
            for (k, run) in runs.iter_mut().enumerate() {
                let mut zk = z.get(k as i64);
                let f = Factors::draw(&run.net, &mut run.s.dropout, &zk);
                f.forward(&mut zk);
                per_member.push(f);
            }
            factors.push(per_member);
            inputs.push(std::mem::replace(&mut h, z));
            weights.push(w);
        }
        let (w, b) = stacked.next().expect("the output layer");
        let logits = to_fp32(b.baddbmm(&h, &w.transpose(1, 2), 1.0, 1.0));
        inputs.push(h);
        weights.push(w);

        // Per member: log-softmax, NLL and their backward, from autograd's seed (a 1)
        // and NLL's total weight (the row count), as `backprop::step`.
        let device = logits.device();
        let mut losses = Vec::with_capacity(runs.len());
        let mut seeds = Vec::with_capacity(runs.len());
        for (k, (_, yb)) in batches.iter().enumerate() {
            let log_probs = logits.get(k as i64).log_softmax(-1, Kind::Float);
            let loss = log_probs.nll_loss(yb);
            let one = Tensor::ones([], (Kind::Float, device));
            let total_weight = Tensor::from(yb.size()[0] as f32).to_device(device);
            let g = log_probs.nll_loss_backward(
                &one,
                yb,
                None::<Tensor>,
                Reduction::Mean,
                -100,
                &total_weight,
            );
            seeds.push(cast(&Tensor::internal_log_softmax_backward_data(
                &g,
                &log_probs,
                -1,
                Kind::Float,
            )));
            losses.push(loss);
        }
        let mut g = Tensor::stack(&seeds, 0);

        // Backward, from the output layer down: per member (weight, bias) gradients.
        let mut grads: Vec<Vec<Tensor>> = (0..m)
            .map(|_| Vec::with_capacity(2 * (layers + 1)))
            .collect();
        for l in (0..=layers).rev() {
            let dw = g.transpose(1, 2).bmm(&inputs[l]);
            for (k, member) in grads.iter_mut().enumerate() {
                let gk = g.get(k as i64);
                // `sum_to` of the member's slice, as autograd's addmm backward.
                let db = gk.sum_dim_intlist(0, true, None).view([-1]);
                member.push(to_fp32(db));
                member.push(to_fp32(dw.get(k as i64)));
            }
            if l > 0 {
                let dh = g.bmm(&weights[l]);
                for (k, f) in factors[l - 1].iter().enumerate() {
                    f.backward(&mut dh.get(k as i64));
                }
                g = dh;
            }
        }
        let logits_k = |k: usize| logits.get(k as i64);
        grads
            .into_iter()
            .zip(losses)
            .enumerate()
            .map(|(k, (mut pairs, loss))| {
                // Collected bias then weight from the output layer down; `parameters`
                // lists (weight, bias) from the first layer up.
                pairs.reverse();
                (loss, logits_k(k), pairs)
            })
            .collect()
    });
    for (run, ((loss, logits, grads), (_, yb))) in
        runs.iter_mut().zip(steps.into_iter().zip(batches))
    {
        run.take_step(loss, &logits, yb, grads);
    }
}

/// A hidden layer's factors for one member: LeakyReLU's slope factors `a` (1 or the
/// slope) and the dropout mask `m`, forward (z·a)·m and backward (g·m)·a; ReLU's
/// `c` = m·[z > 0], z·c and g·c. These are the multiplies `backprop` and the autograd
/// path make, in the same order.
enum Factors {
    Leaky { a: Tensor, m: Tensor },
    Relu { c: Tensor },
}

impl Factors {
    /// Draws the member's mask for the layer's output `z` from its own stream (on the
    /// CPU the factor pass of `DropoutSampler::factors`, elsewhere its `mask`).
    fn draw(
        net: &super::model::DenseNet,
        s: &mut super::model::DropoutSampler,
        z: &Tensor,
    ) -> Factors {
        let slope = net.slope();
        if let Some((a, m)) = s.factors(z, slope) {
            return match a {
                Some(a) => Factors::Leaky { a, m },
                None => Factors::Relu { c: m },
            };
        }
        let kind = z.kind();
        let m = s.mask(&z.size(), z.device()).to_kind(kind);
        let positive = z.gt(0.0);
        match slope {
            Some(sl) => Factors::Leaky {
                a: Tensor::where_scalar(&positive, 1.0, sl as f64).to_kind(kind),
                m,
            },
            None => Factors::Relu {
                c: m * positive.to_kind(kind),
            },
        }
    }

    fn forward(&self, z: &mut Tensor) {
        match self {
            Factors::Leaky { a, m } => {
                let _ = z.g_mul_(a).g_mul_(m);
            }
            Factors::Relu { c } => {
                let _ = z.g_mul_(c);
            }
        }
    }

    fn backward(&self, g: &mut Tensor) {
        match self {
            Factors::Leaky { a, m } => {
                let _ = g.g_mul_(m).g_mul_(a);
            }
            Factors::Relu { c } => {
                let _ = g.g_mul_(c);
            }
        }
    }
}
