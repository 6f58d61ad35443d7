#!/usr/bin/env bash
# CI for the C ABI (called by .ci/run): builds libsdm, checks that the
# committed include/sdm.h is what cbindgen generates, compiles the header as
# C99 and C++17, builds and runs the C test (plain and under ASan/LSan/UBSan)
# and the CMake C++ example. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${SDM_FFI_PROFILE:-debug}"
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
LIBDIR="$TARGET_DIR/$PROFILE"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LINK_LIBS=(-lpthread -ldl -lm)
step() { printf '\n== ffi: %s\n' "$*"; }

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

step "header compiles as C99 and C++17"
printf '#include "sdm.h"\nint main(void) { return sdm_version() == 0; }\n' > "$WORK/h.c"
cp "$WORK/h.c" "$WORK/h.cpp"
gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -c "$WORK/h.c" -o "$WORK/h.o"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$WORK/h.cpp" -o "$WORK/hpp.o"

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

step "C++ example (CMake)"
scripts/setup.sh --ffi   # installs cmake (and g++) when missing
cmake -S examples/cpp -B "$WORK/cpp-build" -DSDM_LIB_DIR="$LIBDIR" -DSDM_INCLUDE_DIR="$ROOT/include" >/dev/null
cmake --build "$WORK/cpp-build" -j 2
(cd "$WORK" && timeout 300 "$WORK/cpp-build/sdm_example_server")

step "all passed"
