# Helpers for the Slurm job-script tests (sourced). slurm_up starts the private single-node
# Slurm of start_slurm.sh (or reuses the running one), makes a work directory, and on exit
# removes it and stops Slurm again if this script started it, unless HARDY_SLURM_SHARED=1 (ctest
# shares one cluster between the tests and stops it in the slurm_stop fixture test).
# The tests get HARDY_BIN (the real program) and SOURCE_DIR from ctest.
set -u
SLURM_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=${SOURCE_DIR:-$(cd "$SLURM_TEST_DIR/../.." && pwd)}
JOBS=$SOURCE_DIR/jobs
REAL_BIN=${HARDY_BIN:?HARDY_BIN must name the hardy-hpc binary}
FAKE_BIN=$SLURM_TEST_DIR/fake_train.sh
TEST_NAME=$(basename "$0" .sh)
fail=0
_started_slurm=0

note() { echo "$TEST_NAME: $*"; }
failed() { echo "FAIL: $*"; fail=$((fail + 1)); }

# expect DESCRIPTION COMMAND...: count a failure when COMMAND fails.
expect() {
  local what=$1
  shift
  "$@" || failed "$what"
}

# file_has FILE TEXT: FILE contains the fixed string TEXT (prints FILE when it does not).
file_has() {
  if ! grep -qF -- "$2" "$1" 2>/dev/null; then
    echo "--- $1 lacks '$2':"
    cat "$1" 2>/dev/null || echo "(missing)"
    echo "---"
    return 1
  fi
}

_slurm_cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "${HARDY_SLURM_DIR:-}" ]; then
    echo "--- slurmctld.log (tail)"
    tail -n 15 "$HARDY_SLURM_DIR/slurmctld.log" 2>/dev/null
  fi
  [ -n "${WORK:-}" ] && [ "${HARDY_TEST_KEEP:-0}" != 1 ] && rm -rf "$WORK"
  [ "$_started_slurm" = 1 ] && bash "$SLURM_TEST_DIR/stop_slurm.sh"
  exit "$rc"
}

slurm_up() {
  # A developer may run the tests inside a site allocation: its job variables would point
  # sbatch and srun at the wrong job.
  local v
  for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_'); do unset "$v"; done
  export HARDY_SLURM_DIR=${HARDY_SLURM_DIR:-/tmp/hardy-slurm}
  local was_up=0
  [ -s "$HARDY_SLURM_DIR/slurmctld.pid" ] && kill -0 "$(cat "$HARDY_SLURM_DIR/slurmctld.pid")" 2>/dev/null && was_up=1
  trap _slurm_cleanup EXIT
  bash "$SLURM_TEST_DIR/start_slurm.sh"
  local rc=$?
  [ "$rc" = 77 ] && { note "skipped: no Slurm on this machine"; exit 77; }
  [ "$rc" = 0 ] || { note "could not start Slurm"; exit 1; }
  [ "$was_up" = 0 ] && [ "${HARDY_SLURM_SHARED:-0}" != 1 ] && _started_slurm=1
  # shellcheck source=/dev/null
  source "$HARDY_SLURM_DIR/env.sh"
  WORK=$(mktemp -d --suffix=.hardy-slurm-test)
  chmod 755 "$WORK"
}

# job_field JOBID FIELD: a field of `scontrol show job` (first record).
job_field() {
  scontrol show job -o "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# wait_state JOBID REGEX SECONDS: poll until JobState matches REGEX; prints the last state.
wait_state() {
  local state="" i
  for i in $(seq 1 $(($3 * 5))); do
    state=$(job_field "$1" JobState)
    [[ "$state" =~ ^($2)$ ]] && break
    sleep 0.2
  done
  echo "$state"
  [[ "$state" =~ ^($2)$ ]]
}

# wait_gone JOBID [SECONDS]: poll until the job (every task of an array) has left the queue,
# i.e. ended for good (a requeued job stays queued). Faster than sbatch --wait, which polls
# every few seconds. Prints the job id again.
wait_gone() {
  local i
  for i in $(seq 1 $((${2:-120} * 5))); do
    [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && break
    sleep 0.2
  done
  echo "$1"
  [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]
}

# wait_file FILE TEXT SECONDS: poll until FILE contains TEXT.
wait_file() {
  local i
  for i in $(seq 1 $(($3 * 5))); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# json_get FILE KEY: a scalar from a one-line JSON object (numbers, true/false, strings).
json_get() {
  sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",}]*\).*/\1/p" "$1" 2>/dev/null
}

# real_train_ready: the build has synth, train and hardness; makes $WORK/tiny.h5 (2 ranks)
# for the real-program parts of the tests. Returns 1 (and says why) otherwise.
real_train_ready() {
  local c
  for c in synth train hardness; do
    "$REAL_BIN" "$c" --help >/dev/null 2>&1 || { note "this build has no '$c': real-program part skipped"; return 1; }
  done
  [ -s "$WORK/tiny.h5" ] && return 0
  ${MPIEXEC:-mpirun} -n 2 ${MPIEXEC_FLAGS:---oversubscribe --bind-to none} "$REAL_BIN" synth \
    --out "$WORK/tiny.h5" --utterances 240 --dims 8,12,6 --classes 4 --folds 0 --seed 3 \
    >"$WORK/synth.log" 2>&1 || { failed "synth of the test dataset"; cat "$WORK/synth.log"; return 1; }
}

finish() {
  echo "$TEST_NAME: $fail failed"
  [ "$fail" = 0 ]
}
