#!/usr/bin/env bash
# Installs LibTorch (from the PyPI wheel torch==2.11.0, the version tch 0.24 pairs with)
# into a per-user cache outside the repository, so every clone and CI run reuses it.
#
# Idempotent: a finished install carries a marker file; an install without it (killed
# half-way, disk full) is removed and redone. Prints the LibTorch directory on stdout.
set -euo pipefail

TORCH_VERSION="2.11.0"
CACHE_ROOT="${GRIDSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gridsweep}"
DEST="$CACHE_ROOT/torch-$TORCH_VERSION"
MARKER="$DEST/.gridsweep-install-complete"

# The checkout's `.libtorch` link is what .cargo/config.toml hands to the build.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
link_checkout() { ln -sfn "$DEST" "$REPO/.libtorch"; }

if [ -f "$MARKER" ] && [ -f "$DEST/torch/lib/libtorch_cpu.so" ]; then
  link_checkout
  echo "$DEST/torch"
  exit 0
fi

PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || { echo "setup-libtorch: python3 is needed to fetch the torch wheel" >&2; exit 1; }

echo "setup-libtorch: installing torch==$TORCH_VERSION into $DEST (about 4.6 GB, once)" >&2
mkdir -p "$CACHE_ROOT"
TMP="$DEST.partial.$$"
rm -rf "$TMP" "$DEST"
# Dependencies come along (the CUDA libraries libtorch_cuda links to), so the same
# install runs on CPU-only machines and on GPU machines.
"$PY" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
  --target "$TMP" "torch==$TORCH_VERSION" >&2
[ -f "$TMP/torch/lib/libtorch_cpu.so" ] || { echo "setup-libtorch: install in $TMP has no torch/lib/libtorch_cpu.so" >&2; exit 1; }
touch "$TMP/.gridsweep-install-complete"
mv "$TMP" "$DEST"
link_checkout
echo "$DEST/torch"
