# The analysis scripts on runs the real program writes: a tiny synthetic dataset, curriculum
# on / off, seeds 1-2, conditions at and tv, one rank. aggregate.py's per-seed values must
# equal the per-condition means hardy-hpc itself stores in results.json, and both plot
# scripts must draw the runs (tests/analysis/check_real_runs.py).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${HARDY_BIN:?}"
cd "$W"
make_real_study "$W"
"$PYTHON" "$T/check_real_runs.py" "$A" "$W/runs" "$W"
png_ok 500 350 "$W/plots/conditions.png" "$W/plots/hardness.png"
png_ok 800 600 "$W/training.png"
