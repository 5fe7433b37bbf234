# Shared helpers of the training script tests. Sourced; expects HARDY_BIN, MPIEXEC,
# MPIEXEC_FLAGS, PYTHON in the environment (set by ctest).
set -u
FAILS=0
WORK=$(mktemp -d --suffix=.hardy-test)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

run_mpi() { # ranks args...
  local n=$1; shift
  "$MPIEXEC" -n "$n" $MPIEXEC_FLAGS "$HARDY_BIN" "$@"
}

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# rank_pids PID: the hardy-hpc processes below PID at any depth (children of mpirun with Open
# MPI, grandchildren under MPICH's hydra proxies); never another run's processes.
rank_pids() {
  local c
  for c in $(pgrep -P "$1"); do
    [ "$(cat /proc/"$c"/comm 2>/dev/null)" = hardy-hpc ] && echo "$c"
    rank_pids "$c"
  done
}

check() { # description condition-command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

# A small synthetic dataset: make_data FILE [extra synth flags]
make_data() {
  local out=$1; shift
  run_mpi 2 synth --out "$out" --utterances 1500 --dims 32,48,24 --classes 4 --folds 0 --seed 3 "$@" \
    >/dev/null 2>&1 || { echo "synth failed"; exit 1; }
}

# A small, fast configuration: write_cfg FILE DATA [extra "section.key = value" lines by section]
write_cfg() {
  cat >"$1" <<CFG
[data]
path = $2
[missing]
condition = at
[run]
seed = 5
progress_seconds = 600
[model]
hidden = 32
depth = 1
heads = 2
decoder_hidden = 64
[train]
batch_dialogues = 4
lr = 1e-3
stage1_epochs = 2
stage2_epochs = 3
[teacher]
warmup_epochs = 1
epochs = 1
[curriculum]
enabled = true
[checkpoint]
every_steps = 0
every_seconds = 0
keep_recent = 2
CFG
}

# Compare two checkpoint parameter arrays: same_params A B [atol] (bitwise when atol omitted)
same_params() {
  "$PYTHON" - "$@" <<'PY'
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["model/params"][:]
b = h5py.File(sys.argv[2], "r")["model/params"][:]
if len(sys.argv) > 3:
    d = float(np.abs(a.astype(np.float64) - b).max())
    print(f"  max |params diff| = {d:.3g} (atol {sys.argv[3]})")
    sys.exit(0 if d <= float(sys.argv[3]) else 1)
eq = a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))
if not eq:
    print(f"  params differ: max |diff| = {np.abs(a - b).max():.3g}")
sys.exit(0 if eq else 1)
PY
}

# json_get FILE python-expression-on-j
json_get() { "$PYTHON" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

finish() {
  echo "$(basename "$0" .sh): $FAILS failed"
  [ "$FAILS" = 0 ]
}
