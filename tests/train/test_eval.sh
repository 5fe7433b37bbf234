#!/bin/bash
# eval: the final checkpoint of a run evaluated by `hardy-hpc eval` at 1 and 3 ranks gives
# exactly the test metrics in results.json (same masks, same model); another condition and a
# random rate evaluate too.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
sed -i 's/enabled = true/enabled = false/' t.ini
run_mpi 2 train t.ini --out run --quiet || fail "training"
for n in 1 3; do
  out=$(run_mpi $n eval --checkpoint run/checkpoints/at-final.h5 --condition at --json 2>/dev/null)
  check "$n ranks: eval prints JSON" [ -n "$out" ]
  "$PYTHON" - run/results.json "$out" <<'PY' || fail "$n ranks: eval equals results.json"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]["test"]
e = json.loads(sys.argv[2])["metrics"]
bad = [k for k in ("wa", "ua", "f1", "n") if abs(r[k] - e[k]) > 1e-12]
print("  results", {k: r[k] for k in ("wa", "ua", "f1")}, "eval", {k: e[k] for k in ("wa", "ua", "f1")})
sys.exit(1 if bad else 0)
PY
done
out=$(run_mpi 2 eval --checkpoint run/checkpoints --missing-rate 0.5 --split validation 2>&1)
check "eval with a missing rate on validation" grep -q "validation under rate0.50" <<<"$out"
finish
