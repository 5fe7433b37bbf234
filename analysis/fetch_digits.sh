#!/usr/bin/env bash
# The scikit-learn digits table (1797 images of 8x8 pixels, values 0..16, 10 classes) from
# Debian's python3-sklearn package, converted to a hardy-mer file with three views made of
# image rows: 0-2 -> audio (24 values), 3-4 -> text (16), 5-7 -> visual (24). Pixels are scaled
# to [0, 1]; a stratified 20% of the samples (seed 1) is the test split, the trainer carves the
# validation split from the rest.
#   usage: analysis/fetch_digits.sh [OUT.h5 (data/digits.h5)] [CACHE_DIR]
# Needs apt-get (package lists updated) unless python3-sklearn is installed; no install is done.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-data/digits.h5}
cache=${2:-${HARDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hardy-hpc}}
python=${PYTHON:-/usr/bin/python3}
. "$here/deb_fetch.sh"

csv=$(deb_data_file python3-sklearn /sklearn/datasets/data/digits.csv.gz "$cache") || exit 2
echo "digits table: $csv"
exec "$python" "$here/convert_table.py" --input "$csv" --header no --label-col -1 \
  --image-shape 8x8 --views 0-2,3-4,5-7 --scale 0.0625 --test-fraction 0.2 --seed 1 \
  --out "$out"
