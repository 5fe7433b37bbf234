#!/usr/bin/env bash
# h5py (Debian python3-h5py) reads a checkpoint written by 2 ranks: parameters by tensor name
# through /model/index (analysis/ckpt_tensor.py), attributes and texts, and the checksums
# recomputed in Python. Usage: test_h5py.sh WRITER
set -euo pipefail
writer=$1
dir=$(mktemp -d --suffix=.hardy-ckpt-h5py)
trap 'rm -rf "$dir"' EXIT
"$MPIEXEC" -n 2 $MPIEXEC_FLAGS "$writer" write "$dir" 0 5 1 model
"$PYTHON" "$SOURCE_DIR/tests/checkpoint/test_h5py.py" "$dir"
