#!/usr/bin/env bash
# What `--backtrace-details` costs (docs/DECISIONS.md #49): two Wisp servers,
# one with the flag and one without, each with trap-debug (a trap in a
# function built with DWARF), trap (the same trap, stripped) and hello
# deployed; sequential calls in alternating rounds, the median latency per
# call and the server's CPU time per call for each.
#
#   bash bench/backtraces.sh        # CALLS=200 per round, ROUNDS=5
#
# Needs the release `wisp` binary (scripts/build-server.sh or cargo build
# --release -p server) and functions/*.wasm (functions/build.sh). Run it on
# a quiet machine: no build beside it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WISP="${WISP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/wisp}"
CALLS="${CALLS:-200}"
ROUNDS="${ROUNDS:-5}"
WORK="$(mktemp -d /tmp/bench-backtraces.XXXXXX)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

[ -x "$WISP" ] || { echo "error: $WISP missing: build the server first" >&2; exit 1; }
for f in trap-debug trap hello; do
  [ -f "$ROOT/functions/$f.wasm" ] || { echo "error: functions/$f.wasm missing: run functions/build.sh" >&2; exit 1; }
done

start() { # name [flags]
  local dir="$WORK/$1"; shift
  "$WISP" serve --data-dir "$dir" --listen 127.0.0.1:0 --gateway 127.0.0.1:0 "$@" >"$dir.log" 2>&1 &
  PIDS+=("$!")
  echo "$!" >"$dir.pid"
  for _ in $(seq 1 600); do [ -s "$dir/addresses.json" ] && break; sleep 0.05; done
  local api token
  api="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$dir/addresses.json")"
  token="$(cat "$dir/admin-token")"
  for f in trap-debug trap hello; do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/wasm' \
      --data-binary "@$ROOT/functions/$f.wasm" "$api/api/v1/functions/$f/versions"
  done
}

start details --backtrace-details
start plain

python3 - "$WORK" "$CALLS" "$ROUNDS" <<'EOF'
import http.client, json, os, statistics, sys, time

work, calls, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ticks = os.sysconf("SC_CLK_TCK")

def server(name):
    gateway = json.load(open(f"{work}/{name}/addresses.json"))["gateway"]
    pid = open(f"{work}/{name}.pid").read().strip()
    return gateway, pid

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks

def round_of(gateway, pid, function):
    host, port = gateway.split(":")
    conn = http.client.HTTPConnection(host, int(port))
    latencies = []
    cpu_before = cpu_seconds(pid)
    for i in range(calls):
        start = time.perf_counter()
        conn.request("POST", f"/fn/{function}/round/{i}", body=b"x")
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - start) * 1000)
        if response.getheader("connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection(host, int(port))
    cpu = (cpu_seconds(pid) - cpu_before) * 1000 / calls
    conn.close()
    return statistics.median(latencies), cpu

servers = {"with --backtrace-details": server("details"), "without": server("plain")}
results = {}
for function in ["trap-debug", "trap", "hello"]:
    for gateway, pid in servers.values():  # warm: compiled, pools filled
        round_of(gateway, pid, function)
    for r in range(rounds):
        order = list(servers.items()) if r % 2 == 0 else list(reversed(servers.items()))
        for label, (gateway, pid) in order:
            results.setdefault((function, label), []).append(round_of(gateway, pid, function))

print(f"{calls} sequential calls per round, {rounds} alternating rounds; medians of the rounds")
print()
print("| function | server | median latency (ms) | server CPU per call (ms) |")
print("|---|---|---:|---:|")
for (function, label), values in results.items():
    latency = statistics.median(v[0] for v in values)
    cpu = statistics.median(v[1] for v in values)
    print(f"| {function} | {label} | {latency:.2f} | {cpu:.2f} |")
EOF
