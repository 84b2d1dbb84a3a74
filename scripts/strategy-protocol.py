#!/usr/bin/env python3
"""Issue 47's protocol: the strategy table on the study as it ran, the recommended search
chosen on some measurements and reported on another it was not chosen on.

usage: scripts/strategy-protocol.py choose|report [--out results/strategy/protocol]
           [--bin target/release/gridsweep] [--sample324 results/study/sample324.db]
           [--truth results/race/truth.db] [--truth2 results/race/truth2.db]

Fixed here, committed before the report on the second study truth was made (git log
shows when); nothing below may change after `report` has run without saying so in
docs/less-work.md.

Measurements:
- sample324 (choosing): `search-spaces/genre-factor-sample324.json`, 324 full runs of
  grids A and B on the study's own partitions, one 3-fold each; 200 replays of seeded
  sub-samples of 81 (`--sample 81 --repeats 200 --seed 1`), judged on the same folds
  they saw: the winner within 0.002 of the sub-sample's best, the mean regret, the
  fold-epochs against full runs, the Spearman of each rung with the end.
- study truth 1 (choosing) and study truth 2 (reporting): 60 configurations of grids A
  and B, 3 folds × 10 repeats. Each strategy sees 5 repeats (halving and Hyperband
  train the first of them, as a run would) and is judged on the mean of the other 5,
  over 10 of the 252 rotations (seeded) of 2,000 draws of 24 (`--seen 5 --sample 24
  --repeats 2000 --seed 1 --rotations 10`), against the plain 3-fold grid of one
  repeat on the same draws.

Candidates: the README's rows: halving by 3 from 5, 10 and 20 epochs, Hyperband by 3
from 5.

The rule that recommends one, on the choosing measurements only: among the candidates
whose winner is within 0.002 in at least 90 % of sample324's 81-samples and whose mean
held-out regret on truth 1 is at most the grid's + 0.001 (half the tie set's ROPE), the
one with the fewest fold-epochs on sample324; if none qualifies, the one with the lowest
held-out regret on truth 1.

Reported on truth 2: each candidate's mean held-out regret (sd, min–max over the
rotations) and fold-epochs, against the grid's, and in how many of the 10 rotations
the recommended search is within the grid's + 0.001.
"""
import argparse
import json
import os
import subprocess
import sys

CANDIDATES = [
    ("halving, factor 3 from 5 epochs", {"strategy": "halving", "factor": 3, "min_epochs": 5}),
    ("halving, factor 3 from 10 epochs", {"strategy": "halving", "factor": 3, "min_epochs": 10}),
    ("halving, factor 3 from 20 epochs", {"strategy": "halving", "factor": 3, "min_epochs": 20}),
    ("Hyperband, factor 3 from 5 epochs", {"strategy": "hyperband", "factor": 3, "min_epochs": 5}),
]
GRID = {"strategy": "grid"}
MARGIN, WITHIN = 0.001, 0.90


