//! Optimizers as Keras (≥ 2.11, Keras 3) computes them.
//!
//! LibTorch's own Adam puts ε outside the bias correction (PyTorch's form) and has no
//! Nadam at all; the study's numbers come from Keras' ε-hat form and Keras' Nadam
//! momentum schedule μ_t = β1·(1 − 0.5·0.96^t). So the update rules are written out
//! here, as in-place tensor arithmetic under `no_grad`, one formula per optimizer.
//! Each is checked against one step computed by Keras itself (see the tests).

use crate::params::OptimizerKind;
use tch::Tensor;

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
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, params: Vec<Tensor>, learning_rate: f32) -> Self {
        let zeros = |ps: &[Tensor]| ps.iter().map(|p| p.zeros_like()).collect::<Vec<_>>();
        let m = zeros(&params);
        let v = match kind {
            OptimizerKind::Adam | OptimizerKind::Nadam | OptimizerKind::AdamW => zeros(&params),
            OptimizerKind::Sgd | OptimizerKind::Rmsprop => Vec::new(),
        };
        Optimizer {
            kind,
            params,
            m,
            v,
            iterations: 0,
            u_product: 1.0,
            learning_rate,
        }
    }

    /// Applies one update from the parameters' accumulated gradients, then clears them.
    pub fn step(&mut self) {
        tch::no_grad(|| self.step_inner());
    }

    fn step_inner(&mut self) {
        let t = (self.iterations + 1) as f64;
        let lr = self.learning_rate as f64;
        match self.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let alpha = lr * (1.0 - BETA_2.powf(t)).sqrt() / (1.0 - BETA_1.powf(t));
                for i in 0..self.params.len() {
                    let g = self.params[i].grad();
                    if !g.defined() {
                        continue;
                    }
                    let p = &mut self.params[i];
                    if self.kind == OptimizerKind::AdamW {
                        // Keras applies decoupled decay before the update.
                        *p *= 1.0 - ADAMW_WEIGHT_DECAY * lr;
                    }
                    update_moments(&mut self.m[i], &mut self.v[i], &g);
                    let denom = self.v[i].sqrt() + EPSILON;
                    *p -= (&self.m[i] * alpha) / denom;
                }
            }
            OptimizerKind::Nadam => {
                let u_t = BETA_1 * (1.0 - 0.5 * 0.96f64.powf(t));
                let u_t1 = BETA_1 * (1.0 - 0.5 * 0.96f64.powf(t + 1.0));
                self.u_product *= u_t;
                let u_product_t1 = self.u_product * u_t1;
                let bias2 = 1.0 - BETA_2.powf(t);
                let c_m = u_t1 / (1.0 - u_product_t1);
                let c_g = (1.0 - u_t) / (1.0 - self.u_product);
                for i in 0..self.params.len() {
                    let g = self.params[i].grad();
                    if !g.defined() {
                        continue;
                    }
                    update_moments(&mut self.m[i], &mut self.v[i], &g);
                    let m_hat = &self.m[i] * c_m + &g * c_g;
                    let denom = (&self.v[i] / bias2).sqrt() + EPSILON;
                    self.params[i] -= m_hat * lr / denom;
                }
            }
            OptimizerKind::Sgd => {
                for i in 0..self.params.len() {
                    let g = self.params[i].grad();
                    if !g.defined() {
                        continue;
                    }
                    // m = momentum·m − lr·g; p += m
                    self.m[i] *= SGD_MOMENTUM;
                    self.m[i] -= &g * lr;
                    self.params[i] += &self.m[i];
                }
            }
            OptimizerKind::Rmsprop => {
                for i in 0..self.params.len() {
                    let g = self.params[i].grad();
                    if !g.defined() {
                        continue;
                    }
                    self.m[i] *= RMSPROP_RHO;
                    self.m[i] += g.square() * (1.0 - RMSPROP_RHO);
                    let denom = (&self.m[i] + EPSILON).sqrt();
                    self.params[i] -= &g * lr / denom;
                }
            }
        }
        self.iterations += 1;
        for p in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }
}

/// m ← m + (g − m)(1 − β1); v ← v + (g² − v)(1 − β2), in place.
fn update_moments(m: &mut Tensor, v: &mut Tensor, g: &Tensor) {
    *m *= BETA_1;
    *m += g * (1.0 - BETA_1);
    *v *= BETA_2;
    *v += g.square() * (1.0 - BETA_2);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps on p = [1.0, -2.0, 0.5] with gradients g1 = [0.5, -1.0, 0.0] then
    /// g2 = [-0.25, 3.0, 1e-3], lr 0.01. Expected values: Keras 3.15 (TensorFlow
    /// backend), `opt.apply_gradients` twice; see tests/reference/keras_optimizers.py.
    fn two_steps(kind: OptimizerKind) -> Vec<f32> {
        let p = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).set_requires_grad(true);
        let mut opt = Optimizer::new(kind, vec![p.shallow_clone()], 0.01);
        for g in [[0.5f32, -1.0, 0.0], [-0.25, 3.0, 1e-3]] {
            // d/dp (p · g) = g
            let loss = (&p * Tensor::from_slice(&g)).sum(tch::Kind::Float);
            loss.backward();
            opt.step();
        }
        Vec::<f32>::try_from(&p.detach()).unwrap()
    }

    fn check(kind: OptimizerKind, want: [f32; 3]) {
        let got = two_steps(kind);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 2e-6, "{kind:?}: got {got:?}, want {want:?}");
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
        assert!((p.double_value(&[0]) - want).abs() < 1e-6, "{} vs {want}", p.double_value(&[0]));
        // and the gradient was cleared
        assert_eq!(p.grad().double_value(&[0]), 0.0);
    }

    const KERAS: [[f32; 3]; 5] = include!("keras_optimizer_steps.in");
}
