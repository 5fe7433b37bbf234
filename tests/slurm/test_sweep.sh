#!/bin/bash
# Slurm: jobs/sweep.sbatch as a job array over three (missing rate, seed) lines with the
# stand-in train under the mpirun launcher. Asserts: --grid prints the cartesian product,
# --list maps task index to directory, bad sweep files are refused before submission, every
# array task ends COMPLETED with its own OUT/<name>/results.json carrying that line's overrides
# and sweep-task.txt, and resubmitting the array skips every finished task without rewriting it.
source "$(dirname "$0")/lib.sh"
slurm_up
SWEEP=$JOBS/sweep.sbatch

# --- sweep file tooling (no Slurm needed)
grid=$(bash "$SWEEP" --grid missing.rate=0.1,0.3 run.seed=1,2)
want=$'missing.rate=0.1 run.seed=1\nmissing.rate=0.1 run.seed=2\nmissing.rate=0.3 run.seed=1\nmissing.rate=0.3 run.seed=2'
[ "$grid" = "$want" ] || failed "--grid printed: $grid"
printf '# three tasks\nmissing.rate=0.1 run.seed=1\n\nmissing.rate=0.3 run.seed=1  # comment\nmissing.rate=0.5 run.seed=2\n' >"$WORK/sweep.txt"
list=$(bash "$SWEEP" --list "$WORK/sweep.txt")
want=$'0\trate0.1-seed1\tmissing.rate=0.1 run.seed=1\n1\trate0.3-seed1\tmissing.rate=0.3 run.seed=1\n2\trate0.5-seed2\tmissing.rate=0.5 run.seed=2'
[ "$list" = "$want" ] || failed "--list printed: $list"
printf 'missing.rate=0.1\nmissing.rate=0.1\n' >"$WORK/dup.txt"
out=$(bash "$SWEEP" --submit "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/out" "$WORK/dup.txt" 2>&1)
[ $? = 2 ] && [[ "$out" == *"map to the same directory 'rate0.1'"* ]] || failed "duplicate lines accepted: $out"
printf 'missing.rate 0.1\n' >"$WORK/bad.txt"
out=$(bash "$SWEEP" --submit "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/out" "$WORK/bad.txt" 2>&1)
[ $? = 2 ] && [[ "$out" == *"'missing.rate' in line 'missing.rate 0.1' is not key=value"* ]] ||
  failed "malformed line accepted: $out"
out=$(SLURM_ARRAY_TASK_ID=7 bash "$SWEEP" "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/out" "$WORK/sweep.txt" 2>&1)
[ $? = 2 ] && [[ "$out" == *"task 7: $WORK/sweep.txt has only 3 task lines"* ]] ||
  failed "out-of-range task accepted: $out"

# --- the array on Slurm
export HARDY_BIN=$FAKE_BIN HARDY_REAL_BIN=$REAL_BIN HARDY_LAUNCHER=mpirun
submit() {
  bash "$SWEEP" --submit --parsable --chdir="$WORK" --ntasks-per-node=1 --cpus-per-task=1 \
    --time=30 --output="$WORK/%x-%A_%a.out" -- "$SOURCE_DIR/tests/slurm/tiny.ini" "$WORK/out" \
    "$WORK/sweep.txt" train.lr=0.002
}
array=$(submit) && wait_gone "$array" >/dev/null || failed "array job $array did not end"
for task in 0 1 2; do
  state=$(job_field "${array}_$task" JobState)
  [ "$state" = COMPLETED ] || { failed "task $task: $state"; cat "$WORK/hardy-sweep-${array}_$task.out"; }
done
check_dir() { # name rate seed
  local d=$WORK/out/$1
  expect "$1: no results.json" test -s "$d/results.json"
  expect "$1: overrides" file_has "$d/results.json" "\"sets\": \"missing.rate=$2 run.seed=$3 train.lr=0.002\""
  expect "$1: sweep-task.txt" file_has "$d/sweep-task.txt" "line missing.rate=$2 run.seed=$3"
  expect "$1: the task's Slurm log is not linked into its directory" test -L "$(ls -d "$d"/slurm-*_*.out 2>/dev/null | head -1)"
}
check_dir rate0.1-seed1 0.1 1
check_dir rate0.3-seed1 0.3 1
check_dir rate0.5-seed2 0.5 2
expect "not exactly three run directories" test "$(ls "$WORK/out" | wc -l)" = 3

# --- resubmission: every task skips, nothing is rewritten
before=$(cat "$WORK"/out/*/results.json)
array2=$(submit) && wait_gone "$array2" >/dev/null || failed "second array job $array2 did not end"
for task in 0 1 2; do
  expect "task $task rerun instead of skipped" file_has "$WORK/hardy-sweep-${array2}_$task.out" "skipping"
done
[ "$before" = "$(cat "$WORK"/out/*/results.json)" ] || failed "finished results were rewritten"
finish
