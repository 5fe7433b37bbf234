#!/bin/bash
# Rank-count invariance: the same job (teacher, stage 1, hardness + retrieval, curriculum
# stage 2; a few steps each) at 1, 2, 3 and 4 ranks gives the same per-epoch losses within
# 1e-4 relative and the same final parameters within 2e-4 absolute (only the summation order
# of the gradient allreduce differs); at the same rank count two runs are bitwise equal. The
# per-epoch utterance counts prove every rank took part in every step and the union of the
# ranks' batches is the whole plan (each training utterance once per view).
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
sed -i 's/stage2_epochs = 3/stage2_epochs = 2/; s/stage1_epochs = 2/stage1_epochs = 1/' t.ini
for n in 1 2 3 4; do
  run_mpi $n train t.ini --out r$n --quiet || fail "run at $n ranks"
done
run_mpi 2 train t.ini --out r2b --quiet || fail "second run at 2 ranks"
check "2 ranks twice: bitwise equal parameters" same_params r2/checkpoints/at-final.h5 r2b/checkpoints/at-final.h5
n_train=$("$HARDY_BIN" inspect d.h5 --json | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['splits']['train']['utterances'])")
for n in 2 3 4; do
  check "$n ranks vs 1: parameters within 2e-4" same_params r1/checkpoints/at-final.h5 r$n/checkpoints/at-final.h5 2e-4
  check "$n ranks vs 1: losses within 1e-4 relative" "$PYTHON" - r1/metrics.jsonl r$n/metrics.jsonl "$n_train" <<'PY'
import json, sys
def epochs(path):
    out = {}
    for line in open(path):
        j = json.loads(line)
        if j.get("phase") in ("teacher_warmup", "teacher", "stage1", "stage2"):
            out[(j["phase"], j["epoch"])] = j
    return out
a, b, n_train = epochs(sys.argv[1]), epochs(sys.argv[2]), int(sys.argv[3])
assert a.keys() == b.keys(), (a.keys(), b.keys())
bad = 0
for k in a:
    la, lb = a[k]["loss"], b[k]["loss"]
    if abs(la - lb) > 1e-4 * abs(la) + 1e-7:
        print("  loss differs", k, la, lb); bad += 1
    if a[k]["steps"] != b[k]["steps"]:
        print("  steps differ", k); bad += 1
    views = 4 if k[0] == "stage2" else 1   # K = 3 neighbour views + the utterance itself
    if b[k]["utterances"] != n_train * views:
        print("  utterances", k, b[k]["utterances"], "expected", n_train * views); bad += 1
sys.exit(1 if bad else 0)
PY
done
finish
