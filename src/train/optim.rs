//! Optimizers as Keras (≥ 2.11, Keras 3) computes them.
//!
//! LibTorch's own Adam puts ε outside the bias correction (PyTorch's form) and has no
//! Nadam at all; the study's numbers come from Keras' ε-hat form and Keras' Nadam
//! momentum schedule μ_t = β1·(1 − 0.5·0.96^t). So the update rules are written out
//! here, as in-place tensor arithmetic under `no_grad`, one formula per optimizer.
//! Each is checked against one step computed by Keras itself (see the tests).

use super::saved::{copy_into, SavedTensor};
use crate::params::OptimizerKind;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// An optimizer's state between two steps (see [`Optimizer::state`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    pub m: Vec<SavedTensor>,
    pub v: Vec<SavedTensor>,
    pub iterations: u64,
    pub u_product: f64,
    pub learning_rate: f32,
}

const BETA_1: f64 = 0.9;
const BETA_2: f64 = 0.999;
const EPSILON: f64 = 1e-7;
const SGD_MOMENTUM: f64 = 0.9;
const RMSPROP_RHO: f64 = 0.9;
const ADAMW_WEIGHT_DECAY: f64 = 0.004;

/// One optimizer over a fixed list of parameters.
pub struct Optimizer {
    kind: OptimizerKind,
    params: Vec<Tensor>,
    /// First moments (Adam family), velocities (RMSprop) or momenta (SGD).
    m: Vec<Tensor>,
    /// Second moments (Adam family); empty otherwise.
    v: Vec<Tensor>,
    /// Keras' `iterations`: steps taken so far.
    iterations: u64,
    /// Nadam's running product of μ_t.
    u_product: f64,
    /// Keras stores the learning rate in a float32 variable.
    pub learning_rate: f32,
    /// Use the tensor-arithmetic path even where the fused one applies (tests).
    pub force_tensor_path: bool,
    /// In the fused path, take the root with LibTorch in two passes even where the
    /// one-pass reproduction applies (tests).
    pub force_two_passes: bool,
    /// Per-parameter radicand buffers of the fused path's two-pass form, made on first
    /// use (the one-pass form keeps its radicands on the stack).
    scratch: Vec<Option<Tensor>>,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, params: Vec<Tensor>, learning_rate: f32) -> Self {
        let zeros = |ps: &[Tensor]| ps.iter().map(|p| p.zeros_like()).collect::<Vec<_>>();
        let m = zeros(&params);
        let v = match kind {
            OptimizerKind::Adam | OptimizerKind::Nadam | OptimizerKind::AdamW => zeros(&params),
            OptimizerKind::Sgd | OptimizerKind::Rmsprop => Vec::new(),
        };
        let scratch = params.iter().map(|_| None).collect();
        Optimizer {
            kind,
            scratch,
            params,
            m,
            v,
            iterations: 0,
            u_product: 1.0,
            learning_rate,
            force_tensor_path: false,
            force_two_passes: false,
        }
    }

    /// Everything the next steps depend on besides the parameters: the moments, the step
    /// count, Nadam's running product and the learning rate.
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            m: self.m.iter().map(SavedTensor::of).collect(),
            v: self.v.iter().map(SavedTensor::of).collect(),
            iterations: self.iterations,
            u_product: self.u_product,
            learning_rate: self.learning_rate,
        }
    }

    /// Continues from `state` (of an optimizer of the same kind over parameters of the
    /// same shapes).
    pub fn restore(&mut self, state: &OptimizerState) -> Result<(), String> {
        copy_into(&self.m, &state.m, "first moments")?;
        copy_into(&self.v, &state.v, "second moments")?;
        self.iterations = state.iterations;
        self.u_product = state.u_product;
        self.learning_rate = state.learning_rate;
        Ok(())
    }

    /// Applies one update from the parameters' accumulated gradients, then clears them.
    pub fn step(&mut self) {
        let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).collect();
        self.update(grads, true);
    }

    /// The parameters, in the order `step_with` expects their gradients.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// Applies one update from `grads` (one per parameter, as `params`; undefined
    /// ones skip their parameter). Gradients from `Tensor::run_backward` are fresh
    /// tensors: nothing is accumulated into `.grad` and nothing needs clearing.
    pub fn step_with(&mut self, grads: Vec<Tensor>) {
        self.update(grads, false);
    }

    /// One update; `clear` zeroes the gradients afterwards (accumulated ones).
    fn update(&mut self, grads: Vec<Tensor>, clear: bool) {
        let c = self.coefficients();
        let one_pass = if self.force_two_passes {
            None
        } else {
            crate::train::vml_sqrt::get()
        };
        tch::no_grad(|| {
            for (i, g) in grads.into_iter().enumerate() {
                if !g.defined() {
                    continue;
                }
                let v = self.v.get(i).map(Tensor::shallow_clone);
                if self.force_tensor_path
                    || !fused::apply(
                        &c,
                        &self.params[i],
                        &g,
                        &self.m[i],
                        v.as_ref(),
                        &mut self.scratch[i],
                        one_pass,
                        clear,
                    )
                {
                    self.tensor_update(&c, i, g, clear);
                }
            }
        });
        self.iterations += 1;
    }

    /// The step's scalars, in f64 (Keras computes them in float32; the difference is
    /// far below the tests' tolerance).
    fn coefficients(&mut self) -> Coefficients {
        let t = (self.iterations + 1) as f64;
        let lr = self.learning_rate as f64;
        let mut c = Coefficients {
            kind: self.kind,
            lr,
            alpha: 0.0,
            decay: 1.0,
            c_m: 0.0,
            c_g: 0.0,
            bias2: 1.0,
        };
        match self.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                c.alpha = lr * (1.0 - BETA_2.powf(t)).sqrt() / (1.0 - BETA_1.powf(t));
                c.decay = if self.kind == OptimizerKind::AdamW {
                    1.0 - ADAMW_WEIGHT_DECAY * lr
                } else {
                    1.0
                };
            }
            OptimizerKind::Nadam => {
                let u_t = BETA_1 * (1.0 - 0.5 * 0.96f64.powf(t));
                let u_t1 = BETA_1 * (1.0 - 0.5 * 0.96f64.powf(t + 1.0));
                self.u_product *= u_t;
                let u_product_t1 = self.u_product * u_t1;
                c.c_m = u_t1 / (1.0 - u_product_t1);
                c.c_g = (1.0 - u_t) / (1.0 - self.u_product);
                c.bias2 = 1.0 - BETA_2.powf(t);
            }
            OptimizerKind::Sgd | OptimizerKind::Rmsprop => {}
        }
        c
    }

    /// The same update as tensor arithmetic (any device, any layout).
    fn tensor_update(&mut self, c: &Coefficients, i: usize, mut g: Tensor, clear: bool) {
        match self.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let p = &mut self.params[i];
                if c.decay != 1.0 {
                    // Keras applies decoupled decay before the update.
                    *p *= c.decay;
                }
                update_moments(&mut self.m[i], &mut self.v[i], &g);
                let denom = self.v[i].sqrt() + EPSILON;
                *p -= (&self.m[i] * c.alpha) / denom;
            }
            OptimizerKind::Nadam => {
                update_moments(&mut self.m[i], &mut self.v[i], &g);
                let m_hat = &self.m[i] * c.c_m + &g * c.c_g;
                let denom = (&self.v[i] / c.bias2).sqrt() + EPSILON;
                self.params[i] -= m_hat * c.lr / denom;
            }
            OptimizerKind::Sgd => {
                // m = momentum·m − lr·g; p += m
                self.m[i] *= SGD_MOMENTUM;
                self.m[i] -= &g * c.lr;
                self.params[i] += &self.m[i];
            }
            OptimizerKind::Rmsprop => {
                self.m[i] *= RMSPROP_RHO;
                self.m[i] += (&g * &g) * (1.0 - RMSPROP_RHO);
                let denom = (&self.m[i] + EPSILON).sqrt();
                self.params[i] -= &g * c.lr / denom;
            }
        }
        if clear {
            let _ = g.zero_();
        }
    }
}

