#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything and runs every
# test (unit, integration, end to end) with CTest. Exits non-zero if anything fails.
# MSX_TEST_ARGS passes extra arguments to ctest, e.g. MSX_TEST_ARGS="-L unit".
# With CI=true it then fuzzes every libFuzzer target for MSX_CI_FUZZ_SECONDS (default 10)
# seconds each (scripts/fuzz.sh; 0 skips it); the corpus replay runs in CTest always.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
build=${MSX_BUILD_DIR:-$top/build}
(cd "$build" && ctest --output-on-failure -j"${MSX_JOBS:-$(nproc)}" ${MSX_TEST_ARGS:-})
fuzz_seconds=${MSX_CI_FUZZ_SECONDS:-10}
if [[ ${CI:-} == true && $fuzz_seconds != 0 ]]; then
  "$top/scripts/fuzz.sh" all "$fuzz_seconds"
fi
