#!/usr/bin/env python3
"""Prints the scikit-learn / SciPy figures that the Rust unit and integration tests
compare against (the numbers are committed in the tests; scikit-learn is not needed to
run them). Re-run after changing an input:  python tests/reference/sklearn_reference.py
Needs: pip install scikit-learn scipy numpy"""
import numpy as np
from scipy.stats import norm
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import QuantileTransformer, MinMaxScaler
from sklearn.impute import KNNImputer

np.set_printoptions(precision=17, suppress=False, linewidth=150)

print("ppf", [repr(float(norm.ppf(p))) for p in [0.5, 0.975, 0.01, 1e-7, 1 - 1e-7, 0.3]])

y = np.array([2, 0, 0, 1, 2, 2, 0, 1, 0, 2, 0, 1, 2, 0])
folds = np.empty(len(y), dtype=int)
for f, (_, te) in enumerate(StratifiedKFold(3).split(np.zeros(len(y)), y)):
    folds[te] = f
print("kfold", folds.tolist())

# Quantile + min-max: 12 rows x 3 features, one with ties, applied to held-out rows too.
X = np.array([[1.0, 5.0, -3.0], [2.0, 5.0, 10.0], [3.5, 1.0, 0.25], [0.5, 5.0, 7.0],
              [9.0, 2.0, 7.0], [4.0, 3.0, -1.0], [6.0, 5.0, 2.0], [7.5, 4.0, 3.0],
              [8.0, 1.0, 7.0], [2.5, 0.0, 100.0], [5.0, 2.0, 4.0], [3.0, 5.0, 5.0]])
T = np.array([[0.0, 6.0, 50.0], [4.2, 2.5, 7.0], [9.0, 1.0, -3.0], [2.75, 4.5, 3.5]])
qt = QuantileTransformer(n_quantiles=5, output_distribution="normal").fit(X)
print("qt_train", qt.transform(X).tolist())
print("qt_test", qt.transform(T).tolist())
qt1000 = QuantileTransformer(output_distribution="normal").fit(X)
mm = MinMaxScaler(feature_range=(-1, 1)).fit(qt1000.transform(X))
print("pipe_test", mm.transform(qt1000.transform(T)).tolist())

Xm = np.array([[1.0, 2.0, np.nan], [3.0, 4.1, 3.0], [np.nan, 6.0, 5.0], [8.0, 8.2, 7.0],
               [2.0, np.nan, 1.5], [5.5, 1.0, 0.5], [0.3, 2.2, 9.0], [4.4, 7.7, 2.1]])
print("knn", KNNImputer(n_neighbors=5).fit(Xm).transform(Xm).tolist())
print("knn_test", KNNImputer(n_neighbors=5).fit(Xm).transform(np.array([[np.nan, np.nan, 4.0], [2.5, np.nan, np.nan]])).tolist())
