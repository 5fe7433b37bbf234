#!/bin/bash
# Stand-in for `hardy-hpc train` and `hardy-hpc hardness` in the Slurm tests, launched by the
# job scripts as every MPI rank (srun or mpirun), so the tests can drive the job-script flow
# (resume, requeue, signals, dependencies) deterministically and in seconds. Every other
# command goes to the real program in HARDY_REAL_BIN. Like the real program, `hardness` writes
# OUT/teachers/<condition>[-fold<k>]-teacher.h5 and takes no --resume, and `train` checks that
# teacher.checkpoint (a file, or a directory of such teacher files) exists.
# FAKE_MODE selects what `train` does:
#   ok            rank 0 writes OUT/results.json; exit 0
#   preempt-once  without --resume: rank 0 writes a checkpoint, every rank exits 143
#   wait-signal   without --resume: wait for SIGUSR1/SIGTERM, then as preempt-once
# With --resume the checkpoint must exist, and the run finishes as `ok`.
# FAKE_SLEEP=S sleeps S seconds before finishing (to make job order observable).
set -u
real=${HARDY_REAL_BIN:?HARDY_REAL_BIN must name the real hardy-hpc}
case "${1:-}" in
train | hardness) cmd=$1 ;;
*) exec "$real" "$@" ;;
esac
shift
if [ "${1:-}" = --help ]; then
  echo "usage: fake $cmd CONFIG [--set k=v ...] --out DIR"
  [ "$cmd" = train ] && echo "  --resume     continue from DIR/checkpoints/latest"
  exit 0
fi
config=${1:?train needs CONFIG}
shift
out="" resume=0 sets=()
while [ $# -gt 0 ]; do
  case "$1" in
  --set) sets+=("$2"); shift 2 ;;
  --out) out=$2; shift 2 ;;
  --resume) [ "$cmd" = train ] || { echo "hardy: error: $cmd takes no --resume" >&2; exit 2; }
    resume=1; shift ;;
  *) echo "hardy: error: fake train: unexpected argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "hardy: error: train needs --out DIR" >&2; exit 2; }
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-0}}}
size=${OMPI_COMM_WORLD_SIZE:-${SLURM_NTASKS:-1}}
start=$(date +%s.%N)
echo "fake train: rank $rank of $size, OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

tag=atv teacher=""
for s in "${sets[@]}"; do
  case "$s" in
  missing.condition=*) tag=${s#*=}${tag#atv} ;;
  data.fold=*) tag=${tag%%-fold*}-fold${s#*=} ;;
  teacher.checkpoint=*) teacher=${s#*=} ;;
  esac
done
if [ -n "$teacher" ]; then
  [[ "$teacher" == *.h5 ]] || teacher=$teacher/$tag-teacher.h5
  [ -e "$teacher" ] || { echo "hardy: error: teacher checkpoint '$teacher' does not exist" >&2; exit 2; }
fi

checkpoint_and_stop() {
  if [ "$rank" = 0 ]; then
    mkdir -p "$out/checkpoints"
    echo "step 7" >"$out/checkpoints/ckpt-7.h5"
    ln -sfn ckpt-7.h5 "$out/checkpoints/latest"
    echo "fake train: checkpoint written to $out/checkpoints/latest"
  fi
  exit 143
}

if [ "$resume" = 1 ]; then
  [ -e "$out/checkpoints/latest" ] || { echo "hardy: error: --resume: no $out/checkpoints/latest" >&2; exit 2; }
  echo "fake train: rank $rank resumed from $(cat "$out/checkpoints/latest")"
else
  case "${FAKE_MODE:-ok}" in
  ok) ;;
  preempt-once) checkpoint_and_stop ;;
  wait-signal)
    trap checkpoint_and_stop USR1 TERM
    echo "fake train: rank $rank waiting for a signal"
    while :; do sleep 0.1; done
    ;;
  *) echo "hardy: error: FAKE_MODE='$FAKE_MODE'" >&2; exit 2 ;;
  esac
fi
sleep "${FAKE_SLEEP:-0}"
if [ "$rank" = 0 ]; then
  mkdir -p "$out"
  if [ "$cmd" = hardness ]; then
    mkdir -p "$out/teachers"
    echo "teacher" >"$out/teachers/$tag-teacher.h5"
  fi
  printf '{"config": "%s", "sets": "%s", "ranks": %s, "resumed": %s, "restart": %s, "omp_threads": "%s", "start": %s, "end": %s}\n' \
    "$config" "${sets[*]}" "$size" "$([ "$resume" = 1 ] && echo true || echo false)" \
    "${SLURM_RESTART_COUNT:-0}" "${OMP_NUM_THREADS:-unset}" "$start" "$(date +%s.%N)" >"$out/results.json.tmp"
  mv "$out/results.json.tmp" "$out/results.json"
fi
exit 0
