# plot_results.py: the three plots from run directories and from an aggregate.py --json
# summary are valid, drawn PNGs; a regression rate sweep gives only the rate plot; mixed
# datasets and empty selections are refused with exit 2.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect_exit2() {
  local rc=0
  "$@" >"$W/out" 2>"$W/err" || rc=$?
  if [ "$rc" -ne 2 ]; then
    echo "FAIL: expected exit 2, got $rc from: $*" >&2
    cat "$W/err" >&2
    exit 1
  fi
  echo "ok: exit 2 from ${*:2}: $(head -1 "$W/err")"
}

"$PYTHON" "$A/plot_results.py" "$FX/study" "$FX/sweep" --out "$W/dirs"
png_ok 500 350 "$W"/dirs/{rate,conditions,hardness}.png

"$PYTHON" "$A/aggregate.py" "$FX/study" "$FX/sweep" --json "$W/summary.json" >/dev/null
"$PYTHON" "$A/plot_results.py" --from-json "$W/summary.json" --out "$W/json" --condition at
png_ok 500 350 "$W"/json/{rate,conditions,hardness}.png

"$PYTHON" "$A/plot_results.py" "$FX/regression" --out "$W/regression"
png_ok 600 400 "$W/regression/rate.png"
if [ -e "$W/regression/conditions.png" ] || [ -e "$W/regression/hardness.png" ]; then
  echo "FAIL: a rate-only regression sweep produced condition or hardness plots" >&2
  exit 1
fi
echo "ok: the regression sweep gives only rate.png"
ls "$W"/dirs "$W"/json "$W"/regression | grep -q '\.tmp$' && { echo "FAIL: .tmp left" >&2; exit 1; }

expect_exit2 "$PYTHON" "$A/plot_results.py" "$FX/study" "$FX/regression" --out "$W/mixed"
grep -q -- "--allow-mixed" "$W/err"
expect_exit2 "$PYTHON" "$A/plot_results.py" "$FX/sweep" --only hardness --out "$W/none"
grep -q "nothing to plot" "$W/err"
expect_exit2 "$PYTHON" "$A/plot_results.py" "$FX/study" --condition tv --only hardness \
  --out "$W/tv"
echo "all plot_results checks passed"
