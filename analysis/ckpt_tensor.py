#!/usr/bin/env python3
"""Named tensors of a hardy-hpc checkpoint (format "hardy-ckpt", docs/CHECKPOINTS.md) with h5py.

The flat float32 arrays (/model/params, /model/best_params, /optimizer/adam_m, /optimizer/adam_v)
hold every tensor of the model back to back; /model/index/{name,offset,rank,shape} says where
each one lives. This module resolves a checkpoint argument like the C side (a file, a
directory with a `latest` pointer, or DIR/latest / DIR/best), reads tensors by name, and can
recompute the stored checksums (XXH64 over 1 MiB blocks, when the system libxxhash is present).

    ckpt_tensor.py CKPT --list                      names, shapes, offsets
    ckpt_tensor.py CKPT NAME [NAME ...] [--array adam_m] [--npz out.npz]
    ckpt_tensor.py CKPT --info                      position, provenance, tables
    ckpt_tensor.py CKPT --verify                    recompute the array checksums

From Python:  import ckpt_tensor; with ckpt_tensor.open_checkpoint(p) as f:
                  w = ckpt_tensor.read_tensor(f, "expert.a.layer0.attn.in_proj.weight")
Exit status 2 on a bad argument or a file that is not a hardy checkpoint.
"""

import argparse
import ctypes
import ctypes.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardy_deps  # noqa: E402  (the install hint before the imports it guards)

hardy_deps.need("h5py", "numpy")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

FORMAT = "hardy-ckpt"
LAYOUT_VERSION = 1
ARRAYS = {
    "params": "/model/params",
    "best_params": "/model/best_params",
    "adam_m": "/optimizer/adam_m",
    "adam_v": "/optimizer/adam_v",
}
CHECKSUM_ATTR = {
    "params": "checksum_params",
    "best_params": "checksum_best_params",
    "adam_m": "checksum_adam_m",
    "adam_v": "checksum_adam_v",
}
BLOCK_FLOATS = 1 << 18  # the C side's checksum block (1 MiB)
EXIT_INPUT = 2


class CheckpointError(Exception):
    """A checkpoint argument that cannot be used; the message names the file."""


def resolve(where):
    """A checkpoint file path from a file, a directory (its `latest`, or `best` when a finished
    job kept only its final models) or DIR/latest|best."""
    if os.path.isdir(where):
        pointer_dir = where
        pointer = "latest" if os.path.exists(os.path.join(where, "latest")) else "best"
    elif os.path.basename(where) in ("latest", "best"):
        pointer_dir, pointer = os.path.dirname(where) or ".", os.path.basename(where)
    else:
        if not os.path.exists(where):
            raise CheckpointError(f"{where}: no such checkpoint file")
        return where
    pointer_path = os.path.join(pointer_dir, pointer)
    if not os.path.exists(pointer_path):
        raise CheckpointError(f"{where}: no checkpoint ({pointer_path} is missing)")
    with open(pointer_path) as fh:
        name = fh.readline().strip()
    path = os.path.join(pointer_dir, name)
    if not name or not os.path.exists(path):
        raise CheckpointError(f"{pointer_path} names {path!r}, which does not exist")
    return path


def _text(value):
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def open_checkpoint(where):
    """Open read-only and check format and layout version; returns an h5py.File."""
    path = resolve(where)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise CheckpointError(f"{path}: cannot open as HDF5 ({e})") from None
    fmt = _text(f.attrs.get("format", b""))
    if fmt != FORMAT:
        f.close()
        raise CheckpointError(f"{path}: format is {fmt!r}, not a hardy checkpoint ({FORMAT!r})")
    layout = int(f.attrs["layout_version"])
    if layout != LAYOUT_VERSION:
        f.close()
        raise CheckpointError(f"{path}: layout version {layout}, this reader knows {LAYOUT_VERSION}")
    return f


def index(f):
    """{name: (offset, shape)} of every tensor, in arena order."""
    names = [_text(n).rstrip("\0") for n in f["/model/index/name"][()]]
    offsets = f["/model/index/offset"][()]
    ranks = f["/model/index/rank"][()]
    shapes = f["/model/index/shape"][()]
    out = {}
    for name, off, rank, shape in zip(names, offsets, ranks, shapes):
        out[name] = (int(off), tuple(int(s) for s in shape[:rank]))
    return out


