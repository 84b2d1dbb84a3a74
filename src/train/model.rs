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

/// Keras' LeakyReLU default slope.
const LEAKY_SLOPE: f32 = 0.3;

pub(crate) struct Dense {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

impl Dense {
    /// Keras `Dense` with `glorot_uniform` kernel and zero bias. Weight layout is
    /// LibTorch's (out, in).
    fn new(path: &nn::Path, n_in: i64, n_out: i64, rng: &mut Rng) -> Dense {
        let limit = (6.0 / (n_in + n_out) as f64).sqrt() as f32;
        let values: Vec<f32> = (0..n_in * n_out)
            .map(|_| rng.gen_range(-limit..limit))
            .collect();
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
    pub fn new(
        path: &nn::Path,
        n_features: i64,
        n_classes: i64,
        p: &HyperParams,
        rng: &mut Rng,
    ) -> Self {
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
            leaky_slope: Tensor::from_slice(&[LEAKY_SLOPE])
                .to_device(path.device())
                .to_kind(match p.precision {
                    Precision::Fp32 => Kind::Float,
                    Precision::Bf16 => Kind::BFloat16,
                }),
            weight_constraint: p.effective_weight_constraint(),
            compute: match p.precision {
                Precision::Fp32 => Kind::Float,
                Precision::Bf16 => Kind::BFloat16,
            },
        }
    }

    /// The trainable tensors, layer by layer (weight, then bias), the output layer
    /// last: the order of the gradients of [`super::backprop::step`].
    pub fn parameters(&self) -> Vec<Tensor> {
        self.hidden
            .iter()
            .chain(std::iter::once(&self.output))
            .flat_map(|l| [l.weight.shallow_clone(), l.bias.shallow_clone()])
            .collect()
    }

    pub(crate) fn hidden_layers(&self) -> &[Dense] {
        &self.hidden
    }

    pub(crate) fn output_layer(&self) -> &Dense {
        &self.output
    }

    /// Whether a training step on `device` can be written out (see `backprop`): on the
    /// CPU, ReLU or LeakyReLU, with dropout. If so, the slope (None for ReLU) and the
    /// kind of the products and activations (fp32 or bf16).
    pub(crate) fn written_out_case(&self, device: Device) -> Option<(Option<f32>, Kind)> {
        if device != Device::Cpu
            || self.dropout <= 0.0
            || !matches!(self.compute, Kind::Float | Kind::BFloat16)
        {
            return None;
        }
        match self.activation {
            Activation::Relu => Some((None, self.compute)),
            Activation::LeakyRelu => Some((Some(LEAKY_SLOPE), self.compute)),
            _ => None,
        }
    }

    /// The kind of the products and activations (fp32 or bf16).
    pub(crate) fn compute_kind(&self) -> Kind {
        self.compute
    }

    /// LeakyReLU's slope (None for every other activation).
    pub(crate) fn slope(&self) -> Option<f32> {
        (self.activation == Activation::LeakyRelu).then_some(LEAKY_SLOPE)
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
        let mut h = if self.compute == Kind::Float {
            x.shallow_clone()
        } else {
            x.to_kind(self.compute)
        };
        for layer in &self.hidden {
            let z = layer.forward(&h, self.compute);
            h = match dropout.as_deref_mut() {
                Some(s) if self.dropout > 0.0 => self.activate_and_drop(z, s),
                _ => self.activate(z),
            };
        }
        let logits = self.output.forward(&h, self.compute);
        if self.compute == Kind::Float {
            logits
        } else {
            logits.to_kind(Kind::Float)
        }
    }

