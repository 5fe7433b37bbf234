#!/bin/sh
# The demo job of `make demo`: make a small synthetic IEMOCAP-like dataset, inspect it, and
# train HARDY-MER on it with configs/demo.ini over RANKS MPI ranks. Results go to ./demo-out.
#   from the source tree:    sh tools/demo.sh [BUILD_DIR] [RANKS]
#   installed (any prefix):  hardy-hpc-demo [RANKS]   (bin/hardy-hpc, share/hardy-hpc/configs)
# HARDY_BIN and MPIEXEC override the program and the MPI launcher; HARDY_DEMO_SET adds
# overrides to the configuration ("train.stage2_epochs=2 teacher.epochs=1"),
# HARDY_DEMO_UTTERANCES sets the dataset's size (3000).
# Threads per rank: the CPUs each rank may use over the ranks sharing them, chosen by the
# program (OMP_NUM_THREADS or run.threads override it).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -x "$HERE/hardy-hpc" ] && [ -f "$HERE/../share/hardy-hpc/configs/demo.ini" ]; then
  BIN=${HARDY_BIN:-$HERE/hardy-hpc}
  CONFIGS=$HERE/../share/hardy-hpc/configs
  RANKS=${1:-2}
else
  BUILD=${1:-build}
  BIN=${HARDY_BIN:-$BUILD/hardy-hpc}
  CONFIGS=$HERE/../configs
  RANKS=${2:-2}
fi
OUT=demo-out
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIEXEC=${MPIEXEC:-mpirun}
# Open MPI refuses more ranks than cores unless told; MPICH's launcher has no such flag.
case "$("$MPIEXEC" --version 2>&1)" in
*"Open MPI"* | *OpenRTE*) MPIRUN="$MPIEXEC --oversubscribe --bind-to none -n $RANKS" ;;
*) MPIRUN="$MPIEXEC -n $RANKS" ;;
esac
mkdir -p "$OUT"
if [ ! -f "$OUT/demo.h5" ]; then
  $MPIRUN "$BIN" synth --out "$OUT/demo.h5" --utterances "${HARDY_DEMO_UTTERANCES:-3000}" --dims 64,96,48 --classes 4 \
    --task classification --folds 0 --seed 7 --shape iemocap
fi
$MPIRUN "$BIN" inspect "$OUT/demo.h5"
set --
for kv in ${HARDY_DEMO_SET:-}; do set -- "$@" --set "$kv"; done
$MPIRUN "$BIN" train "$CONFIGS/demo.ini" --set data.path="$OUT/demo.h5" "$@" --out "$OUT/run"
echo
echo "demo finished: results in $OUT/run/results.json, per-epoch metrics in $OUT/run/metrics.jsonl"
