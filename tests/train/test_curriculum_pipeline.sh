#!/bin/bash
# The full pipeline at 2 ranks with the curriculum on, with the equal-compute control
# (curriculum.views = self), with pacing and refresh, and off (uniform): each completes with
# results.json; with retrieval the neighbour budgets span [k_min, K] and the diagnostics are
# recorded (k distribution, neighbour label agreement, test metrics by hardness tercile).
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
run_mpi 2 train t.ini --out hardy --quiet || fail "curriculum on"
run_mpi 2 train t.ini --out self --quiet --set curriculum.views=self || fail "views = self"
run_mpi 2 train t.ini --out paced --quiet --set curriculum.pacing=linear \
  --set curriculum.pacing_epochs=2 --set curriculum.refresh_every=1 --set hardness.scorer=student \
  --set hardness.estimator=gaussian || fail "pacing + refresh by the student"
run_mpi 2 train t.ini --out uniform --quiet --set curriculum.enabled=false || fail "uniform"
for d in hardy self paced uniform; do
  check "$d: results.json" [ -f $d/results.json ]
done
"$PYTHON" - hardy/results.json paced/results.json uniform/results.json <<'PY' || fail "diagnostics"
import json, sys
h, p, u = (json.load(open(f)) for f in sys.argv[1:4])
run = h["runs"][0]
ref = run["curriculum_refreshes"][0]
k = ref["k_distribution"]
ok = len(k) == 4 and all(c > 0 for c in k)
print("  k distribution", k)
print("  neighbour label agreement top-1 %.3f top-3 %.3f" % (ref["neighbor_label_agreement_top1"], ref["neighbor_label_agreement_top3"]))
ok &= 0.0 <= ref["neighbor_label_agreement_top1"] <= 1.0
tb = run["test_by_hardness"]
ok &= tb["source"] == "planted" and sum(tb[t]["n"] for t in ("easy", "medium", "hard")) == run["test"]["n"]
# the paced run refreshed once per stage-2 epoch after the first (3 epochs -> 3 refreshes)
ok &= len(p["runs"][0]["curriculum_refreshes"]) == 3
ok &= p["runs"][0]["curriculum_refreshes"][1]["scorer"] == "student"
ok &= u["curriculum"] is False and "curriculum_refreshes" not in u["runs"][0]
sys.exit(0 if ok else 1)
PY
# the equal-compute control runs as many stage-2 steps as the curriculum
steps() { "$PYTHON" -c "import json,sys; print(sum(json.loads(l)['steps'] for l in open(sys.argv[1]) if json.loads(l).get('phase')=='stage2'))" "$1"; }
check "views=self runs the curriculum's step count ($(steps hardy/metrics.jsonl))" [ "$(steps hardy/metrics.jsonl)" = "$(steps self/metrics.jsonl)" ]
check "hardness file written" [ -f hardy/hardness-at.h5 ]
finish
