# plot_training.py: a resumed metrics.jsonl (the repeated epoch's later line wins), a killed
# run's cut-off last line, the per-phase time split, and a valid drawn PNG
# (tests/analysis/check_training.py).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$PYTHON" "$T/check_training.py" "$A/plot_training.py" "$FX" "$W"
png_ok 800 600 "$W/resumed.png" "$W/killed.png"
