#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything and runs every
# test (unit, integration, end to end) with CTest. Exits non-zero if anything fails.
# MSX_TEST_ARGS passes extra arguments to ctest, e.g. MSX_TEST_ARGS="-L unit".
# With CI=true it then fuzzes every libFuzzer target for MSX_CI_FUZZ_SECONDS (default 10)
# seconds each (scripts/fuzz.sh; 0 skips it); the corpus replay runs in CTest always.
# The fuzzers' clang build gets MSX_CI_FUZZ_BUILD_SECONDS (default 300): with a warm
# ccache it takes about a minute, from a cold one far longer (17+ minutes measured on a
# loaded 2-core machine), so a build that does not finish in time skips the fuzzing of
# that run (what it compiled stays in ccache for the next) instead of stretching CI.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh"
build=${MSX_BUILD_DIR:-$top/build}
(cd "$build" && ctest --output-on-failure -j"${MSX_JOBS:-$(nproc)}" ${MSX_TEST_ARGS:-})
fuzz_seconds=${MSX_CI_FUZZ_SECONDS:-10}
if [[ ${CI:-} == true && $fuzz_seconds != 0 ]]; then
  build_budget=${MSX_CI_FUZZ_BUILD_SECONDS:-300}
  rc=0
  timeout "$build_budget" "$top/scripts/fuzz.sh" build || rc=$?
  if ((rc == 0)); then
    "$top/scripts/fuzz.sh" all "$fuzz_seconds"
  elif ((rc == 124)); then
    echo "test: the fuzzers' clang build did not finish within ${build_budget}s (cold ccache?);" \
      "fuzzing skipped this run (the corpus replay ran in CTest)" >&2
  else
    exit "$rc"
  fi
fi
