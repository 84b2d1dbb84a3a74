#!/usr/bin/env python3
"""gridsweep's numbers against the study's own file, configuration by configuration
(issue 30, part 4; docs/numbers.md's fidelity table).

usage: scripts/fidelity-table.py DB STUDY_CSV SWEEP [SWEEP ...] [--bin target/release/gridsweep]

Imports STUDY_CSV (the study's HPO_combined.csv) into DB as sweep `study` if it is not
there, then, for each SWEEP of DB, finds each complete configuration's row in the
study's file by its hyperparameters (epochs left out: the file says 60 for grid B,
which ran 30) and prints, per sweep: how many matched, the mean |Δ| of validation and
train accuracy, the mean signed Δ of validation accuracy (gridsweep − study) with its
standard deviation, and the Spearman correlation of the two scores (each by the sweep's
rule). Where a configuration is in the file twice (the four the study ran in grids A
and B), a sweep whose name holds "-b" takes the second row (`<id>-2`), others the first.
"""
import argparse
import json
import math
import subprocess

KEYS = ["activation", "batch_size", "dropout", "early_stopping_patience", "neurons_1", "neurons_2",
        "neurons_3", "neurons_4", "num_hidden_layers", "optimizer", "reduce_lr_factor",
        "reduce_lr_min_lr", "reduce_lr_patience", "protocol"]


def rank(bin_, db, sweep):
    out = subprocess.run([bin_, "rank", sweep, "--db", db, "--json", "--top", "0"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["ranking"]


def key(params):
    return tuple(json.dumps(params.get(k), sort_keys=True) for k in KEYS)


def spearman(a, b):
    """halving-vs-grid.py's Spearman correlation (average ranks for ties), loaded from there."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).with_name("halving-vs-grid.py")
    spec = importlib.util.spec_from_file_location("halving_vs_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.spearman(a, b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("study_csv")
    ap.add_argument("sweeps", nargs="+")
    ap.add_argument("--bin", default="target/release/gridsweep")
    a = ap.parse_args()
    listed = json.loads(subprocess.run([a.bin, "list", "--db", a.db, "--json"], check=True, capture_output=True, text=True).stdout)
    if not any(s.get("name") == "study" for s in listed):
        subprocess.run([a.bin, "import", a.study_csv, "--name", "study", "--db", a.db], check=True, capture_output=True)
    study = {}
    for r in rank(a.bin, a.db, "study"):
        study.setdefault(key(r["params"]), {})["second" if r["config_id"].endswith("-2") else "first"] = r
    print("| sweep | matched | mean abs Δval | mean abs Δtrain | mean Δval (sd) | score Spearman |")
    print("| --- | --- | --- | --- | --- | --- |")
    for sweep in a.sweeps:
        pairs = []
        for r in rank(a.bin, a.db, sweep):
            rows = study.get(key(r["params"]))
            if not rows:
                continue
            s = rows.get("second") if "-b" in sweep and "second" in rows else rows.get("first") or rows.get("second")
            pairs.append((r, s))
        if not pairs:
            print(f"| {sweep} | 0 | | | | |")
            continue
        dv = [g["summary"]["mean_val_accuracy"] - s["summary"]["mean_val_accuracy"] for g, s in pairs]
        dt = [g["summary"]["mean_train_accuracy"] - s["summary"]["mean_train_accuracy"] for g, s in pairs]
        mean = sum(dv) / len(dv)
        sd = math.sqrt(sum((x - mean) ** 2 for x in dv) / max(len(dv) - 1, 1))
        rho = spearman([g["score"] for g, _ in pairs], [s["score"] for _, s in pairs]) if len(pairs) > 2 else float("nan")
        print(f"| {sweep} | {len(pairs)} | {sum(map(abs, dv)) / len(dv):.4f} | {sum(map(abs, dt)) / len(dt):.4f} | {mean:+.4f} ({sd:.4f}) | {rho:.2f} |")


if __name__ == "__main__":
    main()
