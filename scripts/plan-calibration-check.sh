#!/usr/bin/env bash
# How close `plan --calibrate` comes on the study's data (docs/less-work.md, "`plan`'s
# estimate"): runs two random, four halving and one Hyperband sweep of the study's
# grids one after the other (--jobs 2; a sweep already recorded in DIR is not run
# again), then estimates each run from databases that do not hold it and prints
# measured against estimated seconds. Run it on an otherwise idle machine.
# usage: scripts/plan-calibration-check.sh [DIR] [GRIDSWEEP]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/plan-calibration}
BIN=${2:-target/release/gridsweep}
mkdir -p "$DIR"
HALVING="halving60 halving60b halving60c halving60d"
for s in random24a random24b $HALVING hyperband; do
  [ -f "$DIR/$s.done" ] && continue
  rm -f "$DIR/genre-factor-$s.db"*
  "$BIN" run "search-spaces/genre-factor-$s.json" --db "$DIR/genre-factor-$s.db" --jobs 2 --quiet
  touch "$DIR/$s.done"
done
rm -rf "$DIR/mix" && mkdir -p "$DIR/mix"
# mix NAME SWEEP...: a database holding copies of those runs.
mix() {
  local db="$DIR/mix/$1.db"; shift
  for s in "$@"; do "$BIN" copy --from "$DIR/genre-factor-$s.db" --to "$db" "genre-factor-$s" >/dev/null; done
  echo "$db"
}
# report RUN DB LABEL: the run's span (first claim to last record) against the estimate.
report() {
  python3 - "$DIR/genre-factor-$1.db" "$1" "$3" <<PY "$("$BIN" plan "search-spaces/genre-factor-$1.json" --jobs 2 --json --calibrate "$2")"
import json, sqlite3, sys
db, run, label, plan = sys.argv[1:5]
first, last = sqlite3.connect(db).execute("SELECT MIN(started_at), MAX(finished_at) FROM folds WHERE state = 'done'").fetchone()
measured, d = last - first, json.loads(plan)
est, c = d["estimated_seconds"], d["calibration"]
print(f"{label:14} {run:10} measured {measured:6.1f} s  estimated {est:6.1f} s ({100 * (est / measured - 1):+5.1f} %)  bound {d['bound_seconds']:6.1f} s  staged factor {c['staged_factor']}  survivor scores {c['survivor_scores']}")
PY
}
A=$(mix A random24a halving60); B=$(mix B random24b halving60b)
C=$(mix C random24a halving60c); D=$(mix D random24b halving60d)
report random24a "$B" pairs; report random24b "$A" pairs
report halving60 "$B" pairs; report halving60b "$A" pairs
report halving60c "$D" pairs; report halving60d "$C" pairs
for x in $HALVING; do
  others=$(for y in $HALVING; do if [ "$y" != "$x" ]; then echo "$y"; fi; done)
  # shellcheck disable=SC2086
  report "$x" "$(mix "loo-$x" random24a random24b $others)" "leave one out"
done
# shellcheck disable=SC2086
report hyperband "$(mix all random24a random24b $HALVING)" "all others"
