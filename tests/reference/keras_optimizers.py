#!/usr/bin/env python3
"""Two optimizer steps computed by Keras itself, for src/train/optim.rs's tests.
Writes the Rust array literal of src/train/keras_optimizer_steps.in.
Needs: pip install tensorflow-cpu keras   Run: python tests/reference/keras_optimizers.py"""
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras

rows = []
for name in ["adam", "nadam", "sgd", "rmsprop", "adamw"]:
    opt = {"sgd": lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
           "adamw": lambda: keras.optimizers.AdamW(learning_rate=0.01)}.get(
        name, lambda: keras.optimizers.get({"class_name": name, "config": {"learning_rate": 0.01}}))()
    p = keras.Variable(np.array([1.0, -2.0, 0.5], dtype="float32"))
    for g in ([0.5, -1.0, 0.0], [-0.25, 3.0, 1e-3]):
        opt.apply_gradients([(keras.ops.convert_to_tensor(np.array(g, dtype="float32")), p)])
    v = np.array(p.numpy(), dtype="float32")
    rows.append("    [" + ", ".join(f"{x!r}f32" if False else f"{float(x):.9e}" for x in v) + "], // " + name)
print("[\n" + "\n".join(rows) + "\n]")
