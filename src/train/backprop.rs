//! A training step with the backward pass written out, for the study's case.
//!
//! Why: for fp32 on the CPU with ReLU or LeakyReLU and dropout (the final model), what
//! autograd records around each layer's three matrix products is a chain of
//! element-wise multiplies, each a pass over memory with its own allocation: z·a and
//! ·m forward, ·m and ·a backward for LeakyReLU. Profiles put them, with the graph's
//! own bookkeeping, at 7-9 % of a batch-512 step once the products run on AVX-512.
//! Written out, the forward's factor pass (which reads z anyway to draw the mask) also
//! writes the layer's output in place, keeping one byte per unit for the backward,
//! and the backward is one pass per layer; no graph is recorded.
//!
//! The results stay bit for bit those of autograd: every product, reduction and loss
//! kernel is the very LibTorch call autograd makes (`addmm` for `linear`; for its
//! backward `grad.mm(W)`, `grad.t().mm(x)` and the bias' `sum_to`; `nll_loss_backward`
//! and `_log_softmax_backward_data` with autograd's seed and total weight), and the
//! element-wise parts are the same IEEE multiplies in the same order: forward (z·a)·m
//! and backward (g·m)·a for LeakyReLU, z·c and g·c with c = m·[z > 0] for ReLU. The
//! tests compare whole training runs of both paths bit for bit.

use super::model::{DenseNet, DropoutSampler};
use tch::{Kind, Reduction, Tensor};

/// Bit 0 of a unit's byte: kept by dropout (for ReLU: kept and z > 0).
const KEEP: u8 = 1;
/// Bit 1 (LeakyReLU only): z > 0.
const POSITIVE: u8 = 2;

/// What one step produces.
pub struct Step {
    /// The batch's mean cross-entropy (0-dim, fp32).
    pub loss: Tensor,
    pub logits: Tensor,
    /// One per parameter, in the order of [`DenseNet::parameters`].
    pub grads: Vec<Tensor>,
}

/// Per-layer unit bytes, kept between steps so that steps do not allocate them.
#[derive(Default)]
pub struct Scratch {
    units: Vec<Vec<u8>>,
}

/// Forward with dropout, cross-entropy and backward for the batch `xb` (rows) with
/// labels `yb`, drawing the masks from `dropout` exactly as the autograd path does.
/// None unless `net.written_out_case` holds for the CPU.
pub fn step(net: &DenseNet, xb: &Tensor, yb: &Tensor, dropout: &mut DropoutSampler, scratch: &mut Scratch) -> Option<Step> {
    let slope = net.written_out_case(xb.device())?;
    if !xb.is_contiguous() || xb.kind() != Kind::Float {
        return None;
    }
    let hidden = net.hidden_layers();
    scratch.units.resize_with(hidden.len(), Vec::new);
    Some(tch::no_grad(|| {
        // Forward: the inputs of every Dense layer are kept for the weight gradients.
        let mut inputs: Vec<Tensor> = Vec::with_capacity(hidden.len() + 1);
        let mut h = xb.shallow_clone();
        for (layer, units) in hidden.iter().zip(scratch.units.iter_mut()) {
            let mut z = h.linear(&layer.weight, Some(&layer.bias));
            activate_and_drop(&mut z, units, dropout, slope);
            inputs.push(std::mem::replace(&mut h, z));
        }
        let output = net.output_layer();
        let logits = h.linear(&output.weight, Some(&output.bias));
        inputs.push(h);
        let log_probs = logits.log_softmax(-1, Kind::Float);
        let loss = log_probs.nll_loss(yb);

        // Backward, from autograd's seed (a 1) and NLL's total weight (the row count).
        let seed = Tensor::ones([], (Kind::Float, xb.device()));
        let total_weight = Tensor::from(yb.size()[0] as f32).to_device(xb.device());
        let g_log_probs = log_probs.nll_loss_backward(&seed, yb, None::<Tensor>, Reduction::Mean, -100, &total_weight);
        let mut g = Tensor::internal_log_softmax_backward_data(&g_log_probs, &log_probs, -1, Kind::Float);

        // Collected from the output layer down; `parameters` lists layers upwards.
        let mut pairs = Vec::with_capacity(hidden.len() + 1);
        let x_last = inputs.pop().expect("one input per layer");
        pairs.push(dense_grads(&g, &x_last));
        let mut above = output;
        for (layer, units) in hidden.iter().zip(scratch.units.iter()).rev() {
            let mut dz = g.mm(&above.weight);
            drop_and_activate_backward(&mut dz, units, dropout.scale(), slope);
            let x = inputs.pop().expect("one input per layer");
            pairs.push(dense_grads(&dz, &x));
            g = dz;
            above = layer;
        }
        let grads = pairs.into_iter().rev().flat_map(|(w, b)| [w, b]).collect();
        Step { loss, logits, grads }
    }))
}

