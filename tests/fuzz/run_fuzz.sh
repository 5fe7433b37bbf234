#!/bin/bash
# ctest's short fuzz run: TARGET SEEDS REGRESSIONS RUNS. Every seed and regression input is run
# once (each must pass), then RUNS mutations from the seeds in a scratch corpus. Prints the
# executions and the coverage libFuzzer reports.
set -u
shopt -s nullglob
# Open MPI and HDF5 keep allocations until exit that LeakSanitizer reports against the last
# input; leaks are therefore not checked here (the ASan build of the unit tests checks ours).
export ASAN_OPTIONS=detect_leaks=0
target=$1 seeds=$2 regressions=$3 runs=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inputs=("$seeds"/*)
[ -d "$regressions" ] && inputs+=("$regressions"/*)
"$target" -runs=0 -detect_leaks=0 "${inputs[@]}" >"$work/replay.log" 2>&1 || {
  tail -40 "$work/replay.log"; echo "FAIL: a seed or regression input fails"; exit 1; }
echo "replayed ${#inputs[@]} seed and regression inputs"
mkdir "$work/corpus" && cp "$seeds"/* "$work/corpus/"
"$target" -runs="$runs" -seed=1 -detect_leaks=0 -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$PWD/" "$work/corpus" >"$work/fuzz.log" 2>&1
rc=$?
grep -E "^stat::number_of_executed_units|^stat::peak_rss|cov: " "$work/fuzz.log" | tail -3
if [ $rc != 0 ]; then
  tail -60 "$work/fuzz.log"
  echo "FAIL: the fuzzer found a failing input (kept in $PWD as crash-*/leak-*/timeout-*;"
  echo "      after fixing, add it to $regressions)"
  exit 1
fi
echo "ok: $runs mutations, no crash"
