#!/bin/bash
# Slurm: jobs/train.sbatch (and jobs/synth.sbatch when the build has `synth`) submitted to a
# real single-node Slurm. Asserts the OpenBLAS core choice of jobs/common.sh, that jobs end
# COMPLETED with exit 0:0 and log the BLAS core and launcher, that every rank starts with
# OMP_NUM_THREADS = --cpus-per-task under srun and under the mpirun fallback, that the run
# writes results.json, and that a resubmission of a finished run is skipped.
source "$(dirname "$0")/lib.sh"
slurm_up

# --- OpenBLAS core choice (no Slurm needed): a fake program reports OpenBLAS's choice.
blas_choice() { # core-openblas-reports [OPENBLAS_CORETYPE]
  local fake=$WORK/blas-$1
  printf '#!/bin/sh\n[ "$OPENBLAS_VERBOSE" = 2 ] && echo "Core: %s" >&2\necho hardy-hpc\n' "$1" >"$fake"
  chmod +x "$fake"
  (
    unset OPENBLAS_CORETYPE
    [ -n "${2:-}" ] && export OPENBLAS_CORETYPE=$2
    HARDY_BIN=$fake
    source "$JOBS/common.sh"
    hardy_setup_blas
    echo "${OPENBLAS_CORETYPE:-unset}|$HARDY_BLAS_REPORT"
  )
}
flags=$(grep -m 1 '^flags' /proc/cpuinfo)
if grep -qw avx512bw <<<"$flags" && grep -qw avx512vl <<<"$flags"; then want=SkylakeX
elif grep -qw avx2 <<<"$flags"; then want=Haswell
elif grep -qw avx <<<"$flags"; then want=SandyBridge
else want=unset; fi
got=$(blas_choice Prescott)
[ "${got%%|*}" = "$want" ] || failed "OpenBLAS reports Prescott: want OPENBLAS_CORETYPE=$want, got '$got'"
got=$(blas_choice Haswell)
[ "${got%%|*}" = unset ] && [[ "$got" == *"Haswell (OpenBLAS detection"* ]] ||
  failed "OpenBLAS reports Haswell: want it kept, got '$got'"
got=$(blas_choice Prescott Zen)
[ "${got%%|*}" = Zen ] && [[ "$got" == *"set by the user"* ]] || failed "user's core not kept: '$got'"
real_core=$(HARDY_BIN=$REAL_BIN; source "$JOBS/common.sh"; hardy_blas_detected_core)
[ -n "$real_core" ] || failed "no 'Core:' report from OPENBLAS_VERBOSE=2 $REAL_BIN --version"
note "OpenBLAS picks '$real_core' on this node; CPU flags allow $want"

SB=(sbatch --parsable --chdir="$WORK" --ntasks-per-node=2 --cpus-per-task=1 --time=30
  --output="$WORK/%x-%j.out")

# completed JOBID: the job ended COMPLETED with exit 0:0, and its log has the setup report.
completed() {
  wait_gone "$1" >/dev/null || failed "job $1 still queued"
  local log=$WORK/$(job_field "$1" JobName)-$1.out
  [ "$(job_field "$1" JobState)" = COMPLETED ] && [ "$(job_field "$1" ExitCode)" = 0:0 ] ||
    { failed "job $1: $(job_field "$1" JobState) exit $(job_field "$1" ExitCode)"; cat "$log"; return 1; }
  expect "job $1 log lacks the BLAS core line" file_has "$log" "BLAS core: "
  expect "job $1 log lacks the launcher line" file_has "$log" "launcher: "
}

# --- dataset job (synth + inspect through the job machinery) when the build has synth.
have_synth=0
if "$REAL_BIN" synth --help >/dev/null 2>&1; then
  id=$(HARDY_BIN=$REAL_BIN "${SB[@]}" "$JOBS/synth.sbatch" "$WORK/tiny.h5" --utterances 240 \
    --dims 8,12,6 --classes 4 --folds 0 --seed 3)
  completed "$id" && have_synth=1
  expect "synth job wrote no file" test -s "$WORK/tiny.h5"
else
  note "this build has no 'synth' command: dataset job not exercised"
fi

# --- one training run: the real train when the build has it, else the stand-in.
if [ "$have_synth" = 1 ] && "$REAL_BIN" train --help >/dev/null 2>&1; then
  note "real train"
  export HARDY_BIN=$REAL_BIN
  id=$("${SB[@]}" "$JOBS/train.sbatch" "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/run" \
    "data.path=$WORK/tiny.h5")
  completed "$id"
  expect "train wrote no results.json" test -s "$WORK/run/results.json"
  expect "program's own BLAS report missing" file_has "$WORK/hardy-train-$id.out" "BLAS: OpenBLAS core"
else
  note "this build has no 'train' command (or no dataset): stand-in train"
  export HARDY_BIN=$FAKE_BIN HARDY_REAL_BIN=$REAL_BIN
  id=$("${SB[@]}" "$JOBS/train.sbatch" "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/run" \
    "data.path=$WORK/tiny.h5" --set run.seed=5)
  log=$WORK/hardy-train-$id.out
  completed "$id"
  expect "not 2 ranks started" test "$(grep -c 'fake train: rank . of 2, OMP_NUM_THREADS=1' "$log")" = 2
  expect "overrides not passed" file_has "$WORK/run/results.json" '"sets": "data.path='"$WORK"'/tiny.h5 run.seed=5"'
fi
expect "no job.done marker" test -s "$WORK/run/job.done"

# --- resubmitting a finished run skips it.
id2=$("${SB[@]}" "$JOBS/train.sbatch" "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/run" \
  "data.path=$WORK/tiny.h5")
completed "$id2"
expect "finished run not skipped" file_has "$WORK/hardy-train-$id2.out" "is finished (results.json present); skipping"

# --- the mpirun fallback launcher under Slurm (stand-in train, 2 ranks).
id3=$(HARDY_BIN=$FAKE_BIN HARDY_REAL_BIN=$REAL_BIN HARDY_LAUNCHER=mpirun "${SB[@]}" \
  "$JOBS/train.sbatch" "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/run-mpirun")
completed "$id3"
log=$WORK/hardy-train-$id3.out
expect "mpirun launcher not used" file_has "$log" "launcher: mpirun"
expect "mpirun: not 2 ranks" test "$(grep -c 'fake train: rank . of 2, OMP_NUM_THREADS=1' "$log")" = 2
expect "mpirun: no results.json" test -s "$WORK/run-mpirun/results.json"
finish
