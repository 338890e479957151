#!/usr/bin/env bash
# End-to-end latency benchmark of msx-server against its floor, on loopback.
#
# Starts msx-echo-server (the bare gRPC floor: "echo" on the callback API that msx-server
# uses, "echo-async" on the completion-queue API for comparison) and msx-server with --durability none and
# then sync (each on a fresh temp data dir), all on 127.0.0.1 with free ports, and runs
# msx-loadgen against each at several loads: open loop 1,000/s and 5,000/s (4 channels),
# then closed loop with 16 channels (one call in flight per channel; more channels = more
# concurrent clients, e.g. CONCURRENCY="16 64 128" for one closed-loop row each). Prints one
# table row per run plus the gateway bars:
#   none:  SubmitOffer p50 <= 1.5 x echo p50
#   sync:  p50 <= echo p50 + bare fdatasync p50 + 100 us
#   sync:  >= 30,000 offers/s with 16+ clients and no errors but rejects (best closed row,
#          for each API)
# API="unary order-entry order-entry-batches" runs every msx-server row group once per API:
# unary SubmitOffer / CancelOffer calls, msx-loadgen --api order-entry (one OrderEntry
# stream per channel and agency, WINDOW requests in flight per stream) and
# --api order-entry-batches (the same on OrderEntryBatches); the echo rows are unary only.
#
# Usage: bench/loadgen_bench.sh            (MSX_BUILD_DIR, default build/)
# Env:   DURATION=seconds per run (default 5), RATES="1000 5000" (may be empty),
#        CONCURRENCY="16" (closed-loop channel counts), LOADGEN_ARGS (extra msx-loadgen
#        flags, e.g. "--threads 2", or "--exec-stream none" to time the calls without the
#        four agencies' execution streams open; by default they are open, as an agency's
#        own systems would have them), MODES="echo echo-async none sync",
#        API="unary" (or any of "unary order-entry order-entry-batches"), WINDOW=32
#        (order-entry: requests in flight per stream; closed loop: on average);
#        raw JSON lines are kept in $OUT (default a temp file),
#        ROUNDS=N (default 1) runs the whole MODES sequence N times, interleaved (echo, none,
#        sync, echo, none, sync, ...): the latency bars are then judged per round (each
#        ratio against the echo of its own round) and on the median over the rounds, since
#        on this VM the echo floor's own p50 moves by up to 2x between runs minutes apart,
#        PIN=1 runs every server on CPU 1 and msx-loadgen on CPU 0 (taskset), so that client
#        and server do not take each other's core (the same for echo and msx-server),
#        SWITCHES=1 counts the server process's context switches and CPU time over every
#        thread while msx-loadgen runs, and prints them per call ("srv cs/call" = voluntary
#        + involuntary, "srv vcs/call" = voluntary only: the sleeps and wake-ups the server
#        asks for, where involuntary ones are mostly the machine's other load preempting it;
#        "srv us/call") plus the switches per call of each thread name: the
#        machine's load moves latency and throughput, much less what one call costs the
#        server. Read from the kernel's per-thread counters (/proc/PID/task/*/status and
#        schedstat, the counts `perf stat -e context-switches,task-clock` reports; on this
#        VM `perf stat -p` cannot attach to a running process); a thread that exits during
#        the run is not counted (gRPC's threads live as long as the server).
# Issue 18's bars are printed too (unary closed loop sync >= 0.8 x echo at the same
# concurrency; none p50 <= 1.2 x echo; sync p50 <= echo + fdatasync + 50 us).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MSX_BUILD_DIR:-$top/build}
duration=${DURATION:-5}
rates=${RATES-"1000 5000"}
concurrency=${CONCURRENCY-16}
modes=${MODES:-"echo echo-async none sync"}
apis=${API:-unary}
window=${WINDOW:-32}
rounds=${ROUNDS:-1}
server_pin=()
client_pin=()
if [[ ${PIN:-0} == 1 ]]; then
  server_pin=(taskset -c 1)
  client_pin=(taskset -c 0)
fi

