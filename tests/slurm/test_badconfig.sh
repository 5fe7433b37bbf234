#!/bin/bash
# Slurm: bad input submitted through jobs/train.sbatch with the real program fails fast: the
# job ends FAILED with exit code 2, its log holds the program's own message (or the script's
# for usage errors) and says the training did not start, and no ranks were launched.
source "$(dirname "$0")/lib.sh"
slurm_up
CFG=$SOURCE_DIR/tests/slurm/tiny.ini
SB=(sbatch --parsable --chdir="$WORK" --ntasks-per-node=2 --cpus-per-task=1 --time=30
  --output="$WORK/%x-%j.out")

names=() ids=() needles=()
case_() { # name needle [env...] -- args...
  local name=$1 needle=$2 envs=()
  shift 2
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  names+=("$name") needles+=("$needle")
  ids+=($(env "${envs[@]}" "${SB[@]}" --job-name="bad-$name" "$JOBS/train.sbatch" "$@"))
}
export HARDY_BIN=$REAL_BIN
case_ value "train.lr = 'x' is not a number" -- "$CFG" "$WORK/o1" train.lr=x
case_ key "unknown key 'learning_rate' in [train]" -- "$CFG" "$WORK/o2" --set train.learning_rate=0.1
case_ file "cannot open config file '/no/such.ini'" -- /no/such.ini "$WORK/o3"
case_ heads "does not divide" -- "$CFG" "$WORK/o4" model.heads=3
case_ override "'lr' is not a key=value override" -- "$CFG" "$WORK/o5" lr
case_ usage "usage: sbatch jobs/train.sbatch [--command train|hardness] CONFIG OUT" --
case_ command "error: --command 'eval': use train or hardness" -- --command eval "$CFG" "$WORK/o7"
case_ binary "hardy-hpc not found (HARDY_BIN='/no/hardy-hpc')" HARDY_BIN=/no/hardy-hpc -- "$CFG" "$WORK/o6"

for i in "${!ids[@]}"; do
  id=${ids[$i]} log=$WORK/bad-${names[$i]}-${ids[$i]}.out
  st=$(wait_state "$id" 'COMPLETED|FAILED|CANCELLED' 30)
  [ "$st" = FAILED ] && [ "$(job_field "$id" ExitCode)" = 2:0 ] ||
    { failed "${names[$i]}: job $id ended $st exit $(job_field "$id" ExitCode), want FAILED 2:0"; cat "$log"; continue; }
  expect "${names[$i]}: message" file_has "$log" "${needles[$i]}"
  if grep -q "\] run: " "$log"; then failed "${names[$i]}: ranks were launched"; cat "$log"; fi
done
for i in 0 1 2 3; do
  expect "${names[$i]}: no 'did not start' line" \
    file_has "$WORK/bad-${names[$i]}-${ids[$i]}.out" "the configuration is invalid (message above); the job did not start training"
done
finish
