#!/bin/bash
# `cmake --install` into a temporary prefix, then the installed tree used from a directory
# outside the source and build trees: every part is in place, --version names the version,
# commit, MPI, BLAS, HDF5 and ScaLAPACK, the Slurm scripts find the installed program beside
# them, and the demo job (bin/hardy-hpc-demo, configs from share/hardy-hpc) trains at 2 ranks
# (800 utterances, one epoch per phase) and writes its results.
# usage: test_install.sh BUILD_DIR CMAKE   (HARDY_BIN, MPIEXEC, SOURCE_DIR from ctest)
set -u
BUILD_DIR=${1:?build directory}
CMAKE=${2:-cmake}
WORK=$(mktemp -d --suffix=.hardy-install)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

PREFIX=$WORK/prefix
"$CMAKE" --install "$BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log"; echo "FAIL: cmake --install"; exit 1; }
for f in bin/hardy-hpc bin/hardy-hpc-demo share/hardy-hpc/configs/demo.ini \
  share/hardy-hpc/jobs/train.sbatch share/hardy-hpc/jobs/common.sh \
  share/hardy-hpc/analysis/aggregate.py share/doc/hardy-hpc/README.md \
  share/doc/hardy-hpc/INSTALL.md; do
  [ -e "$PREFIX/$f" ] || fail "installed tree lacks $f"
done
[ -x "$PREFIX/bin/hardy-hpc-demo" ] && [ -x "$PREFIX/share/hardy-hpc/jobs/train.sbatch" ] ||
  fail "installed scripts are not executable"

# From elsewhere, with nothing of the source tree on PATH.
mkdir -p "$WORK/elsewhere"
cd "$WORK/elsewhere" || exit 1
"$PREFIX/bin/hardy-hpc" --version >version.txt 2>&1 || fail "--version exits non-zero"
cat version.txt
want_version=$(sed -n 's/^project(hardy_hpc VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
grep -qx "hardy-hpc $want_version" version.txt || fail "--version does not start with 'hardy-hpc $want_version'"
commit=$(git -C "$SOURCE_DIR" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
grep -q "^commit: *$commit" version.txt || fail "--version does not name commit $commit"
for key in MPI BLAS HDF5 ScaLAPACK; do
  grep -Eq "^$key: +[^ ]" version.txt || fail "--version lacks a '$key:' line"
done
grep -Eq '^HDF5: +[0-9]+\.[0-9]+\.[0-9]+' version.txt || fail "HDF5 line has no version number"

# The job scripts find PREFIX/bin/hardy-hpc relative to themselves.
found=$(env -u HARDY_BIN PATH=/usr/bin:/bin HARDY_JOBS_DIR="$PREFIX/share/hardy-hpc/jobs" \
  bash -c 'source "$HARDY_JOBS_DIR/common.sh" && hardy_find_bin && echo "$HARDY_BIN"' 2>&1 | tail -n 1)
[ "$found" = "$PREFIX/bin/hardy-hpc" ] && ok "job scripts find $found" ||
  fail "job scripts found '$found', not $PREFIX/bin/hardy-hpc"

# The demo job from the installed tree.
HARDY_DEMO_UTTERANCES=800 \
  HARDY_DEMO_SET="teacher.warmup_epochs=1 teacher.epochs=1 train.stage1_epochs=1 train.stage2_epochs=1" \
  MPIEXEC=$MPIEXEC env -u HARDY_BIN "$PREFIX/bin/hardy-hpc-demo" 2 >demo.log 2>&1 ||
  { tail -n 30 demo.log; fail "hardy-hpc-demo exits non-zero"; }
grep -q "demo finished" demo.log || fail "demo did not finish"
if [ -s demo-out/run/results.json ]; then
  /usr/bin/python3 - demo-out/run/results.json <<'PY' || fail "results.json"
import json, sys
r = json.load(open(sys.argv[1]))
assert r.get("program", "").startswith("hardy-hpc "), r.get("program")
text = json.dumps(r)
assert '"at"' in text and '"tv"' in text, "both demo conditions reported"
print("ok: results.json of", r["program"])
PY
else
  fail "demo-out/run/results.json missing"
fi
[ "$FAILS" = 0 ] && echo "PASS" && exit 0
echo "$FAILS failure(s)"; exit 1