server_bin=$build/gateway/msx-server
echo_bin=$build/bench/msx-echo-server
loadgen_bin=$build/clients/loadgen/msx-loadgen
if [[ ! -x $server_bin || ! -x $echo_bin || ! -x $loadgen_bin ]]; then
  MSX_BUILD_DIR=$build "$top/scripts/build.sh" --target msx-server msx-echo-server msx-loadgen
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/msx-bench-XXXXXX")
out=${OUT:-$tmp/results.jsonl}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_port() {  # file -> prints the port once written
  for _ in $(seq 1 500); do
    if [[ -s $1 ]]; then head -n1 "$1"; return 0; fi
    sleep 0.02
  done
  echo "no port in $1" >&2
  return 1
}

# fdatasync p50 on the data directory's file system, 500 times each: a 4 KiB append +
# fdatasync (the bar's floor: the file grows, so the file system commits its size too),
# and a 4 KiB write over bytes already written + fdatasync (data only; what a journal
# writing into pre-zeroed space pays). Prints "append overwrite".
read -r fsync_p50_us fsync_overwrite_p50_us < <(python3 - "$tmp" <<'PY'
import os, sys, time
buf = b"x" * 4096
def p50(samples):
    samples.sort()
    return samples[len(samples) // 2] / 1000
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
append = []
for _ in range(500):
    t = time.perf_counter_ns()
    os.write(fd, buf)
    os.fdatasync(fd)
    append.append(time.perf_counter_ns() - t)
os.close(fd)
fd = os.open(path, os.O_WRONLY)  # the 500 blocks just written, now overwritten in order
overwrite = []
for i in range(500):
    t = time.perf_counter_ns()
    os.pwrite(fd, buf, i * 4096)
    os.fdatasync(fd)
    overwrite.append(time.perf_counter_ns() - t)
os.close(fd)
os.remove(path)
print(f"{p50(append):.1f} {p50(overwrite):.1f}")
PY
)

thread_counters() {  # pid -> {"tid": [name, voluntary, involuntary, cpu ns], ...}
  python3 - "$1" <<'PY'
import json, os, sys
out = {}
base = f"/proc/{sys.argv[1]}/task"
for tid in os.listdir(base):
    try:
        st = dict(l.split(":", 1) for l in open(f"{base}/{tid}/status") if ":" in l)
        ns = int(open(f"{base}/{tid}/schedstat").read().split()[0])
    except OSError:
        continue  # exited meanwhile
    out[tid] = [st["Name"].strip(), int(st["voluntary_ctxt_switches"]),
                int(st["nonvoluntary_ctxt_switches"]), ns]
print(json.dumps(out))
PY
}

run() {  # mode api address args... -> one JSON line appended to $out, tagged with the mode
  local mode=$1 api=$2 addr=$3; shift 3
  local api_args=()
  [[ $api == order-entry* ]] && api_args=(--api "$api" --window "$window")
  local line perf_pid="" perf_json="" load1
  load1=$(cut -d' ' -f1 /proc/loadavg)  # the machine's 1-minute load average as the row starts
  [[ ${SWITCHES:-0} == 1 ]] && thread_counters "${pids[-1]}" > "$tmp/before.json"
  # shellcheck disable=SC2086 # LOADGEN_ARGS is a list of flags
  line=$("${client_pin[@]}" "$loadgen_bin" --server "$addr" --duration "$duration" --json --quiet \
    ${LOADGEN_ARGS:-} "${api_args[@]}" "$@" | tail -n1)
  if [[ ${SWITCHES:-0} == 1 ]]; then
    thread_counters "${pids[-1]}" > "$tmp/after.json"
    perf_json=",\"threads\":$(python3 - "$tmp/before.json" "$tmp/after.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
out = {}  # thread name -> [voluntary, involuntary, cpu ns] during the run
for tid, (comm, vol, inv, ns) in b.items():
    v0, i0, n0 = a[tid][1:] if tid in a else (0, 0, 0)
    o = out.setdefault(comm, [0, 0, 0])
    o[0] += vol - v0; o[1] += inv - i0; o[2] += ns - n0
print(json.dumps(out))
PY
)"
  fi
  echo "{\"server\":\"$mode\",\"api\":\"$api\",\"round\":$round,\"tag\":\"$tag\",\"args\":\"${api_args[*]} $*\",\"load1\":$load1$perf_json,\"summary\":$line}" >> "$out"
}

