#!/bin/bash
# kill -9 a 2-rank training run (all ranks at once, as a node failure would) at several
# moments — in the teacher, in stage 1, in stage 2, and while a checkpoint file is being
# written — then resume with --resume: the final parameters and test metrics must be bitwise
# equal to an uninterrupted run's.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
echo "keep = last" >>t.ini # resumes of finished runs need `latest` ([checkpoint] is last)
sed -i 's/every_steps = 0/every_steps = 7/' t.ini
run_mpi 2 train t.ini --out ref --quiet || fail "reference run"
total=$(grep -c '"phase":"checkpoint"' ref/metrics.jsonl)
echo "reference: $total checkpoints"

# kill_at N: start a run, kill every process of it once N checkpoints exist (or, with
# N = tmp, as soon as a checkpoint is being written), then resume until done.
kill_at() {
  local dir=$1 when=$2
  setsid "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" train t.ini --out "$dir" --quiet \
    >"$dir.log" 2>&1 &
  local pid=$! t=0
  while kill -0 $pid 2>/dev/null && [ $t -lt 3000 ]; do
    if [ "$when" = tmp ]; then
      ls "$dir"/checkpoints/*.h5.tmp >/dev/null 2>&1 && break
    else
      [ "$(grep -c '"phase":"checkpoint"' "$dir/metrics.jsonl" 2>/dev/null || echo 0)" -ge "$when" ] && break
    fi
    sleep 0.01; t=$((t + 1))
  done
  kill -9 -- -$pid 2>/dev/null; wait $pid 2>/dev/null
  sleep 0.5
  echo "killed $dir at '$when': latest -> $(cat "$dir/checkpoints/latest" 2>/dev/null || echo none)"
  if [ -f "$dir/checkpoints/latest" ]; then
    run_mpi 2 train t.ini --out "$dir" --resume --quiet >>"$dir.log" 2>&1 || { fail "resume $dir"; tail -20 "$dir.log"; return; }
  else
    run_mpi 2 train t.ini --out "$dir" --overwrite --quiet >>"$dir.log" 2>&1 || { fail "restart $dir"; return; }
  fi
  check "$dir: final parameters bitwise equal to the uninterrupted run" same_params ref/checkpoints/at-final.h5 "$dir/checkpoints/at-final.h5"
  local a b
  a=$(json_get ref/results.json 'j["test"]["wa"], j["test"]["f1"], j["runs"][0]["selected_epoch"]')
  b=$(json_get "$dir/results.json" 'j["test"]["wa"], j["test"]["f1"], j["runs"][0]["selected_epoch"]')
  check "$dir: results equal ($a vs $b)" [ "$a" = "$b" ]
  check "$dir: status done" [ "$(json_get "$dir/status.json" 'j["state"]')" = done ]
}
kill_at k1 2        # in the teacher
kill_at k2 4        # in stage 1 / after the teacher
kill_at k3 $((total - 3)) # in stage 2
kill_at k4 tmp      # during a checkpoint write
ls k4/checkpoints/*.tmp >/dev/null 2>&1 && fail "stale .tmp files left after resume"
finish
