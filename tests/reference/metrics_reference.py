"""Numbers for src/metrics.rs's unit tests, from scikit-learn (1.7).

Run with a Python that has scikit-learn: python tests/reference/metrics_reference.py
"""
import numpy as np
from sklearn.metrics import (auc, classification_report, confusion_matrix,
                             precision_recall_curve)

y_true = [0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2, 2]
y_pred = [0, 2, 2, 1, 1, 0, 2, 1, 0, 2, 2, 2]
score_2 = [0.1, 0.6, 0.8, 0.4, 0.3, 0.1, 0.9, 0.3, 0.2, 0.6, 0.8, 0.7]

rep = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
for k, v in rep.items():
    print(k, repr(v))
print("confusion", confusion_matrix(y_true, y_pred).tolist())
print("normalized", confusion_matrix(y_true, y_pred, normalize="true").tolist())
p, r, t = precision_recall_curve(np.array(y_true) == 2, score_2)
print("precision", [float(x) for x in p])
print("recall", [float(x) for x in r])
print("auc", repr(float(auc(r, p))))
