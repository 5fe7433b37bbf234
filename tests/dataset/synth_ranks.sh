#!/bin/bash
# `hardy-hpc synth` writes the same data at 1 and 3 ranks (different chunk sizes too): h5diff
# finds no difference in any dataset or attribute, for a classification (IEMOCAP-shaped) and a
# regression (MOSEI-shaped) file; both validate with `inspect`, with equal fingerprints. Also
# checks the flag errors and --help.
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
synth() { local np=$1; shift; $MPIEXEC -n "$np" $MPIEXEC_FLAGS "$HARDY_BIN" synth "$@" < /dev/null; }
fingerprint() {
  $MPIEXEC -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" inspect "$1" --json < /dev/null 2>/dev/null |
    "$PYTHON" -c 'import json, sys; o = json.load(sys.stdin); assert o["valid"]; print(o["fingerprint"])'
}

common_cls="--utterances 3100 --dims 8,20,12 --classes 6 --folds 5 --seed 42 --shape iemocap"
common_reg="--utterances 1500 --dims 10,6,4 --task regression --seed 7 --shape mosei"
synth 1 --out cls1.h5 $common_cls --chunk-rows 4096 2>/dev/null || fail "synth 1 rank (classification)"
synth 3 --out cls3.h5 $common_cls --chunk-rows 128 2>/dev/null || fail "synth 3 ranks (classification)"
synth 1 --out reg1.h5 $common_reg 2>/dev/null || fail "synth 1 rank (regression)"
synth 3 --out reg3.h5 $common_reg --chunk-rows 100 2>/dev/null || fail "synth 3 ranks (regression)"
h5diff cls1.h5 cls3.h5 || fail "classification files differ between 1 and 3 ranks"
h5diff reg1.h5 reg3.h5 || fail "regression files differ between 1 and 3 ranks"
[ -e cls3.h5.tmp ] && fail "temporary file left behind"
f1=$(fingerprint cls1.h5) && f3=$(fingerprint cls3.h5) && [ -n "$f1" ] && [ "$f1" = "$f3" ] ||
  fail "inspect fingerprints '${f1:-}' and '${f3:-}'"
fingerprint reg3.h5 > /dev/null || fail "inspect of the regression file"
# A different seed really changes the data.
synth 1 --out other.h5 --utterances 3100 --dims 8,20,12 --classes 6 --seed 43 2>/dev/null
h5diff -q cls1.h5 other.h5 /features/text /features/text > /dev/null && fail "seed has no effect"

synth 1 --help | grep -q -- "--utterances N" || fail "synth --help"
out=$(synth 2 --out x.h5 --dims 8,20 2>&1); rc=$?
[ $rc -eq 2 ] && grep -qF -- "--dims '8,20': expected 3 comma-separated values" <<< "$out" ||
  fail "bad --dims: exit $rc: $out"
out=$(synth 1 --out x.h5 --task ranking 2>&1); rc=$?
[ $rc -eq 2 ] && grep -qF -- "--task 'ranking'" <<< "$out" || fail "bad --task: exit $rc: $out"
out=$(synth 1 --utterances 10 2>&1); rc=$?
[ $rc -eq 2 ] && grep -qF -- "--out FILE is required" <<< "$out" || fail "missing --out: $out"
out=$(synth 1 --out /nonexistent-dir/x.h5 --utterances 10 2>&1); rc=$?
[ $rc -eq 3 ] && grep -qF -- "/nonexistent-dir/x.h5.tmp: cannot create the output file" <<< "$out" ||
  fail "unwritable --out: exit $rc: $out"

echo "synth_ranks: $failures failed"
[ "$failures" -eq 0 ]
