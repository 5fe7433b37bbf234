#!/usr/bin/env bash
# Training-step throughput of the hardy-hpc backbone beside its PyTorch twin, on the same
# batch shapes and thread counts, in one run. Prints both and the speed ratio per condition
# and thread count; writes bench/results/step.json (override with OUT=...).
#   HARDY_BIN=build/hardy-hpc THREADS=1,2 CONDITIONS=at,atv STEPS=8 bench/step.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${HARDY_BIN:-$here/../build/hardy-hpc}"
threads="${THREADS:-1,2}"
conditions="${CONDITIONS:-at,atv}"
steps="${STEPS:-8}"
out="${OUT:-$here/results/step.json}"
python="${PYTHON:-/usr/bin/python3}"
mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}  load: $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS=1 "$bin" bench step --threads "$threads" --conditions "$conditions" \
  --steps "$steps" --json "$tmp/hardy.json" | grep '^step'
"$python" "$here/torch_twin.py" --threads "$threads" --conditions "$conditions" \
  --steps "$steps" --json "$tmp/torch.json" | grep '^torch'
"$python" - "$tmp/hardy.json" "$tmp/torch.json" "$out" <<'PY'
import json, os, sys
hardy, torch = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda r: (r["condition"], r["threads"])
twin = {key(r): r for r in torch["runs"]}
rows = []
for r in hardy["runs"]:
    t = twin.get(key(r))
    ratio = r["utt_per_s"] / t["utt_per_s"] if t else None
    cpu_ratio = t["cpu_ms_per_step"] / r["cpu_ms_per_step"] if t else None
    rows.append({**{k: r[k] for k in ("condition", "threads", "utt_per_s", "step_ms",
                                      "executed_gflops", "sgemm_peak_gflops",
                                      "executed_share_of_peak")},
                 "torch_utt_per_s": t["utt_per_s"] if t else None, "speedup_vs_torch": ratio,
                 "cpu_ms_per_step": r["cpu_ms_per_step"],
                 "torch_cpu_ms_per_step": t["cpu_ms_per_step"] if t else None,
                 "cpu_time_speedup_vs_torch": cpu_ratio})
    print(f"condition={r['condition']:4s} threads={r['threads']}: hardy {r['utt_per_s']:7.0f} "
          f"utt/s, torch {t['utt_per_s']:7.0f} utt/s, ratio {ratio:.2f}x "
          f"(CPU time per step: {cpu_ratio:.2f}x)" if t else r)
res = {"benchmark": "step_vs_torch", "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
       "blas_core": hardy["blas_core"], "torch": torch["torch"],
       "loadavg": open("/proc/loadavg").read().split()[:3], "runs": rows}
json.dump(res, open(sys.argv[3], "w"), indent=1)
PY
echo "wrote $out"
