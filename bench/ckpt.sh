#!/usr/bin/env bash
# Checkpoint write bandwidth vs dd: for 1 and 2 ranks, measure `dd if=/dev/zero bs=8M
# conv=fdatasync` of the checkpoint's size into DIR, then `hardy-hpc bench ckpt` into the same
# DIR (5 writes of PARAMS parameters + Adam m, v, 1.2 GB at the default 100 million, each
# right after another dd, so every write has a baseline taken under the same conditions), and
# write the results to bench/results/ckpt-np<N>.json. Big files are removed afterwards.
# Usage: bench/ckpt.sh [DIR] [PARAMS]     (HARDY_BIN: the hardy-hpc binary)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$PWD/bench-ckpt.tmp}
params=${2:-100000000}
bin=${HARDY_BIN:-$here/../build/hardy-hpc}
out=${CKPT_OUT:-$here/results}
mkdir -p "$dir" "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
trap 'rm -f "$dir/dd.tmp"' EXIT

bytes=$((12 * params))
count=$(((bytes + 8388607) / 8388608))
dd_mbs() { # MB/s of one dd of the checkpoint's size, data flushed (fdatasync) before dd exits
  local line
  line=$(dd if=/dev/zero of="$dir/dd.tmp" bs=8M count=$count conv=fdatasync 2>&1 | grep copied)
  rm -f "$dir/dd.tmp"
  awk '{print $1 / $(NF-3) / 1e6}' <<<"$line"
}

for np in 1 2; do
  a=$(dd_mbs)
  b=$(dd_mbs)
  dd=$(awk -v a="$a" -v b="$b" 'BEGIN {print (a > b ? a : b)}')
  echo "dd conv=fdatasync, $count x 8 MiB into $dir: $a, $b MB/s (best $dd)"
  mpirun --oversubscribe --bind-to none -n $np "$bin" bench ckpt --dir "$dir" --params "$params" \
    --reps 5 --dd --baseline-mbs "$dd" --json "$out/ckpt-np$np.json"
done
rmdir "$dir" 2>/dev/null || true
