#!/bin/bash
# Learning: uniform training (no curriculum) on a synthetic dataset reaches a test WA far above
# chance (0.25 for 4 classes; threshold 0.55) under every fixed condition, and the full
# condition atv beats the weakest single modality v.
source "$(dirname "$0")/lib.sh"
run_mpi 2 synth --out d.h5 --utterances 2000 --dims 32,48,24 --classes 4 --folds 0 --seed 11 \
  --strength 0.5,0.6,0.3 >/dev/null 2>&1 || fail synth
write_cfg t.ini d.h5
sed -i 's/^condition = at/condition = a, t, v, at, av, tv, atv/; s/enabled = true/enabled = false/; s/stage2_epochs = 3/stage2_epochs = 6/' t.ini
run_mpi 2 train t.ini --out run --quiet || fail "training"
"$PYTHON" - run/results.json <<'PY' || fail "accuracy thresholds"
import json, sys
r = json.load(open(sys.argv[1]))
wa = {c: v["test"]["wa"] for c, v in r["conditions"].items()}
print("  test WA per condition:", {c: round(w, 3) for c, w in wa.items()})
bad = [c for c, w in wa.items() if w < 0.55]
if bad: print("  below 0.55:", bad)
if wa["atv"] <= wa["v"]: print("  atv does not beat v")
sys.exit(1 if bad or wa["atv"] <= wa["v"] else 0)
PY
finish
