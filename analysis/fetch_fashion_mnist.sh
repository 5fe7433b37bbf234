#!/usr/bin/env bash
# Fashion-MNIST (70,000 images of 28x28 pixels, 10 classes) from Debian's dataset-fashion-mnist
# package, converted to a hardy-mer file with three horizontal bands as views: image rows
# 0-8 -> audio (252 values), 9-18 -> text (280), 19-27 -> visual (252). Pixels are scaled to
# [0, 1]; the 60,000 training images are split 0 and the 10,000 t10k images split 2 (the trainer
# carves the validation split from the training images).
#   usage: analysis/fetch_fashion_mnist.sh [OUT.h5 (data/fashion_mnist.h5)] [CACHE_DIR]
# Needs apt-get (package lists updated) unless dataset-fashion-mnist is installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-data/fashion_mnist.h5}
cache=${2:-${HARDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hardy-hpc}}
python=${PYTHON:-/usr/bin/python3}
. "$here/deb_fetch.sh"

dir=fashion-mnist
files=()
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
         t10k-labels-idx1-ubyte.gz; do
  files+=("$(deb_data_file dataset-fashion-mnist "/$dir/$f" "$cache")") || exit 2
done
echo "Fashion-MNIST files: $(dirname "${files[0]}")"
exec "$python" "$here/convert_table.py" --images "${files[0]}" --labels "${files[1]}" \
  --test-images "${files[2]}" --test-labels "${files[3]}" --views 0-8,9-18,19-27 \
  --scale 0.00392156862745098 \
  --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot" \
  --out "$out"
