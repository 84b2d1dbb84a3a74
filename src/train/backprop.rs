//! A training step with the backward pass written out, for the study's case.
//!
//! Why: on the CPU with ReLU or LeakyReLU and dropout (the final model), what
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
//! and backward (g·m)·a for LeakyReLU, z·c and g·c with c = m·[z > 0] for ReLU. In
//! bf16 each multiply is LibTorch's: the exact fp32 product of two bf16 values, rounded
//! to bf16 (nearest even), and the casts around the products are autograd's (weights
//! to bf16 forward, their gradients to fp32 backward). The tests compare whole training
//! runs of both paths bit for bit, in fp32 and bf16.

use super::model::{DenseNet, DropoutSampler, Lane};
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

/// Forward with dropout, cross-entropy and backward for the batch `xb` (fp32 rows)
/// with labels `yb`, drawing the masks from `dropout` exactly as the autograd path
/// does. None unless `net.written_out_case` holds for the CPU.
pub fn step(
    net: &DenseNet,
    xb: &Tensor,
    yb: &Tensor,
    dropout: &mut DropoutSampler,
    scratch: &mut Scratch,
) -> Option<Step> {
    let (slope, kind) = net.written_out_case(xb.device())?;
    if !xb.is_contiguous() || xb.kind() != Kind::Float {
        return None;
    }
    // In bf16, autograd's casts: the weights to bf16 forward (their gradients back to
    // fp32), the input once, the logits back to fp32.
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
    let hidden = net.hidden_layers();
    scratch.units.resize_with(hidden.len(), Vec::new);
    Some(tch::no_grad(|| {
        // Forward: each Dense layer's input and (cast) weight are kept for the backward.
        let mut inputs: Vec<Tensor> = Vec::with_capacity(hidden.len() + 1);
        let mut weights: Vec<Tensor> = Vec::with_capacity(hidden.len() + 1);
        let mut h = cast(xb);
        for (layer, units) in hidden.iter().zip(scratch.units.iter_mut()) {
            let w = cast(&layer.weight);
            let mut z = h.linear(&w, Some(&cast(&layer.bias)));
            activate_and_drop(&mut z, units, dropout, slope);
            inputs.push(std::mem::replace(&mut h, z));
            weights.push(w);
        }
        let output = net.output_layer();
        let w = cast(&output.weight);
        let logits = to_fp32(h.linear(&w, Some(&cast(&output.bias))));
        inputs.push(h);
        weights.push(w);
        let log_probs = logits.log_softmax(-1, Kind::Float);
        let loss = log_probs.nll_loss(yb);

        // Backward, from autograd's seed (a 1) and NLL's total weight (the row count).
        let seed = Tensor::ones([], (Kind::Float, xb.device()));
        let total_weight = Tensor::from(yb.size()[0] as f32).to_device(xb.device());
        let g_log_probs = log_probs.nll_loss_backward(
            &seed,
            yb,
            None::<Tensor>,
            Reduction::Mean,
            -100,
            &total_weight,
        );
        let mut g = cast(&Tensor::internal_log_softmax_backward_data(
            &g_log_probs,
            &log_probs,
            -1,
            Kind::Float,
        ));

        // Collected from the output layer down; `parameters` lists layers upwards.
        let mut pairs = Vec::with_capacity(hidden.len() + 1);
        for layer in (0..=hidden.len()).rev() {
            let (dw, db) = dense_grads(&g, &inputs[layer]);
            pairs.push((to_fp32(dw), to_fp32(db)));
            if layer > 0 {
                let mut dh = g.mm(&weights[layer]);
                drop_and_activate_backward(
                    &mut dh,
                    &scratch.units[layer - 1],
                    dropout.scale(),
                    slope,
                );
                g = dh;
            }
        }
        let grads = pairs.into_iter().rev().flat_map(|(w, b)| [w, b]).collect();
        Step {
            loss,
            logits,
            grads,
        }
    }))
}

/// A Dense layer's (weight, bias) gradients from the gradient `g` of its output and
/// its input `x`, as autograd's `addmm` backward computes them: `g.t().mm(x)` (the
/// weight is used transposed) and `sum_to` of `g` (a keepdim sum over rows, viewed).
fn dense_grads(g: &Tensor, x: &Tensor) -> (Tensor, Tensor) {
    (g.tr().mm(x), g.sum_dim_intlist(0, true, None).view([-1]))
}

/// The factors' values in the lane's kind, as fp32: (kept unit's factor, slope).
fn factors_in<T: Lane>(scale: f32, slope: f32) -> (f32, f32) {
    (T::round(scale).get(), T::round(slope).get())
}

/// A tensor's elements as a slice of the matching lane type.
enum Lanes<'t> {
    F32(&'t mut [f32]),
    Bf16(&'t mut [u16]),
}

/// # Safety
/// `t` must be a fresh contiguous CPU tensor (fp32 or bf16) that nothing else reads or
/// writes while the slice lives.
unsafe fn lanes(t: &mut Tensor) -> Lanes<'_> {
    let n = t.numel();
    match t.kind() {
        Kind::Float => Lanes::F32(std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n)),
        Kind::BFloat16 => Lanes::Bf16(std::slice::from_raw_parts_mut(t.data_ptr() as *mut u16, n)),
        other => unreachable!("written-out step in {other:?}"),
    }
}

