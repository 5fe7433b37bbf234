#!/bin/bash
# Full disk: a checkpoint write that fails for lack of space (injected ENOSPC on one rank after
# its data writes, and a real tmpfs too small for the next checkpoint) ends every rank with
# exit 3 and a message saying how much space the checkpoint needs and how much is free; the
# previous checkpoint stays loadable with `latest` pointing at it, no partial file is left, and
# resuming once there is room gives the uninterrupted run's parameters bitwise.
source "$(dirname "$0")/lib.sh"
trap 'umount "$WORK/small" 2>/dev/null; rm -rf "$WORK"' EXIT
make_tiny d.h5
write_tiny_cfg t.ini d.h5
run_mpi 2 train t.ini --out ref --quiet || fail "reference run"

# the third save (ckpt-4, after ckpt-2 and the frozen teacher) fails on rank 1
run_ranks 2 inj 120 rank:1:enospc:3 train t.ini --out inj --quiet
check "injected ENOSPC: exit 3 everywhere (${SECS}s)" failed_alike inj 2 3
check "injected ENOSPC: the error names rank 1 and the cause" grep -q "rank 1: .*No space left on device" inj.log
check "injected ENOSPC: the message says how much space is needed" grep -q "the checkpoint needs about .* MB are free in" inj.log
check "injected ENOSPC: latest still names the previous checkpoint" [ "$(cat inj/checkpoints/latest)" = ckpt-000000000002.h5 ]
check "injected ENOSPC: no partial checkpoint left" [ -z "$(ls inj/checkpoints | grep -v -e '^latest$' -e '^ckpt-000000000002.h5$')" ]
run_ranks 2 inj 120 "" train t.ini --out inj --resume --quiet
check "injected ENOSPC: resume completes (exit $RC)" same_rank_codes inj 2 0
check "injected ENOSPC: resumed parameters bitwise equal" same_params ref/checkpoints/at-final.h5 inj/checkpoints/at-final.h5

# a real full disk: a tmpfs that holds two checkpoints and half of the third
mkdir small
if ! mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
  echo "skip: cannot mount a tmpfs here (needs root); the real-disk half is not run"
  finish; exit
fi
one=$(stat -c %s "$(ls ref/checkpoints/ckpt-*.h5 | head -n 1)") # every step checkpoint is one size
kb=$(( (5 * one / 2 + 4095) / 4096 * 4 ))
mount -o remount,size=${kb}k small
run_ranks 2 small/o 120 "" train t.ini --out small/o --quiet
check "tmpfs of ${kb} KiB: exit 3 everywhere (${SECS}s, no hang)" failed_alike small/o 2 3
check "tmpfs: the message says how much space is needed" grep -q "the checkpoint needs about .* MB are free in small/o" small/o.log
latest=$(cat small/o/checkpoints/latest)
check "tmpfs: latest ($latest) names a whole checkpoint" [ -s "small/o/checkpoints/$latest" ]
check "tmpfs: no partial checkpoint left" [ -z "$(ls small/o/checkpoints | grep '\.tmp$')" ]
echo "  $(grep -m1 'hardy: error' small/o.log | cut -c1-160)"
mount -o remount,size=16m small
run_ranks 2 small/o 120 "" train t.ini --out small/o --resume --quiet
check "tmpfs: resume after freeing space completes (exit $RC)" same_rank_codes small/o 2 0
check "tmpfs: resumed parameters bitwise equal" same_params ref/checkpoints/at-final.h5 small/o/checkpoints/at-final.h5
finish
