#!/bin/bash
# The layout rules of README.md's tour and issue 13, checked on the source tree: which
# folder may include which, how long a hand-written source file may grow, that every
# folder of code has a README.md and that the top README's tour has a row for each. Run by ctest
# as layout_test (label unit); usage: tests/layout_check.sh [SOURCE_DIR]. Prints every
# violation (file:line: include, or file: line count) and exits 1 if there is any.
#
# The dependency direction (lower rows never include higher ones):
#   tests/, bench/           may include anything below (bench/ not clients/: see rule 2)
#   clients/, gateway/       engine/, proto/ (clients/ and gateway/ never include each other)
#   engine/testing/          test universes and traffic (tests, fuzzers, benchmarks only)
#   engine/journal/, engine/config/   engine/matching/ (and not each other)
#   engine/matching/         the pure library: no file I/O libraries, protobuf or gRPC
# Tests and benchmarks (*_test.cc, *_test_util.h, *_fuzzer.cc, *_benchmark.cc) may also
# include test support
# (engine/testing/, tests/testing/).
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
status=0

# forbid DIR REGEX WHY [--non-test]: no file under DIR includes a path matching REGEX.
forbid() {
  local dir=$1 regex=$2 why=$3 scope=${4:-}
  local hits
  hits=$(grep -rnE --include='*.cc' --include='*.h' --include='*.proto' \
           "^[[:space:]]*(#include|import)[[:space:]]+[\"<]($regex)" "$dir" 2>/dev/null)
  if [[ $scope == --non-test ]]; then
    hits=$(grep -vE '^[^:]*(_test\.cc|_test_util\.h|_fuzzer\.cc|_benchmark\.cc):' <<<"$hits")
  fi
  if [[ -n $hits ]]; then
    echo "layout: $why"
    sed 's/^/  /' <<<"$hits"
    status=1
  fi
}

# 1, 2: clients/ and bench/ never include each other (the echo service both use is
# proto/msx/bench/echo.proto; a client's benchmark lives beside the client).
forbid clients 'bench/' 'clients/ must not include bench/ sources'
forbid bench 'clients/' 'bench/ must not include clients/ sources'
# 3: engine/ is below everything else.
forbid engine 'gateway/|clients/|bench/|tests/' 'engine/ must not include gateway/, clients/, bench/ or tests/'
# 4: the pure engine: no journal, configuration, protobuf, gRPC or test support.
forbid engine/matching 'engine/journal/|engine/config/|engine/testing/|msx/|grpc|google/protobuf' \
  'engine/matching/ is the pure library: no journal, configuration, protobuf or gRPC' --non-test
forbid engine/journal 'engine/config/|engine/testing/' \
  'engine/journal/ must not include engine/config/ or engine/testing/' --non-test
forbid engine/config 'engine/journal/|engine/testing/' \
  'engine/config/ must not include engine/journal/ or engine/testing/' --non-test
# 5: what ships does not link test support; clients and the gateway stay apart.
forbid gateway 'clients/|bench/|tests/|engine/testing/' \
  'gateway/ must not include clients/, bench/, tests/ or engine/testing/' --non-test
forbid clients 'gateway/|tests/' 'clients/ must not include gateway/ or tests/'
forbid clients 'engine/testing/' 'clients/ must not include engine/testing/ outside tests' --non-test
forbid proto 'engine/|gateway/|clients/|bench/|tests/' 'proto/ includes only protos'

# 6: the same rules for the build: no target of clients/ names a bench/ path or target, and
# the other way round.
for pair in "clients:bench/|msx_bench_" "bench:clients/|msx_drill|msx_loadgen|msx_client"; do
  dir=${pair%%:*}
  regex=${pair#*:}
  hits=$(grep -rnE "$regex" --include=CMakeLists.txt "$dir" | grep -vE '^[^:]*:[0-9]+:[[:space:]]*#')
  if [[ -n $hits ]]; then
    echo "layout: $dir/ build files must not use ${regex}"
    sed 's/^/  /' <<<"$hits"
    status=1
  fi
done

# 7: no hand-written source file above the limit: split it by concept (tests, generated
# code and checked-in data are exempt).
limit=${MSX_LAYOUT_MAX_LINES:-900}
while IFS= read -r f; do
  n=$(wc -l < "$f")
  if (( n > limit )); then
    echo "layout: $f has $n lines (limit $limit): split it by concept"
    status=1
  fi
done < <(find engine gateway clients bench proto scripts -type f \
           \( -name '*.cc' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.js' \
              -o -name '*.proto' \) \
           ! -name '*_test.cc' ! -name '*_test.py' ! -name '*_test_util.h' \
           ! -path '*/testdata/*' ! -path '*/corpus/*' | sort)

# 8: every folder of code under engine/, gateway/, clients/, bench/ and tests/ says in a
# README.md what it holds, its target and its docs.
while IFS= read -r d; do
  if [[ ! -f $d/README.md ]]; then
    echo "layout: $d/ holds code but no README.md"
    status=1
  fi
done < <(find engine gateway clients bench tests -type f \
           \( -name '*.cc' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.in' \) \
           ! -path '*/testdata/*' ! -path '*/corpus/*' ! -path '*/regressions/*' \
           -printf '%h\n' | sort -u)

# 9: the top README's tour names every top-level folder of code and each folder below it.
while IFS= read -r d; do
  if ! grep -qF "| \`$d/\` |" README.md; then
    echo "layout: README.md's tour has no row for $d/"
    status=1
  fi
done < <(find engine gateway clients bench tests -mindepth 1 -maxdepth 2 -type f \
           \( -name '*.cc' -o -name '*.h' -o -name '*.py' -o -name '*.sh' -o -name '*.in' \) \
           -printf '%h\n' | grep / | sort -u)

if (( status == 0 )); then echo "layout: ok"; fi
exit $status
