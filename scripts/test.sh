#!/usr/bin/env bash
# The test command: installs LibTorch if needed (cached in ~/.cache/gridsweep), builds,
# runs every test. Tests that want the real study data skip, saying so, without it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-libtorch.sh >/dev/null
cargo test --release "$@"
