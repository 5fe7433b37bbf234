#!/usr/bin/python3
"""Copy a hardy-mer file with its features rescaled like raw measurements, and optionally with
modalities marked absent: the inputs of the standardisation checks in docs/DATA_FORMAT.md.

  --scale S --offset O     every feature x -> x * S + O
  --random-affine SEED     per dimension x -> x * 10^U(-1, 3) + U(-100, 200) (COVAREP-like mix
                           of tiny and huge scales), drawn with numpy's default_rng(SEED)
  --absent text=0.3,visual=0.2 --absent-seed SEED
                           mark each listed modality absent on that share of utterances
                           (/utterance/present = 0, features stored as 0); an utterance left
                           with no modality keeps audio

usage: rescale_features.py IN.h5 OUT.h5 [--scale S] [--offset O] [--random-affine SEED]
                           [--absent MOD=P,...] [--absent-seed SEED]"""
import argparse
import shutil
import sys

import h5py
import numpy as np

MODS = ("audio", "text", "visual")


def parse_absent(text):
    out = {}
    for item in filter(None, (text or "").split(",")):
        mod, _, p = item.partition("=")
        if mod not in MODS or not p:
            raise SystemExit(f"--absent '{item}': expected MOD=P with MOD in {MODS}")
        out[MODS.index(mod)] = float(p)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--offset", type=float, default=0.0)
    ap.add_argument("--random-affine", type=int, metavar="SEED")
    ap.add_argument("--absent", default="")
    ap.add_argument("--absent-seed", type=int, default=5)
    a = ap.parse_args(argv)
    absent = parse_absent(a.absent)
    shutil.copy(a.input, a.output)
    with h5py.File(a.output, "r+") as f:
        n = f["/utterance/label"].shape[0]
        present = f["/utterance/present"][:] if "/utterance/present" in f else np.ones((n, 3), np.uint8)
        rng = np.random.default_rng(a.absent_seed)
        for m, p in sorted(absent.items()):
            present[rng.random(n) < p, m] = 0
        present[present.sum(1) == 0, 0] = 1
        affine = np.random.default_rng(a.random_affine) if a.random_affine is not None else None
        for m, mod in enumerate(MODS):
            x = f["/features/" + mod][:].astype(np.float64) * a.scale + a.offset
            if affine is not None:
                d = x.shape[1]
                x = x * 10 ** affine.uniform(-1, 3, d) + affine.uniform(-100, 200, d)
            x[present[:, m] == 0] = 0.0
            f["/features/" + mod][...] = x.astype(np.float32)
        if absent:
            if "/utterance/present" in f:
                f["/utterance/present"][...] = present
            else:
                f["/utterance/present"] = present.astype(np.uint8)
        source = f.attrs.get("source", "")
        source = source.decode() if isinstance(source, bytes) else str(source)
        f.attrs["source"] = (source +
                             f" | rescale_features.py scale={a.scale} offset={a.offset}"
                             f" random_affine={a.random_affine} absent={a.absent or 'none'}")
    print(f"wrote {a.output}: present fractions "
          + ", ".join(f"{mod} {present[:, m].mean():.3f}" for m, mod in enumerate(MODS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