/// One step's scalars.
#[derive(Debug, Clone)]
struct Coefficients {
    kind: OptimizerKind,
    lr: f64,
    /// Adam: lr·√(1−β2^t)/(1−β1^t).
    alpha: f64,
    /// AdamW: 1 − wd·lr (1 otherwise).
    decay: f64,
    /// Nadam: the weights of m and g in m̂, and 1 − β2^t.
    c_m: f64,
    c_g: f64,
    bias2: f64,
}

/// The update rules as plain loops over each parameter's memory, for contiguous
/// float32 CPU tensors, instead of the dozen LibTorch kernels (and temporaries) per
/// parameter of `tensor_update`; at small batches those were most of a step.
///
/// Each line mirrors one LibTorch op of `tensor_update`, same order, same operands, so
/// both paths round identically (f32 ops are correctly rounded and Rust never fuses
/// a*b + c). The one op whose rounding LibTorch does not define that way is `sqrt` (it
/// goes through MKL's vector math). Where `vml_sqrt` reproduces MKL's root (checked at
/// first use), each parameter takes one pass, block by block: moments and radicands,
/// roots, parameter. Elsewhere pass 1 updates the moments and writes the radicands into
/// `scratch`, LibTorch takes the root in place, pass 2 updates the parameter. Either
/// way the gradient is cleared afterwards if it was accumulated, and the results are bit
/// for bit those of the tensor path (tested).
mod fused {
    use super::*;
    use crate::train::vml_sqrt::{VmlSqrt, BLOCK};
    use tch::{Device, Kind};