/// A Dense layer's (weight, bias) gradients from the gradient `g` of its output and
/// its input `x`, as autograd's `addmm` backward computes them: `g.t().mm(x)` (the
/// weight is used transposed) and `sum_to` of `g` (a keepdim sum over rows, viewed).
fn dense_grads(g: &Tensor, x: &Tensor) -> (Tensor, Tensor) {
    (g.tr().mm(x), g.sum_dim_intlist(0, true, None).view([-1]))
}

/// In place on the fresh, contiguous fp32 CPU tensor `z`: draws the layer's mask and
/// writes (z·a)·m (LeakyReLU, a = 1 or `slope`) or z·c with c = m·[z > 0] (ReLU),
/// recording each unit's byte in `units`.
fn activate_and_drop(z: &mut Tensor, units: &mut Vec<u8>, s: &mut DropoutSampler, slope: Option<f32>) {
    let n = z.numel();
    units.resize(n, 0);
    // SAFETY: `z` is the fresh contiguous fp32 result of `linear`, shared with
    // nothing while the slice lives.
    let zs = unsafe { std::slice::from_raw_parts_mut(z.data_ptr() as *mut f32, n) };
    forward_best(s, zs, units, slope);
}

/// In place on the fresh, contiguous fp32 CPU gradient `g` of the layer's output:
/// (g·m)·a (LeakyReLU) or g·c (ReLU), from the units' bytes.
fn drop_and_activate_backward(g: &mut Tensor, units: &[u8], scale: f32, slope: Option<f32>) {
    let n = g.numel();
    assert_eq!(n, units.len(), "one byte per unit");
    // SAFETY: `g` is the fresh contiguous fp32 result of `mm`, shared with nothing
    // while the slice lives.
    let gs = unsafe { std::slice::from_raw_parts_mut(g.data_ptr() as *mut f32, n) };
    backward_best(gs, units, scale, slope);
}

/// The forward pass block by block: the block's draws (as the factor pass takes
/// them), then a branch-free loop the compiler vectorises.
#[inline(always)]
fn forward_blocks(s: &mut DropoutSampler, zs: &mut [f32], units: &mut [u8], slope: Option<f32>) {
    const BLOCK: usize = 512;
    let t = s.threshold();
    let m_kept = s.scale();
    let mut words = [0u32; BLOCK];
    for (zb, ub) in zs.chunks_mut(BLOCK).zip(units.chunks_mut(BLOCK)) {
        let len = zb.len();
        s.fill_words(&mut words[..len]);
        match slope {
            Some(sl) => {
                for j in 0..len {
                    let keep = words[j] as u64 >= t;
                    let positive = zb[j] > 0.0;
                    let a = if positive { 1.0 } else { sl };
                    let m = if keep { m_kept } else { 0.0 };
                    zb[j] = (zb[j] * a) * m;
                    ub[j] = (keep as u8 * KEEP) | (positive as u8 * POSITIVE);
                }
            }
            None => {
                for j in 0..len {
                    let kept = words[j] as u64 >= t && zb[j] > 0.0;
                    zb[j] *= if kept { m_kept } else { 0.0 };
                    ub[j] = kept as u8 * KEEP;
                }
            }
        }
    }
}

#[inline(always)]
fn backward_units(gs: &mut [f32], units: &[u8], scale: f32, slope: Option<f32>) {
    match slope {
        Some(sl) => {
            for (g, &u) in gs.iter_mut().zip(units) {
                let m = if u & KEEP != 0 { scale } else { 0.0 };
                let a = if u & POSITIVE != 0 { 1.0 } else { sl };
                *g = (*g * m) * a;
            }
        }
        None => {
            for (g, &u) in gs.iter_mut().zip(units) {
                *g *= if u & KEEP != 0 { scale } else { 0.0 };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn forward_avx512(s: &mut DropoutSampler, zs: &mut [f32], units: &mut [u8], slope: Option<f32>) {
    forward_blocks(s, zs, units, slope)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn backward_avx512(gs: &mut [f32], units: &[u8], scale: f32, slope: Option<f32>) {
    backward_units(gs, units, scale, slope)
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw")
}

fn forward_best(s: &mut DropoutSampler, zs: &mut [f32], units: &mut [u8], slope: Option<f32>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has both features.
        return unsafe { forward_avx512(s, zs, units, slope) };
    }
    forward_blocks(s, zs, units, slope)
}

fn backward_best(gs: &mut [f32], units: &[u8], scale: f32, slope: Option<f32>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has both features.
        return unsafe { backward_avx512(gs, units, scale, slope) };
    }
    backward_units(gs, units, scale, slope)
}
