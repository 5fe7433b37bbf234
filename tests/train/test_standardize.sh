#!/bin/bash
# Feature standardisation end to end: the same synthetic data written raw-valued
# (synth --scale 100 --offset 50) trains to within 1 WA point of the unscaled file with
# data.standardize = zscore (the default), and is reported as badly scaled by `inspect` and by
# `train` with standardisation off; the statistics are stored in the checkpoint and teacher,
# and `eval` at 3 ranks reproduces the 2-rank run's test metrics exactly; a resume with another
# data.standardize is refused, and so is a stored teacher standardised with other statistics;
# `knn --standardize zscore` finds the same neighbours in both
# files.
source "$(dirname "$0")/lib.sh"
make_data d.h5
make_data s.h5 --scale 100 --offset 50
write_cfg t.ini d.h5

out=$(run_mpi 2 inspect s.h5 2>&1)
check "inspect: raw-valued file reported badly scaled" grep -q "warning: audio features are badly scaled" <<<"$out"

for f in d s; do
  run_mpi 2 train t.ini --set data.path=$f.h5 --out run-$f --quiet >log-$f 2>&1 || fail "training on $f.h5"
done
out=$(run_mpi 2 train t.ini --set data.path=s.h5 --set data.standardize=none --set curriculum.enabled=false \
      --out run-off 2>&1) || fail "training on s.h5 without standardisation"
check "train without standardisation warns" grep -q "text features are badly scaled" <<<"$out"
check "train with standardisation does not warn" bash -c '! grep -q "badly scaled" log-s'

"$PYTHON" - run-d/results.json run-s/results.json run-off/results.json <<'PY' || fail "scaled vs unscaled WA within 1 point"
import json, sys
wa = [json.load(open(p))["test"]["wa"] for p in sys.argv[1:]]
print(f"  test WA: unscaled {wa[0]:.4f}, x100+50 standardised {wa[1]:.4f}, x100+50 raw {wa[2]:.4f}")
sys.exit(0 if abs(wa[0] - wa[1]) <= 0.01 else 1)
PY

"$PYTHON" - run-s/checkpoints/at-final.h5 run-s/teachers/at-teacher.h5 <<'PY' || fail "statistics stored in the checkpoint and teacher"
import json, sys, h5py
for path in sys.argv[1:]:
    s = json.loads(h5py.File(path, "r")["/meta/standardize_json"][()].decode())
    a = s["modalities"]["audio"]
    print(f"  {path}: {s['standardize']}, audio rows {a['count']}, mean[0] {a['mean'][0]:.4f}, std[0] {a['std'][0]:.4f}")
    assert s["standardize"] == "zscore" and a["count"] > 0 and len(a["mean"]) == 32
    assert 10 < abs(a["mean"][0]) and 10 < a["std"][0] < 1000
PY

for n in 3; do
  out=$(run_mpi $n eval --checkpoint run-s/checkpoints/at-final.h5 --condition at --json 2>/dev/null)
  "$PYTHON" - run-s/results.json "$out" <<'PY' || fail "$n ranks: eval reproduces the test metrics"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]["test"]
e = json.loads(sys.argv[2])["metrics"]
print("  results", {k: r[k] for k in ("wa", "ua", "f1")}, "eval", {k: e[k] for k in ("wa", "ua", "f1")})
sys.exit(0 if all(r[k] == e[k] for k in ("wa", "ua", "f1", "n")) else 1)
PY
done

out=$(run_mpi 2 train t.ini --set data.path=s.h5 --set data.standardize=none --out run-s \
      --resume run-s/checkpoints/at-final.h5 2>&1); rc=$?
check "resume with another data.standardize refused (exit 2)" [ "$rc" = 2 ]
check "the refusal names the key and both values" grep -q "data.standardize: zscore -> none" <<<"$out"

out=$(run_mpi 2 train t.ini --set data.path=d.h5 --set teacher.checkpoint=run-s/teachers --out run-x 2>&1); rc=$?
check "a teacher standardised with other statistics is refused (exit 2)" [ "$rc" = 2 ]
check "the refusal says why" grep -q "not those of this fold's training rows" <<<"$out"

for f in d s; do
  run_mpi 2 knn --data $f.h5 --k 5 --condition atv --split test --standardize zscore --out k-$f.h5 \
    >/dev/null 2>&1 || fail "knn on $f.h5"
done
"$PYTHON" - k-d.h5 k-s.h5 <<'PY' || fail "knn --standardize: same neighbours in both files"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["/neighbors/id"][:] for p in sys.argv[1:])
same = float((a == b).mean())
print(f"  identical neighbour ids: {same:.4f}")
sys.exit(0 if same >= 0.99 else 1)
PY
finish
