#!/usr/bin/env bash
# Prints commands/s per book and the MSX/Liquibook ratios per stream from msx_compare_bench's
# JSON. The runs are interleaved rounds (names end in /round:K): the rates are medians over
# rounds, and each ratio is the median over rounds of that round's ratio (the two books of a
# round ran back to back, so they saw the same machine), with its minimum beside it.
# Usage: bench/compare/ratios.sh compare_bench.json
set -euo pipefail
jq -r '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r3: . * 1000 | round / 1000;
  def r2: . * 100 | round / 100;
  .benchmarks
  | map(select(.run_type != "aggregate")
        | (.name | capture("^(?<stream>.*)/(?<book>msx|msx_prefetch|liquibook)/round:(?<round>[0-9]+)$"))
          + {ips: .items_per_second})
  | group_by(.stream)[]
  | . as $runs
  | ($runs | group_by(.round)
      | map((map({(.book): .ips}) | add)
            | select(.msx and .msx_prefetch and .liquibook))) as $rounds
  | [$runs[0].stream,
     ($rounds | length),
     ($rounds | map(.msx) | median / 1e6 | r3),
     ($rounds | map(.msx_prefetch) | median / 1e6 | r3),
     ($rounds | map(.liquibook) | median / 1e6 | r3),
     ($rounds | map(.msx / .liquibook) | median | r2),
     ($rounds | map(.msx / .liquibook) | min | r2),
     ($rounds | map(.msx_prefetch / .liquibook) | median | r2),
     ($rounds | map(.msx_prefetch / .liquibook) | min | r2)]
  | @tsv' "$1" |
  (printf 'stream\trounds\tmsx M/s\tmsx+prefetch M/s\tliquibook M/s\tmsx/lb\t(min)\tmsx+prefetch/lb\t(min)\n'; cat) |
  column -t -s $'\t'
