#!/usr/bin/env python3
"""What `gridsweep serve` costs (issue 32, part 3 and part 2's wall-time check).

usage: scripts/serve-bench.py pages DB SWEEP [--n 20] [--bin target/release/gridsweep]
       scripts/serve-bench.py interference DIR [--folds 6000] [--pollers 4] [--pause 0] [--bin …]

`pages`: starts `gridsweep serve --db DB` on a free loopback port and times N requests
of each page and API call of SWEEP, one after another (loopback: the time is the
server's, plus well under a millisecond): the median and the largest, in ms. The
incremental update asks for the last minute, as a page open for a while does.

`interference`: a sweep of FOLDS simulated folds (20 ms each, 2 `gridsweep run`
processes × 2 workers, in DIR/bench.db) run twice, alone and while POLLERS clients
poll `serve` (the sweep page's JSON and the updates, alternately; PAUSE seconds
between a client's requests, 0: none): the two wall times, the requests served, and
whether every fold ran exactly once.
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request


def start(bin_, db):
    p = subprocess.Popen([bin_, "serve", "--db", db, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    url = next(w for w in line.split() if w.startswith("http://"))
    return p, url.rstrip("/")


def get(url):
    with urllib.request.urlopen(url) as r:
        return r.status, r.read()


def pages(a):
    p, base = start(a.bin, a.db)
    try:
        now = time.time()
        board = json.loads(get(f"{base}/api/sweeps/{a.sweep}")[1])
        top3 = ",".join(r["config_id"] for r in board["ranking"][:3])
        # The analysis is made at its first request and reused until a fold finishes:
        # the first time and the median are both given.
        paths = ["/", f"/sweep/{a.sweep}", f"/api/sweeps/{a.sweep}", f"/api/sweeps/{a.sweep}/updates?after={now - 60}",
                 f"/api/sweeps/{a.sweep}/updates?after=0", f"/sweep/{a.sweep}/analysis", f"/sweep/{a.sweep}/plots/weights.svg",
                 f"/sweep/{a.sweep}/plots/pareto.svg", f"/sweep/{a.sweep}/plots/curves.svg?ids={top3}", f"/sweep/{a.sweep}/report.html"]
        print("| request | first ms | median ms | max ms | bytes |")
        print("| --- | --- | --- | --- | --- |")
        for path in paths:
            times, size = [], 0
            for _ in range(a.n):
                t = time.perf_counter()
                status, body = get(base + path)
                times.append(1e3 * (time.perf_counter() - t))
                assert status == 200, (path, status)
                size = len(body)
            print(f"| `{path}` | {times[0]:.1f} | {statistics.median(times):.1f} | {max(times):.1f} | {size:,} |", flush=True)
    finally:
        p.terminate()
        p.wait()


def interference(a):
    os.makedirs(a.dir, exist_ok=True)
    configs = a.folds // 3
    results = {}
    for case in ("alone", "polled"):
        db = os.path.join(a.dir, f"bench-{case}.db")
        for f in (db, db + "-wal", db + "-shm"):
            if os.path.exists(f):
                os.remove(f)
        spec = os.path.join(a.dir, f"bench-{case}.json")
        with open(spec, "w") as f:
            json.dump({"name": "bench", "dataset": {"path": "builtin:demo"}, "cv": {"folds": 3}, "seed": 1,
                       "fixed": {"epochs": 1}, "grid": {"learning_rate": [1e-6 * (i + 1) for i in range(configs)]}}, f)
        # The file must exist before serve opens it: a one-fold sweep of its own.
        first = os.path.join(a.dir, "first.json")
        with open(first, "w") as f:
            json.dump({"name": "first", "dataset": {"path": "builtin:demo"}, "cv": {"folds": 3}, "seed": 1,
                       "fixed": {"epochs": 1}, "grid": {"dropout": [0.0]}}, f)
        subprocess.run([a.bin, "run", first, "--db", db, "--jobs", "1", "--quiet", "--simulate-ms", "1"], check=True)
        stop, served, errors = threading.Event(), [0], []
        server = None
        if case == "polled":
            server, base = start(a.bin, db)

            def poll(i):
                while not stop.is_set():
                    path = "/api/sweeps/bench" if i % 2 else f"/api/sweeps/bench/updates?after={time.time() - 60}"
                    try:
                        get(base + path)
                        served[0] += 1
                        if a.pause:
                            stop.wait(a.pause)
                    except urllib.error.HTTPError as e:
                        if e.code != 404:
                            errors.append(str(e))
                    except Exception as e:  # noqa: BLE001 - counted and shown
                        errors.append(str(e))

            threads = [threading.Thread(target=poll, args=(i,)) for i in range(a.pollers)]
            for t in threads:
                t.start()
        t0 = time.time()
        runs = [subprocess.Popen([a.bin, "run", spec, "--db", db, "--jobs", "2", "--quiet", "--simulate-ms", "20"],
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        errs = [r.communicate()[1] for r in runs]
        wall = time.time() - t0
        stop.set()
        if server:
            for t in threads:
                t.join()
            server.terminate()
            server.wait()
        con = sqlite3.connect(db)
        bad = con.execute("SELECT COUNT(*) FROM folds f JOIN sweeps s ON s.id = f.sweep_id WHERE s.name = 'bench' AND (f.state != 'done' OR f.attempts != 1)").fetchone()[0]
        n = con.execute("SELECT COUNT(*) FROM folds f JOIN sweeps s ON s.id = f.sweep_id WHERE s.name = 'bench'").fetchone()[0]
        con.close()
        locked = sum("locked" in e for e in errs)
        results[case] = wall
        print(f"{case}: {n} folds in {wall:.1f} s; folds not done exactly once: {bad}; 'locked' in the runs' output: {locked}; "
              f"requests served: {served[0]}; client errors: {len(errors)}{(' (' + errors[0] + ')') if errors else ''}", flush=True)
    print(f"wall with serve polled / alone: {results['polled'] / results['alone']:.3f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("pages")
    p.add_argument("db")
    p.add_argument("sweep")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--bin", default="target/release/gridsweep")
    i = sub.add_parser("interference")
    i.add_argument("dir")
    i.add_argument("--folds", type=int, default=6000)
    i.add_argument("--pollers", type=int, default=4)
    i.add_argument("--pause", type=float, default=0.0)
    i.add_argument("--bin", default="target/release/gridsweep")
    a = ap.parse_args()
    {"pages": pages, "interference": interference}[a.what](a)


if __name__ == "__main__":
    main()
