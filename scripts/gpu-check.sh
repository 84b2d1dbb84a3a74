#!/usr/bin/env bash
# The GPU, proven in one call: run this on a machine with an NVIDIA GPU (no network
# needed), with the release binary built here carried along.
#
#   scripts/gpu-check.sh OUT_DIR [DEVICE]        DEVICE: cuda (default), cuda:N or cpu
#
# It (1) links the LibTorch gridsweep was built against to the machine's own torch
# 2.11.0 (python3's site-packages, when ~/.cache/gridsweep/torch-2.11.0 is absent);
# (2) checks that the binary sees the device; (3) runs one quick sweep on DEVICE and
# on the CPU and compares their fold scores (GPU kernels round otherwise: the
# difference is measured, not expected to be 0); (4) times a benchmark sweep of the
# study's shape (6,446 rows of built-in data, the final configuration with adam/nadam
# × dropout 0.3/0.4, batch 512 and 64) with 1, 4 and 8 workers per GPU; (5) estimates
# the study's whole grid (5,328 fold-fits, its fold-epochs from `plan`) at the best
# rate; (6) times fused training's premise (scripts/fusion-kernels.py: N networks'
# products batched against one by one); (7) runs 48 configurations with --fuse 1, 8,
# 32 and 128 (GPU_CHECK_FUSE sets the list), their throughput and how far their
# scores are from the unfused run's. Everything it measures goes to
# OUT_DIR/gpu-check.json, step by step, so a run
# cut short still leaves what it had. Under 8 minutes on a GPU; DEVICE=cpu runs the
# same steps on the CPU (how the test suite checks the script itself), and
# GPU_CHECK_EPOCHS (default 20) sets the benchmark's epochs.
set -uo pipefail

OUT="${1:?usage: scripts/gpu-check.sh OUT_DIR [cuda|cuda:N|cpu]}"
DEVICE="${2:-cuda}"
EPOCHS="${GPU_CHECK_EPOCHS:-20}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GRIDSWEEP_BIN:-$REPO/target/release/gridsweep}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
JSON="$OUT/gpu-check.json"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT

say() { echo "gpu-check: $*" >&2; }
# record KEY JSON-VALUE: adds one key to the JSON file (rewritten whole each time).
record() {
  python3 - "$JSON" "$1" "$2" <<'PY'
import json, sys, os
path, key, value = sys.argv[1], sys.argv[2], sys.argv[3]
doc = json.load(open(path)) if os.path.exists(path) else {}
doc[key] = json.loads(value)
json.dump(doc, open(path, "w"), indent=2)
PY
}
rm -f "$JSON"
record started "\"$(date -u +%FT%TZ)\""
record device "\"$DEVICE\""

[ -x "$BIN" ] || { say "no binary at $BIN (build with cargo build --release, or set GRIDSWEEP_BIN)"; record error '"no binary"'; exit 2; }

# (1) LibTorch: the binary's rpath points into ~/.cache/gridsweep/torch-2.11.0; a GPU
# machine without setup-libtorch.sh's install has the same torch in python3.
CACHE="${GRIDSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gridsweep}/torch-2.11.0"
if [ ! -e "$CACHE/torch/lib/libtorch_cpu.so" ]; then
  SITE="$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null || true)"
  if [ -n "$SITE" ] && [ -e "$SITE/torch/lib/libtorch_cpu.so" ]; then
    mkdir -p "$(dirname "$CACHE")"
    ln -sfn "$SITE" "$CACHE"
    say "linked $CACHE -> $SITE"
    record libtorch "\"$SITE (python3's torch $(python3 -c 'import torch; print(torch.__version__)'))\""
  else
    say "no LibTorch at $CACHE and no torch in python3"; record error '"no LibTorch"'; exit 2
  fi
else
  record libtorch "\"$CACHE\""
fi
if command -v nvidia-smi >/dev/null; then
  record gpus "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | python3 -c 'import json,sys; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))')"
fi
record binary "\"$("$BIN" --version)\""

# Workers per device: --jobs-per-device on a GPU, --jobs on the CPU.
workers() { case "$DEVICE" in cpu) echo "--jobs $1" ;; *) echo "--jobs-per-device $1" ;; esac; }
spec() { # spec NAME ROWS_FILE EPOCHS GRID
  cat > "$W/$1.json" <<EOF
{"name": "$1", "dataset": {"path": "$2"}, "cv": {"folds": 3}, "seed": 42,
 "fixed": {"epochs": $3, "early_stopping_patience": 1000},
 "grid": $4}
EOF
  echo "$W/$1.json"
}

