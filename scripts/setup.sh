#!/usr/bin/env bash
# Installs what the tests need when it is missing: redis-server and redis-cli
# (the Redis tests start their own servers from PATH, the Redis Cluster tests
# make theirs with `redis-cli --cluster create`) and, with --ffi, cmake, g++ and
# pkg-config for the C/C++ checks. Uses the system's package manager (apt-get,
# as root or with sudo). Safe to run again: it does nothing when everything is
# there.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# redis-cli comes with redis-tools (a dependency of Debian's redis-server).
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
if [[ " $* " == *" --ffi "* ]]; then
    command -v cmake >/dev/null 2>&1 || need+=(cmake)
    command -v g++ >/dev/null 2>&1 || need+=(g++)
    command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
fi
[[ ${#need[@]} -eq 0 ]] && exit 0

echo "setup: installing ${need[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here; install ${need[*]} with your package manager" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Debian's redis-server package tries to start a service on install, which
# fails where no init system runs; the binary is what the tests need (they
# start their own servers on free ports), so judge by the binaries.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || true
for pkg in "${need[@]}"; do
    bin=$pkg
    [[ $pkg == redis-tools ]] && bin=redis-cli
    command -v "$bin" >/dev/null 2>&1 || { echo "setup: could not install $pkg" >&2; exit 1; }
done
