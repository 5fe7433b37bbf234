# aggregate.py on the fixtures: means, stds, paired differences, terciles, missing runs,
# group-by, mixed datasets and input errors (tests/analysis/check_aggregate.py).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$PYTHON" "$T/check_aggregate.py" "$A/aggregate.py" "$FX" "$W"
