//! A tensor kept exactly, as its raw bytes with shape and kind: what training states
//! save of weights, optimizer moments and kept checkpoints, so nothing is rounded.
//! Apart from `state` so that the optimizer can save its moments without the state
//! module depending on it both ways.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// A tensor's bytes, shape and kind, exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedTensor {
    pub shape: Vec<i64>,
    pub kind: String,
    pub bytes: Vec<u8>,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Float => "f32",
        Kind::Double => "f64",
        Kind::BFloat16 => "bf16",
        Kind::Half => "f16",
        Kind::Int64 => "i64",
        _ => "other",
    }
}

fn kind_of(name: &str) -> Option<Kind> {
    Some(match name {
        "f32" => Kind::Float,
        "f64" => Kind::Double,
        "bf16" => Kind::BFloat16,
        "f16" => Kind::Half,
        "i64" => Kind::Int64,
        _ => return None,
    })
}

impl SavedTensor {
    pub fn of(t: &Tensor) -> SavedTensor {
        let cpu = t.detach().to_device(tch::Device::Cpu).contiguous();
        let numel = cpu.numel();
        let mut bytes = vec![0u8; numel * cpu.kind().elt_size_in_bytes()];
        cpu.copy_data_u8(&mut bytes, numel);
        SavedTensor {
            shape: cpu.size(),
            kind: kind_name(cpu.kind()).into(),
            bytes,
        }
    }

    fn tensor(&self) -> Result<Tensor, String> {
        let kind =
            kind_of(&self.kind).ok_or_else(|| format!("unknown tensor kind {}", self.kind))?;
        Tensor::f_from_data_size(&self.bytes, &self.shape, kind).map_err(|e| e.to_string())
    }
}

/// Copies saved tensors into live ones of the same shapes and kinds, in order.
pub fn copy_into(live: &[Tensor], saved: &[SavedTensor], what: &str) -> Result<(), String> {
    if live.len() != saved.len() {
        return Err(format!(
            "{what}: {} saved tensors for {} live ones",
            saved.len(),
            live.len()
        ));
    }
    tch::no_grad(|| {
        for (l, s) in live.iter().zip(saved) {
            if l.size() != s.shape || kind_name(l.kind()) != s.kind {
                return Err(format!(
                    "{what}: saved {} {:?}, live {} {:?}",
                    s.kind,
                    s.shape,
                    kind_name(l.kind()),
                    l.size()
                ));
            }
            let mut l = l.shallow_clone();
            l.copy_(&s.tensor()?.to_device(l.device()));
        }
        Ok(())
    })
}
