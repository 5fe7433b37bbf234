#!/bin/bash
# Slurm: the checkpoint/requeue flow of jobs/train.sbatch with the stand-in train.
#  1. SIGUSR1 to the batch shell (what `#SBATCH --signal=B:USR1@T` sends before the time
#     limit) under srun and under mpirun: the script forwards it, the ranks checkpoint and
#     exit 143, the job requeues itself, the second start resumes and completes (Restarts=1).
#  2. A run that exits 143 on its own (no signal to the shell) is requeued the same way.
#  3. scancel (SIGTERM): the ranks checkpoint, the job ends CANCELLED and is not requeued.
source "$(dirname "$0")/lib.sh"
slurm_up
export HARDY_BIN=$FAKE_BIN HARDY_REAL_BIN=$REAL_BIN
CFG=$SOURCE_DIR/tests/slurm/tiny.ini
SB=(sbatch --parsable --chdir="$WORK" --ntasks-per-node=2 --cpus-per-task=1 --time=30
  --output="$WORK/%x-%j.out")

# wait_ranks LOG: both ranks have installed their signal handler.
wait_ranks() {
  wait_file "$1" "rank 0 waiting for a signal" 30 && wait_file "$1" "rank 1 waiting for a signal" 30
}

# resumed_ok JOBID DIR: completed after exactly one requeue, resumed from the checkpoint.
resumed_ok() {
  local id=$1 dir=$2 log=$WORK/hardy-train-$1.out st
  st=$(wait_state "$id" 'COMPLETED|FAILED|CANCELLED|TIMEOUT' 90)
  [ "$st" = COMPLETED ] || { failed "job $id ended $st"; cat "$log"; return; }
  expect "job $id: Restarts != 1" test "$(job_field "$id" Restarts)" = 1
  expect "job $id: no requeue in log" file_has "$log" "checkpoint written; requeueing job $id (restart 1)"
  expect "job $id: no resume in log" file_has "$log" "resuming from $dir/checkpoints/latest"
  expect "job $id: run not resumed" file_has "$dir/results.json" '"resumed": true, "restart": 1'
}

# --- 1. SIGUSR1 under both launchers (concurrently)
ids=()
for launcher in srun mpirun; do
  ids+=($(FAKE_MODE=wait-signal HARDY_LAUNCHER=$launcher "${SB[@]}" "$JOBS/train.sbatch" "$CFG" "$WORK/usr1-$launcher"))
done
for i in 0 1; do
  log=$WORK/hardy-train-${ids[$i]}.out
  if wait_ranks "$log"; then
    scancel --batch --signal=USR1 "${ids[$i]}"
  else
    failed "job ${ids[$i]}: ranks never waited for a signal"; cat "$log"
  fi
done
launchers=(srun mpirun)
for i in 0 1; do
  note "SIGUSR1 under ${launchers[$i]}"
  expect "job ${ids[$i]}: signal not forwarded" wait_file "$WORK/hardy-train-${ids[$i]}.out" "SIGUSR1: asking the ranks to checkpoint" 10
  resumed_ok "${ids[$i]}" "$WORK/usr1-${launchers[$i]}"
done

# --- 2. exit 143 without a signal (sbatch --wait follows the job through its requeue)
id=$(FAKE_MODE=preempt-once "${SB[@]}" --wait "$JOBS/train.sbatch" "$CFG" "$WORK/exit143")
resumed_ok "$id" "$WORK/exit143"

# --- 3. scancel: checkpoint, no requeue
id=$(FAKE_MODE=wait-signal "${SB[@]}" "$JOBS/train.sbatch" "$CFG" "$WORK/term")
log=$WORK/hardy-train-$id.out
if wait_ranks "$log"; then
  scancel "$id"
  st=$(wait_state "$id" 'CANCELLED|COMPLETED|FAILED' 30)
  expect "cancelled job ended $st" test "$st" = CANCELLED
  expect "no checkpoint after SIGTERM" wait_file "$log" "checkpoint written to $WORK/term/checkpoints/latest" 10
  expect "cancelled job requeued" test "$(job_field "$id" Restarts)" = 0
  expect "cancelled job wrote results" test ! -e "$WORK/term/results.json"
  if grep -q "requeueing job" "$log"; then failed "cancelled job tried to requeue"; cat "$log"; fi
else
  failed "job $id: ranks never waited for a signal"; cat "$log"
fi
finish
