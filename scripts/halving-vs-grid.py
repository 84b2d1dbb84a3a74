#!/usr/bin/env python3
"""Successive halving against full runs of the same configurations, from one SQLite file.

    python3 scripts/halving-vs-grid.py DB HALVING_SWEEP FULL_SWEEP

Prints: fold-epochs each sweep trained (every fold's history length: continued folds
carry their history, so each epoch is counted once), their wall times (first claim to
last result), the halving winner's full-run score against the best full-run score, and
the Spearman rank correlation between each rung's scores and the full-run scores of the
same configurations. Standard library only.
"""
import json
import sqlite3
import sys


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else float("nan")


def main():
    db, halving, full = sys.argv[1:4]
    c = sqlite3.connect(db)
    sid = {name: i for i, name in c.execute("SELECT id, name FROM sweeps")}
    out = {}
    for label, name in (("halving", halving), ("full", full)):
        s = sid[name]
        epochs = sum(len(json.loads(h or "[]")) for (h,) in c.execute("SELECT history_json FROM folds WHERE sweep_id = ?", (s,)))
        lo, hi = c.execute("SELECT MIN(started_at), MAX(finished_at) FROM folds WHERE sweep_id = ?", (s,)).fetchone()
        out[label] = {"fold_epochs": epochs, "wall_seconds": hi - lo}
    fs = sid[full]
    final = {cid: sc for cid, sc in c.execute(
        "SELECT config_id, score FROM configurations WHERE sweep_id = ? AND score IS NOT NULL AND resource_epochs IS NULL", (fs,))}
    hs = sid[halving]
    complete = c.execute(
        "SELECT config_id, score FROM configurations WHERE sweep_id = ? AND resource_epochs IS NULL AND score IS NOT NULL "
        "ORDER BY score DESC, position LIMIT 1", (hs,)).fetchone()
    best_id, best = max(final.items(), key=lambda kv: kv[1])
    out["halving_winner"] = {"config_id": complete[0], "score": complete[1], "full_run_score": final.get(complete[0])}
    out["full_best"] = {"config_id": best_id, "score": best}
    out["winner_gap"] = best - final.get(complete[0], float("nan"))
    out["fold_epochs_share"] = out["halving"]["fold_epochs"] / out["full"]["fold_epochs"]
    # What replaying from epoch 0 at every rung would have trained instead of continuing:
    # each fold, at each rung its configuration was in, from 0 to min(its epochs, the
    # rung's budget). Exact, from the recorded rungs and histories.
    budgets = {}
    last_rung = {}
    for cid, rung, epochs in c.execute("SELECT config_id, rung, resource_epochs FROM rung_scores WHERE sweep_id = ?", (hs,)):
        budgets.setdefault(cid, {})[rung] = epochs
        last_rung[cid] = max(last_rung.get(cid, -1), rung)
    replay = 0
    for cid, h in c.execute("SELECT config_id, history_json FROM folds WHERE sweep_id = ?", (hs,)):
        n = len(json.loads(h or "[]"))
        replay += sum(min(n, budgets[cid][r]) for r in range(last_rung[cid] + 1))
    out["replay_fold_epochs"] = replay
    out["replay_share"] = replay / out["full"]["fold_epochs"]
    out["wall_share"] = out["halving"]["wall_seconds"] / out["full"]["wall_seconds"]
    rungs = {}
    for cid, rung, epochs, score in c.execute("SELECT config_id, rung, resource_epochs, score FROM rung_scores WHERE sweep_id = ?", (hs,)):
        if score is not None and cid in final:
            rungs.setdefault(rung, []).append((score, final[cid], epochs))
    out["rank_correlation"] = [
        {"rung": r, "configurations": len(v), "epochs": max(e for _, _, e in v), "spearman": spearman([a for a, _, _ in v], [b for _, b, _ in v])}
        for r, v in sorted(rungs.items()) if len(v) > 2
    ]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
