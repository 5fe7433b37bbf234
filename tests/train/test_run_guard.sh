#!/bin/bash
# Runs that cannot be mixed up (run_guard.c): resuming with a changed result-determining key is
# refused (exit 2 naming the key, old and new value) and leaves the run untouched; operational
# keys (threads, progress, checkpoint cadence) may change and the resumed run equals the
# uninterrupted one bitwise; a directory holding a run needs --resume or --overwrite; foreign
# files are never cleared; status.json records the earliest input errors; results.json carries
# provenance and fingerprints; aggregate.py refuses to average runs whose method keys differ.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
# resumes of finished runs need `latest`, and the mid-run resume takes the 8th step
# checkpoint: keep every one ([checkpoint] is the file's last section)
echo "keep = all" >>t.ini
sed -i 's/every_steps = 0/every_steps = 6/; s/keep_recent = 2/keep_recent = 0/' t.ini
run_mpi 2 train t.ini --out ref --quiet || fail "reference run"

expect() { # exit-code needle ranks args...
  local want=$1 needle=$2 n=$3; shift 3
  local out rc
  out=$(timeout 120 "$MPIEXEC" -n "$n" $MPIEXEC_FLAGS "$HARDY_BIN" "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -qF -- "$needle" <<<"$out"; then
    fail "'$*': exit $rc (want $want), '$needle' not printed"; echo "$out" | grep hardy | tail -6
  else
    echo "ok: $* -> $rc"
  fi
}

# --- resume refuses every result-determining change, naming key, old and new value ---------
for change in "curriculum.enabled=false|curriculum.enabled: true -> false" \
              "run.seed=6|run.seed: 5 -> 6" \
              "retrieval.k=4|retrieval.k: 3 -> 4" \
              "missing.condition=av|missing.condition: at -> av" \
              "model.dropout=0.3|model.dropout: 0.5 -> 0.3" \
              "model.hidden=16|model.hidden: 32 -> 16" \
              "train.stage2_epochs=4|train.stage2_epochs: 3 -> 4" \
              "teacher.epochs=2|teacher.epochs: 1 -> 2" \
              "hardness.estimator=entropy|hardness.estimator: gaussian -> entropy"; do
  expect 2 "${change#*|}" 1 train t.ini --out ref --resume --set "${change%%|*}" --set run.threads=1
done
expect 2 "cannot resume: 2 setting(s)" 2 train t.ini --out ref --resume --set run.seed=7 \
  --set train.lr=2e-3
check "refused resumes leave the finished run's status alone" \
  [ "$(json_get ref/status.json 'j["state"]')" = done ]

# --- operational keys may change: resume mid-run, equal to the uninterrupted run -------------
cp -r ref mid && rm mid/checkpoints/at-final.h5 mid/results.json
ck=$(ls mid/checkpoints/ckpt-*.h5 | sed -n 8p)
out=$(run_mpi 2 train t.ini --out mid --resume "$ck" --set run.threads=1 --set run.progress_seconds=1 \
  --set checkpoint.keep_recent=3 --set checkpoint.every_steps=10 --set checkpoint.every_seconds=5 2>&1)
check "resume with threads, progress and checkpoint cadence changed (from $(basename "$ck"))" [ $? = 0 ]
check "the changed operational keys are reported" grep -q "changed settings: run.threads" <<<"$out"
check "resumed parameters bitwise equal to the uninterrupted run" \
  same_params ref/checkpoints/at-final.h5 mid/checkpoints/at-final.h5

# --- one directory, one run -------------------------------------------------------------------
expect 2 "already holds a run: pass --resume" 2 train t.ini --out ref
check "refused rerun leaves results.json and status in place" \
  [ -f ref/results.json -a "$(json_get ref/status.json 'j["state"]')" = done ]
cp -r ref ow && touch ow/checkpoints/ckpt-999999999999.h5 ow/slurm-12.out
run_mpi 2 train t.ini --out ow --overwrite --quiet
check "--overwrite replaces the run (exit $?)" [ -f ow/results.json ]
check "--overwrite removed the old run's checkpoints" [ ! -e ow/checkpoints/ckpt-999999999999.h5 ]
check "--overwrite keeps job logs" [ -e ow/slurm-12.out ]
check "--overwrite run equals the first one" same_params ref/checkpoints/at-final.h5 ow/checkpoints/at-final.h5
mkdir -p foreign && echo keep > foreign/notes.txt
expect 2 "did not write (e.g. 'notes.txt')" 2 train t.ini --out foreign
expect 2 "clears only a hardy run's own files" 2 train t.ini --out foreign --overwrite
check "foreign files survive --overwrite" [ -f foreign/notes.txt -a ! -e foreign/status.json ]
expect 2 "exclude each other" 1 train t.ini --out ow --overwrite --resume

# --- status.json for the earliest input errors --------------------------------------------------
expect 2 "/no/such.h5" 2 train t.ini --set data.path=/no/such.h5 --out e1
check "bad data path: status failed naming the file" "$PYTHON" -c "
import json; j = json.load(open('e1/status.json'))
assert j['state'] == 'failed' and j['exit_code'] == 2 and '/no/such.h5' in j['error'], j"
expect 2 "unknown key 'lrr'" 2 train t.ini --set train.lrr=1 --out e2
check "bad config key: status failed naming the key" "$PYTHON" -c "
import json; j = json.load(open('e2/status.json'))
assert j['state'] == 'failed' and 'lrr' in j['error'], j"

# --- provenance ----------------------------------------------------------------------------------
check "results.json provenance" "$PYTHON" - ref/results.json ow/results.json <<'PY'
import json, re, sys
a, b = (json.load(open(p))["provenance"] for p in sys.argv[1:3])
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ok = (a["version"] and a["git_commit"] and "train t.ini --out ref" in a["command"]
      and iso.match(a["start_utc"]) and iso.match(a["end_utc"]) and a["start_utc"] <= a["end_utc"]
      and a["hosts"] and a["ranks"] == 2 and a["threads"] >= 1 and a["blas_core"]
      and re.match(r"^[0-9a-f]{16}$", a["config_fingerprint"])
      and a["config_fingerprint"] == b["config_fingerprint"]
      and a["method_fingerprint"] == b["method_fingerprint"])
print("  ", {k: a[k] for k in ("git_commit", "start_utc", "hosts", "config_fingerprint")})
sys.exit(0 if ok else 1)
PY

# --- fingerprints: operational keys do not enter, replicate keys leave the method's alone ----
sed -i 's/stage2_epochs = 3/stage2_epochs = 1/; s/stage1_epochs = 2/stage1_epochs = 1/' t.ini
run_mpi 1 train t.ini --out agg/a --quiet --set run.threads=1 --set checkpoint.keep_recent=3 || fail "run a"
run_mpi 1 train t.ini --out agg/b --quiet --set run.seed=6 || fail "run b"
run_mpi 1 train t.ini --out agg2/c --quiet --set run.seed=7 --set train.lr=2e-3 || fail "run c"
fp() { json_get "$1/results.json" "j['provenance']['$2']"; }
check "threads, progress and checkpoint keys leave the config fingerprint alone" \
  [ "$(fp ref config_fingerprint)" = "$(fp mid config_fingerprint)" ]
check "seed changes the config fingerprint, not the method's" \
  [ "$(fp agg/a config_fingerprint)" != "$(fp agg/b config_fingerprint)" -a "$(fp agg/a method_fingerprint)" = "$(fp agg/b method_fingerprint)" ]
check "train.lr changes the method fingerprint" [ "$(fp agg/b method_fingerprint)" != "$(fp agg2/c method_fingerprint)" ]
"$PYTHON" "$SOURCE_DIR/analysis/aggregate.py" agg --json agg.json >/dev/null 2>&1
check "aggregate.py averages runs of one method (exit $?)" [ -f agg.json ]
out=$("$PYTHON" "$SOURCE_DIR/analysis/aggregate.py" agg agg2 --json /dev/null 2>&1); rc=$?
check "aggregate.py refuses runs whose method keys differ (exit $rc, names train.lr)" \
  bash -c '[ "$1" = 2 ] && grep -q "train.lr" <<<"$2"' _ "$rc" "$out"
"$PYTHON" "$SOURCE_DIR/analysis/aggregate.py" agg agg2 --group-by train.lr --json /dev/null >/dev/null 2>&1
check "--group-by train.lr separates them (exit $?)" [ $? = 0 ]
check "--json /dev/null writes through the device (it is still a character device)" [ -c /dev/null ]
finish
