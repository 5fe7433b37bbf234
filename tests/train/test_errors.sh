#!/bin/bash
# Bad input to train/eval/hardness: a clear message naming the file, key or flag, exit code 2
# at 2 ranks (printed once), never a hang; a corrupt or foreign checkpoint is refused and the
# previous checkpoint still loads.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
expect() { # exit-code needle ranks args...
  local want=$1 needle=$2 n=$3; shift 3
  local out rc
  out=$(timeout 120 "$MPIEXEC" -n "$n" $MPIEXEC_FLAGS "$HARDY_BIN" "$@" 2>&1); rc=$?
  local count; count=$(grep -cF -- "$needle" <<<"$out")
  if [ "$rc" != "$want" ] || [ "$count" -lt 1 ]; then
    fail "'$*': exit $rc (want $want), '$needle' printed $count times"; echo "$out" | tail -5
  else
    echo "ok: $* -> $rc"
  fi
}
expect 2 "data.path is not set" 2 train t.ini --set data.path= --out o1
expect 2 "/no/such.h5" 2 train t.ini --set data.path=/no/such.h5 --out o2
expect 2 "train: --out DIR is required" 2 train t.ini
expect 2 "unknown key 'nosuch' in [train]" 2 train t.ini --set train.nosuch=1 --out o3
expect 2 "needs fold ids" 2 train t.ini --set data.fold=1 --out o4
echo "not hdf5" > junk.h5
expect 2 "junk.h5" 2 train t.ini --out o6 --resume junk.h5
expect 2 "junk.h5" 2 eval --checkpoint junk.h5
expect 2 "d.h5" 2 eval --checkpoint d.h5
# a real checkpoint, then a shape-changing key on resume is refused, the checkpoint still loads
sed -i 's/stage2_epochs = 3/stage2_epochs = 1/' t.ini
# --resume before any checkpoint exists (a job requeued before its first one) starts afresh
run_mpi 2 train t.ini --out good --resume --set checkpoint.keep=last > good.log 2>&1 || fail "good run"
check "--resume without a checkpoint starts from the beginning" \
  grep -q "good has no checkpoint yet; starting from the beginning" good.log
expect 2 "model.hidden" 2 train t.ini --set model.hidden=16 --out good --resume
# blocks without the attention output projection (the default) do not load into blocks with it
expect 2 "model.attn_out_proj" 2 train t.ini --set model.attn_out_proj=true --out good --resume
expect 2 "model.attn_out_proj" 2 train t.ini --set model.attn_out_proj=true \
  --set teacher.checkpoint=good/teachers --out o7
cp good/checkpoints/at-final.h5 bad.h5
"$PYTHON" - bad.h5 <<'PY'
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "r+") as f:
    p = f["model/params"]; p[3] = p[3] + 1.0   # silent corruption of the payload
PY
expect 2 "bad.h5" 2 eval --checkpoint bad.h5
expect 0 "test under at" 2 eval --checkpoint good/checkpoints/at-final.h5 --condition at
finish
