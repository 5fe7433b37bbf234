#!/usr/bin/env python3
"""FAISS IndexFlatL2 baseline for `hardy-hpc bench knn`: the same sizes, k and thread counts,
uniform [0, 1) float32 data, search time only (best of --repeat runs after a warm-up).
Prints one JSON object: {"faiss_version", "runs": [{nq, nb, d, k, threads, seconds,
queries_per_s, gflops}]}. Run with /usr/bin/python3 (Debian's python3-faiss)."""
import argparse
import json
import time

import faiss
import numpy as np

FULL = [(4400, 4400, 1536), (4400, 4400, 2560), (4096, 100000, 1024)]
QUICK = [(600, 900, 256), (300, 3000, 128)]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", action="append", default=[],
                    help="NQxNBxD, repeatable; replaces the default sizes")
    ap.add_argument("--json", help="also write the result to this file")
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    runs = []
    for threads in [int(t) for t in args.threads.split(",")]:
        faiss.omp_set_num_threads(threads)
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.size]
        for nq, nb, d in sizes or (QUICK if args.quick else FULL):
            xb = rng.random((nb, d), dtype=np.float32)
            xq = rng.random((nq, d), dtype=np.float32)
            index = faiss.IndexFlatL2(d)
            index.add(xb)
            index.search(xq[:64], args.k)  # warm-up
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                index.search(xq, args.k)
                best = min(best, time.perf_counter() - t0)
            runs.append({"nq": nq, "nb": nb, "d": d, "k": args.k, "threads": threads,
                         "seconds": best, "queries_per_s": nq / best,
                         "gflops": 2.0 * nq * nb * d / best * 1e-9})
            print(f"faiss nq={nq} nb={nb} d={d} threads={threads}: {best:.3f} s, "
                  f"{nq / best:.0f} queries/s, {2.0 * nq * nb * d / best * 1e-9:.1f} GFLOP/s",
                  flush=True)
    out = {"faiss_version": faiss.__version__, "runs": runs}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
