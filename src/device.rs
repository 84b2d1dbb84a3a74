//! Choosing the LibTorch device from `--device cpu|cuda|cuda:N|auto`.

use tch::Device;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("--device {0}: expected cpu, cuda, cuda:N or auto")]
    Unknown(String),
    #[error("--device {asked}: CUDA was asked for, but LibTorch finds no CUDA device on this machine (use --device cpu or auto)")]
    NoCuda { asked: String },
    #[error("--device {asked}: this machine has {count} CUDA device(s), numbered from 0")]
    NoSuchGpu { asked: String, count: usize },
}

/// Parses and checks a device name against what this machine has.
pub fn parse(name: &str) -> Result<Device, DeviceError> {
    let s = name.trim().to_ascii_lowercase();
    let index = match s.as_str() {
        "cpu" => return Ok(Device::Cpu),
        "auto" => return Ok(Device::cuda_if_available()),
        "cuda" | "gpu" => 0,
        _ => match s.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(i) => i,
            None => return Err(DeviceError::Unknown(name.to_string())),
        },
    };
    if !tch::Cuda::is_available() {
        return Err(DeviceError::NoCuda { asked: name.to_string() });
    }
    let count = tch::Cuda::device_count() as usize;
    if index >= count {
        return Err(DeviceError::NoSuchGpu { asked: name.to_string(), count });
    }
    Ok(Device::Cuda(index))
}

/// The devices that `name` stands for: `cuda` (or `gpu`) means every visible GPU,
/// anything else the one device `parse` gives.
pub fn parse_all(name: &str) -> Result<Vec<Device>, DeviceError> {
    let first = parse(name)?;
    if matches!(name.trim().to_ascii_lowercase().as_str(), "cuda" | "gpu") {
        return Ok((0..tch::Cuda::device_count().max(1) as usize).map(Device::Cuda).collect());
    }
    Ok(vec![first])
}

/// The name used in output and stored results.
pub fn name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(parse("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse("CPU").unwrap(), Device::Cpu);
        assert!(matches!(parse("tpu"), Err(DeviceError::Unknown(_))));
        assert!(matches!(parse("cuda:x"), Err(DeviceError::Unknown(_))));
        if !tch::Cuda::is_available() {
            assert!(matches!(parse("cuda"), Err(DeviceError::NoCuda { .. })));
            assert_eq!(parse("auto").unwrap(), Device::Cpu);
        }
    }
}
