#!/usr/bin/env python3
"""gridsweep's numbers against the study's own file, configuration by configuration
(issue 30, part 4; docs/numbers.md's fidelity table).

usage: scripts/fidelity-table.py DB STUDY_CSV SWEEP [SWEEP ...] [--bin target/release/gridsweep]
           [--keras SWEEP=KERAS.jsonl ...]

Imports STUDY_CSV (the study's HPO_combined.csv) into DB as sweep `study` if it is not
there, then, for each SWEEP of DB, finds each complete configuration's row in the
study's file by its hyperparameters (the import corrects the file from its authors'
code: grid B's 30 epochs; the partition is left out, as each sweep states its own) and
prints, per sweep: how many matched, the mean |Δ| of validation and train accuracy, the
mean signed Δ of validation accuracy (gridsweep − study) with its standard deviation,
and the Spearman correlation of the two scores (each by the sweep's rule).

`--keras SWEEP=FILE` (scripts/fidelity-keras.py's output for SWEEP's configurations)
adds a row for the Keras re-run of the same configurations against the file, scored
by the relative Δ with w1 0.5 (the study's file's), and a row for gridsweep on just
those configurations, so that the two compare on equal terms.
"""
import argparse
import json
import math
import subprocess

KEYS = ["activation", "batch_size", "dropout", "early_stopping_patience", "epochs", "neurons_1", "neurons_2",
        "neurons_3", "neurons_4", "num_hidden_layers", "optimizer", "reduce_lr_factor",
        "reduce_lr_min_lr", "reduce_lr_patience", "protocol", "weight_constraint"]


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
    ap.add_argument("--keras", action="append", default=[], help="SWEEP=FILE: the Keras re-run of SWEEP's configurations")
    a = ap.parse_args()
    keras = dict(k.split("=", 1) for k in a.keras)
    listed = json.loads(subprocess.run([a.bin, "list", "--db", a.db, "--json"], check=True, capture_output=True, text=True).stdout)
    if not any(s.get("name") == "study" for s in listed):
        subprocess.run([a.bin, "import", a.study_csv, "--name", "study", "--db", a.db], check=True, capture_output=True)
    study = {key(r["params"]): r for r in rank(a.bin, a.db, "study")}
    print("| sweep | matched | mean abs Δval | mean abs Δtrain | mean Δval (sd) | score Spearman |")
    print("| --- | --- | --- | --- | --- | --- |")
    for sweep in a.sweeps:
        pairs = [(r, study[key(r["params"])]) for r in rank(a.bin, a.db, sweep) if key(r["params"]) in study]
        row(sweep, [(g["summary"]["mean_train_accuracy"], g["summary"]["mean_val_accuracy"], g["score"], s) for g, s in pairs])
        if sweep in keras:
            by_id = {g["config_id"]: (g, s) for g, s in pairs}
            runs = [json.loads(line) for line in open(keras[sweep]) if line.strip()]
            runs = [k for k in runs if k["config_id"] in by_id]
            both = [by_id[k["config_id"]] for k in runs]
            row(f"{sweep}, the same {len(runs)} only", [(g["summary"]["mean_train_accuracy"], g["summary"]["mean_val_accuracy"], g["score"], s) for g, s in both])
            score = lambda t, v: 0.5 * (0.5 * (1 - abs((t - v) / v)) + v)
            row(f"Keras re-run of those {len(runs)}", [(k["mean_train"], k["mean_val"], score(k["mean_train"], k["mean_val"]), by_id[k["config_id"]][1]) for k in runs])
            dv = [abs(k["mean_val"] - by_id[k["config_id"]][0]["summary"]["mean_val_accuracy"]) for k in runs]
            if dv:
                print(f"|   (gridsweep against Keras on those: mean abs Δval {sum(dv) / len(dv):.4f}) | | | | | |")


def row(name, pairs):
    """One table row: (train, val, score) of a re-run against the study's row."""
    if not pairs:
        print(f"| {name} | 0 | | | | |")
        return
    dv = [v - s["summary"]["mean_val_accuracy"] for _, v, _, s in pairs]
    dt = [t - s["summary"]["mean_train_accuracy"] for t, _, _, s in pairs]
    mean = sum(dv) / len(dv)
    sd = math.sqrt(sum((x - mean) ** 2 for x in dv) / max(len(dv) - 1, 1))
    rho = spearman([sc for _, _, sc, _ in pairs], [s["score"] for _, _, _, s in pairs]) if len(pairs) > 2 else float("nan")
    print(f"| {name} | {len(pairs)} | {sum(map(abs, dv)) / len(dv):.4f} | {sum(map(abs, dt)) / len(dt):.4f} | {mean:+.4f} ({sd:.4f}) | {rho:.2f} |")


if __name__ == "__main__":
    main()
