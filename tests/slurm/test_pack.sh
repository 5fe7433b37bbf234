#!/bin/bash
# Slurm: `jobs/sweep.sbatch --pack` runs a whole sweep as ONE job (`hardy-hpc sweep` inside the
# allocation: 2 ranks, one rank per task, two tasks at a time) with the real program. Asserts:
# the job ends COMPLETED, every line has its OUT/<name>/results.json and sweep-status.json
# counts them done, a bad line is refused before anything is submitted, and resubmitting skips
# every finished task without rewriting it.
source "$(dirname "$0")/lib.sh"
slurm_up
real_train_ready || { finish; exit $?; }
SWEEP=$JOBS/sweep.sbatch
printf 'run.seed=1\nrun.seed=2  # comment\nmissing.condition=av run.seed=1\n' >"$WORK/pack.txt"
printf 'run.seed=1\nrun.seed 2\n' >"$WORK/bad.txt"
out=$(bash "$SWEEP" --pack "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/bad" "$WORK/bad.txt" 2>&1)
[ $? = 2 ] && [[ "$out" == *"is not key=value"* ]] || failed "bad pack file accepted: $out"
export HARDY_BIN=$REAL_BIN HARDY_LAUNCHER=mpirun HARDY_GROUP_RANKS=1
submit() {
  bash "$SWEEP" --pack --parsable --chdir="$WORK" --ntasks-per-node=2 --cpus-per-task=1 \
    --time=30 --output="$WORK/%x-%j.out" -- "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/packed" \
    "$WORK/pack.txt" "data.path=$WORK/tiny.h5"
}
t0=$(date +%s)
job=$(submit) && wait_gone "$job" >/dev/null || failed "pack job $job did not end"
note "pack job of 3 tasks: $(($(date +%s) - t0)) s from submission to end"
state=$(job_field "$job" JobState)
[ "$state" = COMPLETED ] || { failed "pack job: $state"; cat "$WORK/hardy-sweep-pack-$job.out"; }
for name in seed1 seed2 conditionav-seed1; do
  expect "$name: no results.json" test -s "$WORK/packed/$name/results.json"
done
expect "sweep-status.json does not count 3 done" "${PYTHON:-/usr/bin/python3}" -c \
  "import json, sys; sys.exit(json.load(open('$WORK/packed/sweep-status.json'))['done'] != 3)"
expect "one job ran two tasks at once" file_has "$WORK/hardy-sweep-pack-$job.out" "2 group(s) of 1 rank(s)"
expect "the job's log is not linked into the sweep directory" test -L "$WORK/packed/slurm-$job.out"
before=$(cat "$WORK"/packed/*/results.json)
job2=$(submit) && wait_gone "$job2" >/dev/null || failed "second pack job $job2 did not end"
expect "resubmission did not skip the finished tasks" file_has "$WORK/hardy-sweep-pack-$job2.out" "done before; skipped"
[ "$before" = "$(cat "$WORK"/packed/*/results.json)" ] || failed "finished results were rewritten"
finish
