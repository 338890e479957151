#!/usr/bin/env bash
# Configures (once) and builds MSX in $MSX_BUILD_DIR (default: build/, Release).
# Usage: scripts/build.sh [cmake --build args...], e.g. scripts/build.sh --target msx-server
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MSX_BUILD_DIR:-$top/build}
jobs=${MSX_JOBS:-$(nproc)}
export CCACHE_BASEDIR=$top
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE="${MSX_BUILD_TYPE:-Release}" ${MSX_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build" -j"$jobs" "$@"
