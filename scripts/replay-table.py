#!/usr/bin/env python3
"""The replay table of docs/less-work.md: search strategies replayed on a sweep's full runs.

usage: scripts/replay-table.py DB SWEEP [--repeats 200] [--samples 81,243] [--bin target/release/gridsweep]

Runs `gridsweep replay SWEEP --db DB --strategy ... --sample N --repeats R --json` for each
strategy and sample size, and prints one Markdown table row per pair.
"""
import argparse
import json
import subprocess

STRATEGIES = [
    ("halving, factor 3 from 5", {"strategy": "halving", "factor": 3, "min_epochs": 5}),
    ("halving, factor 3 from 10", {"strategy": "halving", "factor": 3, "min_epochs": 10}),
    ("halving, factor 3 from 20", {"strategy": "halving", "factor": 3, "min_epochs": 20}),
    ("halving, factor 4 from 5", {"strategy": "halving", "factor": 4, "min_epochs": 5}),
    ("halving, factor 4 from 15", {"strategy": "halving", "factor": 4, "min_epochs": 15}),
    ("hyperband, factor 3 from 5", {"strategy": "hyperband", "factor": 3, "min_epochs": 5}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("sweep")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--samples", default="81,243")
    ap.add_argument("--bin", default="target/release/gridsweep")
    a = ap.parse_args()
    print("| strategy | sample | winner within 0.002 | mean regret | 95th pct regret | fold-epochs / full runs | Spearman per rung (mean) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, strategy in STRATEGIES:
        for n in a.samples.split(","):
            out = subprocess.run(
                [a.bin, "replay", a.sweep, "--db", a.db, "--strategy", json.dumps(strategy), "--sample", n,
                 "--repeats", str(a.repeats), "--json"],
                check=True, capture_output=True, text=True).stdout
            s = json.loads(out)["summary"]
            rho = ", ".join("-" if r is None else f"{r:.2f}" for r in s["spearman"])
            print(f"| {label} | {s['sample']} | {100 * s['within_0002']:.1f} % | {s['mean_regret']:.5f} | "
                  f"{s['p95_regret']:.5f} | {100 * s['fold_epoch_share']:.1f} % | {rho} |")


if __name__ == "__main__":
    main()