"$BIN" demo-data --out "$W/study-shape.csv" --rows 6446 >/dev/null 2>&1 || { record error '"demo-data failed"'; exit 2; }

# (2)+(3) One quick sweep here and on the CPU: the device works, and how far its
# numbers are from the CPU's.
Q="$(spec quick "$W/study-shape.csv" 5 '{"optimizer": ["adam", "nadam"], "dropout": [0.3, 0.4]}')"
start=$(date +%s.%N)
if ! timeout 300 "$BIN" run "$Q" --db "$W/on-device.db" --device "$DEVICE" $(workers 2) --quiet 2>"$W/err"; then
  say "the quick sweep on $DEVICE failed: $(tail -3 "$W/err")"
  record error "$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()[-2000:]))' "$W/err")"
  exit 3
fi
dev_s=$(python3 -c "print($(date +%s.%N) - $start)")
timeout 300 "$BIN" run "$Q" --db "$W/on-cpu.db" --device cpu --jobs 2 --quiet 2>/dev/null || { record error '"the quick sweep on cpu failed"'; exit 3; }
"$BIN" export quick --db "$W/on-device.db" --format cv-results --out "$W/dev.csv" 2>/dev/null
"$BIN" export quick --db "$W/on-cpu.db" --format cv-results --out "$W/cpu.csv" 2>/dev/null
record quick_vs_cpu "$(python3 - "$W/dev.csv" "$W/cpu.csv" "$dev_s" <<'PY'
import csv, json, sys
def folds(path):
    rows = list(csv.DictReader(open(path)))
    return {r["params"]: [float(r[k]) for k in sorted(r) if k.startswith("split") and k.endswith("_score")] for r in rows}
a, b = folds(sys.argv[1]), folds(sys.argv[2])
diffs = [abs(x - y) for k in a for x, y in zip(a[k], b[k])]
print(json.dumps({"configurations": len(a), "fold_scores": len(diffs), "max_abs_diff": max(diffs), "mean_abs_diff": sum(diffs) / len(diffs), "seconds_on_device": round(float(sys.argv[3]), 2)}))
PY
)"

# (4) The benchmark: the study's final configuration × adam/nadam × dropout 0.3/0.4,
# 3 folds, at batch 512 and 64, with 1, 4 and 8 workers per device.
BENCH='{"optimizer": ["adam", "nadam"], "dropout": [0.3, 0.4]}'
results="[]"
for batch in 512 64; do
  for n in 1 4 8; do
    B="$(spec "bench-$batch-$n" "$W/study-shape.csv" "$EPOCHS" "$BENCH")"
    sed -i "s/\"epochs\": $EPOCHS,/\"epochs\": $EPOCHS, \"batch_size\": $batch,/" "$B"
    start=$(date +%s.%N)
    if timeout 240 "$BIN" run "$B" --db "$W/bench-$batch-$n.db" --device "$DEVICE" $(workers "$n") --quiet 2>/dev/null; then
      wall=$(python3 -c "print($(date +%s.%N) - $start)")
      results=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); r.append({'batch': $batch, 'workers_per_device': $n, 'fold_fits': 12, 'epochs': $EPOCHS, 'wall_seconds': round($wall, 2), 'fold_fits_per_minute': round(12 * 60 / $wall, 1)}); print(json.dumps(r))" "$results")
      say "batch $batch, $n worker(s): $(python3 -c "print(round($wall, 1))") s for 12 fold-fits of $EPOCHS epochs"
    else
      results=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); r.append({'batch': $batch, 'workers_per_device': $n, 'error': 'failed or over 240 s'}); print(json.dumps(r))" "$results")
    fi
    record bench "$results"
  done
done

# (5) The study's whole grid at the best rate measured: its fold-epochs from plan (on
# data of the same shape), at the bench's fold-epochs per second.
FE=$("$BIN" plan "$REPO/search-spaces/genre-factor.json" --data "$W/study-shape.csv" --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["fold_epochs_of_full_runs"], d["fold_fits"])')
record whole_grid_estimate "$(python3 - "$results" $FE "$EPOCHS" <<'PY'
import json, sys
runs = [r for r in json.loads(sys.argv[1]) if "wall_seconds" in r]
fold_epochs, fold_fits, epochs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
best = min(runs, key=lambda r: r["wall_seconds"]) if runs else None
rate = 12 * epochs / best["wall_seconds"] if best else None
print(json.dumps({"fold_fits": fold_fits, "fold_epochs": fold_epochs, "best_run": best,
                  "fold_epochs_per_second": rate, "minutes": fold_epochs / rate / 60 if rate else None,
                  "note": "full epochs, no early stopping: an upper bound"}))
