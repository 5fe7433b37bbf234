#!/bin/sh
# The demo job of `make demo`: make a small synthetic IEMOCAP-like dataset, inspect it, and
# train HARDY-MER on it with configs/demo.ini over RANKS MPI ranks (threads per rank: the
# CPUs each rank may use over the ranks sharing them, chosen by the program).
set -eu
BUILD=${1:-build}
RANKS=${2:-2}
BIN="$BUILD/hardy-hpc"
OUT=demo-out
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe --bind-to none -n $RANKS"
mkdir -p "$OUT"
if [ ! -f "$OUT/demo.h5" ]; then
  $MPIRUN "$BIN" synth --out "$OUT/demo.h5" --utterances 3000 --dims 64,96,48 --classes 4 \
    --task classification --folds 0 --seed 7 --shape iemocap
fi
$MPIRUN "$BIN" inspect "$OUT/demo.h5"
$MPIRUN "$BIN" train configs/demo.ini --out "$OUT/run"
echo
echo "demo finished: results in $OUT/run/results.json, per-epoch metrics in $OUT/run/metrics.jsonl"
