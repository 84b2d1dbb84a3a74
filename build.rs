//! Makes `target/*/gridsweep` run without LD_LIBRARY_PATH: an rpath to LibTorch's
//! `lib/` folder. `libtorch_cuda.so` is deliberately not linked: `device::load_cuda_backend`
//! loads it at run time when a device name asks for CUDA (a CPU process then does not
//! pay for the CUDA libraries); `GRIDSWEEP_TORCH_LIB` tells it where this LibTorch is.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(libtorch) = std::env::var_os("LIBTORCH").map(PathBuf::from) else {
        return;
    };
    // Resolve the `.libtorch` link so that the binary keeps working from anywhere.
    let lib = libtorch.join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rustc-env=GRIDSWEEP_TORCH_LIB={}", lib.display());
}
