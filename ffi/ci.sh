#!/usr/bin/env bash
# CI for the C ABI and the C++ API (called by .ci/run): builds libsdm, checks
# that the committed include/sdm.h is what cbindgen generates, compiles sdm.h
# as C99 and C++17 and sdm.hpp as C++17 (g++, and clang++ when installed),
# builds and runs the C and C++ tests (plain and under ASan/LSan/UBSan) and
# the README's C and C++ examples, installs libsdm into a temporary prefix
# with scripts/install.sh, and builds the C++ example server outside the
# repository with find_package(sdm CONFIG REQUIRED) and the README's C++
# example with pkg-config. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${SDM_FFI_PROFILE:-debug}"
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
LIBDIR="$TARGET_DIR/$PROFILE"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LINK_LIBS=(-lpthread -ldl -lm)
STEP_START=$SECONDS
STEP_NAME=""
# Starts a step; prints how long the previous one took.
step() {
    if [ -n "$STEP_NAME" ]; then printf -- '-- ffi: %s: %d s\n' "$STEP_NAME" "$((SECONDS - STEP_START))"; fi
    printf '\n== ffi: %s\n' "$*"
    STEP_NAME="$*"
    STEP_START=$SECONDS
}

step "cargo build -p sdm-ffi ($PROFILE)"
if [ "$PROFILE" = release ]; then cargo build -p sdm-ffi --release; else cargo build -p sdm-ffi; fi
test -f "$LIBDIR/libsdm.a"
test -f "$LIBDIR/libsdm.so"

step "header is up to date (cbindgen)"
cargo run -q -p sdm-ffi --example gen-header -- "$WORK/sdm.h"
if ! diff -u include/sdm.h "$WORK/sdm.h"; then
    echo "include/sdm.h is stale: run 'cargo run -p sdm-ffi --example gen-header -- include/sdm.h'" >&2
    exit 1
fi

scripts/setup.sh --ffi   # installs cmake, g++ and pkg-config when missing
CXX_COMPILERS=(g++)
if command -v clang++ >/dev/null 2>&1; then CXX_COMPILERS+=(clang++); fi

step "headers compile: sdm.h as C99 and C++17, sdm.hpp as C++17 (${CXX_COMPILERS[*]})"
printf '#include "sdm.h"\nint main(void) { return sdm_version() == 0; }\n' > "$WORK/h.c"
# C++: sdm.h before and after the C++ standard headers (sdm.h must not clash with them).
printf '#include "sdm.h"\n#include <cstdlib>\n#include <cstring>\nint main() { return sdm_version() == nullptr; }\n' > "$WORK/h.cpp"
printf '#include "sdm.hpp"\n#include "sdm.h"\nint main() { return sdm::version().empty(); }\n' > "$WORK/hpp.cpp"
gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c "$WORK/h.c" -o "$WORK/h.o"
for cxx in "${CXX_COMPILERS[@]}"; do
    "$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$WORK/h.cpp" -o "$WORK/h-$cxx.o"
    "$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion -Wsign-conversion -Iinclude \
        -c "$WORK/hpp.cpp" -o "$WORK/hpp-$cxx.o"
done

CFLAGS=(-std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic -g -Iinclude)
step "C test (plain)"
gcc "${CFLAGS[@]}" ffi/tests/c/test_sdm.c "$LIBDIR/libsdm.a" "${LINK_LIBS[@]}" -o "$WORK/test_sdm"
(cd "$WORK" && timeout 300 ./test_sdm)

step "C test (AddressSanitizer + LeakSanitizer + UBSan)"
gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
    ffi/tests/c/test_sdm.c "$LIBDIR/libsdm.a" "${LINK_LIBS[@]}" -o "$WORK/test_sdm_asan"
(cd "$WORK" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    timeout 600 ./test_sdm_asan)

step "README example (the C section of README.md) compiles and runs"
sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' > "$WORK/readme_example.c"
gcc "${CFLAGS[@]}" "$WORK/readme_example.c" "$LIBDIR/libsdm.a" "${LINK_LIBS[@]}" -o "$WORK/readme_example"
(cd "$WORK" && timeout 60 ./readme_example)

CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -g -Iinclude)
for cxx in "${CXX_COMPILERS[@]}"; do
    step "C++ test ($cxx, plain)"
    "$cxx" "${CXXFLAGS[@]}" ffi/tests/cpp/test_sdm.cpp "$LIBDIR/libsdm.a" "${LINK_LIBS[@]}" -o "$WORK/test_sdm_cpp"
    (cd "$WORK" && timeout 300 ./test_sdm_cpp)
done

step "C++ test (g++, AddressSanitizer + LeakSanitizer + UBSan)"
g++ "${CXXFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
    ffi/tests/cpp/test_sdm.cpp "$LIBDIR/libsdm.a" "${LINK_LIBS[@]}" -o "$WORK/test_sdm_cpp_asan"
(cd "$WORK" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    timeout 600 ./test_sdm_cpp_asan)

step "scripts/install.sh into a temporary prefix ($PROFILE build)"
INSTALL_ARGS=(--prefix "$WORK/prefix" --no-build)
if [ "$PROFILE" = debug ]; then INSTALL_ARGS+=(--debug); fi
scripts/install.sh "${INSTALL_ARGS[@]}"

step "C++ example server outside the repository: find_package(sdm CONFIG REQUIRED)"
cp -r examples/cpp "$WORK/consumer"
cmake -S "$WORK/consumer" -B "$WORK/consumer/build" -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/consumer/build" -j 2
(cd "$WORK" && timeout 300 "$WORK/consumer/build/sdm_example_server")

step "README C++ example, built with pkg-config (libsdm.so)"
sed -n '/^```cpp$/,/^```$/p' README.md | sed '1d;$d' > "$WORK/readme_example.cpp"
PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" pkg-config --exists --print-errors 'sdm >= 0.1'
SDM_PC_FLAGS=$(PKG_CONFIG_PATH="$WORK/prefix/lib/pkgconfig" pkg-config --cflags --libs sdm)
# shellcheck disable=SC2086 # word splitting of the flags is intended
g++ -std=c++17 -Wall -Wextra -Werror "$WORK/readme_example.cpp" $SDM_PC_FLAGS -Wl,-rpath,"$WORK/prefix/lib" \
    -o "$WORK/readme_example_cpp"
(cd "$WORK" && timeout 60 ./readme_example_cpp)

step "all passed"
