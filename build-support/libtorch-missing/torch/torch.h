// Reached only when the real LibTorch headers are absent (see .cargo/config.toml).
#error "LibTorch is not installed for this checkout: run `bash scripts/setup-libtorch.sh` (it installs the torch==2.11.0 wheel into ~/.cache/gridsweep and links .libtorch to it), then build again."
