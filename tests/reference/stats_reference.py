"""Reference numbers for src/analyze/compare.rs: the corrected resampled t-test
(Nadeau & Bengio) and the Bayesian correlated t-test (Benavoli et al.) on paired fold
score differences, computed as scikit-learn's example "Statistical comparison of models
using grid search" computes them, with scipy.

Run with a Python that has numpy and scipy (scripts/analyze-references.sh makes one):
    python tests/reference/stats_reference.py > tests/reference/stats_reference.json
"""
import json

import numpy as np
import scipy
from scipy.stats import t


def corrected_std(differences, n_train, n_test):
    kr = len(differences)
    corrected_var = np.var(differences, ddof=1) * (1 / kr + n_test / n_train)
    return np.sqrt(corrected_var)


def case(differences, n_train, n_test):
    d = np.asarray(differences, dtype=float)
    df = len(d) - 1
    mean = float(np.mean(d))
    std = float(corrected_std(d, n_train, n_test))
    t_stat = mean / std
    p_val = t.sf(np.abs(t_stat), df)  # one-sided, as the example
    posterior = t(df, loc=mean, scale=std)
    return {
        "differences": d.tolist(),
        "test_over_train": n_test / n_train,
        "mean": mean,
        "corrected_std": std,
        "t": float(t_stat),
        "p_value": float(p_val),
        "p_first_better": float(1 - posterior.cdf(0)),
    }


rng = np.random.default_rng(7)
cases = [
    # 3-fold CV (n_test / n_train = 1/2), the study's setting.
    case([0.004, 0.011, -0.002], 2, 1),
    case([-0.01, 0.003, -0.006], 2, 1),
    # 10 repeats of 3-fold.
    case(rng.normal(0.003, 0.006, 30), 2, 1),
    # 5-fold (1/4), 2 repeats, a loser.
    case(rng.normal(-0.01, 0.01, 10), 4, 1),
]
print(json.dumps({"scipy": scipy.__version__, "cases": cases}, indent=1))
