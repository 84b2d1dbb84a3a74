#!/usr/bin/env python3
"""Checks that gridsweep cuts the study's data as the authors' scikit-learn calls did:
for the spec's own partition and each sub-grid's "split" of search-spaces/genre-factor.json
(grid A: one-hot strata, 0.2 twice, StratifiedKFold(3); grid B: df.sample(frac=1,
random_state=42) first, 0.3 twice; grid C: as A, with GridSearchCV(cv=3)'s unshuffled
KFold(3) for a one-hot y), every row's part and CV fold, from `gridsweep plan --partitions`
against pandas + scikit-learn. Prints the rows compared and the differences (none: exit 0).

    python3 scripts/partitions-check.py [--data ../shared/data/genre-factor/data_selected_v1.csv]

Needs: pip install scikit-learn pandas numpy; a built ./target/release/gridsweep."""
import argparse, csv, io, json, subprocess, sys
import numpy as np, pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="../shared/data/genre-factor/data_selected_v1.csv")
ap.add_argument("--spec", default="search-spaces/genre-factor.json")
a = ap.parse_args()
spec = json.load(open(a.spec))
df = pd.read_csv(a.data)
df = df[df[spec["dataset"]["label"]].isin(spec["dataset"]["keep_labels"])]
want = {}


def cut(name, frame, test, val, folds):
    y = frame["Genre"]
    rest, te = train_test_split(frame, test_size=test, stratify=pd.get_dummies(y), random_state=42)
    tr, va = train_test_split(rest, test_size=val, stratify=pd.get_dummies(rest["Genre"]), random_state=42)
    fold_of = {}
    for f, (_, held) in enumerate(folds.split(np.zeros(len(tr)), tr["Genre"].values)):
        for j in held:
            fold_of[tr.index[j]] = f
    for part, fr in (("train", tr), ("validation", va), ("test", te)):
        for i in fr.index:
            want[(name, int(i))] = (part, str(fold_of.get(i, "")))


cut("spec", df, 0.2, 0.2, StratifiedKFold(3))
cut("t0.3 v0.3 s42 pre42 onehot stratified", df.sample(frac=1, random_state=42), 0.3, 0.3, StratifiedKFold(3))
cut("t0.2 v0.2 s42 onehot kfold", df, 0.2, 0.2, KFold(3))
out = subprocess.run(["./target/release/gridsweep", "plan", a.spec, "--data", a.data, "--partitions", "-"],
                     check=True, capture_output=True, text=True).stdout
got = {(r["partition"], int(r["index"])): (r["part"], r["fold"]) for r in csv.DictReader(io.StringIO(out))}
differ = [k for k in want if got.get(k) != want[k]] + [k for k in got if k not in want]
print(f"{len(want)} rows of {len({k[0] for k in want})} partitions compared; {len(differ)} differ")
for k in differ[:10]:
    print(k, "gridsweep", got.get(k), "scikit-learn", want.get(k))
sys.exit(1 if differ else 0)
