//! Makes `target/*/gridsweep` run without LD_LIBRARY_PATH: an rpath to LibTorch's
//! `lib/` folder, and `torch_cuda` linked with --no-as-needed. Without the latter the
//! linker drops libtorch_cuda (no symbol of it is referenced directly), LibTorch never
//! registers its CUDA backend, and `tch::Cuda::is_available()` is false even on a GPU.
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
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
