#!/bin/bash
# Fidelity points of issue 12, each measured (docs/ALGORITHM.md "Fidelity points, measured";
# docs/HARDNESS.md "Indirect-hardness pairings, measured"):
#   proj      the expert blocks' attention output projection: model.attn_out_proj true vs
#             false (the research code has none), test WA;
#   l2        text features L2-normalised per row before the model (the research code does
#             this) vs raw, test WA, by preprocessing a copy of the data (experiments/l2norm_copy.py);
#   hardness  Spearman correlation of the hardness score (and of its direct and indirect
#             parts) with the planted difficulty of synthetic data, for the four pairings of
#             hardness.estimator x hardness.mi_sign.
# Every part runs over SEEDS; finished runs are kept and skipped, so the script can be rerun.
#
#   experiments/fidelity.sh PART [BUILD_DIR] [OUT_DIR]
#   env: RANKS=1 SEEDS="1 2 3" DATASETS="digits synth" (add fmnist: a 12,000-image subset of
#        Fashion-MNIST; needs analysis/fetch_fashion_mnist.sh's download)
#        TRAIN_SETS: --set overrides of every proj / l2 run (default: uniform training, 5 + 10
#        epochs, the six conditions with a missing modality; the backbone is what is compared)
#
# Runs are small (hidden 64, a few epochs) and CPU-bound; the two arms of a comparison run side
# by side. On 2 cores shared with other work (load average above 50) proj and l2 took about 20
# minutes each, hardness about 15.
set -eu
PART=${1:?usage: fidelity.sh proj|l2|hardness [BUILD_DIR] [OUT_DIR]}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$SRC/build}
OUT=${3:-$SRC/out/fidelity}
RANKS=${RANKS:-1}
SEEDS=${SEEDS:-"1 2 3"}
DATASETS=${DATASETS:-"digits synth"}
TRAIN_SETS=${TRAIN_SETS:-"curriculum.enabled=false train.stage1_epochs=5 train.stage2_epochs=10 missing.condition=a,t,v,at,av,tv"}
SETS=()
for kv in $TRAIN_SETS; do SETS+=(--set "$kv"); done
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
MPI="mpirun --oversubscribe --bind-to none -n $RANKS"
HARDY=$BUILD/hardy-hpc
mkdir -p "$OUT/data"

# ---- datasets and their configurations ------------------------------------------------------
data_file() { # NAME -> path of the (raw) dataset, made on first use
  local f=$OUT/data/$1.h5
  if [ ! -f "$f" ]; then
    case $1 in
      digits) "$SRC/analysis/fetch_digits.sh" "$f" >&2 ;;
      synth) $MPI "$HARDY" synth --out "$f" --utterances 2000 --dims 64,96,48 --classes 4 \
               --folds 0 --seed 7 --strength 0.35,0.45,0.25 --sigma 0.5 >&2 ;;
      fmnist)
        [ -f "$OUT/data/fmnist-full.h5" ] ||
          "$SRC/analysis/fetch_fashion_mnist.sh" "$OUT/data/fmnist-full.h5" >&2
        "$PY" - "$OUT/data/fmnist-full.h5" "$f" <<'PYSUB' >&2 ;;
# every 5th training image and every 5th test image: 12,000 + 2,000, same schema
import sys, h5py, numpy as np
src, dst = h5py.File(sys.argv[1], "r"), sys.argv[2]
split = src["dialogue/split"][:]
keep = np.sort(np.concatenate([np.flatnonzero(split == s)[::5] for s in (0, 1, 2)]))
off = src["dialogue/offset"][:]
assert np.all(np.diff(off) == 1), "expects one utterance per dialogue"
with h5py.File(dst + ".tmp", "w") as f:
    for k, v in src.attrs.items(): f.attrs[k] = v
    f.attrs["source"] = str(src.attrs["source"]) + "; every 5th image per split"
    def walk(name, obj):
        if isinstance(obj, h5py.Dataset):
            data = obj[:] if name != "dialogue/offset" else np.arange(len(keep) + 1, dtype=np.int64)
            if name != "dialogue/offset": data = data[keep]
            f.create_dataset(name, data=data)
    src.visititems(walk)
import os; os.replace(dst + ".tmp", dst)
print(f"wrote {dst}: {len(keep)} images")
PYSUB
    esac
  fi
  echo "$f"
}

l2_file() { # NAME -> path of the copy with L2-normalised text rows
  local raw f=$OUT/data/$1-l2text.h5
  raw=$(data_file "$1")
  [ -f "$f" ] || "$PY" "$SRC/experiments/l2norm_copy.py" "$raw" "$f" >&2
  echo "$f"
}

config_file() { # NAME -> training configuration
  local f=$OUT/data/$1.ini
  case $1 in
    digits) cp "$SRC/configs/digits.ini" "$f" ;;
    fmnist) sed 's/^stage2_epochs = 15/stage2_epochs = 10/; s/^progress_seconds = 30/progress_seconds = 600/' \
              "$SRC/configs/fashion_mnist.ini" >"$f" ;;
    synth) cat >"$f" <<CFG
; the curriculum-effect data and configuration of experiments/effect.sh
[missing]
condition = a, t, v, at, av, tv
[run]
progress_seconds = 600
[model]
hidden = 64
depth = 2
heads = 2
dropout = 0.3
decoder_hidden = 128
[train]
batch_dialogues = 8
lr = 1e-3
stage1_epochs = 5
stage2_epochs = 10
[teacher]
warmup_epochs = 5
epochs = 5
CFG
      ;;
  esac
  printf '\n[checkpoint]\nevery_steps = 0\nevery_seconds = 0\n' >>"$f"
  echo "$f"
}

