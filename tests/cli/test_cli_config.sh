#!/bin/bash
# CLI: exit codes and messages of `hardy-hpc config`, --help, --version, unknown commands.
set -u
fail=0
check() { # expected-exit needle command...
  local want=$1 needle=$2; shift 2
  local out; out=$("$@" 2>&1); local got=$?
  if [ "$got" != "$want" ] || ! grep -qF -- "$needle" <<<"$out"; then
    echo "FAIL: '$*' exited $got (want $want), output:"; echo "$out"; fail=$((fail + 1))
  fi
}
check 0 "hardy-hpc" "$HARDY_BIN" --version
check 0 "commands:" "$HARDY_BIN" --help
check 2 "unknown command 'frobnicate'" "$HARDY_BIN" frobnicate
check 2 "commands:" "$HARDY_BIN"
check 0 "[model]" "$HARDY_BIN" config
check 0 "hidden = 64" "$HARDY_BIN" config --set model.hidden=64
check 2 "train.lr = 'x' is not a number" "$HARDY_BIN" config --set train.lr=x
check 2 "cannot open config file '/no/such.ini'" "$HARDY_BIN" config /no/such.ini
check 0 "estimator" "$HARDY_BIN" config --schema
# the same error on every rank, printed once, exit 2 from mpirun
out=$($MPIEXEC -n 2 $MPIEXEC_FLAGS "$HARDY_BIN" config --set model.heads=3 2>&1); rc=$?
n=$(grep -c "does not divide" <<<"$out")
if [ "$rc" != 2 ] || [ "$n" != 1 ]; then echo "FAIL: 2-rank error: rc=$rc, printed $n times"; echo "$out"; fail=$((fail+1)); fi
echo "cli_config: $fail failed"
[ "$fail" = 0 ]
