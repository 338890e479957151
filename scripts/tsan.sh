#!/usr/bin/env bash
# ThreadSanitizer run of the concurrent code: builds MSX with clang -fsanitize=thread in
# build-tsan/ and runs the journal, sequencer (and MPSC ring), gateway and crash tests
# under it, msx-server included (the end-to-end tests start the TSan-built server).
# Run it before landing a change to threads, locks, atomics or the gateway's hand-offs.
#
#   scripts/tsan.sh                 # the tests below
#   scripts/tsan.sh --short         # CI's short pass: the journal writer, the MPSC ring,
#                                   # the sequencer and the stream hubs (gateway_streams_test)
#   scripts/tsan.sh -R crash_test   # other ctest arguments instead of the default selection
#   scripts/tsan.sh --build-only [--short | ctest arguments]   # build the selection, run none
#
# Exits non-zero if a test fails or TSan reports anything, in a test binary or in a server
# it started: every report is written to build-tsan/tsan-logs/ and printed at the end.
# Suppressions (tests/tsan/tsan.supp) cover uninstrumented system libraries only; Debian's
# absl::Mutex is made visible to TSan by tests/tsan/absl_mutex_tsan.cc instead.
# Env: MSX_TSAN_BUILD_DIR (default build-tsan), MSX_JOBS.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MSX_TSAN_BUILD_DIR:-$top/build-tsan}
jobs=${MSX_JOBS:-$(nproc)}
build_only=0
if [[ ${1:-} == --build-only ]]; then
  build_only=1
  shift
fi
if [[ ${1:-} == --short ]]; then
  select=(-R '^(journal_journal_test|mpsc_ring_test|gateway_sequencer_test|gateway_streams_test)$')
elif (($# > 0)); then
  select=("$@")
else
  select=(-R '^(journal_|gateway_|mpsc_ring_test$|crash_test$)')
fi

MSX_SETUP_CLANG=1 "$top/scripts/setup.sh"
# This build has debug info (for symbolized reports), whose compilation directory would
# otherwise be part of every ccache key: a clone in another directory would miss the cache.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
MSX_BUILD_DIR=$build MSX_BUILD_TYPE=RelWithDebInfo \
  MSX_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DMSX_SANITIZE=thread" \
  "$top/scripts/build.sh" --target msx_tsan_absl >/dev/null
# Build only the selected tests (and, through their dependencies, msx-server).
mapfile -t tests < <(cd "$build" && ctest -N "${select[@]}" | sed -nE 's/^ *Test +#[0-9]+: +(.*)$/\1/p')
if ((${#tests[@]} == 0)); then
  echo "tsan: no test matches ${select[*]}" >&2
  exit 2
fi
MSX_BUILD_DIR=$build "$top/scripts/build.sh" $(printf -- '--target %s ' "${tests[@]}") >/dev/null
if ((build_only)); then
  echo "tsan: built ${#tests[@]} tests: ${tests[*]}"
  exit 0
fi

logs=$build/tsan-logs
rm -rf "$logs"
mkdir -p "$logs"
export TSAN_OPTIONS="suppressions=$top/tests/tsan/tsan.supp log_path=$logs/tsan second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
rc=0
(cd "$build" && ctest --output-on-failure -j"$jobs" "${select[@]}") || rc=$?
shopt -s nullglob
reports=("$logs"/tsan*)
if ((${#reports[@]} > 0)); then
  echo "tsan: ${#reports[@]} process(es) reported (logs in $logs):" >&2
  for r in "${reports[@]}"; do
    echo "==== $r" >&2
    cat "$r" >&2
  done
  rc=1
fi
if ((rc == 0)); then echo "tsan: clean (${#tests[@]} tests: ${tests[*]})"; fi
exit $rc