train_arm() { # DIR ARM DATA CONFIG [--set ...]
  local dir=$1 arm=$2 data=$3 cfg=$4 seed; shift 4
  for seed in $SEEDS; do
    [ -f "$dir/$arm-s$seed/results.json" ] && continue
    echo "== $(basename "$dir") $arm seed $seed" >&2
    $MPI "$HARDY" train "$cfg" --out "$dir/$arm-s$seed" --quiet --set data.path="$data" \
      --set run.seed="$seed" "${SETS[@]}" "$@"
  done
}

# ---- parts -----------------------------------------------------------------------------------
case $PART in
  proj)
    for ds in $DATASETS; do
      data=$(data_file "$ds"); cfg=$(config_file "$ds"); dir=$OUT/proj/$ds
      train_arm "$dir" no-proj "$data" "$cfg" --set model.attn_out_proj=false &
      train_arm "$dir" proj "$data" "$cfg" --set model.attn_out_proj=true
      wait
      echo "### attention output projection, $ds"
      "$PY" "$SRC/experiments/fidelity_table.py" "$dir" no-proj proj
    done ;;
  l2)
    for ds in $DATASETS; do
      data=$(data_file "$ds"); l2=$(l2_file "$ds"); cfg=$(config_file "$ds"); dir=$OUT/l2/$ds
      train_arm "$dir" raw "$data" "$cfg" &
      train_arm "$dir" l2text "$l2" "$cfg"
      wait
      echo "### text L2-normalisation, $ds"
      "$PY" "$SRC/experiments/fidelity_table.py" "$dir" raw l2text
    done ;;
  hardness)
    dir=$OUT/hardness; mkdir -p "$dir"
    for seed in $SEEDS; do
      data=$dir/synth-s$seed.h5
      [ -f "$data" ] || $MPI "$HARDY" synth --out "$data" --utterances 3000 --dims 32,48,24 \
        --classes 4 --folds 0 --seed $((20 + seed)) >&2
      cat >"$dir/h.ini" <<CFG
[missing]
condition = a, t, v, at, av, tv
[run]
progress_seconds = 600
[model]
hidden = 32
depth = 1
heads = 2
decoder_hidden = 64
[train]
batch_dialogues = 4
lr = 1e-3
[teacher]
warmup_epochs = 3
epochs = 6
[checkpoint]
every_steps = 0
every_seconds = 0
CFG
      for est in gaussian entropy; do
        (
          # the teacher does not depend on the sign: train it once, reuse it for the other sign
          first=$dir/$est-low_is_hard-s$seed
          for sign in low_is_hard high_is_hard; do
            out=$dir/$est-$sign-s$seed
            [ -f "$out/hardness-tv.h5" ] && continue
            reuse=()
            [ "$sign" = high_is_hard ] && reuse=(--set teacher.checkpoint="$first/teachers")
            echo "== hardness $est $sign seed $seed" >&2
            $MPI "$HARDY" hardness "$dir/h.ini" --out "$out" --quiet --set data.path="$data" \
              --set run.seed="$seed" --set hardness.estimator=$est --set hardness.mi_sign=$sign \
              "${reuse[@]}"
          done
        ) &
      done
      wait
    done
    echo "### hardness vs planted difficulty (Spearman), synthetic 3000 utterances"
    "$PY" - "$dir" $SEEDS <<'PYH'
import sys, statistics, h5py, numpy as np
d, seeds = sys.argv[1], sys.argv[2:]
conds = ["a", "t", "v", "at", "av", "tv"]
def ranks(x):
    r = np.empty(len(x)); r[np.argsort(x, kind="stable")] = np.arange(len(x)); return r
def rho(x, y): return float(np.corrcoef(ranks(x), ranks(y))[0, 1])
def ms(v): return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else float('nan'):.3f}"
print("| estimator | mi_sign | Spearman(score) | Spearman(indirect) | Spearman(direct) | "
      + " | ".join(f"score {c}" for c in conds) + " |")
print("|---|---|---|---|---|" + "---|" * len(conds))
for est in ("entropy", "gaussian"):
    for sign in ("high_is_hard", "low_is_hard"):
        per = {k: {s: [] for s in seeds} for k in ("score", "indirect", "direct")}
        cond = {c: [] for c in conds}
        for s in seeds:
            planted = h5py.File(f"{d}/synth-s{s}.h5", "r")["utterance/planted_hardness"][:]
            for c in conds:
                h = h5py.File(f"{d}/{est}-{sign}-s{s}/hardness-{c}.h5", "r")["hardness"]
                p = planted[h["id"][:]]
                for k in per: per[k][s].append(rho(h[k][:], p))
                cond[c].append(per["score"][s][-1])
        avg = {k: [statistics.mean(per[k][s]) for s in seeds] for k in per}
        print(f"| {est} | {sign} | **{ms(avg['score'])}** | {ms(avg['indirect'])} | "
              f"{ms(avg['direct'])} | " + " | ".join(ms(cond[c]) for c in conds) + " |")
PYH
    ;;
  *) echo "unknown part '$PART' (proj | l2 | hardness)" >&2; exit 2 ;;
esac
