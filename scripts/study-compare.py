#!/usr/bin/env python3
"""A sweep's best configurations looked up in the study's own results (issue 21, part 4).

usage: scripts/study-compare.py DB SWEEP STUDY_DB STUDY [--top 5] [--bin target/release/gridsweep]

STUDY is the study's HPO_combined.csv imported with `gridsweep import` (into STUDY_DB).
For each of SWEEP's top configurations (by its own spec's rule), prints the study's
rows that train the same network, with their numbers and their rank among the study's
2,032 rows by the study's rule (absolute delta, w1 0.5, w2 1) and by the relative delta
its file holds. The study trained every row on its own, so rows that gridsweep trains
once (layers that are not built) appear with several results.
"""
import argparse
import json
import subprocess


def rank(bin_, db, sweep, *extra):
    out = subprocess.run([bin_, "rank", sweep, "--db", db, "--json", "--top", "0", *extra], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["ranking"]


def network(params):
    """What decides the training (as `HyperParams::effective`): the hyperparameters, less
    the widths of layers not built; `num_hidden_layers` 3 and 4 build the same network,
    neurons_1 and one layer per extra hidden layer up to neurons_4."""
    p = dict(params)
    extra = min(int(p.get("num_hidden_layers", 2)), 3)
    p["num_hidden_layers"] = extra
    for k in range(extra + 2, 5):
        p.pop(f"neurons_{k}", None)
    return json.dumps(p, sort_keys=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("sweep")
    ap.add_argument("study_db")
    ap.add_argument("study")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--bin", default="target/release/gridsweep")
    a = ap.parse_args()
    mine = rank(a.bin, a.db, a.sweep)
    by_abs = rank(a.bin, a.study_db, a.study, "--delta", "absolute", "--w1", "0.5", "--w2", "1")
    by_rel = rank(a.bin, a.study_db, a.study, "--delta", "relative", "--w1", "0.5", "--w2", "1")
    rel_rank = {r["config_id"]: r["rank"] for r in by_rel}
    study_rows = {}
    for r in by_abs:
        study_rows.setdefault(network(r["params"]), []).append(r)
    n = len(by_abs)
    print(f"{a.sweep}: {len(mine)} configurations; the study: {n} rows")
    print("| sweep rank | configuration | sweep val / train / score | study rows | study val / train | study score (abs Δ) | study rank (abs Δ) | study rank (rel Δ) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in mine[: a.top]:
        s = r["summary"]
        head = f"| {r['rank']} | {r['config_id']} | {s['mean_val_accuracy']:.4f} / {s['mean_train_accuracy']:.4f} / {r['score']:.5f} |"
        rows = study_rows.get(network(r["params"]), [])
        if not rows:
            print(head + " none | | | | |")
            continue
        for i, q in enumerate(rows):
            t = q["summary"]
            cells = f" {q['config_id']} | {t['mean_val_accuracy']:.4f} / {t['mean_train_accuracy']:.4f} | {q['score']:.5f} | {q['rank']} of {n} | {rel_rank[q['config_id']]} of {n} |"
            print((head if i == 0 else "| | | |") + cells)


if __name__ == "__main__":
    main()
