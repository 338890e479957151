#!/usr/bin/env bash
# Regenerates clients/drill/docs/drill-report.png from a real drill: msx-server (default
# configuration, durability sync) under msx-loadgen for DURATION seconds (default 60, 200
# offers/s on every pair with holdings), then `msx-drill run` with examples/cobalt_crisis.textproto and --html,
# opened in headless Chromium (tests/browser/msx_browser.py: Debian's chromium,
# chromium-driver, python3-selenium) and captured from the top: title, edits fired,
# totals and the first volume charts, drill beside original.
#
# Usage: scripts/drill_screenshot.sh [OUT.png]   (MSX_BUILD_DIR, default build/)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MSX_BUILD_DIR:-$top/build}
out=$(realpath -m "${1:-$top/clients/drill/docs/drill-report.png}")
duration=${DURATION:-60}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/msx-drill-shot-XXXXXX")
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"  # the report names the journal and scenario as given: keep them short
"$build/gateway/msx-server" --listen 127.0.0.1:0 --data-dir data --port-file port > server.log 2>&1 &
server_pid=$!
for _ in $(seq 200); do [[ -s port ]] && break; sleep 0.05; done
"$build/clients/loadgen/msx-loadgen" --server "127.0.0.1:$(cat port)" --rate 200 \
  --duration "$duration" --quiet > /dev/null
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
cp "$top/clients/drill/examples/cobalt_crisis.textproto" .
"$build/clients/drill/msx-drill" run data --scenario cobalt_crisis.textproto --out drill \
  --html drill.html > /dev/null
/usr/bin/python3 - "$top/tests/browser" "$tmp/drill.html" "$out" <<'PY'
import base64, sys, time
sys.path.insert(0, sys.argv[1])
import msx_browser
with msx_browser.headless_chromium(width=1200, height=1400) as d:
    d.get(msx_browser.file_url(sys.argv[2]))
    time.sleep(1)
    shot = d.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "clip": {"x": 0, "y": 0, "width": 1200, "height": 1150, "scale": 1}})
    open(sys.argv[3], "wb").write(base64.b64decode(shot["data"]))
PY
echo "wrote $out"
