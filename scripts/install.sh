#!/usr/bin/env bash
# Builds libsdm and installs it for C and C++ projects:
#
#   scripts/install.sh --prefix DIR [--debug] [--no-build]
#
# installs
#   DIR/lib/libsdm.a, DIR/lib/libsdm.so
#   DIR/include/sdm.h (C API), DIR/include/sdm.hpp (C++17 API)
#   DIR/lib/cmake/sdm/sdmConfig.cmake, sdmConfigVersion.cmake
#                         (find_package(sdm CONFIG REQUIRED) -> sdm::sdm)
#   DIR/lib/pkgconfig/sdm.pc  (pkg-config --cflags --libs sdm)
#
# --debug     install the debug build (cargo's dev profile; what CI uses,
#             as it is already built) instead of a release build
# --no-build  do not run cargo; install what target/<profile>/ holds
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=""
PROFILE=release
BUILD=1
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || usage; PREFIX="$2"; shift 2 ;;
        --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
        --debug) PROFILE=debug; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown argument $1" >&2; usage ;;
    esac
done
[[ -n "$PREFIX" ]] || { echo "install.sh: --prefix DIR is required" >&2; usage; }
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"

cd "$ROOT"
if [[ $BUILD -eq 1 ]]; then
    if [[ $PROFILE = release ]]; then cargo build -p sdm-ffi --release; else cargo build -p sdm-ffi; fi
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
LIBDIR="$TARGET_DIR/$PROFILE"
for f in libsdm.a libsdm.so; do
    [[ -f "$LIBDIR/$f" ]] || { echo "install.sh: $LIBDIR/$f is missing (build it, or drop --no-build)" >&2; exit 1; }
done
VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
[[ -n "$VERSION" ]] || { echo "install.sh: no version in Cargo.toml" >&2; exit 1; }

install -d "$PREFIX/lib" "$PREFIX/include" "$PREFIX/lib/cmake/sdm" "$PREFIX/lib/pkgconfig"
install -m 644 "$LIBDIR/libsdm.a" "$PREFIX/lib/libsdm.a"
install -m 755 "$LIBDIR/libsdm.so" "$PREFIX/lib/libsdm.so"
install -m 644 include/sdm.h include/sdm.hpp "$PREFIX/include/"
install -m 644 ffi/cmake/sdmConfig.cmake "$PREFIX/lib/cmake/sdm/sdmConfig.cmake"
sed "s|@SDM_VERSION@|$VERSION|g" ffi/cmake/sdmConfigVersion.cmake.in > "$PREFIX/lib/cmake/sdm/sdmConfigVersion.cmake"
sed -e "s|@SDM_VERSION@|$VERSION|g" -e "s|@PREFIX@|$PREFIX|g" ffi/cmake/sdm.pc.in > "$PREFIX/lib/pkgconfig/sdm.pc"
chmod 644 "$PREFIX/lib/cmake/sdm/sdmConfigVersion.cmake" "$PREFIX/lib/pkgconfig/sdm.pc"
echo "installed sdm $VERSION ($PROFILE) into $PREFIX"
