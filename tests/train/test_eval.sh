#!/bin/bash
# eval and predictions. One job (two conditions, fold 1 of a folded file, so validation is a
# seeded hold-out of the training dialogues, run.save_predictions on):
# - `hardy-hpc eval` of a run's final checkpoint at 1 and 3 ranks, with no --condition, uses
#   the condition the model was trained under and gives exactly the test metrics of
#   results.json (with the per-class recall and confusion matrix);
# - --split validation gives exactly the selected epoch's validation metrics, and --seed does
#   not move the validation hold-out (same metrics, a warning under a fixed condition);
# - predictions: train's CSV has one row per test utterance in id order, probabilities that
#   sum to 1, argmax = prediction, accuracy = the reported WA, and hardness terciles; eval's
#   CSV at 1 and 3 ranks equals train's (probabilities within 1e-6: batches differ) except
#   the tercile column, which eval leaves empty;
# - a regression run's predictions carry the value, and its MMSA metrics follow from them;
# - missing.condition and missing.rate together: exit 2 naming both.
source "$(dirname "$0")/lib.sh"
make_data d.h5 --folds 3
write_cfg t.ini d.h5
sed -i 's/enabled = true/enabled = false/; s/condition = at/condition = at, tv/' t.ini
sed -i 's/^\[run\]/[run]\nsave_predictions = true/; s/^\[data\]/[data]\nfold = 1/' t.ini
run_mpi 2 train t.ini --out run --quiet || fail "training"
check "train wrote predictions per run" [ -s run/predictions-tv-fold1.csv -a -s run/predictions-at-fold1.csv ]

for n in 1 3; do
  out=$(run_mpi $n eval --checkpoint run/checkpoints/tv-fold1-final.h5 --json --predictions "p$n.csv" 2>/dev/null)
  check "$n ranks: eval prints JSON" [ -n "$out" ]
  "$PYTHON" - run/results.json "$out" <<'PY' || fail "$n ranks: eval (own condition) equals results.json"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
r = [x for x in runs if x["condition"] == "tv"][0]["test"]
e = json.loads(sys.argv[2])
print("  condition", e["condition"], "results", {k: r[k] for k in ("wa", "ua", "f1")},
      "eval", {k: e["metrics"][k] for k in ("wa", "ua", "f1")})
bad = [k for k in ("wa", "ua", "f1", "n") if abs(r[k] - e["metrics"][k]) > 1e-12]
bad += [k for k in ("recall", "confusion") if r[k] != e["metrics"][k]]
sys.exit(1 if bad or e["condition"] != "tv" else 0)
PY
done
"$PYTHON" - p1.csv p3.csv <<'PY' || fail "eval predictions at 1 and 3 ranks"
import csv, sys
a, b = (list(csv.DictReader(open(f))) for f in sys.argv[1:3])
probs = [k for k in a[0] if k.startswith("prob_")]
same = lambda r, s: all(r[k] == s[k] for k in ("id", "name", "label", "prediction")) and \
    all(abs(float(r[k]) - float(s[k])) <= 1e-6 for k in probs)
sys.exit(0 if len(a) == len(b) and all(same(r, s) for r, s in zip(a, b)) else 1)
PY

v1=$(run_mpi 2 eval --checkpoint run/checkpoints/at-fold1-final.h5 --split validation --json 2>/dev/null)
v2=$(run_mpi 2 eval --checkpoint run/checkpoints/at-fold1-final.h5 --split validation --seed 99 --json 2>"$WORK/seed.err")
check "--seed warns under a fixed condition" grep -q "no effect" "$WORK/seed.err"
"$PYTHON" - run/results.json "$v1" "$v2" <<'PY' || fail "validation: the checkpoint's hold-out whatever --seed"
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["runs"] if x["condition"] == "at"][0]["validation"]
a, b = json.loads(sys.argv[2])["metrics"], json.loads(sys.argv[3])["metrics"]
print("  selected epoch's validation", r["wa"], r["n"], "eval", a["wa"], a["n"], "eval --seed 99", b["wa"], b["n"])
sys.exit(0 if all(abs(r[k] - a[k]) <= 1e-12 and a[k] == b[k] for k in ("wa", "ua", "f1", "n")) else 1)
PY