    fn slice(t: &Tensor) -> Option<(*mut f32, usize)> {
        (t.device() == Device::Cpu && t.kind() == Kind::Float && t.is_contiguous())
            .then(|| (t.data_ptr() as *mut f32, t.numel()))
    }

    /// Returns false (having changed nothing) when a tensor does not qualify.
    #[allow(clippy::too_many_arguments)] // the step's tensors, passed on unchanged to the hot loop
    pub(super) fn apply(
        c: &Coefficients,
        p: &Tensor,
        g: &Tensor,
        m: &Tensor,
        v: Option<&Tensor>,
        scratch: &mut Option<Tensor>,
        one_pass: Option<&VmlSqrt>,
        clear: bool,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { apply_avx512(c, p, g, m, v, scratch, one_pass, clear) };
        }
        apply_any(c, p, g, m, v, scratch, one_pass, clear)
    }

    /// The same loops compiled for AVX-512 (16 floats per instruction). Rust never
    /// contracts a·b + c into an FMA, so the results are the same bits as `apply_any`'s.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)] // as `apply`
    unsafe fn apply_avx512(
        c: &Coefficients,
        p: &Tensor,
        g: &Tensor,
        m: &Tensor,
        v: Option<&Tensor>,
        scratch: &mut Option<Tensor>,
        one_pass: Option<&VmlSqrt>,
        clear: bool,
    ) -> bool {
        apply_any(c, p, g, m, v, scratch, one_pass, clear)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // as `apply`
    fn apply_any(
        c: &Coefficients,
        p: &Tensor,
        g: &Tensor,
        m: &Tensor,
        v: Option<&Tensor>,
        scratch: &mut Option<Tensor>,
        one_pass: Option<&VmlSqrt>,
        clear: bool,
    ) -> bool {
        let needs_root = c.kind != OptimizerKind::Sgd;
        if needs_root && one_pass.is_none() && scratch.is_none() {
            *scratch = Some(p.zeros_like());
        }
        let radicands = scratch
            .as_ref()
            .filter(|_| needs_root && one_pass.is_none());
        let bufs: Option<Vec<(*mut f32, usize)>> = [Some(p), Some(g), Some(m), v, radicands]
            .into_iter()
            .flatten()
            .map(slice)
            .collect();
        let Some(bufs) = bufs else { return false };
        let n = bufs[0].1;
        if bufs.iter().any(|b| b.1 != n) {
            return false;
        }
        // SAFETY: distinct, contiguous float32 CPU buffers of n elements (a parameter,
        // its gradient, the optimizer's own state and, for two passes, the scratch),
        // owned by this fold's thread (tch tensors are not Sync) and used by nothing
        // else during the step.
        let sl = |i: usize| unsafe { std::slice::from_raw_parts_mut(bufs[i].0, n) };
        let (p, g, m) = (sl(0), sl(1), sl(2));
        let mut v = v.is_some().then(|| sl(3));
        let w = radicands.is_some().then(|| sl(bufs.len() - 1));

        let adam_family = matches!(
            c.kind,
            OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::Nadam
        );
        if adam_family && v.is_none() {
            // Adam-family state always has second moments (see `new`).
            return false;
        }
        if c.kind == OptimizerKind::Sgd {
            let (mom, lr) = (SGD_MOMENTUM as f32, c.lr as f32);
            for i in 0..n {
                let mi = m[i] * mom - g[i] * lr;
                m[i] = mi;
                p[i] += mi;
            }
        } else if let Some(vml) = one_pass {
            // One pass: block by block, the radicands stay in a stack buffer.
            let (mut radicand, mut root) = ([1.0f32; BLOCK], [0f32; BLOCK]);
            let mut start = 0;
            while start < n {
                let end = (start + BLOCK).min(n);
                let (p, g, m) = (&mut p[start..end], &g[start..end], &mut m[start..end]);
                moments(
                    c,
                    g,
                    m,
                    v.as_deref_mut().map(|v| &mut v[start..end]),
                    &mut radicand,
                );
                vml.block(&radicand, &mut root);
                update(c, p, g, m, &root);
                start = end;
            }
        } else {
            // Two passes around LibTorch's own root of the whole scratch buffer (made
            // above; nothing is changed yet if it is missing).
            let (Some(w), Some(scratch)) = (w, scratch.as_mut()) else {
                return false;
            };
            moments(c, g, m, v, w);
            let _ = scratch.sqrt_();
            update(c, p, g, m, w);
        }
        if clear {
            g.fill(0.0);
        }
        true
    }

    /// Pass 1: the moments, and the radicand into `w` (Adam family and RMSprop).
    #[inline(always)]
    fn moments(c: &Coefficients, g: &[f32], m: &mut [f32], v: Option<&mut [f32]>, w: &mut [f32]) {
        let n = g.len();
        let (m, w) = (&mut m[..n], &mut w[..n]);
        match (c.kind, v) {
            (OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::Nadam, Some(v)) => {
                let v = &mut v[..n];
                let (b1, b2) = (BETA_1 as f32, BETA_2 as f32);
                let (ob1, ob2) = ((1.0 - BETA_1) as f32, (1.0 - BETA_2) as f32);
                let nadam = c.kind == OptimizerKind::Nadam;
                let bias2 = c.bias2 as f32;
                for i in 0..n {
                    let gi = g[i];
                    m[i] = m[i] * b1 + gi * ob1;
                    let vi = v[i] * b2 + (gi * gi) * ob2;
                    v[i] = vi;
                    w[i] = if nadam { vi / bias2 } else { vi };
                }
            }
            (OptimizerKind::Rmsprop, _) => {
                let (rho, orho) = (RMSPROP_RHO as f32, (1.0 - RMSPROP_RHO) as f32);
                for i in 0..n {
                    let gi = g[i];
                    let vi = m[i] * rho + (gi * gi) * orho;
                    m[i] = vi;
                    w[i] = vi + EPSILON as f32;
                }
            }
            // SGD has no root; Adam-family state without second moments was refused.
            _ => {}
        }
    }

    /// Pass 2: the parameter, from the roots in `w`.
    #[inline(always)]
    fn update(c: &Coefficients, p: &mut [f32], g: &[f32], m: &[f32], w: &[f32]) {
        let n = p.len();
        let (g, m, w) = (&g[..n], &m[..n], &w[..n]);
        let (lr, eps) = (c.lr as f32, EPSILON as f32);
        match c.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let (alpha, decay) = (c.alpha as f32, c.decay as f32);
                for i in 0..n {
                    let pi = if decay != 1.0 { p[i] * decay } else { p[i] };
                    p[i] = pi - (m[i] * alpha) / (w[i] + eps);
                }
            }
            OptimizerKind::Nadam => {
                let (c_m, c_g) = (c.c_m as f32, c.c_g as f32);
                for i in 0..n {
                    let m_hat = m[i] * c_m + g[i] * c_g;
                    p[i] -= (m_hat * lr) / (w[i] + eps);
                }
            }
            OptimizerKind::Rmsprop => {
                for i in 0..n {
                    p[i] -= (g[i] * lr) / w[i];
                }
            }
            OptimizerKind::Sgd => {}
        }
    }
}

