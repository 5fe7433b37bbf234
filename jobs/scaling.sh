#!/bin/bash
# Weak and strong scaling of curriculum stage 2 (with a hardness + retrieval refresh every
# epoch) for any hardy-hpc binary and list of rank counts, on a workstation (mpirun) or inside
# a Slurm allocation (srun). Weak: UTT_PER_RANK utterances per rank; strong: TOTAL utterances
# whatever the ranks. Each point is one `hardy-hpc train` on synthetic IEMOCAP-shaped data;
# its stage-2 metrics (utterances/s, compute and allreduce-wait seconds, refresh hardness/kNN
# seconds, peak memory per rank) go to OUT/scaling.jsonl, one JSON line per point, with the
# efficiency against the first rank count, and a table is printed.
#
#   jobs/scaling.sh [--bin PATH] [--ranks "1 2 4"] [--mode weak|strong|both]
#                   [--utt-per-rank N] [--total N] [--shard false|true|both] [--out DIR]
#                   [--set section.key=value ...]
#
# Inside an allocation (SLURM_JOB_ID set) ranks start with `srun -n R`; elsewhere with
# `mpirun --oversubscribe --bind-to none -n R`. Threads per rank follow the program's rule
# (docs/SCALING.md) unless OMP_NUM_THREADS is exported.
set -euo pipefail
BIN=${HARDY_BIN:-build/hardy-hpc}
RANKS="1 2"
MODE=both
UTT_PER_RANK=1500
TOTAL=3000
SHARD=false
OUT=scaling-out
SETS=()
PYTHON=${PYTHON:-/usr/bin/python3}
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --utt-per-rank) UTT_PER_RANK=$2; shift 2 ;;
    --total) TOTAL=$2; shift 2 ;;
    --shard) SHARD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --set) SETS+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $MODE in weak) MODES=weak ;; strong) MODES=strong ;; both) MODES="weak strong" ;;
  *) echo "scaling.sh: --mode must be weak, strong or both, not '$MODE'" >&2; exit 2 ;; esac
case $SHARD in false|true) SHARDS=$SHARD ;; both) SHARDS="false true" ;;
  *) echo "scaling.sh: --shard must be false, true or both, not '$SHARD'" >&2; exit 2 ;; esac
[ -x "$BIN" ] || { echo "scaling.sh: no executable hardy-hpc at '$BIN' (--bin PATH)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
launch() { # ranks args...
  local n=$1; shift
  if [ -n "${SLURM_JOB_ID:-}" ]; then srun -n "$n" "$BIN" "$@"
  else mpirun --oversubscribe --bind-to none -n "$n" "$BIN" "$@"; fi
}
mkdir -p "$OUT"
RESULTS=$OUT/scaling.jsonl
: >"$RESULTS"
cat >"$OUT/scaling.ini" <<CFG
[missing]
condition = at
[run]
seed = 1
progress_seconds = 600
[model]
hidden = 64
depth = 2
heads = 2
decoder_hidden = 256
[train]
batch_dialogues = 16
stage1_epochs = 1
stage2_epochs = 3
[teacher]
warmup_epochs = 1
epochs = 1
[curriculum]
enabled = true
refresh_every = 1
[checkpoint]
every_steps = 0
every_seconds = 0
CFG
for mode in $MODES; do
  for shard in $SHARDS; do
    for n in $RANKS; do
      utt=$([ "$mode" = weak ] && echo $((UTT_PER_RANK * n)) || echo "$TOTAL")
      data=$OUT/data-$utt.h5
      [ -f "$data" ] || launch "$n" synth --out "$data" --utterances "$utt" --dims 64,96,48 \
        --classes 4 --folds 0 --seed 7 --shape iemocap >/dev/null
      run=$OUT/$mode-shard$shard-r$n
      rm -rf "$run"
      start=$(date +%s%N)
      launch "$n" train "$OUT/scaling.ini" --set data.path="$data" --set train.optimizer_shard=$shard \
        "${SETS[@]}" --out "$run" --quiet
      wall=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
      "$PYTHON" - "$run/metrics.jsonl" "$mode" "$n" "$utt" "$shard" "$wall" >>"$RESULTS" <<'PY'
import json, sys
path, mode, ranks, utt, shard, wall = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
s2 = [j for j in lines if j.get("phase") == "stage2"]
hard = [j for j in lines if j.get("phase") == "hardness"][1:]  # refreshes (the first is the initial scoring)
sec = sum(j["seconds"] for j in s2)
print(json.dumps({"mode": mode, "ranks": int(ranks), "utterances": int(utt), "optimizer_shard": shard == "true",
    "stage2_seconds": sec, "stage2_utt_per_s": sum(j["utterances"] for j in s2) / sec if sec else 0,
    "steps": sum(j["steps"] for j in s2), "compute_s": sum(j["compute_s"] for j in s2),
    "allreduce_wait_s": sum(j["allreduce_wait_s"] for j in s2),
    "refresh_hardness_s": sum(j.get("hardness_seconds", 0) for j in hard),
    "refresh_knn_s": sum(j.get("knn_seconds", 0) for j in hard),
    "rss_peak_max_mib": max(j["rss_peak_max_mib"] for j in s2), "wall_s": float(wall)}))
PY
    done
  done
done
"$PYTHON" - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'mode':6} {'shard':5} {'ranks':>5} {'utt':>7} {'stage2 s':>9} {'utt/s':>8} {'eff':>5} "
      f"{'wait s':>7} {'refresh s':>9} {'RSS MiB':>8}")
base = {}
for r in rows:
    key = (r["mode"], r["optimizer_shard"])
    b = base.setdefault(key, r)
    # weak: the same time per step is ideal; strong: time falls as 1/R
    if r["mode"] == "weak":
        eff = b["stage2_seconds"] / r["stage2_seconds"] if r["stage2_seconds"] else 0
    else:
        eff = b["stage2_seconds"] * b["ranks"] / (r["stage2_seconds"] * r["ranks"]) if r["stage2_seconds"] else 0
    r["efficiency"] = eff
    print(f"{r['mode']:6} {str(r['optimizer_shard']).lower():5} {r['ranks']:5d} {r['utterances']:7d} "
          f"{r['stage2_seconds']:9.2f} {r['stage2_utt_per_s']:8.0f} {eff:5.2f} {r['allreduce_wait_s']:7.2f} "
          f"{r['refresh_hardness_s'] + r['refresh_knn_s']:9.2f} {r['rss_peak_max_mib']:8.1f}")
with open(sys.argv[1], "w") as f:
    for r in rows: f.write(json.dumps(r) + "\n")
PY
echo "scaling.sh: results in $RESULTS"
