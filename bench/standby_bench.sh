#!/usr/bin/env bash
# The hot standby's latency and throughput bars (issue 16), on loopback.
#
# Each round, interleaved so that the machine's load hits all three alike:
#   sync        msx-server (durability sync, no replication) on a fresh data dir;
#   replicated  msx-server --replicate to a fresh 3-node NATS JetStream cluster started here
#               (three nats-server processes, file storage, 127.0.0.1 routes), fresh data dir;
#   jetstream   msx_replication_bench's "sync" case against that same cluster: the bare
#               3-replica publish p50 at PAYLOAD bytes (one command group), no msx-server,
#               one publish after the other, through the stream leader's server as the
#               replicated msx-server publishes (ReplicatedLog's prefer_stream_leader); and its "sync_paced" case, one publish every
#               1/RATE s as the replicated server sends them in the latency run (shown
#               beside the bar, not part of it: NATS servers idle between publishes answer
#               more slowly than busy ones).
#   replicated_b  with SERVER_B=path: the same as "replicated" with that msx-server binary
#               on its own fresh cluster, A and B alternating which goes first: an
#               interleaved A/B of two builds on a shared machine.
# msx-loadgen against each server: latency = open loop RATE/s, unary (SubmitOffer p50);
# throughput = closed loop, --api order-entry-batches (batched order entry), accepted
# offers/s. Both with the same clients (4 channels, 4 agencies). Bars, on the medians
# over the rounds:
#   replicated p50 <= sync p50 + jetstream p50 + 100 us
#   replicated offers/s >= 50 % of sync offers/s
# TAKEOVER=N also runs build/bench/msx_takeover_bench N (kill -9 to the first acknowledged
# offer on the standby, default lease) once at the end.
#
# Usage: bench/standby_bench.sh   (MSX_BUILD_DIR, default build/)
# Env:   ROUNDS=3, DURATION=5 (seconds per loadgen run), RATE=200, PAYLOAD=170 (bytes of one
#        journaled SubmitOffer group with its events, what a replicated submit publishes at
#        low rate), TAKEOVER=0, OUT (raw JSON lines; default a temp file), SERVER_B.
# Every JSON line carries the 1-minute load average when it was taken ("load1"); the
# table prints it beside each round's figures.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MSX_BUILD_DIR:-$top/build}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
rate=${RATE:-200}
payload=${PAYLOAD:-170}
takeover=${TAKEOVER:-0}
server_bin=$build/gateway/msx-server
server_b=${SERVER_B:-}
loadgen_bin=$build/clients/loadgen/msx-loadgen
js_bin=$build/bench/msx_replication_bench
nats_bin=${MSX_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
export MSX_BUILD_DIR=$build  # msx_takeover_bench finds msx-server through it

tmp=$(mktemp -d "${TMPDIR:-/tmp}/msx-standby-bench-XXXXXX")
out=${OUT:-$tmp/results.jsonl}
: > "$out"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [[ -n ${KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT

free_ports() {  # n -> n free TCP ports on 127.0.0.1
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

wait_port() {  # file -> prints the port once written
  for _ in $(seq 1 600); do
    if [[ -s $1 ]]; then cat "$1"; return 0; fi
    sleep 0.05
  done
  echo "no port in $1" >&2
  return 1
}

nats_pids=()
start_nats() {  # tag -> sets urls
  local tag=$1
  read -r -a p <<< "$(free_ports 6)"
  urls=""
  nats_pids=()
  for i in 0 1 2; do
    local conf=$tmp/$tag-n$i.conf routes=""
    for j in 0 1 2; do
      [[ $j == "$i" ]] || routes+="${routes:+, }nats-route://127.0.0.1:${p[$((2 * j + 1))]}"
    done
    mkdir -p "$tmp/$tag-n$i"
    cat > "$conf" <<EOF
server_name: $tag-n$i
listen: 127.0.0.1:${p[$((2 * i))]}
jetstream { store_dir: "$tmp/$tag-n$i" }
cluster {
  name: msxbench
  listen: 127.0.0.1:${p[$((2 * i + 1))]}
  routes: [ $routes ]
}
EOF
    "$nats_bin" -c "$conf" > "$tmp/$tag-n$i.log" 2>&1 &
    pids+=($!)
    nats_pids+=($!)
    urls+="${urls:+,}nats://127.0.0.1:${p[$((2 * i))]}"
  done
  # Ready once every client port accepts and the JetStream meta group had time to elect.
  for i in 0 1 2; do
    for _ in $(seq 1 400); do
      (echo > "/dev/tcp/127.0.0.1/${p[$((2 * i))]}") 2> /dev/null && break
      sleep 0.05
    done
  done
  sleep "${NATS_SETTLE:-3}"
}

stop_nats() {
  for pid in "${nats_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
}

start_server() {  # tag, extra args... -> sets addr, server_pid (binary: $bin, default A)
  local tag=$1
  shift
  "${bin:-$server_bin}" --data-dir "$tmp/$tag-data" --listen 127.0.0.1:0 --port-file "$tmp/$tag.port" \
    "$@" > "$tmp/$tag.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  if ! addr=127.0.0.1:$(wait_port "$tmp/$tag.port"); then
    echo "msx-server $tag did not start; its log:" >&2
    tail -n 20 "$tmp/$tag.log" >&2
    return 1
  fi
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
}

loadgen() {  # mode kind args... -> appends one JSON line
  local mode=$1 kind=$2
  shift 2
  local line
  line=$("$loadgen_bin" --server "$addr" --duration "$duration" --concurrency 4 --json --quiet \
    "$@" | tail -n 1)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["bench_mode"]=sys.argv[2]; d["bench_kind"]=sys.argv[3]; d["round"]=int(sys.argv[4]); d["load1"]=float(open("/proc/loadavg").read().split()[0]); print(json.dumps(d))' \
    "$line" "$mode" "$kind" "$round" >> "$out"
}

measure() {  # mode
  loadgen "$1" latency --rate "$rate"
  loadgen "$1" throughput --rate 0 --api order-entry-batches
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: sync" >&2
  start_server "sync$round"
  measure sync
  stop_server

  order=(a)
  if [[ -n $server_b ]]; then
    order=(a b)
    (( round % 2 == 0 )) && order=(b a)
  fi
  for which in "${order[@]}"; do
    mode=replicated bin=$server_bin
    [[ $which == b ]] && mode=replicated_b bin=$server_b
    echo "round $round/$rounds: $mode" >&2
    stop_nats  # the previous one (B's, or A's once its bare publish ran)
    start_nats "js$which$round"
    start_server "repl$which$round" --replicate "$urls"
    # The port is written before the node has claimed the lease: wait until it leads, or
    # the loadgen's set-up calls meet a standby (UNAVAILABLE) and it finds nothing to trade.
    for _ in $(seq 1 600); do
      grep -q "now the PRIMARY" "$tmp/repl$which$round.log" && break
      sleep 0.05
    done
    measure $mode
    stop_server
    if [[ $which == a ]]; then
      # The bare publish on A's cluster, back to back and paced at RATE.
      echo "round $round/$rounds: bare JetStream publish" >&2
      "$js_bin" --servers="$urls" --sizes="$payload" --count=500 --lease-rounds=0 \
        --pace-us=$((1000000 / rate)) 2> /dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    d = json.loads(line)
    if d["case"] not in ("sync", "sync_paced"): continue
    d["bench_mode"] = "jetstream" if d["case"] == "sync" else "jetstream_paced"
    d["bench_kind"] = "latency"; d["round"] = int(sys.argv[1])
    d["load1"] = float(open("/proc/loadavg").read().split()[0]); print(json.dumps(d))' \
          "$round" >> "$out"
    fi
  done
  stop_nats
  unset bin
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pick(mode, kind, key):
    return [r[key] for r in rows if r["bench_mode"] == mode and r["bench_kind"] == kind]
def accepted(r):
    # Offers the exchange took (submits answered OK), per second of the run.
    return r.get("offer_rate", 0) * (1 - r["rejected"] / max(1, r["sent"]))
sync_p50 = pick("sync", "latency", "p50_us")
js_p50 = pick("jetstream", "latency", "p50_us")
paced_p50 = pick("jetstream_paced", "latency", "p50_us")
sync_tp = [accepted(r) for r in rows if r["bench_mode"] == "sync" and r["bench_kind"] == "throughput"]
modes = [md for md in ("replicated", "replicated_b") if pick(md, "latency", "p50_us")]
repl_p50 = {md: pick(md, "latency", "p50_us") for md in modes}
repl_tp = {md: [accepted(r) for r in rows if r["bench_mode"] == md and r["bench_kind"] == "throughput"]
           for md in modes}
errs = sum(sum(r["errors"].values()) for r in rows if "errors" in r)
loads = {}
for r in rows:
    loads.setdefault(r["round"], []).append(r.get("load1", 0))
tag = {"replicated": "repl", "replicated_b": "repl B"}
print("round  sync p50  " + "  ".join(f"{tag[md] + ' p50':>10s}" for md in modes) +
      "  js p50  js paced p50  | sync offers/s  " +
      "  ".join(f"{tag[md] + ' offers/s':>15s}" for md in modes) +
      "  | load1 min-max  (us; accepted offers/s)")
for i in range(len(sync_p50)):
    l = loads.get(i + 1, [0])
    print(f"{i + 1:5d}  {sync_p50[i]:8.0f}  " +
          "  ".join(f"{repl_p50[md][i]:10.0f}" for md in modes) +
          f"  {js_p50[i]:6.0f}  {paced_p50[i]:12.0f}  | {sync_tp[i]:13.0f}  " +
          "  ".join(f"{repl_tp[md][i]:15.0f}" for md in modes) +
          f"  | {min(l):5.1f}-{max(l):5.1f}")
m = statistics.median
limit = m(sync_p50) + m(js_p50) + 100
for md in modes:
    name = "replicated" if md == "replicated" else "replicated (B)"
    print(f"median: sync p50 {m(sync_p50):.0f} us, {name} p50 {m(repl_p50[md]):.0f} us, "
          f"bare JetStream p50 {m(js_p50):.0f} us -> limit {limit:.0f} us: "
          f"{'PASS' if m(repl_p50[md]) <= limit else 'FAIL'}")
    ratio = m(repl_tp[md]) / m(sync_tp) if m(sync_tp) else 0
    print(f"median: sync {m(sync_tp):.0f} offers/s, {name} {m(repl_tp[md]):.0f} offers/s = "
          f"{100 * ratio:.0f} % of sync: {'PASS' if ratio >= 0.5 else 'FAIL'}")
print(f"(not the bar) bare JetStream p50 paced at the latency run's rate: {m(paced_p50):.0f} us; "
      f"sync p50 + that + 100 us = {m(sync_p50) + m(paced_p50) + 100:.0f} us")
print(f"errors across all runs: {errs}")
PY
if [[ $takeover -gt 0 ]]; then
  echo "takeover: $takeover rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$build/bench/msx_takeover_bench" "$takeover" | tee "$tmp/takeover.txt" | tail -n 1
  echo "load average after takeover: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
fi
