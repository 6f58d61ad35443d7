#!/usr/bin/env bash
# The test command: installs what the tests need when missing (scripts/setup.sh),
# then runs every test of the workspace. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec cargo test --workspace "$@"
