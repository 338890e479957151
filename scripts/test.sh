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
# With CI=true it also runs the short ThreadSanitizer pass (scripts/tsan.sh --short: the
# journal writer, the MPSC ring, the sequencer, the stream hubs) unless
# MSX_CI_TSAN_BUILD_SECONDS is 0. Its clang build gets MSX_CI_TSAN_BUILD_SECONDS
# (default 180): about a minute with a warm ccache, 15+ minutes from a cold one on two
# loaded cores, so on a fresh machine it is skipped (saying so) and the next run, with
# the objects in ccache, has it.
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
tsan_budget=${MSX_CI_TSAN_BUILD_SECONDS:-180}
if [[ ${CI:-} == true && $tsan_budget != 0 ]]; then
  rc=0
  timeout "$tsan_budget" "$top/scripts/tsan.sh" --build-only --short || rc=$?
  if ((rc == 0)); then
    "$top/scripts/tsan.sh" --short
  elif ((rc == 124)); then
    echo "test: the ThreadSanitizer clang build did not finish within ${tsan_budget}s" \
      "(cold ccache?); the TSan pass is skipped this run (scripts/tsan.sh runs it)" >&2
  else
    exit "$rc"
  fi
fi
