#!/bin/bash
# `make bench`: every benchmark against its baseline measured in the same run.
#   sgemm   the OpenBLAS sgemm peak on 1 and 2 threads (the baseline of the GFLOP/s shares)
#   step    training-step throughput vs the PyTorch twin of the backbone (bench/step.sh)
#   knn     distributed exact kNN vs FAISS IndexFlatL2 (bench/knn.sh)
#   ckpt    checkpoint write bandwidth vs dd conv=fdatasync (bench/ckpt.sh)
#   fmnist  real data: kNN table and training throughput on Fashion-MNIST, 2 ranks vs 1
#           (bench/fmnist.sh; fetches dataset-fashion-mnist once)
#   placement threads per rank chosen by the program (OMP_NUM_THREADS unset) vs one thread per
#           rank set by hand, 2 ranks, interleaved (bench/placement.sh; goal ratio >= 0.90)
#   scaling weak and strong scaling of stage 2 with refreshes at 1 and 2 ranks, replicated and
#           sharded optimiser (jobs/scaling.sh; docs/SCALING.md)
# Results go to BUILD/bench/*.json; the summaries print here. The environment's
# OPENBLAS_CORETYPE is recorded; set BENCH_UNSET_CORETYPE=1 to measure without it.
#   bench/run.sh [BUILD_DIR] [sgemm step knn ckpt fmnist]
set -euo pipefail
BUILD=${1:-build}
shift || true
WHICH=${*:-sgemm step knn ckpt fmnist placement scaling}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$BUILD/bench
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export HARDY_BIN=$BUILD/hardy-hpc
echo "bench: $(date -u +%FT%TZ) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}"
if [ "${BENCH_UNSET_CORETYPE:-0}" = 1 ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
for b in $WHICH; do
  echo "== $b"
  case $b in
    sgemm) for t in 1 2; do OMP_NUM_THREADS=$t "$HARDY_BIN" bench sgemm | tee "$OUT/sgemm-t$t.json"; done ;;
    step) OUT="$OUT/step.json" bash "$HERE/step.sh" ;;
    knn) bash "$HERE/knn.sh" "$BUILD" "$OUT" ;;
    ckpt) bash "$HERE/ckpt.sh" "$OUT/ckpt-scratch" ;;
    fmnist) bash "$HERE/fmnist.sh" "$BUILD" "$OUT" ;;
    placement) bash "$HERE/placement.sh" "$BUILD" "$OUT/placement.json" ;;
    scaling) bash "$HERE/../jobs/scaling.sh" --bin "$HARDY_BIN" --ranks "1 2" --shard both --out "$OUT/scaling" ;;
    *) echo "bench/run.sh: unknown benchmark '$b' (sgemm, step, knn, ckpt, fmnist, placement, scaling)"; exit 2 ;;
  esac
done