"$PYTHON" - run/results.json run/predictions-tv-fold1.csv p1.csv <<'PY' || fail "predictions CSV"
import csv, json, sys
res = [x for x in json.load(open(sys.argv[1]))["runs"] if x["condition"] == "tv"][0]
rows = list(csv.DictReader(open(sys.argv[2])))
ev = list(csv.DictReader(open(sys.argv[3])))
probs = [k for k in rows[0] if k.startswith("prob_")]
ids = [int(r["id"]) for r in rows]
ok = len(rows) == res["test"]["n"] and ids == sorted(ids) and len(set(ids)) == len(ids)
ok &= len(probs) == 4 and all(r["name"] == f"utt_{r['id']}" for r in rows)
for r in rows:
    p = [float(r[k]) for k in probs]
    ok &= abs(sum(p) - 1) < 1e-5 and int(r["prediction"]) == p.index(max(p))
acc = sum(int(r["label"]) == int(r["prediction"]) for r in rows) / len(rows)
terc = {r["hardness_tercile"] for r in rows}
ok &= abs(acc - res["test"]["wa"]) < 1e-12 and terc == {"easy", "medium", "hard"}
# train and eval batch the rows differently: probabilities agree to float rounding
same = lambda r, s: all(r[k] == s[k] for k in ("id", "name", "label", "prediction")) and \
    all(abs(float(r[k]) - float(s[k])) <= 1e-6 for k in probs)
ok &= len(rows) == len(ev) and all(same(r, s) for r, s in zip(rows, ev))
ok &= {r["hardness_tercile"] for r in ev} == {""}
print(f"  {len(rows)} rows, accuracy {acc:.4f} (results {res['test']['wa']:.4f}), terciles {sorted(terc)}")
sys.exit(0 if ok else 1)
PY

# regression: the CSV's values reproduce MMSA's metrics of results.json
make_data r.h5 --task regression --folds 0
write_cfg r.ini r.h5
sed -i 's/enabled = true/enabled = false/; s/condition = at/condition =/; s/^\[missing\]/[missing]\nrate = 0.5/' r.ini
sed -i 's/^\[run\]/[run]\nsave_predictions = true/; s/stage2_epochs = 3/stage2_epochs = 1/' r.ini
run_mpi 2 train r.ini --out reg --quiet --set train.select_metric=acc7 || fail "regression training"
"$PYTHON" - reg/results.json reg/predictions-rate0.50.csv <<'PY' || fail "regression predictions and metrics"
import csv, json, sys
import numpy as np
run = json.load(open(sys.argv[1]))["runs"][0]
r = run["test"]
rows = list(csv.DictReader(open(sys.argv[2])))
t = np.array([float(x["label"]) for x in rows], dtype=np.float32)
p = np.array([float(x["prediction"]) for x in rows], dtype=np.float32)
acc7 = np.mean(np.round(np.clip(p, -3., 3.)) == np.round(np.clip(t, -3., 3.)))
acc5 = np.mean(np.round(np.clip(p, -2., 2.)) == np.round(np.clip(t, -2., 2.)))
nz = t != 0
acc2 = np.mean((t[nz] > 0) == (p[nz] > 0))
has0 = np.mean((t >= 0) == (p >= 0))
mae = np.mean(np.abs(p.astype(np.float64) - t))
print(f"  {len(rows)} rows; acc7 {acc7:.4f}/{r['acc7']:.4f} acc5 {acc5:.4f}/{r['acc5']:.4f} "
      f"acc2 {acc2:.4f}/{r['acc2']:.4f} has0 {has0:.4f}/{r['acc2_has0']:.4f} mae {mae:.5f}/{r['mae']:.5f}; "
      f"selected by {run['selected_by']}")
ok = len(rows) == r["n"] and run["selected_by"] == "acc7"
ok &= all(abs(a - b) < 1e-12 for a, b in ((acc7, r["acc7"]), (acc5, r["acc5"]), (acc2, r["acc2"]), (has0, r["acc2_has0"])))
ok &= abs(mae - r["mae"]) < 1e-6
sys.exit(0 if ok else 1)
PY
out=$(run_mpi 2 eval --checkpoint reg/checkpoints --split validation 2>&1)
check "regression eval defaults to the model's rate" grep -q "validation under rate0.50" <<<"$out"

out=$(run_mpi 1 train t.ini --out bad --set missing.rate=0.3 --set missing.condition=at 2>&1)
rc=$?
check "condition and rate together: exit 2 naming both" \
  [ "$rc" = 2 ] && grep -q "missing.condition = 'at' and missing.rate = '0.3' are both set" <<<"$out"
finish
