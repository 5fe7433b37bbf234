#!/bin/bash
# The kNN benchmark beside FAISS: hardy at 1 rank (1 and 2 threads) and at 2 ranks (1 thread
# each), FAISS IndexFlatL2 on the same sizes and threads, then a summary: hardy / FAISS
# throughput, distance-kernel share of the sgemm peak, 2-rank scaling efficiency against twice
# the 1-rank throughput, and the allreduce share at 2 ranks.
# usage: bench/knn.sh [BUILD_DIR (build)] [OUT_DIR (BUILD_DIR/bench)] [--quick]
set -euo pipefail
BUILD=${1:-build}
OUT=${2:-$BUILD/bench}
QUICK=${3:-}
BIN="$BUILD/hardy-hpc"
PY=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe --bind-to none"
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "knn.sh: build first ($BIN missing)"; exit 2; }
"$PY" -c "import faiss" 2>/dev/null || { echo "knn.sh: needs python3-faiss (apt-get install -y python3-faiss)"; exit 2; }

$MPIRUN -n 1 -x OMP_NUM_THREADS=2 "$BIN" bench knn --threads 1,2 $QUICK --json "$OUT/knn_1rank.json"
$MPIRUN -n 2 -x OMP_NUM_THREADS=1 "$BIN" bench knn --threads 1 $QUICK --json "$OUT/knn_2rank.json"
"$PY" "$HERE/knn_faiss.py" --threads 1,2 $QUICK --json "$OUT/knn_faiss.json" >/dev/null

"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
one = json.load(open(f"{out}/knn_1rank.json"))["runs"]
two = json.load(open(f"{out}/knn_2rank.json"))["runs"]
faiss = json.load(open(f"{out}/knn_faiss.json"))["runs"]
key = lambda r: (r["nq"], r["nb"], r["d"])
summary = []
print(f"{'nq':>6} {'nb':>7} {'d':>5} {'thr':>3} {'hardy q/s':>10} {'faiss q/s':>10} {'ratio':>6} "
      f"{'kernel/peak':>11}")
for r in one:
    f = next(x for x in faiss if key(x) == key(r) and x["threads"] == r["threads"])
    ratio = r["queries_per_s"] / f["queries_per_s"]
    print(f"{r['nq']:>6} {r['nb']:>7} {r['d']:>5} {r['threads']:>3} {r['queries_per_s']:>10.0f} "
          f"{f['queries_per_s']:>10.0f} {ratio:>6.2f} {r['kernel_share_of_peak']:>11.2f}")
    summary.append({"nq": r["nq"], "nb": r["nb"], "d": r["d"], "threads": r["threads"],
                    "hardy_qps": r["queries_per_s"], "faiss_qps": f["queries_per_s"],
                    "ratio_vs_faiss": ratio, "kernel_share_of_peak": r["kernel_share_of_peak"]})
print("2 ranks x 1 thread vs twice 1 rank x 1 thread:")
for r in two:
    base = next(x for x in one if key(x) == key(r) and x["threads"] == 1)
    eff = r["queries_per_s"] / (2 * base["queries_per_s"])
    print(f"{r['nq']:>6} {r['nb']:>7} {r['d']:>5}: {r['queries_per_s']:.0f} q/s, efficiency "
          f"{eff:.2f}, allreduce {100 * r['allreduce_share']:.1f}%, gather "
          f"{100 * r['gather_share']:.1f}%, kernel/peak {r['kernel_share_of_peak']:.2f}")
    summary.append({"nq": r["nq"], "nb": r["nb"], "d": r["d"], "ranks": 2, "qps": r["queries_per_s"],
                    "scaling_efficiency": eff, "allreduce_share": r["allreduce_share"]})
json.dump(summary, open(f"{out}/knn_summary.json", "w"), indent=1)
PYEOF
