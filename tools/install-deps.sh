#!/bin/sh
# Install the Debian/Ubuntu packages named on the command line that are not installed yet,
# when that is possible and needed:
#   - root on Debian/Ubuntu: apt-get installs the missing ones (and nothing when none is missing);
#   - anyone else (no root, or not Debian: RHEL/Rocky, modules, Spack, conda): prints the command
#     and carries on, since the libraries may come from elsewhere; CMake's configure step then
#     finds them or stops with one message naming what is missing (docs/INSTALL.md).
# Several MPIs installed side by side change Debian's update-alternatives (mpi, mpirun, hdf5.pc,
# libblas.so.3); whatever an install flips back is restored, so the default build keeps its MPI.
set -eu
command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 || exit 0
missing=""
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "note: these Debian packages are not installed:$missing" >&2
  echo "      if the configure step below cannot find a library, install them with:" >&2
  echo "      sudo apt-get install -y$missing" >&2
  echo "      (or load the site's modules; see docs/INSTALL.md)" >&2
  exit 0
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
  apt-get update -qq
fi
before=$(update-alternatives --get-selections 2>/dev/null || true)
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# Restore every alternative that existed before and now points elsewhere.
update-alternatives --get-selections 2>/dev/null | while read -r name _mode value; do
  old=$(printf '%s\n' "$before" | awk -v n="$name" '$1 == n { print $3 }')
  if [ -n "$old" ] && [ "$old" != "$value" ] && [ -e "$old" ]; then
    echo "restoring alternative $name -> $old (the install switched it to $value)"
    update-alternatives --set "$name" "$old" >/dev/null
  fi
done
# OpenBLAS must be the OpenMP build: the pthreads build outranks it when both are present.
if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  echo "warning: libopenblas0-pthread is installed and outranks the OpenMP build;" >&2
  echo "         hardy-hpc links libopenblas-openmp. Remove it with: apt-get remove libopenblas0-pthread" >&2
fi
