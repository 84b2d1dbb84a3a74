"""Numbers for src/baselines.rs's unit tests, from scikit-learn (1.7).

Run with a Python that has scikit-learn: python tests/reference/baselines_reference.py
"""
import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

x, y = [], []
for i in range(30):
    c = i % 3
    cx, cy = [(0.0, 0.0), (2.0, 0.0), (0.0, 2.0)][c]
    x.append([cx + ((i * 7 % 11) - 5) / 4.0, cy + ((i * 5 % 13) - 6) / 4.0])
    y.append(c)
x, y = np.array(x), np.array(y)
q = np.array([0.1, 0.2, 1.9, -0.3, -0.2, 2.2, 1.0, 1.0, 0.9, 0.1]).reshape(-1, 2)

knn = KNeighborsClassifier(5).fit(x, y)
print("knn predict", knn.predict(q).tolist())
print("knn proba", knn.predict_proba(q).tolist())
print("gamma scale", 1 / (x.shape[1] * x.var()))
svc = SVC().fit(x, y)
print("svc predict", svc.predict(q).tolist())
print("svc decision", np.round(svc.decision_function(q), 4).tolist())
