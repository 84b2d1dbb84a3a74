#!/usr/bin/env python3
"""The racing table and picture of docs/less-work.md: the plain k-fold grid, halving and
race settings, each judged on repeats it does not see (issue 31, part 3).

usage: scripts/race-table.py DB SWEEP [--seen 5] [--sample 30] [--repeats 200]
           [--bin target/release/gridsweep] [--svg docs/race-tradeoff.svg]

Runs `gridsweep replay SWEEP --db DB --strategy S --seen R --sample N --repeats M --json`
for each strategy S below (every strategy sees the folds of repeats 0..R-1 only; the
truth is each configuration's mean score over the repeats from R on), prints one
Markdown table row per strategy, and draws mean regret against fold-fits as an SVG.
"""
import argparse
import json
import math
import subprocess

GRID = ("plain 3-fold grid (the study's way)", {"strategy": "grid"})
HALVING = [
    ("halving, factor 3 from 10 epochs", {"strategy": "halving", "factor": 3, "min_epochs": 10}),
]
RACES = [
    (f"race, min_folds {f}, confidence {c}, rope {r}, max_repeats {m}",
     {"strategy": "race", "min_folds": f, "confidence": c, "rope": r, "max_repeats": m})
    for m in (1, 2, 3, 5)
    for f in (2, 3)
    for c in (0.7, 0.8, 0.95)
    for r in (0.002, 0.005)
    if not (f == 3 and m == 1)  # three folds of one repeat: the plain grid, a tie set added
]


def run(a, strategy):
    out = subprocess.run(
        [a.bin, "replay", a.sweep, "--db", a.db, "--strategy", json.dumps(strategy), "--seen", str(a.seen),
         "--sample", str(a.sample), "--repeats", str(a.repeats), "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["held_out"]


def svg(points, path):
    """Mean regret (y) against fold-fits relative to the plain grid (x), one labelled dot
    per strategy; the grid's dot and its lines mark what racing must beat."""
    w, h, m = 720, 440, 60
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    x0, x1 = 0.0, max(xs) * 1.1
    y0, y1 = 0.0, max(ys) * 1.15
    sx = lambda x: m + (x - x0) / (x1 - x0) * (w - 2 * m)
    sy = lambda y: h - m - (y - y0) / (y1 - y0) * (h - 2 * m)
    e = []
    e.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">')
    e.append(f'<rect width="{w}" height="{h}" fill="white"/>')
    e.append(f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>')
    e.append(f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>')
    for xv in ticks(x1):
        e.append(f'<text x="{sx(xv):.1f}" y="{h - m + 16}" text-anchor="middle">{xv:g}</text>')
    for yv in ticks(y1):
        e.append(f'<text x="{m - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end">{yv:.4f}</text>')
    e.append(f'<text x="{w / 2}" y="{h - 18}" text-anchor="middle">fold-fits, relative to the plain 3-fold grid</text>')
    e.append(f'<text x="16" y="{h / 2}" text-anchor="middle" transform="rotate(-90 16 {h / 2})">mean regret against the held-out truth</text>')
    gx, gy = points[0][1], points[0][2]
    e.append(f'<line x1="{sx(gx):.1f}" y1="{m}" x2="{sx(gx):.1f}" y2="{h - m}" stroke="#999" stroke-dasharray="4 3"/>')
    e.append(f'<line x1="{m}" y1="{sy(gy):.1f}" x2="{w - m}" y2="{sy(gy):.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    # Label the grid, halving and the races no other point beats on both axes; the
    # rest are dots whose label shows on hover (many settings share a regret).
    frontier = {i for i, (_, x, y, k) in enumerate(points)
                if k != "race" or not any(x2 <= x and y2 <= y and (x2, y2) != (x, y) for _, x2, y2, k2 in points if k2 == "race")}
    for i, (label, x, y, kind) in enumerate(points):
        colour = {"grid": "black", "halving": "#d62728", "race": "#1f77b4"}[kind]
        e.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{colour}"><title>{label}</title></circle>')
        if i in frontier:
            e.append(f'<text x="{sx(x) + 6:.1f}" y="{sy(y) - 5:.1f}" fill="{colour}" font-size="9">{label}</text>')
    e.append(f'<text x="{w - m}" y="{m - 20}" text-anchor="end" font-size="10">black: the plain grid; red: halving; blue: race settings '
             f'(labelled where none is both cheaper and better)</text>')
    e.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


def ticks(top):
    """Round tick values from 0 to top: steps of 1, 2 or 5 × 10^k, about five of them."""
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(f * mag for f in (1, 2, 5, 10) if f * mag >= raw)
    return [i * step for i in range(int(top / step) + 1)]


def short(label):
    return (label.replace("race, min_folds ", "f").replace(", confidence ", " c").replace(", rope ", " r").replace(", max_repeats ", " m")
            .replace("plain 3-fold grid (the study's way)", "grid").replace("halving, factor 3 from 10 epochs", "halving 3/10"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("sweep")
    ap.add_argument("--seen", type=int, default=5)
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--bin", default="target/release/gridsweep")
    ap.add_argument("--svg")
    a = ap.parse_args()
    print("| strategy | mean regret | 95th pct regret | pick in truth's tie set | truth's best kept | left (mean) | fold-fits / grid's |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    points = []
    for kind, items in (("grid", [GRID]), ("halving", HALVING), ("race", RACES)):
        for label, strategy in items:
            s = run(a, strategy)
            print(f"| {label} | {s['mean_regret']:.5f} | {s['p95_regret']:.5f} | {100 * s['pick_in_truth_ties']:.1f} % | "
                  f"{100 * s['truth_best_kept']:.1f} % | {s['mean_left']:.1f} | {s['fold_fit_ratio']:.2f} |", flush=True)
            points.append((short(label), s["fold_fit_ratio"], s["mean_regret"], kind))
    if a.svg:
        svg(points, a.svg)


if __name__ == "__main__":
    main()
