#!/usr/bin/env python3
"""Brute-force reference for `hardy-hpc knn` output: recompute the neighbour table of the
selected split in float64 with numpy (mu_m as the mean over all distinct pairs, distance
s(i, j) of docs/ALGORITHM.md, order by (float32 distance, id), self excluded) using the masks the
program recorded, and compare: ids exactly, distances within 1e-5 + 1e-4 relative.
usage: check_knn.py DATA.h5 NEIGHBORS.h5 SPLIT(0|1|2) [EMBEDDINGS.h5]"""
import sys

import h5py
import numpy as np


def pair_mean(x, cosine):
    if cosine:
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    sq = (x * x).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
    if cosine:
        d *= 0.5
    n = len(x)
    return d, d.sum() / (n * (n - 1))


def main():
    data, out, split = sys.argv[1], sys.argv[2], int(sys.argv[3])
    emb = sys.argv[4] if len(sys.argv) > 4 else None
    with h5py.File(data, "r") as f:
        offset = f["dialogue/offset"][:]
        dsplit = f["dialogue/split"][:]
        ids = np.concatenate([np.arange(offset[d], offset[d + 1])
                              for d in range(len(dsplit)) if dsplit[d] == split])
        feats = [f["features/" + m][:].astype(np.float64)[ids] for m in ("audio", "text", "visual")]
    cosine = [False, True, False]
    if emb:
        with h5py.File(emb, "r") as f:
            eid, z = f["embeddings/id"][:], f["embeddings/z"][:].astype(np.float64)
        rows = np.searchsorted(eid, ids)
        feats = [z[rows, m, :] for m in range(3)]
        cosine = [False, False, False]
    with h5py.File(out, "r") as f:
        g = f["neighbors"]
        got_id, got_dist = g["id"][:], g["dist"][:]
        qid, mask = g["query_id"][:], g["mask"][:]
        k = int(g.attrs["k"])
        cond = g.attrs.get("condition")
    assert np.array_equal(qid, ids), "query_id differs from the split's utterances in order"
    assert got_id.shape == (len(ids), k), got_id.shape
    if cond is not None:
        bits = sum(1 << "atv".index(c) for c in (cond.decode() if isinstance(cond, bytes) else cond))
        assert (mask == bits).all(), "masks differ from the fixed condition"
    assert ((mask >= 1) & (mask <= 7)).all(), "a query without modalities"
    dists = []
    for m in range(3):
        d, mu = pair_mean(feats[m], cosine[m])
        dists.append(np.maximum(d, 0.0) / mu)
    n = len(ids)
    bad = 0
    for i in range(n):
        present = [m for m in range(3) if mask[i] >> m & 1]
        s = sum(dists[m][i] for m in present) / len(present)
        order = [j for j in np.lexsort((ids, s.astype(np.float32))) if j != i][:k]
        want_id = np.full(k, -1, np.int64)
        want_dist = np.full(k, np.inf)
        want_id[:len(order)] = ids[order]
        want_dist[:len(order)] = s[order]
        real = want_id >= 0
        if not np.array_equal(want_id, got_id[i]) or not np.allclose(
                got_dist[i][real], want_dist[real], rtol=1e-4, atol=1e-5) or \
                not np.isinf(got_dist[i][~real]).all():
            bad += 1
            if bad <= 3:
                print(f"query {ids[i]}: got {got_id[i]} {got_dist[i]}, want {want_id} {want_dist}")
    print(f"check_knn: {n} queries, k {k}, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