    /// Activation then dropout, in training mode, for the autograd path (`backprop`
    /// writes the same values with its own fused pass where it applies).
    ///
    /// For ReLU and LeakyReLU on the CPU, one pass over `z` writes the dropout mask
    /// and (LeakyReLU) the slope factor, and two multiplies do the rest: z·a·m for
    /// LeakyReLU (a = 1 or 0.3; z·a rounds exactly as PReLU does, so the values are
    /// bit for bit those of `prelu` then the mask), z·(m·[z > 0]) for ReLU. The
    /// backward passes are then multiplies too, instead of PReLU's backward kernel,
    /// which also reduces a slope gradient nobody needs (13 % of a step in profiles).
    /// Elsewhere: the activation, then the mask.
    fn activate_and_drop(&self, z: Tensor, s: &mut DropoutSampler) -> Tensor {
        let factors = match self.activation {
            Activation::Relu => s.factors(&z, None),
            Activation::LeakyRelu => s.factors(&z, Some(LEAKY_SLOPE)),
            _ => None,
        };
        match factors {
            Some((Some(a), m)) => (z * a) * m,
            Some((None, c)) => z * c,
            None => {
                let mask = s.mask(&z.size(), z.device()).to_kind(self.compute);
                self.activate(z) * mask
            }
        }
    }

    /// Keras `MaxNorm(w)` on the first layer's kernel: each unit's incoming weight
    /// vector (a column of Keras' (in, out) kernel, a row here) is scaled to norm
    /// ≤ w, as Keras computes it: W · clip(‖W‖, 0, w) / (1e-7 + ‖W‖).
    pub fn apply_constraints(&mut self) {
        let Some(max) = self.weight_constraint else {
            return;
        };
        let Some(first) = self.hidden.first_mut() else {
            return;
        };
        tch::no_grad(|| {
            let norms = first
                .weight
                .square()
                .sum_dim_intlist(1, true, Kind::Float)
                .sqrt();
            let desired = norms.clamp(0.0, max);
            first.weight *= desired / (norms + 1e-7);
        });
    }
}

/// Dropout masks from the job's own stream: each unit is kept with probability
/// 1 − rate, and kept units are scaled by 1 / (1 − rate), as Keras' `Dropout`. Unit i
/// is kept when its 32-bit draw is at least rate·2³²; draws come two per 64-bit word,
/// low half first.
pub struct DropoutSampler {
    rng: Rng,
    threshold: u64,
    scale: f32,
    buffer: Vec<f32>,
}

/// An element of a layer's activations: fp32, or bf16 as raw bits. Arithmetic on it
/// is done in fp32 and each result rounded to the element's kind, as LibTorch's
/// kernels do (used by the factor pass here and by `backprop`'s passes).
pub(crate) trait Lane: Copy + Default {
    /// z > 0 (for bf16 bits: sign clear and not ±0; NaN inputs fail the fold anyway).
    fn positive(self) -> bool;
    fn get(self) -> f32;
    fn round(x: f32) -> Self;
}

impl Lane for f32 {
    #[inline(always)]
    fn positive(self) -> bool {
        self > 0.0
    }
    #[inline(always)]
    fn get(self) -> f32 {
        self
    }
    #[inline(always)]
    fn round(x: f32) -> f32 {
        x
    }
}

impl Lane for u16 {
    #[inline(always)]
    fn positive(self) -> bool {
        self & 0x8000 == 0 && self != 0
    }
    #[inline(always)]
    fn get(self) -> f32 {
        f32::from_bits((self as u32) << 16)
    }
    #[inline(always)]
    fn round(x: f32) -> u16 {
        bf16_bits(x)
    }
}

/// The factor pass over `zs`, block by block: the block's 32-bit draws first (two per
/// 64-bit word, low half first, an odd count taking the low half of one more word,
/// exactly as `draw`), then a branch-free loop over the block. `scale`, `one` and
/// `slope` are already in the lane's encoding. Only the autograd path uses it (the
/// reference of `backprop`'s tests); training steps on the CPU take `backprop`'s
/// fused pass, which is compiled for AVX-512.
fn block_factors<T: Lane>(
    s: &mut DropoutSampler,
    zs: &[T],
    ms: &mut [T],
    mut as_: Option<&mut [T]>,
    scale: T,
    one: T,
    slope: T,
) {
    const BLOCK: usize = 512;
    let t = s.threshold;
    let mut words = [0u32; BLOCK];
    for (start, zb) in (0..zs.len()).step_by(BLOCK).zip(zs.chunks(BLOCK)) {
        let len = zb.len();
        s.fill_words(&mut words[..len]);
        let mb = &mut ms[start..start + len];
        match as_.as_deref_mut() {
            Some(ab) => {
                let ab = &mut ab[start..start + len];
                for j in 0..len {
                    mb[j] = if (words[j] as u64) >= t {
                        scale
                    } else {
                        T::default()
                    };
                    ab[j] = if zb[j].positive() { one } else { slope };
                }
            }
            None => {
                for j in 0..len {
                    mb[j] = if (words[j] as u64) >= t && zb[j].positive() {
                        scale
                    } else {
                        T::default()
                    };
                }
            }
        }
    }
}

/// The elements of z (read) and of the fresh factor tensors m and a (written).
///
/// # Safety
/// `z`, `m` and `a` must be distinct contiguous CPU tensors of `n` elements of `T`'s
/// size, and m and a not otherwise in use while the slices live.
#[allow(clippy::type_complexity)]
unsafe fn lanes<'t, T>(
    z: &'t Tensor,
    m: &'t mut Tensor,
    a: Option<&'t mut Tensor>,
    n: usize,
) -> (&'t [T], &'t mut [T], Option<&'t mut [T]>) {
    (
        std::slice::from_raw_parts(z.data_ptr() as *const T, n),
        std::slice::from_raw_parts_mut(m.data_ptr() as *mut T, n),
        a.map(|a| std::slice::from_raw_parts_mut(a.data_ptr() as *mut T, n)),
    )
}

