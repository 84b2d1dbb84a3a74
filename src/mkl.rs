//! MKL's choice of kernels, and the opt-in (`--mkl-avx512`) to its AVX-512 kernels on
//! CPUs that are not Intel's.
//!
//! Every fp32 product of training (LibTorch's `addmm`/`mm`) runs on MKL's sgemm. MKL
//! picks its code path once per process, at its first call: by the CPU's instruction
//! sets on Intel CPUs, but on any other vendor's it takes its AVX2 path even where the
//! CPU has AVX-512. On this project's machines (AMD Zen 5, full-width AVX-512) that is
//! 114 GFLOP/s per core where MKL's AVX-512 sgemm does 250; MKL's own switches
//! (`MKL_ENABLE_INSTRUCTIONS`, `MKL_CBWR`, `MKL_DEBUG_CPU_TYPE`) do not move it.
//!
//! The vendor test is one function, `mkl_serv_intel_cpu_true` (cpuid leaf 0 ==
//! "GenuineIntel"). LibTorch exports it and MKL calls it through the dynamic symbol
//! table, so a definition in the executable takes precedence; this module defines it
//! and `build.rs` exports it from every binary of the crate. By default it answers
//! exactly what MKL's own does. After [`force_avx512`] it answers "Intel", and MKL then
//! chooses by instruction sets: AVX-512 (with bf16) on Zen 4/5.
//!
//! Why it is opt-in: another kernel sums each product in another order, so fp32
//! results are no longer bit for bit those of the default path (the foundation's, on
//! this machine); they are as accurate (max error of a 256-deep product against fp64:
//! 2.6e-5 default, 5.2e-5 AVX-512, mean 2.4e-6 vs 3.2e-6), and the runs record which
//! path they used (the fold's device reads `cpu+mkl-avx512`). bf16 products go to
//! oneDNN, which already uses AVX-512 here, and do not change.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Set by [`force_avx512`] where it changes MKL's choice (a CPU that is not Intel's).
static FORCE_AVX512: AtomicBool = AtomicBool::new(false);
/// Set by [`portable`]: MKL's vendor-independent kernels and ATen's AVX2 ones.
static PORTABLE: AtomicBool = AtomicBool::new(false);
/// The vendor MKL is told ([`VENDOR_ENV`], for tests): 0 the CPU's own, 1 Intel, 2 another.
static ANSWER: AtomicU8 = AtomicU8::new(0);
/// Set by MKL's first vendor query: from then on its choice is made.
static ASKED: AtomicBool = AtomicBool::new(false);

/// MKL's vendor test, answered for MKL (see the module docs). Not for Rust callers.
#[no_mangle]
pub extern "C" fn mkl_serv_intel_cpu_true() -> libc::c_int {
    ASKED.store(true, Ordering::SeqCst);
    answers_intel() as libc::c_int
}

/// What MKL's vendor test answers in this process.
fn answers_intel() -> bool {
    if FORCE_AVX512.load(Ordering::SeqCst) {
        return true;
    }
    match ANSWER.load(Ordering::SeqCst) {
        1 => true,
        2 => false,
        _ => vendor_is_intel(),
    }
}

