"""Reference importances for tests/analyze.rs: Optuna's fANOVA
(FanovaImportanceEvaluator, its defaults: 64 trees, depth 64) on the configurations of
an HPO_combined-style CSV, for the score (the study's rule, absolute Δ), the mean
validation accuracy and Δacc (train − val).

Every column that varies and is a hyperparameter becomes a parameter: numbers as
FloatDistribution(min, max), text as CategoricalDistribution, as a study that
suggested them would record them.

The test's CSV: GRIDSWEEP_WRITE_IMPORTANCE_CSV=/tmp/imp.csv cargo test --release \
    --test analyze importance; then, with a Python that has optuna and scikit-learn
(scripts/analyze-references.sh makes one):
    python tests/reference/importance_reference.py /tmp/imp.csv > tests/reference/importance_reference.json
"""
import hashlib
import json
import sys

import optuna
import pandas as pd
import sklearn
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.importance import FanovaImportanceEvaluator, get_param_importances

RESULTS = {"mean_train_score", "mean_val_score", "std_train_score", "std_val_score",
           "delta_acc", "activation_numerical", "optimizer_numerical"}

path = sys.argv[1]
raw = open(path, "rb").read()
df = pd.read_csv(path)
params = [c for c in df.columns if c not in RESULTS and df[c].nunique() > 1]
train, val = df["mean_train_score"], df["mean_val_score"]
targets = {
    "score": 0.5 * (0.5 * (1 - (train - val).abs()) + val),
    "val_accuracy": val,
    "delta_accuracy": train - val,
}
out = {"file_sha256": hashlib.sha256(raw).hexdigest(), "rows": len(df),
       "optuna": optuna.__version__, "sklearn": sklearn.__version__, "targets": {}}
optuna.logging.set_verbosity(optuna.logging.WARNING)
for name, y in targets.items():
    dists = {}
    for p in params:
        if pd.api.types.is_numeric_dtype(df[p]):
            dists[p] = FloatDistribution(float(df[p].min()), float(df[p].max()))
        else:
            dists[p] = CategoricalDistribution(sorted(df[p].astype(str).unique()))
    study = optuna.create_study()
    for i, row in df.iterrows():
        values = {p: (float(row[p]) if pd.api.types.is_numeric_dtype(df[p]) else str(row[p])) for p in params}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=float(y[i])))
    imp = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    out["targets"][name] = {k: float(v) for k, v in imp.items()}
print(json.dumps(out, indent=1))