/// f32 → bf16 bits, rounding to nearest even (as LibTorch converts).
fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
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

    /// The next `words.len()` 32-bit draws: two per 64-bit word, low half first, an
    /// odd count taking the low half of one more word (exactly as `draw`, when called
    /// with even lengths but for the last call of a layer).
    #[inline(always)]
    pub(crate) fn fill_words(&mut self, words: &mut [u32]) {
        // A local copy keeps the generator's state in registers (it is the hot loop
        // of the factor pass).
        let mut rng = self.rng.clone();
        let mut pairs = words.chunks_exact_mut(2);
        for pair in &mut pairs {
            let r = rng.next_u64();
            pair[0] = r as u32;
            pair[1] = (r >> 32) as u32;
        }
        if let [last] = pairs.into_remainder() {
            *last = rng.next_u64() as u32;
        }
        self.rng = rng;
    }

    /// The generator, at its current position (saved with a fold's training state).
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    /// Continues from a saved position.
    pub fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// Units whose draw is below this are dropped.
    pub(crate) fn threshold(&self) -> u64 {
        self.threshold
    }

    /// 1 / (1 − rate), the factor of kept units.
    pub(crate) fn scale(&self) -> f32 {
        self.scale
    }

    /// Calls `f(i, kept)` for units 0..n in order.
    #[inline(always)]
    fn draw(&mut self, n: usize, mut f: impl FnMut(usize, bool)) {
        let t = self.threshold;
        let mut i = 0;
        while i + 2 <= n {
            let r = self.rng.next_u64();
            f(i, (r & 0xffff_ffff) >= t);
            f(i + 1, (r >> 32) >= t);
            i += 2;
        }
        if i < n {
            let r = self.rng.next_u64();
            f(i, (r & 0xffff_ffff) >= t);
        }
    }

    /// The mask (0 or 1/(1 − rate)) as an fp32 tensor of `shape`.
    pub fn mask(&mut self, shape: &[i64], device: Device) -> Tensor {
        let n = shape.iter().product::<i64>() as usize;
        let mut buf = std::mem::take(&mut self.buffer);
        buf.clear();
        buf.resize(n, 0.0);
        let s = self.scale;
        self.draw(n, |i, keep| buf[i] = if keep { s } else { 0.0 });
        let t = Tensor::from_slice(&buf).view(shape).to_device(device);
        self.buffer = buf;
        t
    }

    /// For ReLU (`slope` None) and LeakyReLU (`slope` Some): (a, m) with a = 1 where
    /// z > 0 else slope, and m the mask; for ReLU (None, m·[z > 0]). Same draws as
    /// `mask`. None unless `z` is a contiguous fp32 or bf16 CPU tensor.
    pub fn factors(&mut self, z: &Tensor, slope: Option<f32>) -> Option<(Option<Tensor>, Tensor)> {
        let kind = z.kind();
        if z.device() != Device::Cpu
            || !z.is_contiguous()
            || !matches!(kind, Kind::Float | Kind::BFloat16)
        {
            return None;
        }
        let n = z.numel();
        let shape = z.size();
        let mut m = Tensor::empty(shape.as_slice(), (kind, Device::Cpu));
        let mut a = slope.map(|_| Tensor::empty(shape.as_slice(), (kind, Device::Cpu)));
        let s = self.scale;
        let sl = slope.unwrap_or(0.0);
        // SAFETY: z, m and a are distinct contiguous CPU tensors of n elements of
        // `kind`; m and a are fresh and not yet shared with LibTorch.
        if kind == Kind::Float {
            let (zs, ms, as_) = unsafe { lanes::<f32>(z, &mut m, a.as_mut(), n) };
            block_factors(self, zs, ms, as_, s, 1.0, sl);
        } else {
            let (zs, ms, as_) = unsafe { lanes::<u16>(z, &mut m, a.as_mut(), n) };
            block_factors(
                self,
                zs,
                ms,
                as_,
                bf16_bits(s),
                bf16_bits(1.0),
                bf16_bits(sl),
            );
        }
        Some((a, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The factor pass (block-wise where the CPU allows) keeps exactly the units the
    /// unit-by-unit draw keeps, for fp32 and bf16, ReLU and LeakyReLU, over several
    /// blocks with an odd tail.
    #[test]
    fn factors_match_the_unit_by_unit_draw() {
        let n = 1029usize;
        let zs: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        for kind in [Kind::Float, Kind::BFloat16] {
            for slope in [None, Some(0.3f32)] {
                let rng = || crate::rng::stream(9, 1, crate::rng::Stream::Dropout);
                let z = Tensor::from_slice(&zs).view([3, 343]).to_kind(kind);
                let (a, m) = DropoutSampler::new(rng(), 0.4)
                    .factors(&z, slope)
                    .expect("CPU tensor");
                let keep: Vec<bool> = Vec::<f32>::try_from(
                    DropoutSampler::new(rng(), 0.4)
                        .mask(&[3, 343], Device::Cpu)
                        .flatten(0, -1),
                )
                .unwrap()
                .iter()
                .map(|v| *v > 0.0)
                .collect();
                let zf: Vec<f32> = Vec::try_from(z.to_kind(Kind::Float).flatten(0, -1)).unwrap();
                let scale = (1.0 / 0.6f64) as f32;
                let want_m: Vec<f32> = (0..n)
                    .map(|i| {
                        if keep[i] && (slope.is_some() || zf[i] > 0.0) {
                            scale
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let want = Tensor::from_slice(&want_m).view([3, 343]).to_kind(kind);
                assert!(m.equal(&want), "{kind:?} {slope:?}: masks differ");
                if let (Some(a), Some(sl)) = (a, slope) {
                    let want_a: Vec<f32> =
                        zf.iter().map(|v| if *v > 0.0 { 1.0 } else { sl }).collect();
                    assert!(
                        a.equal(&Tensor::from_slice(&want_a).view([3, 343]).to_kind(kind)),
                        "{kind:?}: slopes differ"
                    );
                }
            }
        }
    }
}