PY
)"
# (6) Fused training's premise on DEVICE (issue 33): one training step's products of N
# same-shape networks as batched products against one by one, each member's slice
# compared with its own (python3's torch; the cache is a site-packages folder).
BUDGET=0.5
[ "$DEVICE" = cpu ] && BUDGET=0.02
if FK=$(PYTHONPATH="$CACHE${PYTHONPATH:+:$PYTHONPATH}" timeout 120 python3 "$REPO/scripts/fusion-kernels.py" --device "$DEVICE" --budget "$BUDGET" --json 2>"$W/fk.err"); then
  record fusion_kernels "$FK"
  say "fused products: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(", ".join("w%d b%d n%d: %.2fx%s" % (c["width"], c["batch"], c["members"], c["fused_over_unfused"], "" if c["bit_for_bit"] else " (not bit for bit)") for c in d["cases"]))' "$FK")"
else
  record fusion_kernels "$(python3 -c 'import json,sys; print(json.dumps({"error": open(sys.argv[1]).read()[-1000:]}))' "$W/fk.err")"
fi
# (7) Fused training itself (`run --fuse N`): 48 configurations of the final network's
# shape (6 dropout rates x 2 optimizers x 4 learning-rate factors), 3 folds, batch 512,
# one worker per device, N = 1, 8, 32, 128 folds as one; each run's fold-fits per
# minute, and how far its fold scores are from the unfused run's (0 on a CPU with one
# thread, where a fused fold trains bit for bit as alone; measured on a GPU).
FUSE_GRID='{"dropout": [0.2, 0.25, 0.3, 0.35, 0.4, 0.45], "optimizer": ["adam", "nadam"], "reduce_lr_factor": [0.1, 0.2, 0.5, 0.7]}'
FUSE_SIZES="${GPU_CHECK_FUSE:-1 8 32 128}"
fused="[]"
for n in $FUSE_SIZES; do
  F="$(spec "fuse-$n" "$W/study-shape.csv" "$EPOCHS" "$FUSE_GRID")"
  sed -i "s/\"epochs\": $EPOCHS,/\"epochs\": $EPOCHS, \"batch_size\": 512,/" "$F"
  sed -i "s/\"name\": \"fuse-$n\"/\"name\": \"fuse\"/" "$F"
  start=$(date +%s.%N)
  if timeout 150 "$BIN" run "$F" --db "$W/fuse-$n.db" --device "$DEVICE" $(workers 1) --fuse "$n" --quiet 2>"$W/fuse.err"; then
    wall=$(python3 -c "print($(date +%s.%N) - $start)")
    "$BIN" export fuse --db "$W/fuse-$n.db" --format cv-results --out "$W/fuse-$n.csv" 2>/dev/null
    fused=$(python3 - "$fused" "$n" "$wall" "$W/fuse-1.csv" "$W/fuse-$n.csv" "$EPOCHS" <<'PY'
import csv, json, os, sys
runs, n, wall, base, this, epochs = json.loads(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
def folds(path):
    rows = list(csv.DictReader(open(path)))
    return {r["params"]: [float(r[k]) for k in sorted(r) if k.startswith("split") and k.endswith("_test_score")] for r in rows}
r = {"fuse": n, "fold_fits": 144, "epochs": epochs, "wall_seconds": round(wall, 2), "fold_fits_per_minute": round(144 * 60 / wall, 1)}
if os.path.exists(base) and n != 1:
    a, b = folds(base), folds(this)
    d = [abs(x - y) for k in a for x, y in zip(a[k], b.get(k, []))]
    r["max_abs_val_diff_vs_unfused"] = max(d) if d else None
    r["mean_abs_val_diff_vs_unfused"] = sum(d) / len(d) if d else None
one = [x for x in runs if x.get("fuse") == 1 and "wall_seconds" in x]
if one:
    r["throughput_vs_unfused"] = round(one[0]["wall_seconds"] / wall, 2)
runs.append(r)
print(json.dumps(runs))
PY
)
    say "--fuse $n: $(python3 -c "print(round($wall, 1))") s for 144 fold-fits of $EPOCHS epochs"
  else
    fused=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); r.append({'fuse': $n, 'error': open(sys.argv[2]).read()[-1000:] or 'over 150 s'}); print(json.dumps(r))" "$fused" "$W/fuse.err")
  fi
  record fused_runs "$fused"
done
record finished "\"$(date -u +%FT%TZ)\""
say "figures in $JSON"
