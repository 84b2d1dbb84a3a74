#!/usr/bin/env python3
"""Prints the scikit-learn / pandas splits that `src/data/split.rs`'s tests compare
against (the numbers are committed in the tests; neither library is needed to run them).
The study's way (issue: fidelity round 2): a pre-shuffle `df.sample(frac=1,
random_state=S)`, `train_test_split(..., stratify=pd.get_dummies(labels))` twice, and
`GridSearchCV(cv=3)` with a one-hot `y`, which scikit-learn cuts with an unshuffled
`KFold(3)`. Re-run after changing an input:  python tests/reference/split_reference.py
Needs: pip install scikit-learn pandas numpy (checked with 1.9.1, 3.1.1, 2.4.6)"""
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, train_test_split, check_cv

names = ["classic", "electronic", "hip hop", "metal", "pop", "rock"]
# 60 rows of 6 classes, uneven: class index i % 7 folded onto 0..5, in file order.
labels = [names[(i * 5 + i // 7) % 7 % 6] for i in range(60)]
df = pd.DataFrame({"row": np.arange(60), "Genre": labels})

# Stratified on one-hot rows, as the study: rows of the first split and of the second.
Y = pd.get_dummies(df["Genre"])
rest, test = train_test_split(df, test_size=0.2, stratify=Y, random_state=42)
train, val = train_test_split(rest, test_size=0.2, stratify=pd.get_dummies(rest["Genre"]), random_state=42)
print("onehot_test", test["row"].tolist())
print("onehot_train", train["row"].tolist())
print("onehot_val", val["row"].tolist())

# With df.sample(frac=1, random_state=42) first, 0.3 twice (grid B's way).
sh = df.sample(frac=1, random_state=42)
print("preshuffle", sh["row"].tolist())
rest, test = train_test_split(sh, test_size=0.3, stratify=pd.get_dummies(sh["Genre"]), random_state=42)
train, val = train_test_split(rest, test_size=0.3, stratify=pd.get_dummies(rest["Genre"]), random_state=42)
print("shuffled_test", test["row"].tolist())
print("shuffled_train", train["row"].tolist())

# GridSearchCV(cv=3) with a one-hot y: check_cv gives KFold(3), not stratified.
cv = check_cv(3, pd.get_dummies(df["Genre"]).values, classifier=True)
print("cv_for_onehot_y", type(cv).__name__)
folds = np.empty(20, dtype=int)
for f, (_, te) in enumerate(KFold(3).split(np.zeros(20))):
    folds[te] = f
print("kfold20", folds.tolist())