/// In place on the fresh, contiguous CPU result `z` of `linear`: draws the layer's mask
/// and writes (z·a)·m (LeakyReLU, a = 1 or `slope`) or z·c with c = m·[z > 0] (ReLU),
/// recording each unit's byte in `units`.
fn activate_and_drop(
    z: &mut Tensor,
    units: &mut Vec<u8>,
    s: &mut DropoutSampler,
    slope: Option<f32>,
) {
    assert!(z.is_contiguous(), "a fresh product");
    units.resize(z.numel(), 0);
    // SAFETY: `z` is the fresh contiguous result of `linear`, shared with nothing.
    match unsafe { lanes(z) } {
        Lanes::F32(zs) => forward_best(s, zs, units, slope),
        Lanes::Bf16(zs) => forward_best(s, zs, units, slope),
    }
}

/// In place on the fresh, contiguous CPU gradient `g` of the layer's output: (g·m)·a
/// (LeakyReLU) or g·c (ReLU), from the units' bytes.
fn drop_and_activate_backward(g: &mut Tensor, units: &[u8], scale: f32, slope: Option<f32>) {
    assert!(
        g.is_contiguous() && g.numel() == units.len(),
        "one byte per unit"
    );
    // SAFETY: `g` is the fresh contiguous result of `mm`, shared with nothing.
    match unsafe { lanes(g) } {
        Lanes::F32(gs) => backward_best(gs, units, scale, slope),
        Lanes::Bf16(gs) => backward_best(gs, units, scale, slope),
    }
}

/// The forward pass block by block: the block's draws (as the factor pass takes
/// them), then a branch-free loop the compiler vectorises.
#[inline(always)]
fn forward_blocks<T: Lane>(
    s: &mut DropoutSampler,
    zs: &mut [T],
    units: &mut [u8],
    slope: Option<f32>,
) {
    const BLOCK: usize = 512;
    let t = s.threshold();
    let (m_kept, sl) = factors_in::<T>(s.scale(), slope.unwrap_or(0.0));
    let mut words = [0u32; BLOCK];
    for (zb, ub) in zs.chunks_mut(BLOCK).zip(units.chunks_mut(BLOCK)) {
        let len = zb.len();
        s.fill_words(&mut words[..len]);
        if slope.is_some() {
            for j in 0..len {
                let z = zb[j].get();
                let keep = words[j] as u64 >= t;
                let positive = zb[j].positive();
                let a = if positive { 1.0 } else { sl };
                let m = if keep { m_kept } else { 0.0 };
                zb[j] = T::round(T::round(z * a).get() * m);
                ub[j] = (keep as u8 * KEEP) | (positive as u8 * POSITIVE);
            }
        } else {
            for j in 0..len {
                let z = zb[j].get();
                let kept = words[j] as u64 >= t && zb[j].positive();
                zb[j] = T::round(z * if kept { m_kept } else { 0.0 });
                ub[j] = kept as u8 * KEEP;
            }
        }
    }
}

#[inline(always)]
fn backward_units<T: Lane>(gs: &mut [T], units: &[u8], scale: f32, slope: Option<f32>) {
    let (m_kept, sl) = factors_in::<T>(scale, slope.unwrap_or(0.0));
    if slope.is_some() {
        for (g, &u) in gs.iter_mut().zip(units) {
            let m = if u & KEEP != 0 { m_kept } else { 0.0 };
            let a = if u & POSITIVE != 0 { 1.0 } else { sl };
            *g = T::round(T::round(g.get() * m).get() * a);
        }
    } else {
        for (g, &u) in gs.iter_mut().zip(units) {
            *g = T::round(g.get() * if u & KEEP != 0 { m_kept } else { 0.0 });
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn forward_avx512<T: Lane>(
    s: &mut DropoutSampler,
    zs: &mut [T],
    units: &mut [u8],
    slope: Option<f32>,
) {
    forward_blocks(s, zs, units, slope)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn backward_avx512<T: Lane>(gs: &mut [T], units: &[u8], scale: f32, slope: Option<f32>) {
    backward_units(gs, units, scale, slope)
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

fn forward_best<T: Lane>(
    s: &mut DropoutSampler,
    zs: &mut [T],
    units: &mut [u8],
    slope: Option<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has both features.
        return unsafe { forward_avx512(s, zs, units, slope) };
    }
    forward_blocks(s, zs, units, slope)
}

fn backward_best<T: Lane>(gs: &mut [T], units: &[u8], scale: f32, slope: Option<f32>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has both features.
        return unsafe { backward_avx512(gs, units, scale, slope) };
    }
    backward_units(gs, units, scale, slope)
}
