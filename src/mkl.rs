//! The fp32 kernel path (`--kernels auto|avx512|avx2|portable`): which of MKL's kernels
//! the process runs, whatever the CPU's vendor.
//!
//! Every fp32 product of training (LibTorch's `addmm`/`mm`) runs on MKL's sgemm. MKL
//! picks its code path once per process, at its first call: by the CPU's instruction
//! sets on Intel CPUs, but on any other vendor's it takes its AVX2 path even where the
//! CPU has AVX-512. On AMD Zen 5 (full-width AVX-512) that is 114 GFLOP/s per core
//! where MKL's AVX-512 sgemm does 250; MKL's own switches (`MKL_ENABLE_INSTRUCTIONS`,
//! `MKL_CBWR`, `MKL_DEBUG_CPU_TYPE`) do not move it.
//!
//! The vendor test is one function, `mkl_serv_intel_cpu_true` (cpuid leaf 0 ==
//! "GenuineIntel"). LibTorch exports it and MKL calls it through the dynamic symbol
//! table, so a definition in the executable takes precedence; this module defines it
//! and `build.rs` exports it from every binary of the crate. It answers as the path
//! asks: "Intel" for the AVX-512 path ([`force_avx512`]; MKL then chooses by instruction
//! sets: AVX-512 on Intel and on Zen 4/5 alike), "not Intel" for the AVX2 path
//! ([`force_avx2`]; MKL's AVX2 kernels on any CPU). So one path gives one set of
//! numbers on both vendors, and the default ([`Cpu::default_kernels`]) is AVX-512
//! wherever the CPU has it. A sweep keeps the path its done folds recorded
//! ([`resolve`]).
//!
//! The paths round differently (another kernel sums each product in another order);
//! they are as accurate (max error of a 256-deep product against fp64: 2.6e-5 AVX2,
//! 5.2e-5 AVX-512, mean 2.4e-6 vs 3.2e-6), and each fold records its path in its
//! device label (`cpu+mkl-avx512`, `cpu`, `cpu+portable`). bf16 products go to oneDNN,
//! which is not affected.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Set by [`force_avx512`] where it changes MKL's choice (a CPU that is not Intel's).
static FORCE_AVX512: AtomicBool = AtomicBool::new(false);
/// Set by [`force_avx2`]: MKL told "not Intel", so that it takes its AVX2 kernels on
/// any CPU (`--kernels avx2`).
static FORCE_AVX2: AtomicBool = AtomicBool::new(false);
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
    if FORCE_AVX2.load(Ordering::SeqCst) {
        return false;
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

/// Makes MKL take its AVX2 kernels in this process, whatever the CPU's vendor (the
/// path it takes by itself on AMD CPUs and on CPUs without AVX-512). Call before any
/// fp32 product.
pub fn force_avx2() -> Result<(), MklError> {
    if !interposed() {
        return Err(MklError::NotInterposed);
    }
    if ASKED.load(Ordering::SeqCst) {
        return Err(MklError::TooLate("--kernels avx2"));
    }
    FORCE_AVX2.store(true, Ordering::SeqCst);
    Ok(())
}

/// The environment variable that names the kernel path, as `--kernels` does.
pub const KERNELS_ENV: &str = "GRIDSWEEP_KERNELS";

/// The fp32 kernel path of a process: which kernels MKL's sgemm (and ATen's
/// elementwise ones) run, whose rounding the results depend on. A fold records it in
/// its device label ([`Kernels::label`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// MKL's AVX-512 kernels, whatever the vendor: `cpu+mkl-avx512`.
    Avx512,
    /// MKL's AVX2 kernels, whatever the vendor: `cpu`.
    Avx2,
    /// The vendor-independent path (`MKL_CBWR=COMPATIBLE`, ATen's AVX2 kernels):
    /// `cpu+portable`.
    Portable,
}

