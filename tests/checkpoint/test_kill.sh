#!/usr/bin/env bash
# kill -9 a 2-rank checkpoint writer at 4 seeded random moments while it writes checkpoints in a
# loop; after every kill, DIR/latest must resolve to a complete checkpoint that opens, passes
# its checksums and holds the values of its step (checked on 1 and 2 ranks, another rank count
# than the writer's half the time), every file under a final name must be complete too, and
# retention must hold (at most keep = 2 plus the best, plus the one a kill between publishing
# and retention can leave; the next save retires it).
# Usage: test_kill.sh WRITER   (environment from hardy_add_script_test)
set -euo pipefail
writer=$1
dir=$(mktemp -d --suffix=.hardy-ckpt-kill)
trap 'rm -rf "$dir"' EXIT
RANDOM=${HARDY_TEST_SEED:-4242}
n_params=1000000 # 4 MB per array, 16 MB per checkpoint
run() { "$MPIEXEC" -n "$1" $MPIEXEC_FLAGS "${@:2}"; }
fail() { echo "FAIL: $*"; ls -la "$dir"; exit 1; }

run 2 "$writer" write "$dir" $n_params 1 1 || fail "first checkpoint"
step=$(run 1 "$writer" check "$dir" | awk '/^latest/ {print $2}')
[[ $step == 1 ]] || fail "first checkpoint holds step '$step'"
first=$step
for kill_no in 1 2 3 4; do
  # mpirun itself in the background (not through a function), so $! is its pid and the
  # writer ranks are its children: those are what kill -9 hits
  "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$writer" write "$dir" $n_params $((step + 1)) 1000000 &
  launcher=$!
  # once this writer has published a checkpoint (start-up time varies with the load), kill
  # it anywhere within the next few writes
  before=$(cat "$dir/latest")
  for _ in $(seq 200); do
    [[ $(cat "$dir/latest") != "$before" ]] && break
    sleep 0.05
  done
  delay=$(printf '0.%03d' $((RANDOM % 1000)))
  sleep "$delay"
  ranks=$(pgrep -P "$launcher" || true)
  [[ -n $ranks ]] || fail "writer exited early"
  kill -9 $ranks
  { wait "$launcher" && fail "writer was not killed"; } 2>/dev/null || true
  for pid in $ranks; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
  out=$(run $((1 + kill_no % 2)) "$writer" check "$dir") || fail "after kill $kill_no: $out"
  new=$(awk '/^latest/ {print $2}' <<<"$out")
  n_h5=$(awk '/^latest/ {print $4}' <<<"$out")
  echo "kill $kill_no ${delay}s after a publish: latest step $new, $n_h5 checkpoint files," \
       "$(ls "$dir" | grep -c '\.tmp$' || true) leftover .tmp"
  (( new >= step )) || fail "latest went back from $step to $new"
  # keep 2 + best, plus one when the kill fell between publishing a file and retention
  (( n_h5 <= 4 )) || fail "$n_h5 checkpoints kept (keep 2 + best + 1 unretired)"
  step=$new
done
(( step > first )) || fail "the writer never completed a checkpoint between kills"
echo "ok: latest advanced from $first to $step across 4 kills"
