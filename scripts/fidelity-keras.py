#!/usr/bin/env python3
"""The Keras yardstick of the fidelity table (issue 30, part 4): the configurations of a
gridsweep sweep, re-run by the study's notebook loop in Keras
(`../shared/bench/keras_notebook_reference.py`), one seed, appended to a JSON-lines file
a few at a time, so that a killed run continues where it stopped.

usage: scripts/fidelity-keras.py DB SWEEP OUT.jsonl --python PY [--reference PATH]
           [--limit N] [--chunk 4] [--n-jobs 2] [-- ARGS for the reference script]

Takes SWEEP's complete configurations in `rank --json` order of their ids (a stable
order: sorted ids), leaves out those OUT.jsonl already holds, and runs them through
the reference script, whose own arguments (the partition: --test-fraction,
--validation-fraction, --preshuffle, --stratify) follow `--`. Each configuration is
passed with gridsweep's hyperparameter names; `scripts/fidelity-table.py --keras
SWEEP=OUT.jsonl` then compares the re-run with the study's file as it does gridsweep.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

KEYS = ["activation", "batch_size", "dropout", "early_stopping_patience", "epochs", "learning_rate", "neurons_1",
        "neurons_2", "neurons_3", "neurons_4", "num_hidden_layers", "optimizer", "reduce_lr_factor",
        "reduce_lr_min_lr", "reduce_lr_patience"]


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("sweep")
    ap.add_argument("out")
    ap.add_argument("--python", required=True)
    ap.add_argument("--reference", default="../shared/bench/keras_notebook_reference.py")
    ap.add_argument("--data", default="../shared/data/genre-factor/data_selected_v1.csv")
    ap.add_argument("--bin", default="target/release/gridsweep")
    ap.add_argument("--limit", type=int, default=0, help="at most this many configurations in all (0: every one)")
    ap.add_argument("--chunk", type=int, default=4)
    ap.add_argument("--n-jobs", type=int, default=2)
    a = ap.parse_args(argv)
    ranked = json.loads(subprocess.run([a.bin, "rank", a.sweep, "--db", a.db, "--json", "--top", "0"], check=True,
                                       capture_output=True, text=True).stdout)["ranking"]
    ranked.sort(key=lambda r: r["config_id"])
    if a.limit:
        ranked = ranked[:a.limit]
    done = set()
    if os.path.exists(a.out):
        for line in open(a.out):
            if line.strip():
                done.add(json.loads(line)["config_id"])
    todo = [r for r in ranked if r["config_id"] not in done]
    print(f"{a.sweep}: {len(ranked)} configurations, {len(done)} done, {len(todo)} to run", file=sys.stderr, flush=True)
    for at in range(0, len(todo), a.chunk):
        part = todo[at:at + a.chunk]
        cfgs = [{k: r["params"][k] for k in KEYS if k in r["params"]} for r in part]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cfgs, f)
        out = subprocess.run([a.python, a.reference, "--data", a.data, "--configs", f.name, "--n-jobs", str(a.n_jobs)] + extra,
                             check=True, capture_output=True, text=True).stdout
        os.unlink(f.name)
        results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        with open(a.out, "a") as o:
            for r, res in zip(part, results):
                res["config_id"] = r["config_id"]
                o.write(json.dumps(res) + "\n")
        print(f"{a.sweep}: {min(at + a.chunk, len(todo))} of {len(todo)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
