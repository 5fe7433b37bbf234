#!/bin/bash
# checkpoint.keep: after a successful job, `final` leaves only the final models, best and the
# teachers; `last` also the newest step checkpoint and the latest pointers; `all` every step
# checkpoint retention kept (keep_recent = 0: every one written). results.json's disk_bytes
# equals the file sizes by kind; eval of the directory uses `best`, and --resume of the finished
# job says why it cannot. A job stopped by a signal keeps `latest`, resumes, and then ends with
# the `final` set and the uninterrupted run's parameters bitwise.
source "$(dirname "$0")/lib.sh"
make_data d.h5 --utterances 400
write_cfg t.ini d.h5
sed -i 's/^condition = at$/condition = at, tv/; s/^every_steps = 0$/every_steps = 3/' t.ini

files_of() { (cd "$1" && find checkpoints teachers -type f | sort | tr '\n' ' '); }
expect_files() { # dir "expected sorted list"
  local got; got=$(files_of "$1")
  if [ "$got" = "$2 " ]; then echo "ok: $1 holds exactly: $2"; else fail "$1 holds: $got; expected: $2"; fi
}
BASE="checkpoints/at-final.h5 checkpoints/best checkpoints/tv-final.h5"
TEACH="teachers/at-teacher.h5 teachers/tv-teacher.h5"

run_mpi 1 train t.ini --out final --quiet || fail "keep = final (default) run"
expect_files final "$BASE $TEACH"

out=$(run_mpi 1 eval --checkpoint final/checkpoints --condition tv 2>&1)
check "final: eval of the checkpoint directory uses best (tv-final.h5)" grep -q "tv-final.h5" <<<"$out"
out=$(run_mpi 1 train t.ini --out final --resume 2>&1)
check "final: --resume of the finished job says why there is nothing to resume" \
  grep -q "the job has finished and checkpoint.keep = final removed" <<<"$out"

run_mpi 1 train t.ini --set checkpoint.keep=last --out last --quiet || fail "keep = last run"
newest=$("$PYTHON" -c "
import json
names = [j['name'] for j in map(json.loads, open('last/metrics.jsonl'))
         if j.get('phase') == 'checkpoint' and j['name'].startswith('ckpt-')]
print(max(names))")
expect_files last "checkpoints/at-final.h5 checkpoints/best checkpoints/$newest.h5 checkpoints/latest checkpoints/tv-final.h5 teachers/at-teacher.h5 teachers/latest teachers/tv-teacher.h5"

run_mpi 1 train t.ini --set checkpoint.keep=all --set checkpoint.keep_recent=0 --out all --quiet \
  || fail "keep = all run"
written=$("$PYTHON" -c "
import json
names = {'checkpoints/%s.h5' % j['name'] for j in map(json.loads, open('all/metrics.jsonl'))
         if j.get('phase') == 'checkpoint' and j['name'].startswith('ckpt-')}
print(' '.join(sorted(names | set('$BASE checkpoints/latest $TEACH teachers/latest'.split()))))")
n_written=$(wc -w <<<"$written")
check "keep = all keeps every one of the $((n_written - 7)) step checkpoints written" [ "$n_written" -gt 10 ]
expect_files all "$written"

for d in final last all; do
  check "$d: results.json disk_bytes = file sizes by kind" "$PYTHON" - "$d" <<'PY'
import json, os, sys
d = sys.argv[1]
disk = json.load(open(os.path.join(d, "results.json")))["disk_bytes"]
want = dict.fromkeys(("checkpoints", "final_models", "teachers", "hardness", "logs", "other"), 0)
for root, _, files in os.walk(d):
    sub = os.path.relpath(root, d).split(os.sep)[0]
    for f in files:
        size = os.path.getsize(os.path.join(root, f))
        if f == "results.json":
            continue  # written after the measurement
        if sub == "checkpoints":
            want["final_models" if f.endswith("-final.h5") else "checkpoints"] += size
        elif sub == "teachers":
            want["teachers"] += size
        elif f.startswith("hardness-"):
            want["hardness"] += size
        else:
            want["logs"] += size
bad = [k for k in want if k != "logs" and disk[k] != want[k]]
# results.json itself was measured in its first version; status.json is written afterwards
logs_ok = 0 < disk["logs"] and abs(disk["logs"] - want["logs"]) < 40000
print("  %s: %s" % (d, {k: disk[k] for k in want}), "keep", disk["keep"])
sys.exit(1 if bad or not logs_ok or disk["total"] != sum(disk[k] for k in want) else 0)
PY
done

# Stopped in stage 2: latest stays for the resume; success then applies keep = final.
sed -i 's/stage2_epochs = 3/stage2_epochs = 30/' t.ini
run_mpi 1 train t.ini --out ref --quiet || fail "uninterrupted 30-epoch run"
"$MPIEXEC" -n 1 $MPIEXEC_FLAGS "$HARDY_BIN" train t.ini --out stopped >stopped.log 2>&1 &
pid=$! t=0
while kill -0 $pid 2>/dev/null && ! grep -q '"phase":"stage2"' stopped/metrics.jsonl 2>/dev/null \
      && [ $t -lt 3000 ]; do
  sleep 0.02; t=$((t + 1))
done
# to the rank itself, as Slurm delivers it (MPICH's launcher does not forward SIGUSR1)
kill -USR1 $(rank_pids $pid) 2>/dev/null || kill -USR1 $pid
wait $pid
rc=$?
check "stopped: exit 143 (got $rc)" [ "$rc" = 143 ]
check "stopped: checkpoints/latest kept for the resume" [ -f "stopped/checkpoints/$(cat stopped/checkpoints/latest 2>/dev/null)" ]
run_mpi 1 train t.ini --out stopped --resume --quiet || fail "resume after the stop"
check "resumed: parameters bitwise equal to the uninterrupted run" same_params ref/checkpoints/tv-final.h5 stopped/checkpoints/tv-final.h5
expect_files stopped "$BASE $TEACH"
finish
