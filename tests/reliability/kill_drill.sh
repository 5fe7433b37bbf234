#!/bin/bash
# Kill drill: a 2-rank pipeline run (teacher, stage 1, hardness and retrieval, stage 2, test)
# is killed with SIGKILL at N seeded random moments and resumed after each kill. Odd kills hit
# every process at once (a node failure), even kills one rank alone (mpirun then ends the
# rest). After the last kill the run completes; its parameters, test metrics and selected
# epoch must be bitwise those of an uninterrupted run. Also checked after every kill: no rank
# survives, and `latest` (when present) names a whole file.
# The moments are uniform over the uninterrupted run's wall time (measured first, so the drill
# adapts to the machine); a run that completes between kills is checked like the last one and
# the drill goes on with a fresh run.
# Usage: kill_drill.sh [N=20]; HARDY_TEST_SEED seeds the moments.
source "$(dirname "$0")/lib.sh"
N=${1:-20}
RANDOM=${HARDY_TEST_SEED:-1818}
make_tiny d.h5
write_tiny_cfg t.ini d.h5
sed -i 's/^every_steps = 0/every_steps = 2/' t.ini
t0=$(date +%s%N)
run_mpi 2 train t.ini --out ref --quiet || fail "reference run"
span_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "uninterrupted run: $span_ms ms"

start_run() { # always --resume, as a requeued job does: before the first checkpoint it starts afresh
  touch drill.start
  setsid "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" train t.ini --out drill --resume --quiet \
    >>drill.log 2>&1 &
  LAUNCHER=$!
}

# verify DIR-state: the completed drill run equals the reference
verify() {
  check "$1: final parameters bitwise equal" same_params ref/checkpoints/at-final.h5 drill/checkpoints/at-final.h5
  local a b
  a=$(json_get ref/results.json 'j["test"]["wa"], j["test"]["f1"], j["runs"][0]["selected_epoch"]')
  b=$(json_get drill/results.json 'j["test"]["wa"], j["test"]["f1"], j["runs"][0]["selected_epoch"]')
  check "$1: results equal ($a vs $b)" [ "$a" = "$b" ]
  check "$1: status done" [ "$(json_get drill/status.json 'j["state"]')" = done ]
  check "$1: no stale .tmp files" [ -z "$(ls drill/checkpoints drill/teachers | grep '\.tmp$')" ]
  completed=$((completed + 1))
}

in_write=0 advanced=0 completed=0 k=1
prev=none
while ((k <= N)); do
  start_run
  ms=$(( (RANDOM * 32768 + RANDOM) % span_ms + 100 ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  if ! kill -0 $LAUNCHER 2>/dev/null; then # the run completed before this kill: check it, go again
    wait $LAUNCHER || fail "a resumed run failed"
    verify "run completed after kill $((k - 1))"
    rm -rf drill; prev=none
    continue
  fi
  ls drill/checkpoints/*.tmp drill/teachers/*.tmp >/dev/null 2>&1 && in_write=$((in_write + 1))
  ranks=($(pgrep -P $LAUNCHER))
  # One rank alone only once the ranks are past MPI_Init (rank 0 has written this start's
  # config.ini, after MPI_Init's fence): Open MPI 4.1's mpirun can itself hang when a rank dies
  # while connecting to its PMIx server ("PMIX ERROR: UNREACHABLE"), a launcher race outside
  # the program (docs/RELIABILITY.md). Before that, every process is killed.
  if ((k % 2)) || [ ${#ranks[@]} -lt 2 ] || ! [ drill/config.ini -nt drill.start ]; then
    how="every process"
    kill -9 -- -$LAUNCHER 2>/dev/null
  else
    how="rank pid ${ranks[1]} alone"
    kill -9 "${ranks[1]}" 2>/dev/null
  fi
  for _ in $(seq 600); do kill -0 $LAUNCHER 2>/dev/null || break; sleep 0.05; done
  kill -0 $LAUNCHER 2>/dev/null && { fail "kill $k: the job did not end within 30 s"; kill -9 -- -$LAUNCHER; }
  wait $LAUNCHER 2>/dev/null
  pgrep -g $LAUNCHER >/dev/null && { fail "kill $k: a rank survived"; kill -9 -- -$LAUNCHER; }
  latest=$(cat drill/checkpoints/latest 2>/dev/null || echo none)
  [ "$latest" = none ] || [ -s "drill/checkpoints/$latest" ] || fail "kill $k: latest names a missing file"
  [ "$latest" != "$prev" ] && advanced=$((advanced + 1))
  prev=$latest
  echo "kill $k after ${ms} ms ($how): latest $latest"
  k=$((k + 1))
done
run_mpi 2 train t.ini --out drill --resume --quiet \
  >>drill.log 2>&1 || { fail "final resume"; tail -20 drill.log; }
verify "after the last kill"
echo "drill: $N kills survived ($in_write during a checkpoint write, latest advanced $advanced times), $completed completed runs equal to the reference"
finish
