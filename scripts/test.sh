#!/usr/bin/env bash
# The test command: installs LibTorch if needed (cached in ~/.cache/gridsweep), builds,
# runs every test. Tests that want the real study data skip, saying so, without it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-libtorch.sh >/dev/null
# The tree stays formatted (rustfmt's defaults): a diff fails the run before the build.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --check >/dev/null || { echo "cargo fmt --check: the tree is not formatted; run cargo fmt" >&2; cargo fmt --check | head -40 >&2; exit 1; }
else
  echo "note: rustfmt is not installed (rustup component add rustfmt): the format check did not run" >&2
fi
# And lint-clean: clippy's warnings are errors (an exception is an #[allow] with its reason).
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --release --all-targets --quiet -- -D warnings || { echo "cargo clippy -D warnings: fix the lints above, or allow one with its reason" >&2; exit 1; }
else
  echo "note: clippy is not installed (rustup component add clippy): the lint check did not run" >&2
fi
if [ ! -f ../shared/data/genre-factor/data_selected_v1.csv ]; then
  echo "note: ../shared/data/genre-factor/data_selected_v1.csv is absent: the study-data tests (tests/shared_data.rs) skip"
fi
# Services the tests need, started here and stopped at exit.
source scripts/postgres.sh
source scripts/slurm.sh
source scripts/chromium.sh
trap 'stop_slurm; stop_postgres' EXIT
start_postgres
start_slurm
find_chromium
cargo test --release "$@"
