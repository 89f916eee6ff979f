#!/usr/bin/env bash
# Lab A/B/…: release wisp servers from one binary, each started with its own
# environment (ENVS, separated by ';', e.g. "WISP_GATEWAY_THREADS=0;WISP_GATEWAY_THREADS=2"),
# hello deployed on each, interleaved wrk rounds (order flipping every round);
# per round: req/s, p50, p99, server CPU µs/call, context switches/call
# (docs/BENCHMARKS.md run 18).
set -euo pipefail
WISP="${WISP:-${CARGO_TARGET_DIR:-$(dirname "$0")/../../target}/release/wisp}"
HELLO="${HELLO:-$(dirname "$0")/../../functions/hello.wasm}"
ROUNDS="${ROUNDS:-6}"; DURATION="${DURATION:-5}"; CONNS="${CONNS:-16 64}"
IFS=";" read -ra ENVS <<< "${ENVS:-WISP_GATEWAY_THREADS=0;WISP_GATEWAY_THREADS=2}"
EXTRA="${EXTRA:-}"
W=$(mktemp -d /tmp/ab.XXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf $W' EXIT
start() { # name env
  local d="$W/$1"; mkdir -p "$d"
  env RUST_LIB_BACKTRACE=0 $2 "$WISP" serve --data-dir "$d" --listen 127.0.0.1:0 --gateway 127.0.0.1:0 \
    --team-concurrency-percent 100 --sandbox-memory-budget-mb 1048576 $EXTRA >"$d.log" 2>&1 &
  PIDS+=($!); echo $! > "$d.pid"
  until [ -s "$d/addresses.json" ]; do sleep 0.05; done
  local api="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$d/addresses.json")"
  local gw="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"])' "$d/addresses.json")"
  curl -sf -o /dev/null -H "Authorization: Bearer $(cat $d/admin-token)" -H 'content-type: application/wasm' \
    --data-binary "@$HELLO" "$api/api/v1/functions/hello/versions"
  echo "$gw/fn/hello/" > "$d.url"
}
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
ctx() { cat /proc/$1/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s+=$2} END {print s}'; }
round() { # name conns
  local pid=$(cat $W/$1.pid) url=$(cat $W/$1.url)
  local t0=$(ticks $pid) c0=$(ctx $pid)
  local out=$(wrk -t 2 -c $2 -d ${DURATION}s --latency "$url")
  local t1=$(ticks $pid) c1=$(ctx $pid)
  python3 - "$1" "$2" "$t0" "$t1" "$c0" "$c1" <<PY "$out"
import sys,re
name,c,t0,t1,c0,c1=sys.argv[1:7]; out=sys.argv[7]
rps=float(re.search(r"Requests/sec:\s+([\d.]+)",out).group(1))
n=int(re.search(r"(\d+) requests in",out).group(1))
def ms(v):
    m=re.match(r"([\d.]+)(us|ms|s|m)",v)
    if not m: return float("nan")
    x=float(m.group(1)); u=m.group(2); return x/1000 if u=="us" else (x*1000 if u=="s" else (x*60000 if u=="m" else x))
p99=ms(re.search(r"99%\s+(\S+)",out).group(1)); p50=ms(re.search(r"50%\s+(\S+)",out).group(1))
err=re.search(r"Non-2xx or 3xx responses: (\d+)",out)
cpu=(int(t1)-int(t0))*10000/n
cs=(int(c1)-int(c0))/n
print(f"{name}\tc={c}\t{rps:.0f} req/s\tp50 {p50:.2f}\tp99 {p99:.2f} ms\tcpu {cpu:.1f} us/call\tctxsw {cs:.2f}/call\terr {err.group(1) if err else 0}")
PY
}
NAMES=()
i=0
for e in "${ENVS[@]}"; do n="S$i"; start $n "$e"; NAMES+=($n); i=$((i+1)); done
for n in "${NAMES[@]}"; do wrk -t2 -c16 -d3s $(cat $W/$n.url) >/dev/null; done
for c in $CONNS; do
  for r in $(seq 1 $ROUNDS); do
    if [ $((r%2)) = 1 ]; then order=("${NAMES[@]}"); else order=(); for ((j=${#NAMES[@]}-1;j>=0;j--)); do order+=(${NAMES[$j]}); done; fi
    for n in "${order[@]}"; do round $n $c; done
  done
done
