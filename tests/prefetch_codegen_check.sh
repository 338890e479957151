#!/usr/bin/env bash
# Checks that the engine's compiled Engine::Prefetch still issues prefetch instructions.
# GCC once found the (void, read-only) Engine::Impl::Prefetch pure and deleted the call,
# so Engine::Prefetch compiled to a bare `ret`: every test stayed green while the
# sequencer's and the mixed benchmark's prefetching silently stopped (2.5 vs 6 M
# commands/s). Behaviour cannot show a missing hint; the object code can.
#
# Usage: prefetch_codegen_check.sh ENGINE_OBJECT_OR_ARCHIVE
# Exit 0: found; 1: no prefetch instruction; 77 (skipped): not x86-64 or no objdump.
set -euo pipefail
lib=$1
[[ $(uname -m) == x86_64 ]] || { echo "skipped: not x86-64"; exit 77; }
command -v objdump >/dev/null || { echo "skipped: no objdump"; exit 77; }
[[ -f $lib ]] || { echo "no such file: $lib" >&2; exit 1; }
# The bodies of Engine::Prefetch and Engine::Impl::Prefetch (either may hold the hints,
# depending on what the compiler inlined).
body=$(objdump -d --no-show-raw-insn -C "$lib" |
  awk '/^[0-9a-f]+ <msx::Engine::(Impl::)?Prefetch\(msx::Command const&, int\) const>:$/ {f = 1; next}
       /^$/ {f = 0}
       f')
if [[ -z $body ]]; then
  echo "no Engine::Prefetch in $lib" >&2
  exit 1
fi
n=$(grep -c 'prefetch' <<<"$body" || true)
if ((n == 0)); then
  echo "Engine::Prefetch in $lib issues no prefetch instruction:" >&2
  echo "$body" >&2
  exit 1
fi
echo "Engine::Prefetch issues $n prefetch instructions"
