# MMSA aligned pickle: mean over valid frames only (padding holds 999), text frames from the
# text_bert mask, clips ordered numerically, '$_$' ids; a video in two splits and a vision
# length of 0 are refused; --allow-missing marks the zero-length modality.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mmsa() { "$PYTHON" "$A/convert_mmsa.py" --dataset mosi --pkl "$1/aligned_50.pkl" --out "$2" "${@:3}"; }

"$PYTHON" "$T/fixtures.py" mmsa "$W/ok"
mmsa "$W/ok" "$W/mmsa.h5"
"$PYTHON" "$T/check.py" mmsa "$W/mmsa.h5"
inspect_ok "$W/mmsa.h5"

"$PYTHON" "$T/fixtures.py" mmsa "$W/cross" cross
expect_input_error "video in two splits|'vidA': train and test" mmsa "$W/cross" "$W/refused.h5"

"$PYTHON" "$T/fixtures.py" mmsa "$W/empty" empty
expect_input_error "length 0|valid/vision 'vidC\$_\$7'" mmsa "$W/empty" "$W/refused.h5"
mmsa "$W/empty" "$W/empty.h5" --allow-missing
"$PYTHON" "$T/check.py" mmsa "$W/empty.h5" empty
inspect_ok "$W/empty.h5"
