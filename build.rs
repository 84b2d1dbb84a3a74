//! Makes `target/*/gridsweep` run without LD_LIBRARY_PATH: an rpath to LibTorch's
//! `lib/` folder. `libtorch_cuda.so` is deliberately not linked: `device::load_cuda_backend`
//! loads it at run time when a device name asks for CUDA (a CPU process then does not
//! pay for the CUDA libraries); `GRIDSWEEP_TORCH_LIB` tells it where this LibTorch is.
//! Also exports MKL's vendor test from `src/mkl.rs` (see there).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    // MKL's vendor test, defined in `src/mkl.rs`, must be the one LibTorch's MKL calls:
    // pull it in from the library (-u) and export it from every binary and test.
    println!("cargo:rustc-link-arg=-Wl,-u,mkl_serv_intel_cpu_true");
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    let Some(libtorch) = std::env::var_os("LIBTORCH").map(PathBuf::from) else {
        return;
    };
    // Resolve the `.libtorch` link so that the binary keeps working from anywhere.
    let lib = libtorch.join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rustc-env=GRIDSWEEP_TORCH_LIB={}", lib.display());
}
