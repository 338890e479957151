#!/usr/bin/env bash
# Prints commands/s and the MSX/Liquibook ratio per stream from msx_compare_bench's JSON.
# With --benchmark_repetitions, the medians are used.
# Usage: bench/compare/ratios.sh compare_bench.json
set -euo pipefail
jq -r '
  .benchmarks
  | (if any(.[]; .run_type == "aggregate")
     then map(select(.aggregate_name == "median")) else . end)
  | map({stream: (.name | sub("/(msx|msx_prefetch|liquibook)(_median)?$"; "")),
         book: (.name | capture("/(?<b>msx|msx_prefetch|liquibook)(_median)?$").b),
         ips: .items_per_second})
  | group_by(.stream)[]
  | (map({(.book): .ips}) | add) as $r
  | [.[0].stream,
     ($r.msx / 1e6 | . * 1000 | round / 1000),
     ($r.msx_prefetch / 1e6 | . * 1000 | round / 1000),
     ($r.liquibook / 1e6 | . * 10000 | round / 10000),
     ($r.msx / $r.liquibook | . * 100 | round / 100),
     ($r.msx_prefetch / $r.liquibook | . * 100 | round / 100)]
  | @tsv' "$1" |
  (printf 'stream\tmsx M/s\tmsx+prefetch M/s\tliquibook M/s\tmsx/lb\tmsx+prefetch/lb\n'; cat) |
  column -t -s $'\t'
