#!/bin/bash
# Real data at scale: Fashion-MNIST (70,000 images, three horizontal bands as views) from
# Debian's dataset-fashion-mnist, fetched and converted once into OUT_DIR. Measures, each at 1
# and 2 ranks in the same run (the 1-rank run is the baseline):
#   - the distributed exact kNN table of the 60,000 training images (`hardy-hpc knn`, K 3,
#     condition at and random masks at rate 0.5): seconds and queries/s, 2-rank efficiency;
#   - one epoch of stage-1 + one of stage-2 training throughput (utterances/s from
#     metrics.jsonl) with configs/fashion_mnist.ini, uniform training.
#   bench/fmnist.sh [BUILD_DIR (build)] [OUT_DIR (BUILD_DIR/bench)]
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-$BUILD/bench}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$BUILD/hardy-hpc
PY=${PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
MPIRUN="mpirun --oversubscribe --bind-to none"
mkdir -p "$OUT"
DATA=$OUT/fashion_mnist.h5
[ -f "$DATA" ] || bash "$HERE/../analysis/fetch_fashion_mnist.sh" "$DATA" >/dev/null
now() { "$PY" -c 'import time; print(time.time())'; }
results=$OUT/fmnist.txt
: >"$results"
for n in 1 2; do
  for miss in "--condition at" "--missing-rate 0.5"; do
    t0=$(now)
    $MPIRUN -n $n "$BIN" knn --data "$DATA" --k 3 $miss --split train --out "$OUT/fmnist-knn.h5" >/dev/null 2>&1
    echo "knn $n ${miss// /=} $t0 $(now)" >>"$results"
  done
  rm -rf "$OUT/fmnist-run"
  $MPIRUN -n $n "$BIN" train "$HERE/../configs/fashion_mnist.ini" --set data.path="$DATA" \
    --set missing.condition=at --set curriculum.enabled=false --set train.stage1_epochs=1 \
    --set train.stage2_epochs=1 --out "$OUT/fmnist-run" --quiet >/dev/null 2>&1
  echo "train $n $("$PY" -c "
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
ls = [l for l in ls if l.get('phase') in ('stage1', 'stage2')]
print(sum(l['utterances'] for l in ls) / sum(l['seconds'] for l in ls))" "$OUT/fmnist-run/metrics.jsonl")" >>"$results"
done
"$PY" - "$results" "$DATA" <<'PY'
import sys, os
rows = [l.split() for l in open(sys.argv[1])]
knn = {(int(r[1]), r[2]): float(r[4]) - float(r[3]) for r in rows if r[0] == "knn"}
ups = {int(r[1]): float(r[2]) for r in rows if r[0] == "train"}
print(f"Fashion-MNIST ({sys.argv[2]}): 60,000 training images, dims 252/280/252, load {os.getloadavg()[0]:.2f}")
for miss in sorted({k[1] for k in knn}):
    a, b = knn[(1, miss)], knn[(2, miss)]
    print(f"knn K=3 {miss.replace('=', ' '):22s} 1 rank {a:6.2f} s ({60000 / a:6.0f} q/s), "
          f"2 ranks {b:6.2f} s ({60000 / b:6.0f} q/s), efficiency {a / (2 * b):.2f} (whole command)")
print(f"train (H 128, depth 1, stage 1 + stage 2, one epoch each): 1 rank {ups[1]:.0f} utt/s, "
      f"2 ranks {ups[2]:.0f} utt/s, efficiency {ups[2] / (2 * ups[1]):.2f}")
PY
