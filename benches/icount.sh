#!/usr/bin/env bash
# Instruction counts of every codec path on the three corpus documents, under
# valgrind's callgrind: deterministic figures to compare before and after a
# change (timings on a shared machine are not).
#
#   benches/icount.sh            all paths, all documents (a few minutes)
#   benches/icount.sh compress   only the paths named
#
# Each (document, path) runs in its own process: `icount` loads the document,
# runs the path once to warm up, then once inside `icount_measured`, the only
# function callgrind collects. Prints a Markdown table: sdm's count, serde_json's
# count on its matching path, and their ratio. Installs valgrind when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v valgrind >/dev/null 2>&1; then
    echo "icount.sh: installing valgrind" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq valgrind >/dev/null
    fi
fi

cargo build -q --release -p sdm-benches --bin icount
bin="$root/target/release/icount"
docs=(profile_small profile_medium plot_large)
if [ $# -gt 0 ]; then paths=("$@"); else paths=(compress decompress to_string from_str); fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

count() { # document path -> instructions collected inside icount_measured
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
        --collect-atstart=no --toggle-collect='*icount_measured*' \
        "$bin" "$1" "$2" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; return 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out"
}

printf '| path | %s |\n' "$(IFS='|'; echo "${docs[*]}" | sed 's/|/ | /g')"
printf '| --- |%s\n' "$(for _ in "${docs[@]}"; do printf ' --- |'; done)"
for path in "${paths[@]}"; do
    row="| $path (sdm / serde_json = ratio) |"
    for doc in "${docs[@]}"; do
        sdm=$(count "$doc" "$path")
        json=$(count "$doc" "json_$path")
        row+=" $(awk -v s="$sdm" -v j="$json" 'BEGIN {
            printf "%d / %d = %.2fx", s, j, j / s }') |"
    done
    echo "$row"
done