# A fresh server (and data dir) per group of rows, so that the journal's group-commit
# figures printed at its shutdown ("N commands in M group commits") belong to those rows.
serial=0
start_server() {  # mode -> sets addr, extra, tag
  local mode=$1
  serial=$((serial + 1))
  tag=$mode-$serial
  if [[ $mode == echo || $mode == echo-async ]]; then
    local api=callback
    [[ $mode == echo-async ]] && api=async
    "${server_pin[@]}" "$echo_bin" --listen 127.0.0.1:0 --api "$api" --port-file "$tmp/$tag.port" \
      > "$tmp/$tag.log" 2>&1 &
    extra=(--echo)
  else
    mkdir -p "$tmp/data-$tag"
    "${server_pin[@]}" "$server_bin" --listen 127.0.0.1:0 --data-dir "$tmp/data-$tag" --durability "$mode" \
      --port-file "$tmp/$tag.port" > "$tmp/$tag.log" 2>&1 &
    extra=()
  fi
  pids+=($!)
  addr=127.0.0.1:$(wait_port "$tmp/$tag.port")
}
stop_server() {
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
  local j
  j=$(grep -o 'journal: [0-9]* commands in .*' "$tmp/$tag.log" || true)
  [[ -n $j ]] && echo "$tag $j" >> "$tmp/journal.txt"
  return 0
}