impl Kernels {
    pub fn parse(s: &str) -> Result<Option<Kernels>, String> {
        match s.trim() {
            "auto" => Ok(None),
            "avx512" => Ok(Some(Kernels::Avx512)),
            "avx2" => Ok(Some(Kernels::Avx2)),
            "portable" => Ok(Some(Kernels::Portable)),
            other => Err(format!(
                "`{other}`: expected auto, avx512, avx2 or portable"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernels::Avx512 => "avx512",
            Kernels::Avx2 => "avx2",
            Kernels::Portable => "portable",
        }
    }

    /// The CPU device label folds trained on this path record.
    pub fn label(self) -> &'static str {
        match self {
            Kernels::Avx512 => "cpu+mkl-avx512",
            Kernels::Avx2 => "cpu",
            Kernels::Portable => "cpu+portable",
        }
    }

    /// The path a recorded CPU label names (`cpu` is the AVX2 path: what a database
    /// made before `--kernels` recorded for AMD CPUs and CPUs without AVX-512).
    pub fn of_label(label: &str) -> Option<Kernels> {
        [Kernels::Avx512, Kernels::Avx2, Kernels::Portable]
            .into_iter()
            .find(|k| k.label() == label)
    }
}

/// What the CPU can run: AVX-512 (MKL's AVX-512 kernels need F, CD, BW, DQ and VL),
/// AVX2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu {
    pub avx512: bool,
    pub avx2: bool,
}

impl Cpu {
    /// This machine's (`GRIDSWEEP_CPU_AVX512=0` pretends it has no AVX-512, for tests).
    pub fn this() -> Cpu {
        let pretend_none = std::env::var("GRIDSWEEP_CPU_AVX512").is_ok_and(|v| v.trim() == "0");
        Cpu {
            avx512: cpu_has_avx512() && !pretend_none,
            avx2: cpu_has_avx2(),
        }
    }

    /// The default path: MKL's AVX-512 kernels wherever the CPU has them, whatever its
    /// vendor; AVX2 elsewhere.
    pub fn default_kernels(self) -> Kernels {
        if self.avx512 {
            Kernels::Avx512
        } else {
            Kernels::Avx2
        }
    }

    fn runs(self, k: Kernels) -> bool {
        match k {
            Kernels::Avx512 => self.avx512,
            Kernels::Avx2 => true,
            Kernels::Portable => self.avx2,
        }
    }
}

/// Why no kernel path could be chosen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelsError {
    #[error("--kernels avx512: this CPU has no AVX-512 (MKL's AVX-512 kernels need avx512f, cd, bw, dq and vl), so there is no such kernel to run here; leave the option out (the default is avx2 here)")]
    NoAvx512,
    #[error(
        "--kernels portable: this CPU has no AVX2, which the portable path's ATen kernels need"
    )]
    NoAvx2,
    #[error("sweep `{sweep}`'s done folds ran on `{recorded}` (--kernels {}), which this CPU cannot run ({why}); its default path is `{here}`. \
             Going on here mixes the two paths (the same fold trains to numbers that differ in rounding): give --kernels {} to go on anyway, \
             or continue the sweep on a CPU that runs `{recorded}`", Kernels::of_label(recorded).map_or("?", Kernels::name), Kernels::of_label(here).map_or("?", Kernels::name))]
    CannotKeep {
        sweep: String,
        recorded: &'static str,
        here: &'static str,
        why: &'static str,
    },
}

/// The kernel path of a process: the one asked for (`--kernels`, explicit: checked
/// against the CPU), else the recorded sweep's path (`recorded`: the path of most of
/// the sweep's done CPU folds, and its name) where this CPU runs it, else the CPU's
/// default ([`Cpu::default_kernels`]). A sweep whose path this CPU cannot run is
/// refused rather than continued on another path silently.
pub fn resolve(
    requested: Option<Kernels>,
    recorded: Option<(Kernels, &str)>,
    cpu: Cpu,
) -> Result<Kernels, KernelsError> {
    if let Some(k) = requested {
        return match k {
            _ if cpu.runs(k) => Ok(k),
            Kernels::Avx512 => Err(KernelsError::NoAvx512),
            _ => Err(KernelsError::NoAvx2),
        };
    }
    match recorded {
        Some((k, _)) if cpu.runs(k) => Ok(k),
        Some((k, sweep)) => Err(KernelsError::CannotKeep {
            sweep: sweep.to_string(),
            recorded: k.label(),
            here: cpu.default_kernels().label(),
            why: if k == Kernels::Avx512 {
                "it has no AVX-512"
            } else {
                "it has no AVX2"
            },
        }),
        None => Ok(cpu.default_kernels()),
    }
}

