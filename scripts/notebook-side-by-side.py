#!/usr/bin/env python3
"""gridsweep's `protocol: notebook` beside the study's notebook loop re-run in Keras.

For each configuration of a JSON list (default tests/reference/notebook_configs.json: six
configurations of the study's grids A and B) and each seed, runs
`gridsweep cv --set protocol=notebook` on the study's 64/16/20 split, and reads the
Keras side from a JSON-lines file written by ../shared/bench/keras_notebook_reference.py
(or runs it, with --keras-python). Prints a Markdown table of mean train and validation
accuracy (mean over seeds), the per-configuration differences, their mean absolute value,
and Keras' own seed-to-seed spread, which is what the difference is judged against.

  python3 scripts/notebook-side-by-side.py --seeds 1,2,3 \\
      --keras-jsonl keras.jsonl   # or: --keras-python ~/.cache/gridsweep-keras-venv/bin/python

Standard library only.
"""
import argparse, json, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENRES = "classic,metal,rock,hip hop,electronic,pop"

ap = argparse.ArgumentParser()
ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "genre-factor", "data_selected_v1.csv"))
ap.add_argument("--configs", default=os.path.join(ROOT, "tests", "reference", "notebook_configs.json"))
ap.add_argument("--seeds", default="1,2,3")
ap.add_argument("--gridsweep", default=os.path.join(ROOT, "target", "release", "gridsweep"))
ap.add_argument("--jobs", default="2")
ap.add_argument("--keras-jsonl", help="results of keras_notebook_reference.py, one JSON line per configuration and seed")
ap.add_argument("--keras-python", help="run keras_notebook_reference.py with this Python instead")
ap.add_argument("--json-out", help="also write every figure here")
a = ap.parse_args()

configs = json.load(open(a.configs))
seeds = [int(s) for s in a.seeds.split(",")]
key = lambda c: json.dumps(c, sort_keys=True)

# Keras' side.
if a.keras_python:
    script = os.path.join(ROOT, "..", "shared", "bench", "keras_notebook_reference.py")
    out = subprocess.run([a.keras_python, script, "--data", a.data, "--configs", a.configs, "--seeds", a.seeds,
                          "--n-jobs", a.jobs], check=True, capture_output=True, text=True).stdout
    keras_lines = out.splitlines()
elif a.keras_jsonl:
    keras_lines = open(a.keras_jsonl).read().splitlines()
else:
    sys.exit("give --keras-jsonl FILE or --keras-python PY")
keras = {}
for line in keras_lines:
    if line.strip().startswith("{"):
        r = json.loads(line)
        keras.setdefault(key(r["config"]), {})[r["seed"]] = r

# gridsweep's side.
ours = {}
for c in configs:
    for seed in seeds:
        cmd = [a.gridsweep, "cv", "--data", a.data, "--keep-labels", GENRES, "--test-fraction", "0.2",
               "--validation-fraction", "0.2", "--seed", str(seed), "--jobs", a.jobs, "--json", "--set", "protocol=notebook"]
        for k, v in c.items():
            cmd += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
        doc = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        s = doc["summary"]
        ours.setdefault(key(c), {})[seed] = {"mean_train": s["mean_train_accuracy"], "mean_val": s["mean_val_accuracy"],
                                             "scored_epochs": [f["scored_epoch"] for f in doc["folds"]],
                                             "epochs_run": [f["epochs_run"] for f in doc["folds"]],
                                             "wall_seconds": doc["wall_seconds"]}

def mean(xs):
    return sum(xs) / len(xs)

rows, d_train, d_val, spread_train, spread_val = [], [], [], [], []
print("| configuration | gridsweep train | Keras train | gridsweep val | Keras val | Δ train | Δ val |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for c in configs:
    k = key(c)
    g, kr = ours[k], keras.get(k, {})
    if not all(s in kr for s in seeds):
        sys.exit(f"Keras results lack seeds {seeds} for {c}")
    gt, gv = mean([g[s]["mean_train"] for s in seeds]), mean([g[s]["mean_val"] for s in seeds])
    kt, kv = mean([kr[s]["mean_train"] for s in seeds]), mean([kr[s]["mean_val"] for s in seeds])
    d_train.append(gt - kt)
    d_val.append(gv - kv)
    spread_train.append(statistics.pstdev([kr[s]["mean_train"] for s in seeds]))
    spread_val.append(statistics.pstdev([kr[s]["mean_val"] for s in seeds]))
    label = f"{c['num_hidden_layers']}+1 layers {c['neurons_1']}/{c['neurons_2']}, {c['activation']}, {c['optimizer']}, " \
            f"dropout {c['dropout']}, batch {c['batch_size']}, ES {c['early_stopping_patience']}, " \
            f"LR ×{c['reduce_lr_factor']}/{c['reduce_lr_patience']}/{c['reduce_lr_min_lr']}"
    print(f"| {label} | {gt:.4f} | {kt:.4f} | {gv:.4f} | {kv:.4f} | {gt - kt:+.4f} | {gv - kv:+.4f} |")
    rows.append({"config": c, "gridsweep": g, "keras": kr, "train": [gt, kt], "val": [gv, kv]})
summary = {
    "mean_abs_diff_train": mean([abs(x) for x in d_train]), "mean_abs_diff_val": mean([abs(x) for x in d_val]),
    "keras_seed_spread_train": mean(spread_train), "keras_seed_spread_val": mean(spread_val),
    "seeds": seeds,
}
print()
print(f"mean |gridsweep − Keras| over {len(configs)} configurations (means over seeds {seeds}): "
      f"train {summary['mean_abs_diff_train']:.4f}, val {summary['mean_abs_diff_val']:.4f}; "
      f"Keras' own seed-to-seed spread (population std over seeds, mean over configurations): "
      f"train {summary['keras_seed_spread_train']:.4f}, val {summary['keras_seed_spread_val']:.4f}")
if a.json_out:
    json.dump({"rows": rows, "summary": summary}, open(a.json_out, "w"), indent=1)
