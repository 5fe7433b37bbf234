#!/bin/bash
# Threads per rank by default (docs/SCALING.md): 2 ranks with OMP_NUM_THREADS unset (the
# program picks cores / ranks-per-node) against 2 ranks with one thread per rank set by hand,
# interleaved REPEATS times in one run; the median stage-1 and stage-2 throughputs and their
# ratio (goal: unset within 10% of set by hand, ratio >= 0.90). Writes OUT (JSON).
#   bench/placement.sh BUILD_DIR OUT_JSON [REPEATS=3]
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-$BUILD/bench/placement.json}
REPEATS=${3:-3}
BIN=$BUILD/hardy-hpc
PYTHON=${PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# nothing of the caller's thread settings may leak into the "unset" arm
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS
mpirun --oversubscribe --bind-to none -n 2 "$BIN" synth --out "$WORK/d.h5" --utterances 2000 \
  --dims 64,96,48 --classes 4 --folds 0 --seed 7 --shape iemocap >"$WORK/synth.log" 2>&1 ||
  { cat "$WORK/synth.log"; echo "placement.sh: synth failed" >&2; exit 1; }
cat >"$WORK/p.ini" <<CFG
[data]
path = $WORK/d.h5
[missing]
condition = at
[model]
hidden = 64
depth = 2
heads = 2
decoder_hidden = 128
[train]
batch_dialogues = 16
stage1_epochs = 2
stage2_epochs = 1
[teacher]
warmup_epochs = 1
epochs = 1
[curriculum]
enabled = true
[checkpoint]
every_steps = 0
every_seconds = 0
CFG
run() { # arm index: env, then launch
  local arm=$1 i=$2 dir=$WORK/$1-$2
  if [ "$arm" = unset ]; then
    mpirun --oversubscribe --bind-to none -n 2 "$BIN" train "$WORK/p.ini" --out "$dir" >"$dir.log" 2>&1
  else
    mpirun --oversubscribe --bind-to none -n 2 -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
      "$BIN" train "$WORK/p.ini" --out "$dir" >"$dir.log" 2>&1
  fi
}
for i in $(seq "$REPEATS"); do
  run unset "$i"
  run by-hand "$i"
done
"$PYTHON" - "$WORK" "$REPEATS" "$OUT" <<'PY'
import json, re, statistics, sys
work, repeats, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rate(arm, i, phase):
    rows = [json.loads(l) for l in open(f"{work}/{arm}-{i}/metrics.jsonl")]
    rows = [r for r in rows if r.get("phase") == phase and r.get("utterances")]
    return sum(r["utterances"] for r in rows) / sum(r["seconds"] for r in rows)
def threads(arm):
    m = re.search(r"(\d+) thread\(s\) per rank", open(f"{work}/{arm}-1.log").read())
    return int(m.group(1)) if m else None
res = {"ranks": 2, "repeats": repeats}
for arm in ("unset", "by-hand"):
    res[arm] = {"threads_per_rank": threads(arm)}
    for ph in ("stage1", "stage2"):
        res[arm][ph + "_utt_per_s"] = statistics.median(rate(arm, i, ph) for i in range(1, repeats + 1))
for ph in ("stage1", "stage2"):
    res[ph + "_ratio"] = res["unset"][ph + "_utt_per_s"] / res["by-hand"][ph + "_utt_per_s"]
json.dump(res, open(out, "w"), indent=1)
print(f"placement: 2 ranks, threads per rank unset -> {res['unset']['threads_per_rank']}, "
      f"by hand -> {res['by-hand']['threads_per_rank']}")
for ph in ("stage1", "stage2"):
    print(f"  {ph}: unset {res['unset'][ph + '_utt_per_s']:.0f} utt/s, by hand "
          f"{res['by-hand'][ph + '_utt_per_s']:.0f} utt/s, ratio {res[ph + '_ratio']:.3f} (goal >= 0.90)")
PY