def read_tensor(f, name, array="params"):
    """The tensor `name` of one flat array as a numpy array of its shape (reads only its bytes)."""
    if array not in ARRAYS or ARRAYS[array] not in f:
        raise CheckpointError(f"{f.filename}: no array {array!r} (have "
                              f"{[a for a, p in ARRAYS.items() if p in f]})")
    entries = index(f)
    if name not in entries:
        close = [n for n in entries if name.split(".")[0] in n][:5]
        raise CheckpointError(f"{f.filename}: no tensor {name!r}; e.g. {close}")
    offset, shape = entries[name]
    count = int(np.prod(shape)) if shape else 1
    return f[ARRAYS[array]][offset:offset + count].reshape(shape)


def _xxh64():
    lib = ctypes.util.find_library("xxhash")
    if not lib:
        return None
    xx = ctypes.CDLL(lib)
    xx.XXH64.restype = ctypes.c_uint64
    xx.XXH64.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64]
    return xx.XXH64


def checksum(f, array):
    """Recompute an array's stored checksum: sum mod 2^64 of XXH64(block b, seed b) over its
    1 MiB blocks. None when libxxhash is not installed."""
    xxh64 = _xxh64()
    if xxh64 is None:
        return None
    data = f[ARRAYS[array]]
    total = 0
    for b, start in enumerate(range(0, data.shape[0], BLOCK_FLOATS)):
        block = np.ascontiguousarray(data[start:start + BLOCK_FLOATS], dtype="<f4")
        total = (total + xxh64(block.ctypes.data, block.nbytes, b)) % (1 << 64)
    return total


def info(f):
    """The scalar attributes and texts as a dict."""
    out = {k: (_text(v) if isinstance(v, (bytes, np.bytes_)) else v.item())
           for k, v in f.attrs.items()}
    for key in ("config_text", "data_path", "best_metrics_json", "results_json"):
        out[key] = _text(f["/meta/" + key][()])
    if "/meta/standardize_json" in f:  # feature statistics (absent in older checkpoints)
        out["standardize_json"] = _text(f["/meta/standardize_json"][()])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="checkpoint file, directory, or DIR/latest | DIR/best")
    ap.add_argument("names", nargs="*", help="tensor names to print")
    ap.add_argument("--array", default="params", choices=sorted(ARRAYS))
    ap.add_argument("--list", action="store_true", help="list tensors")
    ap.add_argument("--info", action="store_true", help="print attributes and texts")
    ap.add_argument("--verify", action="store_true", help="recompute array checksums")
    ap.add_argument("--npz", help="save the named tensors (or all with --list) to this file")
    args = ap.parse_args(argv)
    try:
        with open_checkpoint(args.checkpoint) as f:
            entries = index(f)
            if args.info:
                for k, v in info(f).items():
                    print(f"{k}: {v}")
            if args.list:
                for name, (off, shape) in entries.items():
                    print(f"{name}\t{list(shape)}\toffset {off}")
            if args.verify:
                for array, h5path in ARRAYS.items():
                    if h5path not in f:
                        continue
                    got, want = checksum(f, array), int(f.attrs[CHECKSUM_ATTR[array]])
                    if got is None:
                        print("libxxhash not found: cannot verify")
                        break
                    print(f"{h5path}: {'ok' if got == want else 'MISMATCH'}")
                    if got != want:
                        return EXIT_INPUT
            tensors = {n: read_tensor(f, n, args.array) for n in args.names}
            for name, t in tensors.items():
                print(f"{name} {list(t.shape)}: {np.array2string(t.ravel()[:8], precision=5)}"
                      f"{' ...' if t.size > 8 else ''}")
            if args.npz:
                np.savez(args.npz, **(tensors or {n: read_tensor(f, n, args.array) for n in entries}))
    except CheckpointError as e:
        print(f"ckpt_tensor: {e}", file=sys.stderr)
        return EXIT_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