/// Puts this process on path `k`; before any fp32 product.
pub fn apply(k: Kernels) -> Result<(), MklError> {
    // Children (bench's sweeps) run on the same path unless told otherwise.
    std::env::set_var(KERNELS_ENV, k.name());
    match k {
        Kernels::Avx512 => force_avx512(),
        Kernels::Avx2 => force_avx2(),
        Kernels::Portable => portable(),
    }
}

/// The path this process runs (after [`apply`]; before it, MKL's own choice).
pub fn current() -> Kernels {
    if portable_path() {
        Kernels::Portable
    } else if avx512_path() {
        Kernels::Avx512
    } else {
        Kernels::Avx2
    }
}

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
    let Ok(v) = std::env::var(VENDOR_ENV) else {
        return Ok(());
    };
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
        // The subsets MKL's AVX-512 code path needs.
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512cd")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
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
    } else if avx512_path() {
        "MKL sgemm, AVX-512 kernels (--kernels avx512, the default where the CPU has AVX-512)"
    } else if FORCE_AVX2.load(Ordering::SeqCst) {
        "MKL sgemm, AVX2 kernels (--kernels avx2)"
    } else {
        "MKL sgemm, kernels chosen by MKL for this CPU"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_asked_for_kept_or_the_cpus_default() {
        let both = Cpu {
            avx512: true,
            avx2: true,
        };
        let avx2_only = Cpu {
            avx512: false,
            avx2: true,
        };
        // Nothing asked, nothing recorded: AVX-512 wherever the CPU has it.
        assert_eq!(resolve(None, None, both), Ok(Kernels::Avx512));
        assert_eq!(resolve(None, None, avx2_only), Ok(Kernels::Avx2));
        // A sweep keeps its path where this CPU runs it.
        assert_eq!(
            resolve(None, Some((Kernels::Avx2, "s")), both),
            Ok(Kernels::Avx2)
        );
        assert_eq!(
            resolve(None, Some((Kernels::Portable, "s")), avx2_only),
            Ok(Kernels::Portable)
        );
        // ... and is refused where it cannot, naming both paths and the way on.
        let e = resolve(None, Some((Kernels::Avx512, "s")), avx2_only).unwrap_err();
        assert_eq!(
            e,
            KernelsError::CannotKeep {
                sweep: "s".into(),
                recorded: "cpu+mkl-avx512",
                here: "cpu",
                why: "it has no AVX-512"
            }
        );
        assert!(
            e.to_string()
                .contains("give --kernels avx2 to go on anyway"),
            "{e}"
        );
        // Asked for: that path, where the CPU runs it, whatever was recorded.
        assert_eq!(
            resolve(Some(Kernels::Avx2), Some((Kernels::Avx512, "s")), both),
            Ok(Kernels::Avx2)
        );
        assert_eq!(
            resolve(Some(Kernels::Avx512), None, avx2_only),
            Err(KernelsError::NoAvx512)
        );
        assert_eq!(
            resolve(
                Some(Kernels::Portable),
                None,
                Cpu {
                    avx512: false,
                    avx2: false
                }
            ),
            Err(KernelsError::NoAvx2)
        );
        for k in [Kernels::Avx512, Kernels::Avx2, Kernels::Portable] {
            assert_eq!(Kernels::of_label(k.label()), Some(k));
            assert_eq!(Kernels::parse(k.name()), Ok(Some(k)));
        }
        assert_eq!(Kernels::parse("auto"), Ok(None));
    }

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
            let lib = libc::dlopen(
                c"libtorch_cpu.so".as_ptr(),
                libc::RTLD_NOW | libc::RTLD_NOLOAD,
            );
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
