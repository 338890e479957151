#!/usr/bin/env bash
# The README's run command: installs what is missing, builds msx-server and the tools its
# banner and the README use (msx, msx-journal, msx-drill), and starts msx-server on its
# embedded default configuration. Extra arguments go to msx-server (see --help), e.g.
#   scripts/run.sh --listen 127.0.0.1:6000 --data-dir /var/lib/msx
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" --target msx-server msx msx-journal msx-drill
build=${MSX_BUILD_DIR:-$top/build}
cd "$top"
exec "$build/gateway/msx-server" --listen "${MSX_LISTEN:-127.0.0.1:50051}" \
  --data-dir "${MSX_DATA_DIR:-$top/data}" "$@"
