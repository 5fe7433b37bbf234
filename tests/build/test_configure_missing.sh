#!/bin/bash
# A fresh configure of the source tree where ScaLAPACK cannot be found (no pkg-config path, no
# CMAKE_PREFIX_PATH, a package name that exists nowhere) must stop with exactly one message
# naming ScaLAPACK and its package for Debian/Ubuntu, RHEL/Rocky, Spack and conda-forge.
# usage: test_configure_missing.sh CMAKE CC MPICC   (SOURCE_DIR from ctest)
set -u
CMAKE=${1:?cmake}
CC_PATH=${2:?C compiler}
MPICC=${3:?mpicc}
WORK=$(mktemp -d --suffix=.hardy-configure)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
mkdir -p "$WORK/empty-pc"
env PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$WORK/empty-pc" CMAKE_PREFIX_PATH= \
  "$CMAKE" -S "$SOURCE_DIR" -B "$WORK/build" -DCMAKE_C_COMPILER="$CC_PATH" \
  -DMPI_C_COMPILER="$MPICC" -DHARDY_SCALAPACK_NAMES=hardy-no-such-scalapack -DBUILD_TESTING=OFF \
  >"$WORK/out.txt" 2>&1
rc=$?
sed -n '/CMake Error/,$p' "$WORK/out.txt"
[ "$rc" != 0 ] || fail "configure succeeded without ScaLAPACK"
n=$(grep -c 'CMake Error' "$WORK/out.txt")
[ "$n" = 1 ] || fail "$n CMake errors, expected exactly one"
for want in "hardy-hpc: ScaLAPACK for" "not found" "hardy-no-such-scalapack" \
  "Debian/Ubuntu:     apt-get install libscalapack-" "RHEL/Rocky (EPEL): dnf install scalapack-" \
  "Spack:             spack install netlib-scalapack" "conda-forge:       conda install -c conda-forge scalapack" \
  "SCALAPACK_LIBRARIES"; do
  grep -qF -- "$want" "$WORK/out.txt" || fail "message lacks '$want'"
done
[ "$FAILS" = 0 ] && echo "PASS" && exit 0
echo "$FAILS failure(s)"; exit 1
