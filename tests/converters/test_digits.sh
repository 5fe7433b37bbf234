# Real data: scikit-learn's digits table from Debian's python3-sklearn package (apt-get
# download + dpkg -x, cached next to the build), three views of image rows 0-2 / 3-4 / 5-7.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cache=${HARDY_CACHE:-$PWD/data-cache}
bash "$A/fetch_digits.sh" "$W/digits.h5" "$cache" | tee "$W/log"
csv=$(sed -n 's/^digits table: //p' "$W/log")
"$PYTHON" "$T/check.py" digits "$W/digits.h5" "$csv"
inspect_ok "$W/digits.h5"
