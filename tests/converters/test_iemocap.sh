# GCNet IEMOCAP-4 layout: pooling of [T, D] audio, speaker-own face files, folds from the
# session digits, trainVid/testVid splits; refused inputs (missing file, duplicate id,
# inconsistent dimension, wrong pickle shape); --allow-missing marks /utterance/present.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gcnet() { # DIR DATASET OUT [extra...]
  local d=$1 ds=$2 out=$3
  shift 3
  "$PYTHON" "$A/convert_gcnet.py" --dataset "$ds" --labels "$d/labels.pkl" --audio "$d/audio" \
    --text "$d/text" --visual "$d/visual" --out "$out" "$@"
}

"$PYTHON" "$T/fixtures.py" iemocap "$W/ok"
gcnet "$W/ok" iemocap4 "$W/iemocap4.h5"
"$PYTHON" "$T/check.py" iemocap "$W/iemocap4.h5"
inspect_ok "$W/iemocap4.h5"

gcnet "$W/ok" iemocap6 "$W/iemocap6.h5"
"$PYTHON" -c "import h5py, sys; f = h5py.File(sys.argv[1]); \
assert list(f.attrs['class_names']) == ['hap', 'sad', 'neu', 'ang', 'exc', 'fru']" "$W/iemocap6.h5"
echo "ok: iemocap6 class names"

"$PYTHON" "$T/fixtures.py" iemocap "$W/missing" missing
expect_input_error "missing feature file|audio/Ses01F_impro01_M000.npy|--allow-missing" \
  gcnet "$W/missing" iemocap4 "$W/refused.h5"
gcnet "$W/missing" iemocap4 "$W/missing.h5" --allow-missing
"$PYTHON" "$T/check.py" iemocap "$W/missing.h5" missing
inspect_ok "$W/missing.h5"

"$PYTHON" "$T/fixtures.py" iemocap "$W/dup" dup
expect_input_error "duplicate utterance id|Ses01F_impro01_F000 appears 2 times" \
  gcnet "$W/dup" iemocap4 "$W/refused.h5"

"$PYTHON" "$T/fixtures.py" iemocap "$W/baddim" baddim
expect_input_error "inconsistent feature dimension|Ses02M_script01_1_F000.npy: D = 5" \
  gcnet "$W/baddim" iemocap4 "$W/refused.h5"

expect_input_error "expected a list of 7" gcnet "$W/ok" mosei "$W/refused.h5"