/// m ← m + (g − m)(1 − β1); v ← v + (g² − v)(1 − β2), in place.
fn update_moments(m: &mut Tensor, v: &mut Tensor, g: &Tensor) {
    *m *= BETA_1;
    *m += g * (1.0 - BETA_1);
    *v *= BETA_2;
    *v += (g * g) * (1.0 - BETA_2);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps on p = [1.0, -2.0, 0.5] with gradients g1 = [0.5, -1.0, 0.0] then
    /// g2 = [-0.25, 3.0, 1e-3], lr 0.01. Expected values: Keras 3.15 (TensorFlow
    /// backend), `opt.apply_gradients` twice; see tests/reference/keras_optimizers.py.
    fn two_steps(kind: OptimizerKind, tensor_path: bool) -> Vec<f32> {
        let p = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).set_requires_grad(true);
        let mut opt = Optimizer::new(kind, vec![p.shallow_clone()], 0.01);
        opt.force_tensor_path = tensor_path;
        for g in [[0.5f32, -1.0, 0.0], [-0.25, 3.0, 1e-3]] {
            // d/dp (p · g) = g
            let loss = (&p * Tensor::from_slice(&g)).sum(tch::Kind::Float);
            loss.backward();
            opt.step();
        }
        Vec::<f32>::try_from(&p.detach()).unwrap()
    }

    /// Both the fused CPU loop and the tensor path (used on GPUs) match Keras.
    fn check(kind: OptimizerKind, want: [f32; 3]) {
        for tensor_path in [false, true] {
            let got = two_steps(kind, tensor_path);
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= 2e-6,
                    "{kind:?} (tensor path {tensor_path}): got {got:?}, want {want:?}"
                );
            }
        }
    }

    #[test]
    fn adam_matches_keras() {
        check(OptimizerKind::Adam, KERAS[0]);
    }
    #[test]
    fn nadam_matches_keras() {
        check(OptimizerKind::Nadam, KERAS[1]);
    }
    #[test]
    fn sgd_matches_keras() {
        check(OptimizerKind::Sgd, KERAS[2]);
    }
    #[test]
    fn rmsprop_matches_keras() {
        check(OptimizerKind::Rmsprop, KERAS[3]);
    }
    #[test]
    fn adamw_matches_keras() {
        check(OptimizerKind::AdamW, KERAS[4]);
    }

    #[test]
    fn first_adam_step_by_hand() {
        // Step 1 with g = 0.5: m = 0.1·g = 0.05, v = 0.001·g² = 0.00025,
        // α = lr·√(1−β2)/(1−β1), Δ = α·m/(√v + ε) ≈ 0.00999994 (ε-hat form).
        let p = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        let mut opt = Optimizer::new(OptimizerKind::Adam, vec![p.shallow_clone()], 0.01);
        (&p * 0.5).sum(tch::Kind::Float).backward();
        opt.step();
        let alpha = 0.01 * (1.0f64 - 0.999).sqrt() / (1.0 - 0.9);
        let want = 1.0 - alpha * 0.05 / ((0.001f64 * 0.25).sqrt() + 1e-7);
        assert!(
            (p.double_value(&[0]) - want).abs() < 1e-6,
            "{} vs {want}",
            p.double_value(&[0])
        );
        // and the gradient was cleared
        assert_eq!(p.grad().double_value(&[0]), 0.0);
    }

    /// Normal values from a seeded generator of the test's own (LibTorch's global one is
    /// shared by tests running in parallel).
    fn randn(n: usize, seed: u64) -> Tensor {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let values: Vec<f32> = (0..n)
            .map(|_| rand_distr::StandardNormal.sample(&mut rng))
            .collect();
        Tensor::from_slice(&values)
    }

    /// The fused CPU loop (in one pass and in two) and the tensor path agree bit for
    /// bit, over many steps.
    #[test]
    fn fused_and_tensor_paths_are_identical() {
        for kind in OptimizerKind::ALL {
            let run = |tensor_path: bool, two_passes: bool| {
                let p = randn(4099, 3).set_requires_grad(true);
                // Some exact zeros and some tiny values: their radicands are zero or
                // subnormal, the inputs MKL sends to its rare-case code.
                let rare = Tensor::arange(4099, (tch::Kind::Float, tch::Device::Cpu));
                let zero = rare.fmod(7).eq(0);
                let tiny = rare.fmod(11).eq(0);
                let grads: Vec<Tensor> = (0..25)
                    .map(|k| {
                        randn(4099, 100 + k).where_self(&zero.logical_not(), &Tensor::from(0f32))
                    })
                    .map(|g| g.where_self(&tiny.logical_not(), &(&g * 1e-22)))
                    .collect();
                let mut opt = Optimizer::new(kind, vec![p.shallow_clone()], 0.003);
                opt.force_tensor_path = tensor_path;
                opt.force_two_passes = two_passes;
                for g in &grads {
                    (&p * g).sum(tch::Kind::Float).backward();
                    opt.step();
                }
                Vec::<f32>::try_from(&p.detach()).unwrap()
            };
            let tensor = run(true, false);
            for (fused, name) in [
                (run(false, false), "fused"),
                (run(false, true), "fused, two passes"),
            ] {
                let diff = fused
                    .iter()
                    .zip(&tensor)
                    .filter(|(x, y)| x.to_bits() != y.to_bits())
                    .count();
                assert_eq!(
                    diff,
                    0,
                    "{kind:?} ({name}): {diff} of {} elements differ",
                    fused.len()
                );
            }
        }
    }

    /// Fresh gradients (`run_backward` + `step_with`) and accumulated ones (`backward`
    /// + `step`) give the same parameters, bit for bit, on both paths.
    #[test]
    fn fresh_and_accumulated_gradients_are_identical() {
        for kind in OptimizerKind::ALL {
            for tensor_path in [false, true] {
                let run = |fresh: bool| {
                    let p = randn(1031, 5).set_requires_grad(true);
                    let gs: Vec<Tensor> = (0..12).map(|k| randn(1031, 200 + k)).collect();
                    let mut opt = Optimizer::new(kind, vec![p.shallow_clone()], 0.003);
                    opt.force_tensor_path = tensor_path;
                    for g in &gs {
                        let loss = (&p * g * &p).sum(tch::Kind::Float);
                        if fresh {
                            let grads = Tensor::run_backward(&[&loss], opt.params(), false, false);
                            opt.step_with(grads);
                        } else {
                            loss.backward();
                            opt.step();
                        }
                    }
                    Vec::<f32>::try_from(&p.detach()).unwrap()
                };
                let (a, b) = (run(true), run(false));
                let diff = a
                    .iter()
                    .zip(&b)
                    .filter(|(x, y)| x.to_bits() != y.to_bits())
                    .count();
                assert_eq!(
                    diff, 0,
                    "{kind:?} (tensor path {tensor_path}): {diff} elements differ"
                );
            }
        }
    }

    // Printed by Keras at full f64 precision: kept as printed.
    #[allow(clippy::excessive_precision)]
    const KERAS: [[f32; 3]; 5] = include!("keras_optimizer_steps.in");
}
