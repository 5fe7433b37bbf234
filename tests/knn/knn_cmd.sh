#!/bin/bash
# `hardy-hpc knn` end to end at 2 ranks on a small synthetic file, against a numpy brute-force
# reference (check_knn.py): a fixed condition, random masks with k beyond the split size, the
# validation split, the embedding space, and input errors (exit code 2, no hang); the table is
# identical for every kernel and rank count.
set -euo pipefail
: "${HARDY_BIN:?}" "${MPIEXEC:?}" "${SOURCE_DIR:?}"
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
run() { "$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" "$@"; }
CHECK="$SOURCE_DIR/tests/knn/check_knn.py"

run synth --out "$T/d.h5" --utterances 260 --dims 9,14,5 --folds 0 --seed 3 >/dev/null
run knn --data "$T/d.h5" --k 5 --condition at --out "$T/n_at.h5"
"$PY" "$CHECK" "$T/d.h5" "$T/n_at.h5" 0
run knn --data "$T/d.h5" --k 400 --missing-rate 0.5 --seed 9 --query-block 50 --out "$T/n_rate.h5"
"$PY" "$CHECK" "$T/d.h5" "$T/n_rate.h5" 0
run knn --data "$T/d.h5" --k 3 --condition tv --split val --out "$T/n_val.h5"
"$PY" "$CHECK" "$T/d.h5" "$T/n_val.h5" 1

# every kernel and rank count writes the same table, bit for bit (the lists hold direct
# distances, ordered by (distance, id))
for kernel in blas fused-avx2 fused-avx512; do
  for n in 1 3; do
    HARDY_KNN_KERNEL=$kernel "$MPIEXEC" -n $n $MPIEXEC_FLAGS -x HARDY_KNN_KERNEL "$HARDY_BIN" knn \
      --data "$T/d.h5" --k 400 --missing-rate 0.5 --seed 9 --query-block 50 \
      --out "$T/n_$kernel$n.h5" 2>&1 | grep -q "$kernel kernel\|cannot run it" ||
      { echo "kernel $kernel at $n ranks: no kernel line"; exit 1; }
    for ds in id dist query_id; do
      h5diff "$T/n_rate.h5" "$T/n_$kernel$n.h5" /neighbors/$ds ||
        { echo "kernel $kernel at $n ranks: /neighbors/$ds differs"; exit 1; }
    done
  done
done

# embedding space: random embeddings for every utterance of the file
"$PY" - "$T/d.h5" "$T/e.h5" <<'PYEOF'
import sys, h5py, numpy as np
n = h5py.File(sys.argv[1], "r")["features/audio"].shape[0]
with h5py.File(sys.argv[2], "w") as f:
    f["embeddings/id"] = np.arange(n, dtype=np.int64)
    f["embeddings/z"] = np.random.default_rng(5).standard_normal((n, 3, 7)).astype(np.float32)
PYEOF
run knn --data "$T/d.h5" --k 4 --condition av --space embedding --embeddings "$T/e.h5" --out "$T/n_emb.h5"
"$PY" "$CHECK" "$T/d.h5" "$T/n_emb.h5" 0 "$T/e.h5"

# input errors: agreed, exit 2, a message naming the problem
set +e
run knn --data "$T/d.h5" --k 4 --out "$T/x.h5" 2>"$T/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 without a condition, got $rc"; exit 1; }
grep -q "condition" "$T/err" || { echo "unhelpful message:"; cat "$T/err"; exit 1; }
set +e
run knn --data "$T/missing.h5" --k 4 --condition a --out "$T/x.h5" 2>"$T/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 for a missing file, got $rc"; cat "$T/err"; exit 1; }
echo "knn_cmd: ok"
