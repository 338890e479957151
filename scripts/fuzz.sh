#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined, in build-fuzz/)
# and runs one target, or all of them one after the other, for SECONDS each.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]    e.g. scripts/fuzz.sh codec 600
#   scripts/fuzz.sh all SECONDS [libFuzzer flags...]
#   scripts/fuzz.sh list
#   scripts/fuzz.sh build                                  (build every target, run none)
#
# Targets and what each checks: tests/fuzz/README.md. New inputs go to
# $MSX_FUZZ_BUILD_DIR/corpus/TARGET (the repository's seeds in tests/fuzz/corpus/TARGET and
# tests/fuzz/regressions/TARGET are read, never written); a crash or a failed invariant
# leaves the input in $MSX_FUZZ_BUILD_DIR/findings/TARGET/ and makes the script exit 1 after
# the remaining targets ran. The log of each run is $MSX_FUZZ_BUILD_DIR/logs/TARGET.log;
# one summary line per target (execs/s, corpus, coverage) is printed at the end.
# Env: MSX_FUZZ_BUILD_DIR (default build-fuzz), MSX_JOBS (build parallelism). Targets run
# one at a time, one process each.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
targets=(codec segment_parser journal_reader engine_load_state config drill_scenario translate)

usage() {
  echo "usage: $0 TARGET|all SECONDS [libFuzzer flags...]   (targets: ${targets[*]})" >&2
  exit 2
}
if [[ ${1:-} == list ]]; then printf '%s\n' "${targets[@]}"; exit 0; fi
if [[ ${1:-} == build ]]; then
  set -- all 0
fi
(($# >= 2)) || usage
what=$1
seconds=$2
shift 2
[[ $seconds =~ ^[0-9]+$ ]] || usage
build_only=0
((seconds == 0)) && build_only=1
if [[ $what == all ]]; then
  run=("${targets[@]}")
else
  found=0
  for t in "${targets[@]}"; do [[ $t == "$what" ]] && found=1; done
  ((found)) || usage
  run=("$what")
fi

build=${MSX_FUZZ_BUILD_DIR:-$top/build-fuzz}
MSX_SETUP_CLANG=1 "$top/scripts/setup.sh"
# This build has debug info (for symbolized reports), whose compilation directory would
# otherwise be part of every ccache key: a clone in another directory would miss the cache.
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
# scripts/build.sh configures once (clang, coverage for libFuzzer, ASan + UBSan) and sets
# up ccache (CCACHE_BASEDIR), so a second run rebuilds only what changed.
MSX_BUILD_DIR=$build MSX_BUILD_TYPE=RelWithDebInfo \
  MSX_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DMSX_FUZZ=ON -DMSX_SANITIZE=address,undefined" \
  "$top/scripts/build.sh" $(printf -- '--target %s_fuzzer ' "${run[@]}") >/dev/null

# Reports go to the log with symbolized stacks; leaks count as failures.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/cmake/lsan.supp}
# The reader and drill targets write small temporary journals: keep them in memory.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi

((build_only)) && exit 0
status=0
summary=()
for t in "${run[@]}"; do
  work=$build/corpus/$t
  findings=$build/findings/$t
  log=$build/logs/$t.log
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  dirs=("$work" "$top/tests/fuzz/corpus/$t")
  [[ -d $top/tests/fuzz/regressions/$t ]] && dirs+=("$top/tests/fuzz/regressions/$t")
  flags=(-max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048
         -artifact_prefix="$findings/")
  [[ -f $top/tests/fuzz/$t.dict ]] && flags+=(-dict="$top/tests/fuzz/$t.dict")
  echo "fuzz: $t for ${seconds}s (log $log)" >&2
  rc=0
  "$build/tests/fuzz/${t}_fuzzer" "${flags[@]}" "$@" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)\/([0-9a-zA-Z]+).*/cov \1, ft \2, corpus \3 inputs (\4)/p' <<<"$done_line")
  execs=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  if ((rc != 0)); then
    status=1
    summary+=("$t: FAILED (exit $rc): see $log and $findings/")
    grep -E 'ERROR|invariant failed|runtime error|SUMMARY' "$log" | head -5 >&2 || true
  else
    summary+=("$t: ok, ${runs:-?} runs, ${execs:-?} execs/s, ${cov:-no coverage line}")
  fi
done
printf 'fuzz: %s\n' "${summary[@]}"
exit $status
