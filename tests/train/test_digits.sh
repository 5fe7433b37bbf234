#!/bin/bash
# Real data end to end: scikit-learn's digits from Debian's python3-sklearn package (fetched with
# apt-get download + dpkg -x, nothing installed), three views of image rows, trained with
# configs/digits.ini (the full HARDY pipeline, fewer epochs) at 2 ranks under every fixed
# condition. Test accuracy must clearly beat chance (0.10; threshold 0.40 for every single
# view) and atv must beat every single view.
source "$(dirname "$0")/lib.sh"
cache=${HARDY_CACHE:-/tmp/hardy-cache}
bash "$SOURCE_DIR/analysis/fetch_digits.sh" digits.h5 "$cache" >fetch.log 2>&1 || { cat fetch.log; fail "fetch digits"; finish; exit 1; }
run_mpi 2 train "$SOURCE_DIR/configs/digits.ini" --set data.path=digits.h5 --out run --quiet \
  --set train.stage2_epochs=8 --set teacher.warmup_epochs=4 --set teacher.epochs=4 --set train.stage1_epochs=6 || fail "training"
"$PYTHON" - run/results.json <<'PY' || fail "digits accuracy"
import json, sys
r = json.load(open(sys.argv[1]))
wa = {c: v["test"]["wa"] for c, v in r["conditions"].items()}
print("  digits test WA:", {c: round(w, 3) for c, w in wa.items()})
single = [wa[c] for c in ("a", "t", "v")]
ok = min(single) >= 0.40 and all(wa["atv"] > s for s in single)
sys.exit(0 if ok else 1)
PY
finish
