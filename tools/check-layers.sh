#!/bin/bash
# The layer check: every #include of a project header in src/ and include/hardy/ must name a
# module that the including module's row in docs/ARCHITECTURE.md lists under "may include",
# and a module may list only modules of its own level or below. Prints each violation as
# file:line and exits 1; exit 0 when the tree matches the map.
#   tools/check-layers.sh [SOURCE_DIR]
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
doc="$root/docs/ARCHITECTURE.md"
[ -r "$doc" ] || { echo "check-layers: cannot read $doc" >&2; exit 2; }

# "| module | level | where | owns | may include |" rows of the module table.
declare -A level allowed
while IFS='|' read -r _ mod lvl _ _ deps _; do
  mod=$(echo "$mod" | tr -d ' '); lvl=$(echo "$lvl" | tr -d ' ')
  [[ "$lvl" =~ ^[0-9]+$ ]] || continue
  level[$mod]=$lvl
  allowed[$mod]=" $(echo "$deps" | tr ',' ' ' | tr -s ' ') "
done < "$doc"
[ "${#level[@]}" -gt 0 ] || { echo "check-layers: no module table in $doc" >&2; exit 2; }

bad=0
report() { echo "$1"; bad=1; }

for mod in "${!allowed[@]}"; do
  for dep in ${allowed[$mod]}; do
    [ "$dep" = "-" ] && continue
    [ -n "${level[$dep]:-}" ] || { report "docs/ARCHITECTURE.md: $mod may include unknown module '$dep'"; continue; }
    [ "${level[$dep]}" -le "${level[$mod]}" ] ||
      report "docs/ARCHITECTURE.md: $mod (level ${level[$mod]}) lists $dep (level ${level[$dep]}), a module above it"
  done
done

# Which module a file belongs to: src/<mod>/..., src/<mod>.c, include/hardy/<header>.h.
module_of_file() {
  local rel=${1#"$root"/}
  case "$rel" in
    src/*/*) rel=${rel#src/}; echo "${rel%%/*}" ;;
    src/*) rel=${rel#src/}; echo "${rel%.[ch]}" ;;
    include/hardy/*) module_of_header "hardy/${rel#include/hardy/}" ;;
  esac
}
module_of_header() {
  case "$1" in
    hardy/synth.h) echo dataset ;;
    hardy/*.h) local h=${1#hardy/}; echo "${h%.h}" ;;
    */*.h) echo "${1%%/*}" ;;  # "h5/h5.h": another module's private header, by folder
    *) echo "" ;;             # same-folder private header
  esac
}

while IFS= read -r file; do
  mod=$(module_of_file "$file")
  [ -n "${level[$mod]:-}" ] || { report "${file#"$root"/}: module '$mod' is not in docs/ARCHITECTURE.md"; continue; }
  while IFS=: read -r line hdr; do
    dep=$(module_of_header "$hdr")
    [ -z "$dep" ] || [ "$dep" = "$mod" ] && continue
    case "${allowed[$mod]}" in
      *" $dep "*) ;;
      *) report "${file#"$root"/}:$line: module $mod includes $hdr (module $dep), which its row in docs/ARCHITECTURE.md does not allow" ;;
    esac
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | sed 's/^\([0-9]*\):.*"\(.*\)".*/\1:\2/')
done < <(find "$root/src" "$root/include/hardy" -name '*.[ch]' | sort)

if [ "$bad" = 0 ]; then
  echo "check-layers: ${#level[@]} modules, every include follows docs/ARCHITECTURE.md"
fi
exit "$bad"
