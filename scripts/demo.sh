#!/usr/bin/env bash
# The main job on built-in data: installs LibTorch if needed, builds gridsweep, writes
# the synthetic demo data set and cross-validates the study's final configuration on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-libtorch.sh >/dev/null
cargo build --release
./target/release/gridsweep demo-data --out results/demo.csv
./target/release/gridsweep cv --data results/demo.csv
