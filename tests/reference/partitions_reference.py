#!/usr/bin/env python3
"""Writes the fixture that `tests/partitions.rs` checks `gridsweep plan --partitions`
against: a small data file (`partitions_data.csv`) and, for the three partitions its
test spec names, the rows scikit-learn and pandas put in each part and CV fold
(`partitions_expected.csv`, in `plan --partitions`' columns). The study's ways:
`train_test_split(..., stratify=pd.get_dummies(y), random_state=42)` twice; grid B's
`df.sample(frac=1, random_state=42)` first; the CV folds `StratifiedKFold(3)` on the
labels, or, as `GridSearchCV(cv=3)` cuts a one-hot y (grid C), an unshuffled `KFold(3)`.
Re-run after changing an input:  python tests/reference/partitions_reference.py
Needs: pip install scikit-learn pandas numpy (checked with 1.9.1, 3.1.1, 2.4.6)"""
import os
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

here = os.path.dirname(os.path.abspath(__file__))
names = ["classic", "electronic", "hip hop", "metal", "pop", "rock"]
n = 150
rng = np.random.RandomState(3)
# Uneven classes, in no order: weights 3..8.
labels = [names[i] for i in rng.choice(6, size=n, p=np.arange(3, 9) / 33)]
df = pd.DataFrame({"x1": rng.normal(size=n).round(4), "x2": rng.uniform(size=n).round(4), "Genre": labels})
df.to_csv(os.path.join(here, "partitions_data.csv"), index=False)

rows = []


def cut(name, frame, test, val, folds):
    rest, te = train_test_split(frame, test_size=test, stratify=pd.get_dummies(frame["Genre"]), random_state=42)
    tr, va = train_test_split(rest, test_size=val, stratify=pd.get_dummies(rest["Genre"]), random_state=42)
    fold_of = {}
    for f, (_, held) in enumerate(folds.split(np.zeros(len(tr)), tr["Genre"].values)):
        for j in held:
            fold_of[tr.index[j]] = f
    for part, frame_ in (("train", tr), ("validation", va), ("test", te)):
        for i in frame_.index:
            rows.append((name, int(i), int(i) + 2, df["Genre"][i], part, fold_of.get(i, "")))


cut("spec", df, 0.2, 0.2, StratifiedKFold(3))
cut("t0.3 v0.3 s42 pre42 onehot stratified", df.sample(frac=1, random_state=42), 0.3, 0.3, StratifiedKFold(3))
cut("t0.2 v0.2 s42 onehot kfold", df, 0.2, 0.2, KFold(3))
out = pd.DataFrame(rows, columns=["partition", "index", "line", "label", "part", "fold"])
order = {"spec": 0, "t0.3 v0.3 s42 pre42 onehot stratified": 1, "t0.2 v0.2 s42 onehot kfold": 2}
out = out.sort_values(by=["partition", "index"], key=lambda c: c.map(order) if c.name == "partition" else c)
out.to_csv(os.path.join(here, "partitions_expected.csv"), index=False)
