# Shared by the converter test scripts: paths, a scratch folder removed on exit, and
# expect_input_error, which runs a converter that must refuse its input.
set -euo pipefail
: "${PYTHON:=/usr/bin/python3}" "${SOURCE_DIR:?}" "${HARDY_BIN:?}"
A=$SOURCE_DIR/analysis
T=$SOURCE_DIR/tests/converters
W=$(mktemp -d --suffix=.hardy-conv)
trap 'rm -rf "$W"' EXIT

# expect_input_error "PATTERN ..." COMMAND...: exit status 2, each pattern in stderr, no output
# file left behind (the last argument after --out).
expect_input_error() {
  local patterns=$1 rc=0 out="" prev=""
  shift
  for a in "$@"; do [ "$prev" = "--out" ] && out=$a; prev=$a; done
  "$@" >"$W/stdout" 2>"$W/stderr" || rc=$?
  if [ "$rc" -ne 2 ]; then
    echo "FAIL: expected exit 2, got $rc from: $*" >&2
    cat "$W/stderr" >&2
    exit 1
  fi
  local p
  IFS='|' read -ra list <<<"$patterns"
  for p in "${list[@]}"; do
    if ! grep -qF -- "$p" "$W/stderr"; then
      echo "FAIL: stderr lacks '$p' for: $*" >&2
      cat "$W/stderr" >&2
      exit 1
    fi
  done
  if [ -n "$out" ] && { [ -e "$out" ] || [ -e "$out.tmp" ]; }; then
    echo "FAIL: a refused conversion left $out behind" >&2
    exit 1
  fi
  echo "ok: refused as expected ($patterns)"
}

inspect_ok() {
  "$HARDY_BIN" inspect "$1"
  echo "ok: hardy-hpc inspect $1"
}
