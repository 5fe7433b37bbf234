#!/bin/bash
# NaN/Inf guard: a non-finite loss on one rank (HARDY_FAULT=rank:R:nan:STEP[:COUNT]) is agreed
# in the step's own allreduce; the step is skipped on every rank with one warning naming the
# rank and the batch's global utterance ids; train.max_nonfinite_steps consecutive skips stop
# the run with exit 3 on every rank after a checkpoint of the last good parameters, from which
# the run resumes.
source "$(dirname "$0")/lib.sh"
make_tiny d.h5
write_tiny_cfg t.ini d.h5

# one poisoned step on rank 1: skipped, warned once, the run completes
run_ranks 2 one 120 rank:1:nan:3 train t.ini --out one
check "one NaN step: exit 0 on both ranks (mpirun $RC, ${SECS}s)" same_rank_codes one 2 0
n=$(grep -c 'non-finite loss on rank 1; step skipped (1 in a row' one.log)
check "one NaN step: exactly one warning naming rank 1 ($n)" [ "$n" = 1 ]
ids=$(grep -m1 'non-finite loss on rank 1' one.log | sed 's/.*global ids) //')
check "the warning names the batch's global utterance ids ($ids)" grep -Eq '^[0-9]+-[0-9]+(, [0-9]+-[0-9]+)*$' <<<"$ids"
check "one NaN step: status done" [ "$(json_get one/status.json 'j["state"]')" = done ]
check "one NaN step: finite results" "$PYTHON" -c "
import json, math; j = json.load(open('one/results.json')); assert math.isfinite(j['test']['wa'])"

# rank 1 poisons every step from step 3: steps 3, 4 (teacher) and 5 (stage 1) are skipped, the
# run stops at the third with a checkpoint whose student parameters are still those of the
# checkpoint written before stage 1 began (step 4): no skipped step touched them
run_ranks 2 stop2 120 rank:1:nan:3:0 train t.ini --out stop2 --set train.max_nonfinite_steps=3
check "2 ranks, NaN every step: exit 3 everywhere within ${SECS}s" failed_alike stop2 2 3
check "2 ranks: the error names rank 1 and the cause" grep -q "3 consecutive steps had a non-finite loss or gradient (the last: the loss on rank 1)" stop2.log
check "2 ranks: status.json says exit 3" [ "$(json_get stop2/status.json 'j["exit_code"]')" = 3 ]
check "2 ranks: latest is the stop checkpoint" [ "$(cat stop2/checkpoints/latest)" = ckpt-000000000005.h5 ]
check "skipped steps left the student parameters bitwise unchanged" same_params stop2/checkpoints/ckpt-000000000004.h5 stop2/checkpoints/ckpt-000000000005.h5
# 4 ranks: every batch holds all 8 training dialogues, so rank 1 has rows in every step
run_ranks 4 stop4 120 rank:1:nan:2:0 train t.ini --out stop4 --set train.max_nonfinite_steps=2 \
  --set train.batch_dialogues=8
check "4 ranks, NaN every step: exit 3 everywhere within ${SECS}s" failed_alike stop4 4 3
check "4 ranks: the error names rank 1" grep -q "2 consecutive steps had a non-finite loss or gradient (the last: the loss on rank 1)" stop4.log
check "4 ranks: a checkpoint was written before stopping" grep -q "writing a checkpoint of the last good parameters" stop4.log
run_ranks 2 stop2 120 "" train t.ini --out stop2 --resume --set train.max_nonfinite_steps=3
check "the stopped run resumes from its checkpoint and completes (exit $RC)" same_rank_codes stop2 2 0

# one rank: the summed gradient is the local one
run_ranks 1 solo 120 rank:0:nan:1:0 train t.ini --out solo --set train.max_nonfinite_steps=2
check "1 rank, NaN every step: exit 3 (${SECS}s)" failed_alike solo 1 3
check "1 rank: the error names the loss on rank 0" grep -q "the loss on rank 0" solo.log
finish
