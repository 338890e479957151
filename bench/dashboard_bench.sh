#!/usr/bin/env bash
# The dashboard's cost to the exchange: msx-loadgen's submit p50 with no dashboard open
# and with CLIENTS dashboard event streams open (GET /events, each read continuously), in
# interleaved rounds (base, dashboards, base, dashboards, ...), plus msx-server's resident
# memory while the dashboards are connected under load (sampled every second).
# Bars (issue 17): the p50 moves by less than 10 %; the RSS stays flat. Also msx-server's
# CPU time (user + system, from /proc) per loadgen run: what the dashboards cost the
# server itself, which other processes on the machine disturb much less than a latency.
# The load average is printed at the start and the end (other work on the machine).
#
# Prints one JSON line (the last stdout line); progress goes to stderr.
#
# Usage: bench/dashboard_bench.sh            (MSX_BUILD_DIR, default build/)
# Env:   CLIENTS=200, RATE=2000 (offers/s, open loop), DURATION=10 (s per run), ROUNDS=3,
#        DURABILITY=none (or sync), PIN=1 (server on CPU 1, clients on CPU 0),
#        CLIENT_NICE=19 (the dashboard clients at that nice level: browsers that would be
#        on other machines then take only CPU nobody else wants here)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MSX_BUILD_DIR:-$top/build}
clients=${CLIENTS:-200}
rate=${RATE:-2000}
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
durability=${DURABILITY:-none}
server_pin=()
client_pin=()
if [[ ${PIN:-0} == 1 ]]; then
  server_pin=(taskset -c 1)
  client_pin=(taskset -c 0)
fi
server_bin=$build/gateway/msx-server
loadgen_bin=$build/clients/loadgen/msx-loadgen
tmp=$(mktemp -d "${TMPDIR:-/tmp}/msx-dash-bench-XXXXXX")
server_pid=""
clients_pid=""
cleanup() {
  [[ -n $clients_pid ]] && kill "$clients_pid" 2>/dev/null || true
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"${server_pin[@]}" "$server_bin" --listen 127.0.0.1:0 --http 127.0.0.1:0 --durability "$durability" \
  --data-dir "$tmp/data" --port-file "$tmp/port" > "$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do [[ -s $tmp/port ]] && break; sleep 0.05; done
grpc=127.0.0.1:$(cat "$tmp/port")
http_port=$(sed -n "s/.*operators' view: http:\/\/[^ ]*:\([0-9]*\)\/.*/\1/p" "$tmp/server.log")
[[ -n $http_port ]] || { cat "$tmp/server.log" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
# msx-server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# CLIENTS event streams, spread over the demo tokens (one in eight is the admin's, which
# carries every agency's section), each read as fast as it comes; prints bytes received.
cat > "$tmp/clients.py" <<'PY'
import selectors, socket, sys, signal
port, n = int(sys.argv[1]), int(sys.argv[2])
tokens = ["demo-komir", "demo-jogmec", "demo-dla", "demo-cmsr-au", "demo-nrcan", "demo-dera",
          "demo-kabil", "demo-admin"]
sel = selectors.DefaultSelector()
total = 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % tokens[i % len(tokens)]).encode())
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
def done(*_):
    print(total, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    for key, _ in sel.select(1.0):
        try:
            data = key.fileobj.recv(262144)
        except BlockingIOError:
            continue
        if not data:
            sel.unregister(key.fileobj)
        total += len(data)
PY

metric() {  # value of one metric on /metrics
  python3 - "$http_port" "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
for line in text.splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(line.split()[-1])
PY
}

run_loadgen() {
  "${client_pin[@]}" "$loadgen_bin" --server "$grpc" --rate "$rate" --duration "$duration" \
    --quiet --json | tail -1
}

echo "dashboard bench: $clients clients (nice ${CLIENT_NICE:-0}), $rate offers/s, ${duration}s x $rounds rounds, durability $durability" >&2
load_start=$(loadavg)
echo "load average at start: $load_start" >&2
ticks_per_s=$(getconf CLK_TCK)
run_loadgen > /dev/null  # warm-up
base_p50=()
dash_p50=()
base_cpu=()
dash_cpu=()
rss_samples=()
rss_idle=$(rss_kb)
bytes=0
for r in $(seq "$rounds"); do
  c0=$(cpu_ticks)
  p=$(run_loadgen | python3 -c 'import json,sys; print(json.load(sys.stdin)["p50_us"])')
  c=$(( $(cpu_ticks) - c0 ))
  base_p50+=("$p")
  base_cpu+=("$c")
  echo "round $r: base p50 $p us, server cpu $c ticks, load $(loadavg)" >&2
  nice -n "${CLIENT_NICE:-0}" "${client_pin[@]}" python3 "$tmp/clients.py" "$http_port" "$clients" \
    > "$tmp/clients.out" &
  clients_pid=$!
  for _ in $(seq 100); do
    [[ $(metric msx_dashboard_clients) == "$clients" ]] && break
    sleep 0.1
  done
  connected=$(metric msx_dashboard_clients)
  c0=$(cpu_ticks)
  run_loadgen > "$tmp/dash.json" &
  lg=$!
  while kill -0 "$lg" 2>/dev/null; do rss_samples+=("$(rss_kb)"); sleep 1; done
  wait "$lg"
  c=$(( $(cpu_ticks) - c0 ))
  dash_cpu+=("$c")
  p=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["p50_us"])' "$tmp/dash.json")
  dash_p50+=("$p")
  buffered=$(metric msx_dashboard_buffered_bytes)
  kill -TERM "$clients_pid"; wait "$clients_pid" 2>/dev/null || true; clients_pid=""
  got=$(cat "$tmp/clients.out")
  bytes=$((bytes + ${got:-0}))
  echo "round $r: $connected dashboards: p50 $p us, server cpu $c ticks, rss $(rss_kb) kB, buffered $buffered B, received $got B, load $(loadavg)" >&2
