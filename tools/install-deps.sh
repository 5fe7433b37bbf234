#!/bin/sh
# Install the Debian packages named on the command line that are not installed yet.
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -eu
missing=""
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "hardy-hpc needs these Debian packages:$missing" >&2
  echo "Install them with:  sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
  apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# OpenBLAS must be the OpenMP build: the pthreads build outranks it when both are present.
if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
  echo "warning: libopenblas0-pthread is installed and outranks the OpenMP build;" >&2
  echo "         hardy-hpc links libopenblas-openmp. Remove it with: apt-get remove libopenblas0-pthread" >&2
fi
