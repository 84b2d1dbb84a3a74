//! The study's dense network, as a function of an `nn::Path`.
//!
//! Dense(neurons_1) → activation → Dropout, then one more Dense → activation → Dropout
//! per extra hidden layer (up to neurons_4), then Dense(n_classes). The softmax is
//! folded into the loss (log-softmax + NLL, what Keras computes from the logits of a
//! softmax output). Keras' initialisation: Glorot-uniform kernels, zero biases. The
//! initial weights and the dropout masks are drawn from the job's own streams (see
//! `rng`), never from LibTorch's global generator.

use crate::params::{Activation, HyperParams, Precision};
use crate::rng::Rng;
use rand::{Rng as _, RngCore};
use tch::{nn, Device, Kind, Tensor};

struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    /// Keras `Dense` with `glorot_uniform` kernel and zero bias. Weight layout is
    /// LibTorch's (out, in).
    fn new(path: &nn::Path, n_in: i64, n_out: i64, rng: &mut Rng) -> Dense {
        let limit = (6.0 / (n_in + n_out) as f64).sqrt() as f32;
        let values: Vec<f32> = (0..n_in * n_out).map(|_| rng.gen_range(-limit..limit)).collect();
        let init = Tensor::from_slice(&values).view([n_out, n_in]);
        let weight = path.var_copy("weight", &init);
        let bias = path.zeros("bias", &[n_out]);
        Dense { weight, bias }
    }

    /// In `kind` (fp32, or bf16 from the fp32 master weights: the casts are part of
    /// the graph, so gradients arrive in fp32).
    fn forward(&self, x: &Tensor, kind: Kind) -> Tensor {
        if kind == Kind::Float {
            x.linear(&self.weight, Some(&self.bias))
        } else {
            x.linear(&self.weight.to_kind(kind), Some(&self.bias.to_kind(kind)))
        }
    }
}

pub struct DenseNet {
    hidden: Vec<Dense>,
    output: Dense,
    activation: Activation,
    dropout: f64,
    /// Keras' LeakyReLU slope (0.3) as a PReLU weight that never trains.
    leaky_slope: Tensor,
    weight_constraint: Option<f64>,
    /// Kind of the matrix multiplies and activations.
    compute: Kind,
}

impl DenseNet {
    pub fn new(path: &nn::Path, n_features: i64, n_classes: i64, p: &HyperParams, rng: &mut Rng) -> Self {
        let mut hidden = Vec::new();
        let mut prev = n_features;
        for (i, w) in p.hidden_widths().into_iter().enumerate() {
            hidden.push(Dense::new(&(path / format!("dense{i}")), prev, w, rng));
            prev = w;
        }
        let output = Dense::new(&(path / "output"), prev, n_classes, rng);
        DenseNet {
            hidden,
            output,
            activation: p.activation,
            dropout: p.dropout,
            leaky_slope: Tensor::from_slice(&[0.3f32]).to_device(path.device()).to_kind(match p.precision {
                Precision::Fp32 => Kind::Float,
                Precision::Bf16 => Kind::BFloat16,
            }),
            weight_constraint: p.weight_constraint,
            compute: match p.precision {
                Precision::Fp32 => Kind::Float,
                Precision::Bf16 => Kind::BFloat16,
            },
        }
    }

    fn activate(&self, h: Tensor) -> Tensor {
        match self.activation {
            Activation::Relu => h.relu(),
            Activation::LeakyRelu => h.prelu(&self.leaky_slope),
            Activation::Elu => h.elu(),
            Activation::Selu => h.selu(),
            Activation::Tanh => h.tanh(),
            Activation::Sigmoid => h.sigmoid(),
            Activation::Gelu => h.gelu("none"),
            Activation::Swish => h.silu(),
        }
    }

    /// Logits, in fp32. With `dropout` = Some(sampler) the layers drop units
    /// (training mode); with None they do not (evaluation mode).
    pub fn forward(&self, x: &Tensor, mut dropout: Option<&mut DropoutSampler>) -> Tensor {
        let mut h = if self.compute == Kind::Float { x.shallow_clone() } else { x.to_kind(self.compute) };
        for layer in &self.hidden {
            h = self.activate(layer.forward(&h, self.compute));
            if let Some(s) = dropout.as_deref_mut() {
                if self.dropout > 0.0 {
                    let mask = s.mask(&h.size(), h.device());
                    h = if self.compute == Kind::Float { h * mask } else { h * mask.to_kind(self.compute) };
                }
            }
        }
        let logits = self.output.forward(&h, self.compute);
        if self.compute == Kind::Float {
            logits
        } else {
            logits.to_kind(Kind::Float)
        }
    }

    /// Keras `MaxNorm(w)` on the first layer's kernel: each unit's incoming weight
    /// vector (a column of Keras' (in, out) kernel, a row here) is scaled to norm
    /// ≤ w, as Keras computes it: W · clip(‖W‖, 0, w) / (1e-7 + ‖W‖).
    pub fn apply_constraints(&mut self) {
        let Some(max) = self.weight_constraint else { return };
        let Some(first) = self.hidden.first_mut() else { return };
        tch::no_grad(|| {
            let norms = first.weight.square().sum_dim_intlist(1, true, Kind::Float).sqrt();
            let desired = norms.clamp(0.0, max);
            first.weight *= desired / (norms + 1e-7);
        });
    }
}

/// Dropout masks from the job's own stream: each unit is kept with probability
/// 1 − rate, and kept units are scaled by 1 / (1 − rate), as Keras' `Dropout`.
pub struct DropoutSampler {
    rng: Rng,
    /// Units whose 32-bit draw is below this are dropped.
    threshold: u64,
    scale: f32,
    buffer: Vec<f32>,
}

impl DropoutSampler {
    pub fn new(rng: Rng, rate: f64) -> Self {
        DropoutSampler {
            rng,
            threshold: (rate * 4_294_967_296.0).round() as u64,
            scale: (1.0 / (1.0 - rate)) as f32,
            buffer: Vec::new(),
        }
    }

    pub fn mask(&mut self, shape: &[i64], device: Device) -> Tensor {
        let n: i64 = shape.iter().product();
        let n = n as usize;
        self.buffer.clear();
        self.buffer.reserve(n);
        let (t, s) = (self.threshold, self.scale);
        let keep = |bits: u64| if bits < t { 0.0 } else { s };
        while self.buffer.len() + 2 <= n {
            let r = self.rng.next_u64();
            self.buffer.push(keep(r & 0xffff_ffff));
            self.buffer.push(keep(r >> 32));
        }
        if self.buffer.len() < n {
            let r = self.rng.next_u64();
            self.buffer.push(keep(r & 0xffff_ffff));
        }
        Tensor::from_slice(&self.buffer).view(shape).to_device(device)
    }
}
