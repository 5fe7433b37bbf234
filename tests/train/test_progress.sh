#!/bin/bash
# Logs a person can follow: with run.progress_seconds = 0 every step prints a progress line.
# Its loss is the epoch's running value over every rank (the epoch line's formula): at the last
# step of an epoch it equals metrics.jsonl's epoch loss, and at 2 ranks every step's value equals
# the 1-rank run's (summation order only). Lines carry a UTC timestamp, the run position and a
# job-level ETA; an error prints cause and fix without source locations unless HARDY_DEBUG=1.
source "$(dirname "$0")/lib.sh"
make_data d.h5
write_cfg t.ini d.h5
sed -i 's/progress_seconds = 600/progress_seconds = 0/; s/stage2_epochs = 3/stage2_epochs = 2/' t.ini
run_mpi 1 train t.ini --out r1 2>r1.log || fail "run at 1 rank"
run_mpi 2 train t.ini --out r2 2>r2.log || fail "run at 2 ranks"
check "progress losses: epoch ends equal metrics.jsonl, 2 ranks equal 1 rank" "$PYTHON" - <<'PY'
import json, re, sys
pat = re.compile(r"^hardy: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \[(\w+) (\S+)\] \d+/\d+ steps .*"
                 r"epoch (\d+)/\d+ step (\d+)/(\d+) loss ([\d.]+) \| run (\d+)/(\d+) \| job \d+% ETA")
def lines(path):
    out = []
    for l in open(path):
        m = pat.match(l)
        if m:
            out.append((m[2], m[3], int(m[4]), int(m[5]), int(m[6]), float(m[7]), m[8], m[9]))
    return out
ok = True
for n in (1, 2):
    got = lines(f"r{n}.log")
    epochs = {(j["phase"], j["epoch"]): j["loss"] for j in map(json.loads, open(f"r{n}/metrics.jsonl"))
              if "epoch" in j and "loss" in j}
    ends = [(p, e, loss) for p, _, e, s, ns, loss, _, _ in got if s == ns]
    worst = max(abs(loss - epochs[(p, e)]) for p, e, loss in ends)
    print(f"  {n} rank(s): {len(got)} progress lines, {len(ends)} epoch ends, "
          f"max |progress - epoch loss| = {worst:.2g} (tol 6e-5: 4 printed decimals)")
    ok &= len(ends) == len(epochs) and worst <= 6e-5 and all(r == "1" and t == "1" for *_, r, t in got)
a, b = lines("r1.log"), lines("r2.log")
diff = max(abs(x[5] - y[5]) for x, y in zip(a, b)) if len(a) == len(b) else 9
print(f"  2 ranks vs 1 rank, every step: max |diff| = {diff:.2g} (tol 3e-4)")
ok &= len(a) == len(b) > 0 and diff <= 3e-4
sys.exit(0 if ok else 1)
PY
out=$(run_mpi 2 train t.ini --out r1 2>&1)
check "error leads with cause and fix" grep -q "^hardy: error: rank 0: output directory r1 already holds a run: pass --resume" <<<"$out"
check "no source locations by default" bash -c '! grep -q "  at .*\.c:[0-9]" <<<"$1"' _ "$out"
out=$(HARDY_DEBUG=1 run_mpi 2 train t.ini --out r1 2>&1)
check "HARDY_DEBUG=1 adds source locations" grep -q "  at cmd_train.c:[0-9]*" <<<"$out"
finish
