#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything and runs every
# test (unit, integration, end to end) with CTest. Exits non-zero if anything fails.
# MSX_TEST_ARGS passes extra arguments to ctest, e.g. MSX_TEST_ARGS="-L unit".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
build=${MSX_BUILD_DIR:-$top/build}
cd "$build"
ctest --output-on-failure -j"${MSX_JOBS:-$(nproc)}" ${MSX_TEST_ARGS:-}
