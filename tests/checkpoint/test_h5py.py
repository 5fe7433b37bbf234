"""Checks of a checkpoint written by `test_ckpt_writer write DIR 0 5 1 model` (step 5, a small
real model's tensor index, value(step, j, array) in every array) from Python with h5py."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ["SOURCE_DIR"], "analysis"))
import ckpt_tensor  # noqa: E402

STEP = 5


def value(j, array):
    """test_ckpt_writer.c value(): exact in float32."""
    return ((STEP * 1000 + j % 997).astype(np.float32) * np.float32(0.5)
            + np.float32(0.125) * np.float32(array))


def main(where):
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    with ckpt_tensor.open_checkpoint(where) as f:
        entries = ckpt_tensor.index(f)
        meta = ckpt_tensor.info(f)
        check(meta["global_step"] == STEP and meta["nranks"] == 2, f"attributes {meta}")
        check(meta["data_path"] == "/data/iemocap4.h5", f"data_path {meta['data_path']!r}")
        check(meta["config_text"].startswith("[train]"), "config text")
        n_params = f["/model/params"].shape[0]
        # tensors lie inside the arena without overlapping (the arena may pad between them)
        spans = sorted((o, o + (int(np.prod(s)) if s else 1)) for o, s in entries.values())
        check(all(a[1] <= b[0] for a, b in zip(spans, spans[1:])) and spans[-1][1] <= n_params,
              "index entries overlap or run past the arena")
        wanted = [n for n in entries if n.startswith("expert.a.layer0.")]
        check(len(wanted) > 0, f"no expert.a.layer0.* tensor in {list(entries)[:8]}")
        for name in wanted:
            offset, shape = entries[name]
            for array_no, array in enumerate(("params", "adam_m", "adam_v", "best_params")):
                t = ckpt_tensor.read_tensor(f, name, array)
                j = np.arange(offset, offset + t.size)
                check(t.shape == shape, f"{name} shape {t.shape} != {shape}")
                check(np.array_equal(t.ravel(), value(j, array_no)), f"{name} {array} values")
        for array in ckpt_tensor.ARRAYS:
            got = ckpt_tensor.checksum(f, array)
            want = int(f.attrs[ckpt_tensor.CHECKSUM_ATTR[array]])
            check(got is None or got == want, f"{array} checksum {got} != {want}")
        print(f"{len(wanted)} tensors of expert.a.layer0 read by name, e.g. {wanted[0]} "
              f"{list(entries[wanted[0]][1])}; checksums "
              f"{'verified' if ckpt_tensor.checksum(f, 'params') is not None else 'skipped'}")
    try:
        ckpt_tensor.open_checkpoint(os.path.join(where, "nothing.h5"))
        failures.append("a missing file was accepted")
    except ckpt_tensor.CheckpointError:
        pass
    for fail in failures:
        print("FAIL:", fail)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
