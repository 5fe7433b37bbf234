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

# make_real_study DIR: the small study of hardy-hpc train runs the real-run and report tests
# share: a synthetic dataset (400 utterances, 4 classes), curriculum on / off (hardy /
# uniform) x seeds 1-2 x conditions at and tv, one rank, a few seconds each.
make_real_study() {
  local dir=$1
  mkdir -p "$dir"
  "$HARDY_BIN" synth --out "$dir/d.h5" --utterances 400 --dims 16,24,12 --classes 4 \
    --task classification --folds 0 --seed 7 --shape iemocap >/dev/null
  cat >"$dir/c.ini" <<INI
[data]
path = $dir/d.h5
fold = none
[missing]
condition = at, tv
[model]
hidden = 16
depth = 1
heads = 2
decoder_hidden = 32
[train]
batch_dialogues = 8
lr = 1e-3
stage1_epochs = 1
stage2_epochs = 2
[teacher]
warmup_epochs = 1
epochs = 1
INI
  for seed in 1 2; do
    for enabled in false true; do
      "$HARDY_BIN" train "$dir/c.ini" --set run.seed=$seed --set curriculum.enabled=$enabled \
        --out "$dir/runs/$enabled-s$seed" --quiet
    done
  done
}
