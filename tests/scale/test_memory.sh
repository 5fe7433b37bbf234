#!/bin/bash
# Memory per rank follows the rank's share of the batch: at a fixed global batch (32
# dialogues of an IEMOCAP-shaped set, up to 110 utterances each), the peak resident memory
# that metrics.jsonl reports (max and mean over ranks, getrusage ru_maxrss) falls from 1 to 2
# to 4 ranks, and at 4 ranks is at most 65% of the 1-rank peak (measured: 133 / 85 / 61 MiB).
source "$SOURCE_DIR/tests/train/lib.sh"
run_mpi 2 synth --out d.h5 --utterances 3000 --dims 64,96,48 --classes 4 --folds 0 --seed 7 \
  --shape iemocap >/dev/null 2>&1 || { echo "synth failed"; exit 1; }
write_cfg t.ini d.h5
sed -i 's/hidden = 32/hidden = 64/; s/depth = 1/depth = 2/; s/batch_dialogues = 4/batch_dialogues = 32/' t.ini
short="--set curriculum.enabled=false --set train.stage1_epochs=1 --set train.stage2_epochs=1 --set train.max_steps=2"
for n in 1 2 4; do
  run_mpi $n train t.ini $short --out r$n --quiet || fail "train at $n ranks"
done
check "peak memory per rank falls with ranks at a fixed batch" "$PYTHON" - r1 r2 r4 <<'PY'
import json, sys
peak = {}
for d in sys.argv[1:]:
    lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    last = [j for j in lines if "rss_peak_max_mib" in j][-1]
    peak[d] = (last["rss_peak_max_mib"], last["rss_peak_mean_mib"])
    print(f"  {d}: peak RSS max {peak[d][0]:.1f} MiB, mean {peak[d][1]:.1f} MiB")
    assert 0 < peak[d][1] <= peak[d][0] + 1e-9, "mean above max"
mx = [peak[d][0] for d in sys.argv[1:]]
assert mx[0] > mx[1] > mx[2], mx
assert mx[2] <= 0.65 * mx[0], f"4 ranks {mx[2]:.1f} MiB > 65% of 1 rank {mx[0]:.1f} MiB"
PY
finish
