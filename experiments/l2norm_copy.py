#!/usr/bin/python3
"""Copy a hardy-mer dataset file with the text features L2-normalised row by row, as the
research code prepares its inputs (x_t / ||x_t||_2 per utterance). Rows of zero norm (absent
text) stay zero. Used by experiments/fidelity.sh to measure the effect of text
L2-normalisation without changing the program.

    l2norm_copy.py IN.h5 OUT.h5
"""
import shutil
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: l2norm_copy.py IN.h5 OUT.h5")
    src, dst = sys.argv[1], sys.argv[2]
    shutil.copyfile(src, dst + ".tmp")
    with h5py.File(dst + ".tmp", "r+") as f:
        if f.attrs.get("format") not in (b"hardy-mer", "hardy-mer"):
            sys.exit(f"{src}: not a hardy-mer file (attribute 'format')")
        text = f["features/text"]
        n = text.shape[0]
        zero = 0
        for lo in range(0, n, 65536):
            x = text[lo:lo + 65536].astype(np.float64)
            norm = np.linalg.norm(x, axis=1, keepdims=True)
            zero += int((norm == 0).sum())
            text[lo:lo + 65536] = np.where(norm > 0, x / np.where(norm > 0, norm, 1), 0).astype(np.float32)
        f.attrs["source"] = str(f.attrs.get("source", "")) + "; text rows L2-normalised (l2norm_copy.py)"
    shutil.move(dst + ".tmp", dst)
    print(f"wrote {dst}: {n} text rows L2-normalised ({zero} zero rows left as zero)")


if __name__ == "__main__":
    main()
