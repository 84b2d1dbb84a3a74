#!/usr/bin/env python3
"""The Keras yardstick for the study's grid C (issue 30, part 4): a gridsweep sweep's
configurations re-run the way the authors' grid C ran
(`scripts/modular_NN_chain/hyperparameter_optimisation_multi.py` at 604b19a in
Henry-Kr15/TheGenreFactor): SciKeras' KerasClassifier in scikit-learn's
GridSearchCV(cv=3) with a one-hot y, which scikit-learn splits with an unshuffled KFold(3).
Neither script in ../shared/bench runs given configurations that way
(keras_reference.py has two fixed grids and StratifiedKFold; keras_notebook_reference.py
is the notebook's hand-written loop), hence this one.

usage: scripts/keras-gridsearchcv.py DB SWEEP OUT.jsonl   (run with the Keras venv's python)
           [--data CSV] [--bin target/release/gridsweep] [--chunk 2] [--n-jobs 2] [--limit N]

As the authors' code: the six genres; OneHotEncoder on the genre; train_test_split 0.2
stratified on the one-hot rows, seed 42, twice; QuantileTransformer(normal) then
MinMaxScaler(-1, 1) fitted on the training part; Dense layers with MaxNorm on the first
only, Dropout after each, softmax; categorical cross-entropy; EarlyStopping(monitor="loss",
patience from the configuration) and ReduceLROnPlateau(monitor="loss", factor, patience,
min_lr from the configuration); accuracy scored by GridSearchCV on each fold (refit off:
the search's scores are what the study's file holds).

Takes SWEEP's configurations from `gridsweep rank --json` in the order of their ids, skips
those OUT.jsonl holds, and appends one JSON line per configuration (mean_train, mean_val,
the per-fold scores, config_id) a chunk at a time, so that a killed run goes on where it
stopped. `scripts/fidelity-table.py --keras SWEEP=OUT.jsonl` compares it with the study.
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("sweep")
    ap.add_argument("out")
    ap.add_argument("--data", default="../shared/data/genre-factor/data_selected_v1.csv")
    ap.add_argument("--bin", default="target/release/gridsweep")
    ap.add_argument("--chunk", type=int, default=2)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="at most this many configurations in all (0: every one)")
    a = ap.parse_args()

    ranked = json.loads(subprocess.run([a.bin, "rank", a.sweep, "--db", a.db, "--json", "--top", "0"], check=True,
                                       capture_output=True, text=True).stdout)["ranking"]
    ranked.sort(key=lambda r: r["config_id"])
    if a.limit:
        ranked = ranked[:a.limit]
    done = set()
    if os.path.exists(a.out):
        done = {json.loads(line)["config_id"] for line in open(a.out) if line.strip()}
    todo = [r for r in ranked if r["config_id"] not in done]
    print(f"{a.sweep}: {len(ranked)} configurations, {len(done)} done, {len(todo)} to run", file=sys.stderr, flush=True)
    if not todo:
        return

    import numpy as np
    import pandas as pd
    import keras
    from keras import constraints, layers
    from scikeras.wrappers import KerasClassifier
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, QuantileTransformer

    df = pd.read_csv(a.data, index_col=0)
    df = df[df["Genre"].isin(["classic", "metal", "rock", "hip hop", "electronic", "pop"])]
    X = df.drop("Genre", axis=1)
    enc = OneHotEncoder(sparse_output=False)
    y = pd.DataFrame(enc.fit_transform(df["Genre"].to_numpy().reshape(-1, 1)),
                     columns=enc.get_feature_names_out(["Genre"]))
    X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
    X_tr, _, y_tr, _ = train_test_split(X_tr, y_tr, test_size=0.2, stratify=y_tr, random_state=42)
    qt = QuantileTransformer(output_distribution="normal").fit(X_tr)
    mm = MinMaxScaler(feature_range=(-1, 1)).fit(qt.transform(X_tr))
    X_tr = mm.transform(qt.transform(X_tr)).astype("float32")
    y_tr = y_tr.to_numpy()
    print(f"training part: {len(X_tr)} rows, {X_tr.shape[1]} features", file=sys.stderr, flush=True)

    def create_model(dropout_rate, weight_constraint, optimizer, activation, num_hidden_layers,
                     neurons_1, neurons_2, neurons_3, neurons_4, learning_rate, meta):
        n = [neurons_1, neurons_2, neurons_3, neurons_4]
        act = (lambda: layers.LeakyReLU(negative_slope=0.3)) if activation == "LeakyReLU" \
            else (lambda: layers.Activation(activation))
        m = keras.Sequential([keras.Input((meta["n_features_in_"],))])
        m.add(layers.Dense(n[0], kernel_constraint=constraints.MaxNorm(weight_constraint)))
        m.add(act())
        m.add(layers.Dropout(dropout_rate))
        for i in range(1, num_hidden_layers + 1):
            if i < len(n):
                m.add(layers.Dense(n[i]))
                m.add(act())
                m.add(layers.Dropout(dropout_rate))
        m.add(layers.Dense(6, activation="softmax"))
        opt = {"adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam}[optimizer.lower()](learning_rate)
        m.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
        return m

    for at in range(0, len(todo), a.chunk):
        part = todo[at:at + a.chunk]
        grid = []
        for r in part:
            p = r["params"]
            grid.append({
                "model__dropout_rate": [p["dropout"]], "model__weight_constraint": [p.get("weight_constraint", 10.0)],
                "model__optimizer": [p["optimizer"]], "model__activation": [p["activation"]],
                "model__num_hidden_layers": [p["num_hidden_layers"]], "model__learning_rate": [p.get("learning_rate", 0.001)],
                "model__neurons_1": [p["neurons_1"]], "model__neurons_2": [p["neurons_2"]],
                "model__neurons_3": [p["neurons_3"]], "model__neurons_4": [p["neurons_4"]],
                "batch_size": [p["batch_size"]], "epochs": [p["epochs"]],
                "callbacks": [[keras.callbacks.EarlyStopping(monitor="loss", patience=p["early_stopping_patience"]),
                               keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=p["reduce_lr_factor"],
                                                                 patience=p["reduce_lr_patience"],
                                                                 min_lr=p["reduce_lr_min_lr"])]],
            })
        clf = KerasClassifier(model=create_model, verbose=0, loss="categorical_crossentropy")
        t0 = time.time()
        gs = GridSearchCV(clf, grid, cv=3, n_jobs=a.n_jobs, return_train_score=True, refit=False)
        gs.fit(X_tr, y_tr)
        wall = time.time() - t0
        res = gs.cv_results_
        with open(a.out, "a") as o:
            for i, r in enumerate(part):
                o.write(json.dumps({
                    "config_id": r["config_id"], "protocol": "gridsearchcv", "cv": "KFold(3)",
                    "mean_val": float(res["mean_test_score"][i]), "mean_train": float(res["mean_train_score"][i]),
                    "val": [float(res[f"split{k}_test_score"][i]) for k in range(3)],
                    "train": [float(res[f"split{k}_train_score"][i]) for k in range(3)],
                    "mean_fit_seconds": float(res["mean_fit_time"][i]), "chunk_wall_seconds": round(wall, 1),
                }) + "\n")
        print(f"{a.sweep}: {min(at + a.chunk, len(todo))} of {len(todo)} ({wall:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