done

python3 - "$clients" "$rate" "$duration" "$durability" "$rss_idle" "$bytes" \
  "${base_p50[*]}" "${dash_p50[*]}" "${rss_samples[*]}" "${base_cpu[*]}" "${dash_cpu[*]}" \
  "$ticks_per_s" "$load_start" "$(loadavg)" "${CLIENT_NICE:-0}" <<'PY'
import json, statistics, sys
clients, rate, duration, durability, rss_idle, received = sys.argv[1:7]
base = [float(x) for x in sys.argv[7].split()]
dash = [float(x) for x in sys.argv[8].split()]
rss = [int(x) for x in sys.argv[9].split()]
hz = float(sys.argv[12])
base_cpu = [int(x) / hz for x in sys.argv[10].split()]
dash_cpu = [int(x) / hz for x in sys.argv[11].split()]
changes = [100.0 * (d - b) / b for b, d in zip(base, dash)]
mb, md = statistics.median(base), statistics.median(dash)
# "Flat": the last samples of the loaded runs against the first ones.
k = max(1, len(rss) // 4)
print(json.dumps({
    "bench": "dashboard", "clients": int(clients), "client_nice": int(sys.argv[15]),
    "rate": int(rate),
    "duration_s": int(duration), "durability": durability,
    "base_p50_us": base, "dash_p50_us": dash, "change_pct": [round(c, 1) for c in changes],
    "median_base_p50_us": mb, "median_dash_p50_us": md,
    "median_change_pct": round(100.0 * (md - mb) / mb, 1),
    "server_cpu_s_base": base_cpu, "server_cpu_s_dash": dash_cpu,
    "median_server_cpu_s_base": statistics.median(base_cpu),
    "median_server_cpu_s_dash": statistics.median(dash_cpu),
    "load_avg_start": sys.argv[13], "load_avg_end": sys.argv[14],
    "rss_kb_idle": int(rss_idle), "rss_kb_first": rss[:k], "rss_kb_last": rss[-k:],
    "rss_kb_max": max(rss), "rss_growth_pct": round(100.0 * (statistics.mean(rss[-k:]) -
                                                    statistics.mean(rss[:k])) /
                                                    statistics.mean(rss[:k]), 1),
    "bytes_received": int(received)}))
PY