touch "$tmp/journal.txt"
for round in $(seq 1 "$rounds"); do
for mode in $modes; do
  for api in $apis; do
    # The echo servers have no OrderEntry: their rows are unary only.
    [[ $api != unary && ( $mode == echo || $mode == echo-async ) ]] && continue
    if [[ -n ${rates// } ]]; then
      start_server "$mode"
      for rate in $rates; do
        run "$mode" "$api" "$addr" "${extra[@]}" --rate "$rate" --concurrency 4
      done
      stop_server
    fi
    for c in $concurrency; do
      start_server "$mode"
      run "$mode" "$api" "$addr" "${extra[@]}" --rate 0 --concurrency "$c"
      stop_server
    done
  done
done
done

python3 - "$out" "$fsync_p50_us" "$tmp/journal.txt" "$fsync_overwrite_p50_us" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fsync = float(sys.argv[2])
fsync_overwrite = float(sys.argv[4])
per_commit = {}  # server tag -> commands per group commit over that server's rows
for l in open(sys.argv[3]):
    m = re.match(r"(\S+) journal: (\d+) commands in (\d+) group commits", l)
    if m and int(m.group(3)):
        per_commit[m.group(1)] = f"{int(m.group(2)) / int(m.group(3)):.1f}"
def accepted(s):  # offers the engine took (submits without the rejected ones) per second
    return (s["submits"] - s["rejected"]) / s["elapsed_s"] if s.get("elapsed_s") else 0
hdr = ["server", "api", "load", "sent", "ok", "rejected", "errors", "calls/s", "offers/s", "accepted/s", "p50", "p90", "p99",
       "p99.9", "max", "exec p50", "exec p99", "fills", "cmds/commit", "load1", "srv cs/call",
       "srv vcs/call", "srv us/call"]
def errors(s):  # gRPC errors plus (order-entry) per-response error codes
    return sum(s["errors"].values()) + sum(s.get("response_errors", {}).values())
def per_call(r, what):  # SWITCHES=1: the server's switches or CPU us during the run / calls
    t, n = r.get("threads"), r["summary"]["sent"]
    if not t or not n:
        return "-"
    if what == "cs":
        return f"{sum(v[0] + v[1] for v in t.values()) / n:.1f}"
    if what == "vcs":
        return f"{sum(v[0] for v in t.values()) / n:.1f}"
    return f"{sum(v[2] for v in t.values()) / 1000 / n:.0f}"
table = []
for r in rows:
    s = r["summary"]
    load = f"{s['target_rate']}/s C={s['concurrency']}" if s["target_rate"] else f"closed C={s['concurrency']}"
    api = s.get("api", "unary")
    if api.startswith("order-entry"):
        tag = "oeb" if api == "order-entry-batches" else "oe"
        api = f"{tag} {s['streams']}x{s['window']}"  # streams x window
    table.append([r["server"], api, load, s["sent"], s["ok"], s["rejected"], errors(s),
                  f"{s['rate']:.0f}", f"{s.get('offer_rate', 0):.0f}", f"{accepted(s):.0f}", s["p50_us"], s["p90_us"], s["p99_us"], s["p999_us"], s["max_us"],
                  s["exec_p50_us"] if s["mode"] != "echo" else "-",
                  s["exec_p99_us"] if s["mode"] != "echo" else "-", s["fills"],
                  per_commit.get(r.get("tag"), "-"), r.get("load1", "-"),
                  per_call(r, "cs"), per_call(r, "vcs"), per_call(r, "cpu")])
w = [max(len(str(x)) for x in col) for col in zip(hdr, *table)]
fmt = lambda row: "| " + " | ".join(str(x).rjust(n) for x, n in zip(row, w)) + " |"
print("latencies in microseconds, measured from each call's scheduled send time")
print(fmt(hdr))
print("|" + "|".join("-" * (n + 2) for n in w) + "|")
for row in table:
    print(fmt(row))
threaded = [r for r in rows if r.get("threads")]
if threaded:
    print("server context switches per call by thread, voluntary+involuntary (threads with >= 0.05):")
    for r in threaded:
        n = r["summary"]["sent"] or 1
        parts = sorted(((v[0] + v[1]) / n, k, v[0] / n) for k, v in r["threads"].items())
        s = r["summary"]
        load = f"{s['target_rate']}/s" if s["target_rate"] else f"closed C={s['concurrency']}"
        print(f"  {r['server']} {load} (round {r.get('round', 1)}): " +
              ", ".join(f"{k} {vol:.2f}+{x - vol:.2f}" for x, k, vol in reversed(parts) if x >= 0.05))
print("api: unary = one call per operation; oe SxW = order-entry, S streams (channels x "
      "agencies), W requests in flight per stream; oeb = the same on OrderEntryBatches")
print(f"bare fdatasync p50 (same file system): 4 KiB append {fsync} us (the bar's floor); "
      f"4 KiB overwrite {fsync_overwrite} us")
def find(server, rate, rnd):  # the latency bars are judged on unary calls
    for r in rows:
        if (r["server"] == server and r["summary"]["target_rate"] == rate
                and r.get("round", 1) == rnd and r["summary"].get("api", "unary") == "unary"):
            return r["summary"]
    return None
def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
first_rate = next((r["summary"]["target_rate"] for r in rows if r["summary"]["target_rate"]), None)
rounds = sorted(dict.fromkeys(r.get("round", 1) for r in rows))
none_ratios, sync_margins = [], []  # per round: none p50 / echo p50; sync limit - sync p50
for rnd in rounds:
    echo, none, sync = (find(m, first_rate, rnd) for m in ("echo", "none", "sync"))
    tag = f" (round {rnd})" if len(rounds) > 1 else ""
    if echo and none:
        none_ratios.append(none["p50_us"] / echo["p50_us"])
        print(f"bar none{tag}: p50 {none['p50_us']} us vs 1.5 x echo p50 = {1.5 * echo['p50_us']:.1f} us "
              f"at {first_rate}/s ({none_ratios[-1]:.2f}x) -> "
              f"{'MET' if none['p50_us'] <= 1.5 * echo['p50_us'] else 'NOT MET'}")
    if echo and sync:
        limit = echo["p50_us"] + fsync + 100
        sync_margins.append(limit - sync["p50_us"])
        print(f"bar sync{tag}: p50 {sync['p50_us']} us vs echo p50 + fdatasync p50 + 100 = {limit:.1f} us "
              f"at {first_rate}/s -> {'MET' if sync['p50_us'] <= limit else 'NOT MET'}; with the "
              f"overwrite fdatasync instead: {echo['p50_us'] + fsync_overwrite + 100:.1f} us -> "
              f"{'MET' if sync['p50_us'] <= echo['p50_us'] + fsync_overwrite + 100 else 'NOT MET'}")
if len(rounds) > 1 and none_ratios:
    m = median(none_ratios)
    print(f"bar none over {len(none_ratios)} rounds: median {m:.2f}x echo p50, met in "
          f"{sum(r <= 1.5 for r in none_ratios)} of {len(none_ratios)} -> "
          f"{'MET' if m <= 1.5 else 'NOT MET'} (median)")
if len(rounds) > 1 and sync_margins:
    m = median(sync_margins)
    print(f"bar sync over {len(sync_margins)} rounds: median margin {m:+.1f} us (limit - p50), met in "
          f"{sum(x >= 0 for x in sync_margins)} of {len(sync_margins)} -> "
          f"{'MET' if m >= 0 else 'NOT MET'} (median)")
# Issue 18's bars, per round and as the median over the rounds: none p50 <= 1.2 x echo p50;
# sync p50 <= echo p50 + fdatasync p50 + 50 us; unary closed loop sync calls/s >= 0.8 x
# the echo's at the same concurrency (same round).
def closed(server, c, rnd):
    for r in rows:
        s = r["summary"]
        if (r["server"] == server and s["target_rate"] == 0 and s["concurrency"] == c
                and r.get("round", 1) == rnd and s.get("api", "unary") == "unary"):
            return r
    return None
r18 = {"none": [], "sync": [], "closed": {}}
for rnd in rounds:
    echo, none, sync = (find(m, first_rate, rnd) for m in ("echo", "none", "sync"))
    if echo and none:
        r18["none"].append(none["p50_us"] / echo["p50_us"])
    if echo and sync:
        r18["sync"].append(echo["p50_us"] + fsync + 50 - sync["p50_us"])
    for c in sorted({r["summary"]["concurrency"] for r in rows if r["summary"]["target_rate"] == 0}):
        e, q = closed("echo", c, rnd), closed("sync", c, rnd)
        if e and q and e["summary"]["rate"]:
            r18["closed"].setdefault(c, []).append(q["summary"]["rate"] / e["summary"]["rate"])
if r18["none"]:
    m = median(r18["none"])
    print(f"issue 18 bar none: p50 / echo p50 per round {' '.join(f'{x:.2f}' for x in r18['none'])}; "
          f"median {m:.2f}x -> {'MET' if m <= 1.2 else 'NOT MET'} (<= 1.2x)")
if r18["sync"]:
    m = median(r18["sync"])
    print(f"issue 18 bar sync: (echo p50 + fdatasync + 50) - sync p50 per round "
          f"{' '.join(f'{x:+.0f}' for x in r18['sync'])} us; median {m:+.0f} us -> "
          f"{'MET' if m >= 0 else 'NOT MET'}")
for c, xs in sorted(r18["closed"].items()):
    m = median(xs)
    print(f"issue 18 bar closed loop C={c}: sync / echo calls/s per round "
          f"{' '.join(f'{x:.2f}' for x in xs)}; median {m:.2f}x -> "
          f"{'MET' if m >= 0.8 else 'NOT MET'} (>= 0.8x)")
# Clients: unary = channels (one call in flight each); order-entry = streams (each an
# agency's session on a channel, with its window of requests in flight).
def clients(s):
    return s["streams"] if s.get("api", "unary").startswith("order-entry") else s["concurrency"]
for api in dict.fromkeys(r["summary"].get("api", "unary") for r in rows):
    closed_rows = [r["summary"] for r in rows
                   if r["server"] == "sync" and r["summary"]["target_rate"] == 0
                   and r["summary"].get("api", "unary") == api and clients(r["summary"]) >= 16]
    # Judged on accepted offers: rejected submits are cheaper than fills, and the mix turns
    # into holdings rejects when very many requests are in flight.
    closed = max(closed_rows, key=accepted) if closed_rows else None
    if closed:
        errs = dict(closed["errors"], **{f"{k} (response)": v
                                         for k, v in closed.get("response_errors", {}).items()})
        ok = accepted(closed) >= 30000 and not errs
        print(f"bar sync throughput ({api}): {accepted(closed):.0f} accepted offers/s "
              f"({closed['offer_rate']:.0f} submitted, {closed['rate']:.0f} calls/s with the "
              f"cancels) with {clients(closed)} clients "
              f"({closed['concurrency']} channels), errors {errs or 'none'} "
              f"-> {'MET' if ok else 'NOT MET'}")
PY
