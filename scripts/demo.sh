#!/usr/bin/env bash
# The main job on built-in data: installs LibTorch if needed (once, cached in
# ~/.cache/gridsweep), builds gridsweep, runs the sweep search-spaces/quick.json on the
# built-in synthetic data set, ranks it, exports both CSV formats into results/, then
# evaluates the best configuration and writes the HTML report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-libtorch.sh >/dev/null
cargo build --release
gs=./target/release/gridsweep
$gs run search-spaces/quick.json --db results/quick.db
$gs rank quick --db results/quick.db
$gs export quick --db results/quick.db --format hpo-combined --out results/quick-HPO_combined.csv
$gs export quick --db results/quick.db --format cv-results --out results/quick-cv_results.csv
# The decision: evaluate the best configuration on the test part, baselines beside it,
# all of it in one HTML page (results/quick-report/index.html).
$gs report quick --db results/quick.db --quiet
# The saved model at work on fresh rows, with its real folder.
model=$(ls -d results/quick-*-model | head -n 1)
$gs demo-data --out results/demo.csv --rows 200 --seed 7
$gs predict --model "$model" --data results/demo.csv --out results/quick-predictions.csv
echo "model saved in $model; classify rows of your own with:"
echo "  ./target/release/gridsweep predict --model $model --data FILE.csv"
