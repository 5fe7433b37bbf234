# Shared by the fetch_*.sh scripts: find a data file that a Debian package ships, without
# installing the package. An installed package's own copy is used when present; otherwise the
# .deb is fetched with `apt-get download` and unpacked with `dpkg -x` into a cache folder, once.
# Source this file, then: deb_data_file PACKAGE PATH_SUFFIX CACHE_DIR  (prints the file's path).

deb_data_file() {
  local pkg=$1 suffix=$2 cache=$3 found root tmp
  if dpkg -s "$pkg" >/dev/null 2>&1; then
    found=$(dpkg -L "$pkg" | grep -m1 -- "$suffix\$" || true)
    if [ -n "$found" ] && [ -f "$found" ]; then echo "$found"; return 0; fi
  fi
  root=$cache/$pkg
  if [ ! -d "$root" ]; then
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.download.XXXXXX")
    # Stale or missing package lists are the usual failure; as root, refresh them once.
    if ! (cd "$tmp" && apt-get download "$pkg" >&2) &&
       ! { [ "$(id -u)" = 0 ] && apt-get update -qq >&2 &&
           (cd "$tmp" && apt-get download "$pkg" >&2); }; then
      echo "error: 'apt-get download $pkg' failed; run 'apt-get update' and retry" >&2
      rm -rf "$tmp"
      return 2
    fi
    dpkg -x "$tmp"/*.deb "$tmp/root"
    # Another process may have unpacked the same package meanwhile; either copy is complete.
    mv -T "$tmp/root" "$root" 2>/dev/null || true
    rm -rf "$tmp"
  fi
  found=$(find "$root" -path "*$suffix" -type f | head -n 1)
  if [ -z "$found" ]; then
    echo "error: package $pkg does not ship a file ending in $suffix" >&2
    return 2
  fi
  echo "$found"
}
