# The analysis scripts on runs the real program writes: a tiny synthetic dataset, curriculum
# on / off, seeds 1-2, conditions at and tv, one rank. aggregate.py's per-seed values must
# equal the per-condition means hardy-hpc itself stores in results.json, and both plot
# scripts must draw the runs (tests/analysis/check_real_runs.py).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${HARDY_BIN:?}"
cd "$W"
"$HARDY_BIN" synth --out d.h5 --utterances 400 --dims 16,24,12 --classes 4 \
  --task classification --folds 0 --seed 7 --shape iemocap >/dev/null
cat >c.ini <<'INI'
[data]
path = d.h5
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
    "$HARDY_BIN" train c.ini --set run.seed=$seed --set curriculum.enabled=$enabled \
      --out "runs/$enabled-s$seed" --quiet
  done
done
"$PYTHON" "$T/check_real_runs.py" "$A" "$W/runs" "$W"
png_ok 500 350 "$W/plots/conditions.png" "$W/plots/hardness.png"
png_ok 800 600 "$W/training.png"
