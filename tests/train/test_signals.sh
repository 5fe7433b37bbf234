#!/bin/bash
# Stop signals: SIGUSR1 to mpirun (forwarded to every rank) or SIGTERM to every rank (what
# srun does) makes the ranks agree at the next step, write a checkpoint and exit 143.
# Resuming completes and gives the uninterrupted run's parameters bitwise. Resuming completes and gives the
# uninterrupted run's parameters bitwise.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
sed -i 's/stage2_epochs = 3/stage2_epochs = 12/' t.ini
run_mpi 2 train t.ini --out ref --quiet || fail "reference run"

stop_with() { # signal dir [ranks]: signal mpirun, or with "ranks" every rank process
  "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" train t.ini --out "$2" >"$2.log" 2>&1 &
  local pid=$! t=0
  # wait until stage 2 has started
  while kill -0 $pid 2>/dev/null && ! grep -q '"phase":"stage2"' "$2/metrics.jsonl" 2>/dev/null && [ $t -lt 3000 ]; do
    sleep 0.02; t=$((t + 1))
  done
  if [ "${3:-}" = ranks ]; then kill -"$1" $(rank_pids $pid); else kill -"$1" $pid; fi
  wait $pid; echo $?
}
rc=$(stop_with USR1 u1)
check "SIGUSR1: exit code 143 (got $rc)" [ "$rc" = 143 ]
check "SIGUSR1: status preempted" [ "$(json_get u1/status.json 'j["state"]')" = preempted ]
check "SIGUSR1: checkpoint message" grep -q "stop signal: writing a checkpoint" u1.log
check "SIGUSR1: no results yet" [ ! -f u1/results.json ]
run_mpi 2 train t.ini --out u1 --resume --quiet || fail "resume after SIGUSR1"
check "SIGUSR1: resumed parameters bitwise equal" same_params ref/checkpoints/at-final.h5 u1/checkpoints/at-final.h5
check "read and write bandwidth logged in metrics.jsonl" "$PYTHON" -c "
import json, sys
lines = [json.loads(l) for l in open('u1/metrics.jsonl')]
r = [l['read_mb_per_s'] for l in lines if l.get('phase') == 'checkpoint_read']
w = [l['write_mb_per_s'] for l in lines if l.get('phase') == 'checkpoint']
print('  read MB/s', [round(x) for x in r], 'write MB/s (first 3)', [round(x) for x in w[:3]])
sys.exit(0 if r and w and min(r) > 0 and min(w) > 0 else 1)"

# SIGTERM to every rank, as srun delivers it on scancel or at the time limit (Open MPI's
# mpirun does not reliably pass its own SIGTERM on to the ranks: use SIGUSR1 there).
rc=$(stop_with TERM s1 ranks)
check "SIGTERM: exit code 143 (got $rc)" [ "$rc" = 143 ]
check "SIGTERM: status preempted" [ "$(json_get s1/status.json 'j["state"]')" = preempted ]
run_mpi 2 train t.ini --out s1 --resume --quiet || fail "resume after SIGTERM"
check "SIGTERM: resumed parameters bitwise equal" same_params ref/checkpoints/at-final.h5 s1/checkpoints/at-final.h5
finish
