#!/bin/bash
# `hardy-hpc sweep`: 6 tasks (+1 with a broken data file) at 4 ranks in groups of 2. The sweep is
# stopped with SIGUSR1 once two tasks are done (exit 143, running tasks checkpoint), then rerun:
# the finished tasks are not touched again, and every task's final parameters and test metrics
# equal those of the same task trained alone at 2 ranks, bitwise. The broken task fails alone
# (its status.json names the file; the others finish). A bad key or a missing data file in any
# line is refused before training (exit 2 naming the line and key).
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
sed -i 's/stage1_epochs = 2/stage1_epochs = 1/; s/stage2_epochs = 3/stage2_epochs = 2/' t.ini
echo "not an hdf5 file" > junk.h5
cat > sweep.txt <<'EOF'
# conditions x seeds, and the uniform baseline
missing.condition=at run.seed=1
missing.condition=av run.seed=1
missing.condition=at run.seed=2   # a comment
missing.condition=tv run.seed=2
missing.condition=at curriculum.enabled=false

missing.condition=atv run.seed=3 train.lr=2e-3
missing.condition=at data.path=junk.h5
EOF
names="conditionat-seed1 conditionav-seed1 conditionat-seed2 conditiontv-seed2 conditionat-enabledfalse conditionatv-seed3-lr2e-3"

# --- bad lines are refused before any training ---------------------------------------------
expect_refused() { # needle sweep-line
  printf 'missing.condition=at\n# x\n%s\n' "$2" > bad.txt
  local out rc
  out=$(timeout 120 "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" sweep t.ini bad.txt --out bad --group-ranks 1 2>&1); rc=$?
  if [ $rc = 2 ] && grep -qF -- "$1" <<<"$out" && [ -z "$(ls bad 2>/dev/null)" ]; then
    echo "ok: '$2' refused before training: $(grep -o "bad.txt:3.*" <<<"$out" | head -1 | cut -c1-90)"
  else
    fail "'$2': exit $rc, '$1' not printed or a task started"; echo "$out" | tail -3
  fi
}
expect_refused "bad.txt:3 train.lrr=1e-3: unknown key 'lrr' in [train]" "train.lrr=1e-3"
expect_refused "bad.txt:3" "train.lr=abc"
expect_refused "bad.txt:3: data.path = /no/such.h5: no readable file" "data.path=/no/such.h5"
expect_refused "bad.txt:1 and line 3 both map to the directory 'conditionat'" "missing.condition=at"
out=$(run_mpi 3 sweep t.ini sweep.txt --out x --group-ranks 2 2>&1)
check "3 ranks in groups of 2 refused (exit $?)" grep -q "do not split into groups" <<<"$out"

# --- each task alone at 2 ranks ------------------------------------------------------------------
while IFS= read -r line; do
  line=${line%%#*}; [ -n "${line// }" ] || continue
  case $line in *junk*) continue ;; esac
  name=$(sed 's/[a-z_]*\.\([a-z_0-9]*\)=/\1=/g; s/=//g; s/ \+/-/g; s/-$//' <<<"$line")
  args=(); for w in $line; do args+=(--set "$w"); done
  run_mpi 2 train t.ini "${args[@]}" --out "alone/$name" --quiet </dev/null 2>/dev/null || fail "alone $name"
done < sweep.txt

# --- the sweep, stopped once two tasks are done, then completed --------------------------------
"$MPIEXEC" -n 4 $MPIEXEC_FLAGS "$HARDY_BIN" sweep t.ini sweep.txt --out sw --group-ranks 2 >sw1.log 2>&1 &
pid=$! t=0
while kill -0 $pid 2>/dev/null && [ $t -lt 3000 ]; do
  [ "$(grep -l '"done"' sw/*/status.json 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.05; t=$((t + 1))
done
kill -USR1 $pid; wait $pid; rc=$?
n_done=$(grep -l '"done"' sw/*/status.json 2>/dev/null | wc -l)
check "stopped sweep exits 143 (got $rc) with $n_done task(s) done" [ $rc = 143 -a "$n_done" -lt 7 ]
stamps() { for d in sw/*/; do [ -f "$d/results.json" ] && echo "$d $(stat -c %Y.%s "$d/results.json")"; done; }
before=$(stamps)
run_mpi 4 sweep t.ini sweep.txt --out sw --group-ranks 2 >sw2.log 2>&1; rc=$?
check "completed sweep exits 2: the broken task failed (got $rc)" [ $rc = 2 ]
check "rerun skipped the finished tasks" grep -q "done before; skipped" sw2.log
while read -r d stamp; do
  check "$d untouched by the rerun" [ "$d $(stat -c %Y.%s "$d/results.json")" = "$d $stamp" ]
done <<<"$before"
check "rerun resumed a checkpointed task" grep -q ": resuming (" sw2.log
for name in $names; do
  f=$(ls sw/$name/checkpoints/*-final.h5 2>/dev/null | head -1)
  check "$name: sweep task equals the task alone (final parameters bitwise)" \
    same_params "alone/$name/checkpoints/$(basename "${f:-none}")" "${f:-none}"
  a=$(json_get "alone/$name/results.json" 'j["test"]') b=$(json_get "sw/$name/results.json" 'j["test"]')
  check "$name: test metrics equal" [ "$a" = "$b" ]
done
check "broken task failed alone, naming its file" "$PYTHON" -c "
import json; s = json.load(open('sw/sweep-status.json'))
bad = [t for t in s['tasks'] if t['state'] != 'done']
assert s['done'] == 6 and s['failed'] == 1 and 'junk.h5' in bad[0]['error'], s"
finish