def cached(a, key, args):
    path = os.path.join(a.out, key + ".json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    p = subprocess.run([a.bin, "replay", *args, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"replay {' '.join(args)}: {p.stderr}")
    r = json.loads(p.stdout)
    with open(path, "w") as f:
        json.dump(r, f)
    return r


def same_folds(a, label, strategy):
    return cached(a, "sample324--" + label.replace(" ", "_").replace(",", ""),
                  ["genre-factor-sample324", "--db", a.sample324, "--strategy", json.dumps(strategy),
                   "--sample", "81", "--repeats", "200", "--seed", "1"])["summary"]


def held_out(a, db, sweep, label, strategy):
    r = cached(a, f"{sweep}--" + label.replace(" ", "_").replace(",", ""),
               [sweep, "--db", db, "--strategy", json.dumps(strategy), "--seen", "5", "--sample", "24",
                "--repeats", "2000", "--seed", "1", "--rotations", "10"])
    return [x["mean_regret"] for x in r["rotations"]], r["fold_fit_ratio"]


def complete(a, db, sweep):
    s = json.loads(subprocess.run([a.bin, "status", sweep, "--db", db, "--json"],
                                  check=True, capture_output=True, text=True).stdout)
    if s["counts"]["pending"] or s["counts"]["running"]:
        sys.exit(f"{sweep} in {db} is not complete: {s['counts']}")


def fmt(xs):
    n = len(xs)
    m = sum(xs) / n
    sd = (sum((x - m) ** 2 for x in xs) / (n - 1)) ** 0.5 if n > 1 else 0.0
    return f"{m:.5f} ({sd:.5f}, {min(xs):.5f}–{max(xs):.5f})"


def choose(a):
    complete(a, a.sample324, "genre-factor-sample324")
    complete(a, a.truth, "genre-factor-truth")
    grid, _ = held_out(a, a.truth, "genre-factor-truth", "grid", GRID)
    g = sum(grid) / len(grid)
    print(f"grid (1 repeat) on truth 1, held out: {fmt(grid)}")
    print("| strategy | sample324: winner within 0.002 | mean regret | fold-epochs / full runs | Spearman per rung | truth 1 held out: mean regret (sd, min–max) | fold-epochs / grid's |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for label, strategy in CANDIDATES:
        s = same_folds(a, label, strategy)
        t, ratio = held_out(a, a.truth, "genre-factor-truth", label, strategy)
        rho = ", ".join("-" if r is None else f"{r:+.2f}" for r in s["spearman"])
        print(f"| {label} | {100 * s['within_0002']:.1f} % | {s['mean_regret']:.5f} | {100 * s['fold_epoch_share']:.1f} % | {rho} | {fmt(t)} | {ratio:.2f} |")
        rows.append((label, strategy, s["within_0002"], s["fold_epoch_share"], sum(t) / len(t)))
    ok = [r for r in rows if r[2] >= WITHIN and r[4] <= g + MARGIN]
    best = min(ok, key=lambda r: r[3]) if ok else min(rows, key=lambda r: r[4])
    print(f"qualifying: {[r[0] for r in ok]}")
    print(f"recommended: {best[0]} {json.dumps(best[1])}")
    with open(os.path.join(a.out, "chosen.json"), "w") as f:
        json.dump({"label": best[0], "strategy": best[1]}, f)


def report(a):
    complete(a, a.truth2, "genre-factor-truth-2")
    with open(os.path.join(a.out, "chosen.json")) as f:
        chosen = json.load(f)
    grid, _ = held_out(a, a.truth2, "genre-factor-truth-2", "grid", GRID)
    g = sum(grid) / len(grid)
    print(f"recommended (chosen on sample324 and truth 1): {chosen['label']}")
    print("| strategy (truth 2, held out) | mean regret (sd, min–max over 10 rotations) | fold-epochs / grid's | rotations within the grid's + 0.001 |")
    print("| --- | --- | --- | --- |")
    print(f"| plain 3-fold grid, 1 repeat | {fmt(grid)} | 1.00 | – |")
    for label, strategy in CANDIDATES:
        t, ratio = held_out(a, a.truth2, "genre-factor-truth-2", label, strategy)
        meets = sum(x <= y + MARGIN for x, y in zip(t, grid))
        mark = " (recommended)" if label == chosen["label"] else ""
        print(f"| {label}{mark} | {fmt(t)} | {ratio:.2f} | {meets} of {len(t)} |")
    print(f"grid mean {g:.5f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=["choose", "report"])
    p.add_argument("--out", default="results/strategy/protocol")
    p.add_argument("--bin", default="target/release/gridsweep")
    p.add_argument("--sample324", default="results/study/sample324.db")
    p.add_argument("--truth", default="results/race/truth.db")
    p.add_argument("--truth2", default="results/race/truth2.db")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    {"choose": choose, "report": report}[a.phase](a)


if __name__ == "__main__":
    main()
