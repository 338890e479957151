#!/usr/bin/env bash
# Installs the Debian 12 packages MSX needs to build, test and run, and nothing else.
# A no-op when they are all present; runs `apt-get update` only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake git pkg-config ccache
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libabsl-dev libboost-dev libboost-program-options-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev openssl
  nats-server libnats-dev
  chromium chromium-driver python3-selenium
  prometheus  # promtool: tests/http_metrics_test checks /metrics with it
)
# clang and its sanitizer/libFuzzer runtimes: for scripts/fuzz.sh and scripts/tsan.sh, which
# set MSX_SETUP_CLANG=1, and for CI (CI=true), whose test run includes a short fuzzing run.
if [[ ${CI:-} == true || ${MSX_SETUP_CLANG:-} == 1 ]]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
