# report.py on a small real study (hardy / uniform x 2 seeds x conditions at, tv, see
# make_real_study) plus a failed run: the Markdown holds the paper-layout tables with
# aggregate.py's numbers, the paired comparisons, provenance and the failed run; every figure
# it links exists as a 300-dpi PNG with drawn content (size, colours, pixel variance) and a PDF.
# Also: the one-line install hint (exit 2) from an interpreter without numpy / matplotlib.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${HARDY_BIN:?}"
cd "$W"
make_real_study "$W"
# a job that fails after writing config.ini and status.json (no folds in the dataset)
"$HARDY_BIN" train c.ini --set data.fold=1 --set run.seed=3 --out runs/broken --quiet \
  2>/dev/null && { echo "FAIL: the broken run succeeded" >&2; exit 1; }
"$PYTHON" "$A/report.py" runs --out report
"$PYTHON" "$T/check_report.py" "$W/report" "$W/runs"
mapfile -t pngs < <(grep -o '([^()]*\.png)' report/report.md | tr -d '()' | sed "s|^|report/|")
[ "${#pngs[@]}" -ge 7 ] || { echo "FAIL: only ${#pngs[@]} figures linked" >&2; exit 1; }
png_ok 1000 500 "${pngs[@]}"
for p in "${pngs[@]}"; do
  head -c 5 "${p%.png}.pdf" | grep -q '%PDF-' || { echo "FAIL: ${p%.png}.pdf is not a PDF" >&2; exit 1; }
done
echo "ok: ${#pngs[@]} linked figures are PNGs with drawn content and have PDFs"
# a run without the curriculum has no hardness to draw: one message, exit 2
rc=0
"$PYTHON" "$A/plot_hardness.py" runs/false-s1 --out nohard 2>err || rc=$?
[ "$rc" = 2 ] && grep -q "no hardness-<run>.h5" err \
  || { echo "FAIL: plot_hardness.py on a uniform run (exit $rc): $(cat err)" >&2; exit 1; }
echo "ok: plot_hardness.py on a uniform run: exit 2: $(cat err)"
# without site-packages (-S) Debian's python3 has no numpy: one line naming pip and apt, exit 2
rc=0
"$PYTHON" -S "$A/report.py" runs --out none 2>err || rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <err)" = 1 ] && grep -q "pip install" err && grep -q "apt-get install python3-" err \
  || { echo "FAIL: missing-module hint (exit $rc): $(cat err)" >&2; exit 1; }
echo "ok: missing modules: exit 2 and one line: $(cat err)"
echo "all report checks passed"