/// cpuid leaf 0's vendor string is "GenuineIntel": MKL's own test.
pub fn vendor_is_intel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // Safe to call from Rust 1.87 on; cpuid leaf 0 exists on every x86-64 CPU.
        #[allow(unused_unsafe)]
        let r = unsafe { std::arch::x86_64::__cpuid(0) };
        let mut v = [0u8; 12];
        v[..4].copy_from_slice(&r.ebx.to_le_bytes());
        v[4..8].copy_from_slice(&r.edx.to_le_bytes());
        v[8..].copy_from_slice(&r.ecx.to_le_bytes());
        &v == b"GenuineIntel"
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MklError {
    #[error("--fp32-portable and --mkl-avx512 ask for different kernels; give one")]
    Both,
    #[error("--fp32-portable: this CPU has no AVX2, which the portable path's ATen kernels need")]
    NoAvx2,
    #[error("{VENDOR_ENV}={0}: expected intel or other (it answers MKL's vendor test, for tests)")]
    BadVendor(String),
    #[error("--mkl-avx512: this CPU has no AVX-512 (no avx512f), so MKL has no AVX-512 kernel to run here; leave the option out")]
    NoAvx512,
    /// The option named came after MKL's first product.
    #[error("{0}: MKL had already chosen its kernels in this process (the option must take effect before any fp32 product)")]
    TooLate(&'static str),
    #[error("--mkl-avx512: MKL would not see the option: this binary's `mkl_serv_intel_cpu_true` is not the one the dynamic linker resolves (was it linked without build.rs's export?)")]
    NotInterposed,
}

/// Makes MKL take its AVX-512 kernels (where the CPU has AVX-512) in this process. Call
/// before any fp32 product; a no-op on Intel CPUs, where MKL chooses by instruction set.
pub fn force_avx512() -> Result<(), MklError> {
    if !cpu_has_avx512() {
        return Err(MklError::NoAvx512);
    }
    if !interposed() {
        return Err(MklError::NotInterposed);
    }
    // Children (bench's sweeps) inherit the choice.
    std::env::set_var(ENV, "1");
    if answers_intel() {
        return Ok(());
    }
    FORCE_AVX512.store(true, Ordering::SeqCst);
    if ASKED.load(Ordering::SeqCst) {
        FORCE_AVX512.store(false, Ordering::SeqCst);
        return Err(MklError::TooLate("--mkl-avx512"));
    }
    Ok(())
}

/// The environment variable that asks for [`force_avx512`], as `--mkl-avx512` does.
pub const ENV: &str = "GRIDSWEEP_MKL_AVX512";

/// Whether [`force_avx512`] changed MKL's choice: asked for, on a CPU that is not Intel's.
pub fn avx512_forced() -> bool {
    FORCE_AVX512.load(Ordering::SeqCst)
}

/// Whether MKL runs its AVX-512 kernels in this process: forced ([`force_avx512`]), or
/// its own choice on an Intel CPU with AVX-512 (not on the portable path).
pub fn avx512_path() -> bool {
    !portable_path() && answers_intel() && cpu_has_avx512()
}

/// The environment variable that asks for [`portable`], as `--fp32-portable` does.
pub const PORTABLE_ENV: &str = "GRIDSWEEP_FP32_PORTABLE";

/// The vendor-independent fp32 path (`--fp32-portable`): MKL in its conditional
/// numerical reproducibility mode `COMPATIBLE` (`MKL_CBWR`), whose kernels MKL
/// documents as giving the same results on Intel and compatible CPUs whatever their
/// instruction sets, and ATen's elementwise and reduction kernels pinned to their AVX2
/// build (`ATEN_CPU_CAPABILITY=avx2`) instead of AVX-512 where the CPU has it, since a
/// wider vector sums in another order. Both are read once, at the libraries' first use:
/// call before any tensor operation. Children (bench's sweeps) inherit both. Not
/// together with [`force_avx512`] (the command line refuses the pair: `MklError::Both`).
pub fn portable() -> Result<(), MklError> {
    if !cpu_has_avx2() {
        return Err(MklError::NoAvx2);
    }
    if ASKED.load(Ordering::SeqCst) {
        return Err(MklError::TooLate("--fp32-portable"));
    }
    std::env::set_var("MKL_CBWR", "COMPATIBLE");
    std::env::set_var("ATEN_CPU_CAPABILITY", "avx2");
    std::env::set_var(PORTABLE_ENV, "1");
    PORTABLE.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether this process runs the portable path ([`portable`]).
pub fn portable_path() -> bool {
    PORTABLE.load(Ordering::SeqCst)
}

/// For tests: `GRIDSWEEP_MKL_VENDOR=intel|other` makes MKL's vendor test answer as on
/// that vendor's CPU with this one's instruction sets, so that one machine shows what a
/// machine of the other vendor computes (MKL's vendor test is the only place its
/// choice of kernels looks at the vendor).
pub const VENDOR_ENV: &str = "GRIDSWEEP_MKL_VENDOR";

/// Reads [`VENDOR_ENV`]; call before any tensor operation.
pub fn vendor_from_env() -> Result<(), MklError> {
    let Ok(v) = std::env::var(VENDOR_ENV) else { return Ok(()) };
    let answer = match v.trim() {
        "intel" => 1,
        "other" => 2,
        "" => 0,
        other => return Err(MklError::BadVendor(other.into())),
    };
    ANSWER.store(answer, Ordering::SeqCst);
    Ok(())
}

/// Whether `--mkl-avx512` would change MKL's kernels here: a CPU with AVX-512 that is
/// not Intel's.
pub fn avx512_would_change_mkl() -> bool {
    cpu_has_avx512() && !answers_intel()
}

fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the dynamic linker resolves MKL's vendor test to this module's definition.
pub fn interposed() -> bool {
    // SAFETY: dlsym with a NUL-terminated name; the result is only compared.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"mkl_serv_intel_cpu_true".as_ptr()) };
    std::ptr::eq(found as *const (), mkl_serv_intel_cpu_true as *const ())
}

/// One line on the fp32 product path, for `bench` and logs.
pub fn describe() -> &'static str {
    if portable_path() {
        "MKL sgemm in its vendor-independent mode (MKL_CBWR=COMPATIBLE), ATen's AVX2 kernels (--fp32-portable)"
    } else if avx512_forced() {
        "MKL sgemm, AVX-512 kernels (--mkl-avx512)"
    } else if avx512_would_change_mkl() {
        "MKL sgemm, MKL's AVX2 kernels (its choice on non-Intel CPUs; --mkl-avx512 takes its AVX-512 ones)"
    } else {
        "MKL sgemm, kernels chosen by MKL for this CPU"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_test_is_this_modules() {
        // build.rs exports the definition; without it MKL would never see the option.
        assert!(interposed());
    }

    #[test]
    fn by_default_the_answer_is_mkls_own() {
        // LibTorch's own definition, looked up in libtorch_cpu itself.
        // SAFETY: dlopen of a library this process already links (no new
        // initialisation); the symbol is a C function without arguments.
        let own = unsafe {
            let lib = libc::dlopen(c"libtorch_cpu.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            assert!(!lib.is_null(), "libtorch_cpu.so is linked");
            let f = libc::dlsym(lib, c"mkl_serv_intel_cpu_true".as_ptr());
            assert!(!f.is_null());
            assert_ne!(f as usize, mkl_serv_intel_cpu_true as *const () as usize);
            std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> libc::c_int>(f)()
        };
        assert!(!FORCE_AVX512.load(Ordering::SeqCst) && ANSWER.load(Ordering::SeqCst) == 0);
        assert_eq!(mkl_serv_intel_cpu_true(), own);
        assert_eq!(own == 1, vendor_is_intel());
    }
}
