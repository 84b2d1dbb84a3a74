//! Choosing the LibTorch device from `--device cpu|cuda|cuda:N|auto`.
//!
//! LibTorch's CUDA backend lives in `libtorch_cuda.so`, which registers itself with
//! the dispatcher when it is loaded. gridsweep does not link it: loading it, and the
//! CUDA libraries it pulls in, costs about 350 MB of resident memory and part of a
//! second in every process, which a CPU sweep never needs. [`load_cuda_backend`]
//! loads it (once, `RTLD_GLOBAL`, before anything asks LibTorch about CUDA) when a
//! device name asks for CUDA.

use tch::Device;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    #[error("--device {0}: expected cpu, cuda, cuda:N or auto")]
    Unknown(String),
    #[error("--device {asked}: CUDA was asked for, but LibTorch finds no CUDA device on this machine (use --device cpu or auto)")]
    NoCuda { asked: String },
    #[error("--device {asked}: LibTorch's CUDA library could not be loaded: {reason}")]
    CudaLibrary { asked: String, reason: String },
    #[error("--device {asked}: this machine has {count} CUDA device(s), numbered from 0")]
    NoSuchGpu { asked: String, count: usize },
    #[error("--jobs-per-device is for GPUs; on the CPU use --jobs")]
    PerDeviceOnCpu,
    #[error("precision bf16: this CPU has no native bf16 arithmetic (no avx512_bf16 or amx_bf16 flag in /proc/cpuinfo); use fp32")]
    NoBf16,
}

/// Refuses bf16 where the hardware has no native bf16 arithmetic.
pub fn check_precision(p: crate::params::Precision, device: Device) -> Result<(), DeviceError> {
    if p == crate::params::Precision::Bf16 && !bf16_supported(device) {
        return Err(DeviceError::NoBf16);
    }
    Ok(())
}

/// Loads `libtorch_cuda.so` (from the binary's rpath, `LD_LIBRARY_PATH`, or the
/// LibTorch it was built against), once per process.
pub fn load_cuda_backend() -> Result<(), String> {
    static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let mut candidates = vec!["libtorch_cuda.so".to_string()];
            if let Some(dir) = option_env!("GRIDSWEEP_TORCH_LIB") {
                candidates.push(format!("{dir}/libtorch_cuda.so"));
            }
            let mut reasons = Vec::new();
            for c in candidates {
                let name = std::ffi::CString::new(c).map_err(|e| e.to_string())?;
                // SAFETY: dlopen with a NUL-terminated name; the handle is kept for the
                // life of the process (LibTorch's registrations point into the library).
                let handle =
                    unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
                if !handle.is_null() {
                    return Ok(());
                }
                // SAFETY: dlerror returns a thread-local C string or null.
                let err = unsafe { libc::dlerror() };
                if !err.is_null() {
                    reasons.push(
                        unsafe { std::ffi::CStr::from_ptr(err) }
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
            Err(reasons.join("; "))
        })
        .clone()
}

/// Parses and checks a device name against what this machine has.
pub fn parse(name: &str) -> Result<Device, DeviceError> {
    let s = name.trim().to_ascii_lowercase();
    let index = match s.as_str() {
        "cpu" => return Ok(Device::Cpu),
        "auto" => {
            return Ok(if load_cuda_backend().is_ok() {
                Device::cuda_if_available()
            } else {
                Device::Cpu
            });
        }
        "cuda" | "gpu" => 0,
        _ => match s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(i) => i,
            None => return Err(DeviceError::Unknown(name.to_string())),
        },
    };
    load_cuda_backend().map_err(|reason| DeviceError::CudaLibrary {
        asked: name.to_string(),
        reason,
    })?;
    if !tch::Cuda::is_available() {
        return Err(DeviceError::NoCuda {
            asked: name.to_string(),
        });
    }
    let count = tch::Cuda::device_count() as usize;
    if index >= count {
        return Err(DeviceError::NoSuchGpu {
            asked: name.to_string(),
            count,
        });
    }
    Ok(Device::Cuda(index))
}

/// The devices that `name` stands for: `cuda` (or `gpu`) means every visible GPU,
/// anything else the one device `parse` gives.
pub fn parse_all(name: &str) -> Result<Vec<Device>, DeviceError> {
    let first = parse(name)?;
    if matches!(name.trim().to_ascii_lowercase().as_str(), "cuda" | "gpu") {
        return Ok((0..tch::Cuda::device_count().max(1) as usize)
            .map(Device::Cuda)
            .collect());
    }
    Ok(vec![first])
}

