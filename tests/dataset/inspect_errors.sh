#!/bin/bash
# `hardy-hpc inspect` on files that each break one rule of the data format (and on valid ones),
# at RANKS ranks (argument 1). Every broken file must be reported invalid with a message naming
# the file and the dataset/row at fault, every valid one valid; the exit code is 2 when any
# file is invalid, 0 when all are valid; HDF5 never prints its own error stack.
# All files go through one `inspect --json` run (an array, one object per file) to keep the
# test fast: MPI start-up costs more than validating these small files.
set -u
RANKS=${1:-1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$PYTHON" "$SOURCE_DIR/tests/dataset/make_fixtures.py" "$dir" > "$dir/manifest.tsv" || {
  echo "FAIL: fixture builder failed"; exit 1; }

run() { # inspect at $RANKS ranks; stdin closed so mpirun does not read the caller's input
  (cd "$dir" && $MPIEXEC -n "$RANKS" $MPIEXEC_FLAGS "$HARDY_BIN" inspect "$@" < /dev/null)
}

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Cases without extra flags, all in one run.
files=$(awk -F'\t' '$2 == "-" {print $1}' "$dir/manifest.tsv")
run $files --json > "$dir/all.json" 2> "$dir/all.err"
rc=$?
[ $rc -eq 2 ] || fail "inspect of every fixture: exit $rc, expected 2"
grep -q "HDF5-DIAG" "$dir/all.err" && fail "HDF5 printed its error stack"
"$PYTHON" - "$dir/manifest.tsv" "$dir/all.json" <<'PY' || failures=$((failures + 1))
import json, sys
cases = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
results = {o["file"]: o for o in json.load(open(sys.argv[2]))}
bad = 0
for name, flags, code, phrase in cases:
    if flags != "-":
        continue
    o = results.get(name)
    if o is None:
        print(f"FAIL: {name}: no result"); bad += 1
    elif code == "0" and not o["valid"]:
        print(f"FAIL: {name}: reported invalid: {o.get('error')}"); bad += 1
    elif code == "2" and (o["valid"] or phrase not in o["error"]):
        print(f"FAIL: {name}: expected an error containing {phrase!r}, got {o.get('error')!r}"); bad += 1
v = results["valid.h5"]
assert v["n_utterances"] == 60 and v["n_dialogues"] == 4, v
assert v["dims"] == {"audio": 4, "text": 6, "visual": 5}, v["dims"]
assert v["splits"]["train"]["utterances"] == 30 and v["splits"]["test"]["dialogues"] == 1
assert sum(c["count"] for c in v["classes"]) == 60 and v["classes"][0]["name"] == "emo0"
assert [f["fold"] for f in v["folds"]] == [1, 2] and v["folds"][0]["utterances"] == 30
assert v["dialogue_length"] == {"min": 15, "mean": 15, "max": 15}
assert results["valid_regression.h5"]["scores"] == {"min": -3, "mean": 0, "max": 3}
sys.exit(1 if bad else 0)
PY

# Cases with flags, one run each.
while IFS=$'\t' read -r name flags code phrase; do
  [ "$flags" = "-" ] && continue
  out=$(run "$name" $flags 2>&1)
  rc=$?
  [ "$rc" = "$code" ] && grep -qF -- "$phrase" <<< "$out" ||
    fail "$name $flags: exit $rc (expected $code), output: $(head -3 <<< "$out")"
done < "$dir/manifest.tsv"

# One invalid file alone: exit 2, the message on stderr; one valid file alone: exit 0.
out=$(run label_range.h5 2>&1 >/dev/null)
rc=$?
[ $rc -eq 2 ] && grep -qF "label_range.h5: /utterance/label[33] = 4 is outside [0, 4)" <<< "$out" ||
  fail "single invalid file: exit $rc: $out"
run valid.h5 > "$dir/valid.txt" 2>&1 && grep -q "dialogue length min 15 / mean 15.0 / max 15" "$dir/valid.txt" ||
  fail "single valid file: $(cat "$dir/valid.txt")"

echo "inspect_errors at $RANKS rank(s): $failures failed"
[ "$failures" -eq 0 ]
