#!/bin/bash
# Slurm: the checkpoint/requeue flow of jobs/train.sbatch with the stand-in train.
#  1. SIGUSR1 to the batch shell (what `#SBATCH --signal=B:USR1@T` sends before the time
#     limit) under srun and under mpirun: the script forwards it, the ranks checkpoint and
#     exit 143, the job requeues itself, the second start resumes and completes (Restarts=1).
#  2. A run that exits 143 on its own (no signal to the shell) is requeued the same way.
#  3. scancel (SIGTERM): the ranks checkpoint, the job ends CANCELLED and is not requeued.
#  4. With the real program (when the build has train): SIGUSR1 in the middle of stage 1, the
#     real checkpoint, requeue, `train --resume`, and a finished run (status.json "done").
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
  [ "$dir" = "$WORK/real" ] && return
  expect "job $id: run not resumed" file_has "$dir/results.json" '"resumed": true, "restart": 1'
}

# Everything is submitted first and runs side by side; each requeue costs ~7 s of Slurm's
# requeue delay, so the cases overlap instead of queueing behind each other.
ids=()
for launcher in srun mpirun; do
  ids+=($(FAKE_MODE=wait-signal HARDY_LAUNCHER=$launcher "${SB[@]}" "$JOBS/train.sbatch" "$CFG" "$WORK/usr1-$launcher"))
done
id143=$(FAKE_MODE=preempt-once "${SB[@]}" "$JOBS/train.sbatch" "$CFG" "$WORK/exit143")
idterm=$(FAKE_MODE=wait-signal "${SB[@]}" "$JOBS/train.sbatch" "$CFG" "$WORK/term")
idreal=""
if real_train_ready; then
  idreal=$(HARDY_BIN=$REAL_BIN "${SB[@]}" "$JOBS/train.sbatch" "$CFG" "$WORK/real" \
    "data.path=$WORK/tiny.h5" train.max_steps=0 train.stage1_epochs=1000)
fi

# --- 1. SIGUSR1 under both launchers
for i in 0 1; do
  log=$WORK/hardy-train-${ids[$i]}.out
  if wait_ranks "$log"; then
    scancel --batch --signal=USR1 "${ids[$i]}"
  else
    failed "job ${ids[$i]}: ranks never waited for a signal"; cat "$log"
  fi
done

# --- 3. scancel: checkpoint, no requeue
log=$WORK/hardy-train-$idterm.out
if wait_ranks "$log"; then
  scancel "$idterm"
  st=$(wait_state "$idterm" 'CANCELLED|COMPLETED|FAILED' 30)
  expect "cancelled job ended $st" test "$st" = CANCELLED
  expect "no checkpoint after SIGTERM" wait_file "$log" "checkpoint written to $WORK/term/checkpoints/latest" 10
  expect "cancelled job requeued" test "$(job_field "$idterm" Restarts)" = 0
  expect "cancelled job wrote results" test ! -e "$WORK/term/results.json"
  if grep -q "requeueing job" "$log"; then failed "cancelled job tried to requeue"; cat "$log"; fi
else
  failed "job $idterm: ranks never waited for a signal"; cat "$log"
fi

# --- 4. the real program, stopped in the middle of its stage 1
if [ -n "$idreal" ]; then
  log=$WORK/hardy-train-$idreal.out
  if wait_file "$log" "[stage1 at] epoch" 60; then
    scancel --batch --signal=USR1 "$idreal"
  else
    failed "real run: no stage-1 progress"; cat "$log"
  fi
fi

launchers=(srun mpirun)
for i in 0 1; do
  note "SIGUSR1 under ${launchers[$i]}"
  expect "job ${ids[$i]}: signal not forwarded" wait_file "$WORK/hardy-train-${ids[$i]}.out" "SIGUSR1: asking the ranks to checkpoint" 10
  resumed_ok "${ids[$i]}" "$WORK/usr1-${launchers[$i]}"
done
# --- 2. exit 143 without a signal
resumed_ok "$id143" "$WORK/exit143"
if [ -n "$idreal" ]; then
  note "SIGUSR1 to the real program"
  resumed_ok "$idreal" "$WORK/real"
  expect "real run: status not done" file_has "$WORK/real/status.json" '"done"'
  expect "real run: not stopped at a step boundary" file_has "$WORK/hardy-train-$idreal.out" "stop signal: writing a checkpoint"
fi
finish
