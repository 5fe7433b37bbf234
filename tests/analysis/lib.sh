# Shared by the analysis test scripts: paths, a scratch folder removed on exit, the fixture
# run directories of make_fixtures.py in $FX, and png_ok, which checks a written plot.
set -euo pipefail
: "${PYTHON:=/usr/bin/python3}" "${SOURCE_DIR:?}"
A=$SOURCE_DIR/analysis
T=$SOURCE_DIR/tests/analysis
W=$(mktemp -d --suffix=.hardy-analysis)
trap 'rm -rf "$W"' EXIT
export MPLBACKEND=Agg
FX=$W/fixtures
"$PYTHON" "$T/make_fixtures.py" "$FX"

# png_ok MIN_WIDTH MIN_HEIGHT FILE...: PNGs of at least that size with drawn content.
png_ok() {
  "$PYTHON" "$T/check_png.py" "$@"
}
