#!/usr/bin/env bash
# The long soak: every test with its long variant (MSX_LONG_TESTS=1): 100 kill -9 /
# restart rounds of msx-server under traffic with every told fill accounted for
# (tests/crash_test.cc), the simulated power losses of the journal's fault-injection tests,
# and the longer reader fuzzing. Takes tens of minutes; run it before landing a change to
# the journal, the sequencer or recovery. Exits non-zero if anything fails.
# Env: MSX_BUILD_DIR, MSX_JOBS as for scripts/test.sh; MSX_TEST_ARGS e.g. "-R crash".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
build=${MSX_BUILD_DIR:-$top/build}
cd "$build"
MSX_LONG_TESTS=1 ctest --output-on-failure --timeout 7200 -j"${MSX_JOBS:-1}" ${MSX_TEST_ARGS:-}
