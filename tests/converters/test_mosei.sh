# GCNet MOSEI layout: video ids containing '_' grouped through videoIDs only, float labels,
# numpy videoSentences, train/valid/test lists, one-hot speakers; a missing visual file with
# and without --allow-missing.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gcnet() { # DIR OUT [extra...]
  local d=$1 out=$2
  shift 2
  "$PYTHON" "$A/convert_gcnet.py" --dataset mosei --labels "$d/labels.pkl" --audio "$d/audio" \
    --text "$d/text" --visual "$d/visual" --out "$out" "$@"
}

"$PYTHON" "$T/fixtures.py" mosei "$W/ok"
gcnet "$W/ok" "$W/mosei.h5"
"$PYTHON" "$T/check.py" mosei "$W/mosei.h5"
inspect_ok "$W/mosei.h5"

"$PYTHON" "$T/fixtures.py" mosei "$W/missing" missing
expect_input_error "missing feature file|visual/abc_1.npy" gcnet "$W/missing" "$W/refused.h5"
gcnet "$W/missing" "$W/missing.h5" --allow-missing
"$PYTHON" "$T/check.py" mosei "$W/missing.h5" missing
inspect_ok "$W/missing.h5"

expect_input_error "expected a list of 6" \
  "$PYTHON" "$A/convert_gcnet.py" --dataset iemocap4 --labels "$W/ok/labels.pkl" \
  --audio "$W/ok/audio" --text "$W/ok/text" --visual "$W/ok/visual" --out "$W/refused.h5"