/// The device of each of a run's workers: `jobs` on the CPU, or `per_device` (default
/// 2) on each GPU that `name` stands for.
pub fn workers(
    name: &str,
    jobs: usize,
    per_device: Option<usize>,
) -> Result<Vec<Device>, DeviceError> {
    let devices = parse_all(name)?;
    if devices == [Device::Cpu] {
        if per_device.is_some() {
            return Err(DeviceError::PerDeviceOnCpu);
        }
        return Ok(vec![Device::Cpu; jobs.max(1)]);
    }
    let per = per_device.unwrap_or(2).max(1);
    Ok(devices
        .iter()
        .flat_map(|d| std::iter::repeat_n(*d, per))
        .collect())
}

/// The name used in output and stored results.
pub fn name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The device as recorded with each fold and shown in progress: its name, and for the
/// CPU the kernel path of its fp32 products, whose rounding the results depend on:
/// `cpu+mkl-avx512` where MKL runs its AVX-512 kernels (`--kernels avx512`, the default
/// on every CPU with AVX-512), `cpu` where it runs its AVX2 ones (`--kernels avx2`, the
/// default on CPUs without AVX-512, and what AMD CPUs recorded by default before).
/// `cpu+portable` is the vendor-independent path (`--kernels portable`), the same
/// numbers on every x86-64 CPU with AVX2.
pub fn label(d: Device) -> String {
    match d {
        Device::Cpu if crate::mkl::portable_path() => "cpu+portable".into(),
        Device::Cpu if crate::mkl::avx512_path() => "cpu+mkl-avx512".into(),
        other => name(other),
    }
}

/// Where a sweep's done folds ran on more than one device or CPU kernel path (per
/// label: `cpu`, `cpu+mkl-avx512`, `cpu+portable`, `cuda:0`, with their fold counts),
/// what that means for its comparisons; None where they all ran on one.
pub fn mixed_paths_note(devices: &[(String, i64)]) -> Option<String> {
    if devices.len() < 2 {
        return None;
    }
    Some(format!(
        "this sweep's done folds ran on {} kernel paths ({}): the same fold trains to numbers that differ in rounding on each, \
         so configurations trained on different paths are compared across that difference (docs/reference.md, `--kernels`)",
        devices.len(),
        folds_per_path(devices)
    ))
}

/// "3 on cpu, 6 on cpu+mkl-avx512": done folds per device label.
pub fn folds_per_path(devices: &[(String, i64)]) -> String {
    let on: Vec<String> = devices
        .iter()
        .map(|(d, n)| format!("{n} on {}", if d.is_empty() { "?" } else { d }))
        .collect();
    on.join(", ")
}

/// Whether `device` does bf16 arithmetic natively: on the CPU, AVX512-BF16 or AMX;
/// GPUs are taken to have it.
pub fn bf16_supported(device: Device) -> bool {
    device != Device::Cpu || cpu_has_bf16()
}

/// Whether the CPU multiplies bf16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo
/// (read once: the kernel takes about a millisecond to produce it).
fn cpu_has_bf16() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .map(|s| {
                s.lines().filter(|l| l.starts_with("flags")).any(|l| {
                    l.split_whitespace()
                        .any(|f| f == "avx512_bf16" || f == "amx_bf16")
                })
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_on_two_paths_is_named_and_one_on_one_is_not() {
        assert_eq!(mixed_paths_note(&[]), None);
        assert_eq!(mixed_paths_note(&[("cpu".into(), 12)]), None);
        let note = mixed_paths_note(&[("cpu".into(), 3), ("cpu+mkl-avx512".into(), 6)]).unwrap();
        assert!(
            note.contains("2 kernel paths (3 on cpu, 6 on cpu+mkl-avx512)")
                && note.contains("--kernels"),
            "{note}"
        );
    }

    #[test]
    fn names_parse() {
        assert_eq!(parse("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse("CPU").unwrap(), Device::Cpu);
        assert!(matches!(parse("tpu"), Err(DeviceError::Unknown(_))));
        assert!(matches!(parse("cuda:x"), Err(DeviceError::Unknown(_))));
        assert!(load_cuda_backend().is_ok(), "{:?}", load_cuda_backend());
        // The backend is registered: without it LibTorch says it has no ATen_cuda
        // library; with it (and no GPU) it complains about the driver instead.
        if !tch::Cuda::is_available() {
            let err = tch::Tensor::f_zeros([1], (tch::Kind::Float, Device::Cuda(0)))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("without ATen_cuda library"), "{err}");
        }
        if !tch::Cuda::is_available() {
            assert!(matches!(parse("cuda"), Err(DeviceError::NoCuda { .. })));
            assert_eq!(parse("auto").unwrap(), Device::Cpu);
        }
    }
}
