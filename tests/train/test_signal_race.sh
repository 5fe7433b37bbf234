#!/bin/bash
# A stop signal that reaches the ranks at different moments (here: one rank, then the other a
# few milliseconds later, at random points of stage 2) must still stop every rank at the same
# step: the ranks act only on the agreed flag. Each run must end with exit 143 and a
# checkpoint, never hang (each is bounded by a timeout) and never stop one rank alone.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
sed -i 's/stage2_epochs = 3/stage2_epochs = 400/' t.ini
for i in 1 2 3 4 5 6; do
  rm -rf s
  timeout 120 "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" train t.ini --out s --quiet >s.log 2>&1 &
  pid=$! t=0
  while ! grep -q '"phase":"stage2"' s/metrics.jsonl 2>/dev/null && [ $t -lt 3000 ]; do
    sleep 0.02; t=$((t + 1))
  done
  sleep "0.$((RANDOM % 9))"
  ranks=$(rank_pids $pid)
  set -- $ranks
  kill -USR1 "$1"
  sleep "0.00$((RANDOM % 9))"
  [ -n "${2:-}" ] && kill -USR1 "$2"
  wait $pid
  rc=$?
  check "run $i: exit 143 (got $rc)" [ "$rc" = 143 ]
  check "run $i: status preempted" [ "$(json_get s/status.json 'j["state"]' 2>/dev/null)" = preempted ]
done
finish
