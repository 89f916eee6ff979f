#!/usr/bin/env bash
# Wisp's benchmark: the same components under the same load on the Wisp
# gateway, on `wasmtime serve` (wasmtime-cli 48.0.8, pooling allocator, a
# fresh instance per request) and, for hello, on a plain axum server.
#
#   bash bench/run.sh            # every item of issue 27 in one run (= all; the README's optional third command)
#   bash bench/run.sh throughput # throughput table, with the paired recording rounds on SQLite
#   bash bench/run.sh recording  # recording on vs off, paired, on SQLite and on PostgreSQL (bench/recording.sh)
#   bash bench/run.sh cold       # restart-to-first-response with 100 deployed functions
#   bash bench/run.sh scale      # 100,000 functions (paged list, spread calls); 1,000 concurrent slow calls
#   bash bench/run.sh cluster    # 1, 2, 3 nodes on PostgreSQL behind nginx (bench/cluster.sh)
#   bash bench/run.sh capture    # capture (replay recording) off vs failures vs all (bench/capture.sh)
#   bash bench/run.sh deploy     # upload -> first response, baseline first vs optimised first vs wasmtime serve (bench/deploy.sh)
#   bash bench/run.sh profile    # where a hello call's CPU goes on the server (perf, bench/profile.sh;
#                                # PROFILE_FUNCTIONS=10000 spreads the calls over that many functions)
#   bash bench/run.sh count      # a call's instructions by thread under callgrind: the recorder's writer per
#                                # stored row, the workers per call (bench/count.sh; counts, not times)
#   bash bench/run.sh all        # throughput, recording on PostgreSQL, deploy, cold, scale
#
# Installs what is missing (wrk from Debian, the wasmtime-cli peer,
# componentize-py through functions/build.sh), builds release binaries,
# runs the servers on loopback (2 cores: client and server share them;
# Wisp and `wasmtime serve` side by side with interleaved rounds), with a
# warm-up and several rounds per point, and writes the medians to bench/results/*.md. Knobs (environment):
#   DURATION=5 (s per round)  ROUNDS=5  WARMUP=3 (s)  CONNS="1 16 64"
#   COMPONENTS="hello cpu python-hello"  SCALE_FUNCTIONS=100000  SLOW_CALLS=1000
#   RECORD_PAIRS=60  RECORD_DURATION=2 (s)  RECORD_CONNS="16 64"  (recording on vs off)
#   RECORD_DATABASES="sqlite postgres"  RECORD_SQL= (SQL run on both servers' databases first)
#   CAPTURE_PAIRS=30  CAPTURE_MODES="off-again failures all"  (bench/capture.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WASMTIME_VERSION="48.0.8"
# The peer: wasmtime-cli 48.0.8 with the pooling allocator, the same install
# scripts/test.sh makes for the conformance test (~/.cargo/bin/wasmtime).
# WISP_BENCH_WASMTIME points at another binary of that version.
WASMTIME="${WISP_BENCH_WASMTIME:-wasmtime}"
# WISP_BENCH_WISP measures that wisp binary (an older commit's release
# build, say, for an A/B in one session) instead of this checkout's.
# `wasmtime serve` pools by default when built with the pooling allocator;
# asking for it explicitly makes a build without it fail instead of quietly
# measuring on-demand allocation.
WASMTIME_FLAGS="${WISP_BENCH_WASMTIME_FLAGS:--Opooling-allocator=y}"
RESULTS="$ROOT/bench/results"
WORK="$(mktemp -d /tmp/bench-run.XXXXXX)"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-5}"
WARMUP="${WARMUP:-3}"
CONNS="${CONNS:-1 16 64}"
COMPONENTS="${COMPONENTS:-hello cpu python-hello}"
CPU_N="${CPU_N:-20000}"
SERVERS="${SERVERS:-axum wasmtime wisp}"
RECORD_PAIRS="${RECORD_PAIRS:-60}"
RECORD_DURATION="${RECORD_DURATION:-2}"
RECORD_CONNS="${RECORD_CONNS:-16 64}"
PIDS=()
WISP_WRAPPER=()
# Every server runs in the same environment. wasmtime creates an error value
# on each store drop; with RUST_BACKTRACE=1 (common in a developer's shell)
# each would capture a stack backtrace in both Wisp and `wasmtime serve`.
# Production servers do not capture library backtraces; neither does this.
export RUST_LIB_BACKTRACE=0

log() { printf '\n==> %s\n' "$*" >&2; }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- installs and builds (idempotent) -----------------------------------------
ensure_tools() {
  if ! command -v wrk >/dev/null; then
    log "Installing Debian's wrk"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
  fi
  [[ " $SERVERS " == *" wasmtime "* ]] || return 0
  if [ -z "${WISP_BENCH_WASMTIME:-}" ] &&
    [ "$(wasmtime --version 2>/dev/null | awk '{print $2}')" != "$WASMTIME_VERSION" ]; then
    log "Installing wasmtime-cli $WASMTIME_VERSION with the pooling allocator (~5 min, once)"
    cargo install wasmtime-cli --locked --version "$WASMTIME_VERSION" \
      --no-default-features --features run,serve,cranelift,component-model-async,pooling-allocator
  fi
  [ "$("$WASMTIME" --version 2>/dev/null | awk '{print $2}')" = "$WASMTIME_VERSION" ] ||
    { echo "error: $WASMTIME is not wasmtime $WASMTIME_VERSION" >&2; exit 1; }
}

build() {
  log "Release build: wisp + the plain axum baseline"
  cargo build --release -p server --bin wisp --example axum_hello
  WISP="${WISP_BENCH_WISP:-$CARGO_TARGET_DIR/release/wisp}"
  AXUM="$CARGO_TARGET_DIR/release/examples/axum_hello"
  log "Example functions (hello, cpu, relay, python-hello via componentize-py)"
  bash "$ROOT/functions/build.sh" ${BUILD_FUNCTIONS_FLAGS:-}
}

# --- servers -------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url timeout_s (the server is $SERVER_PID)
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "error: $1 did not answer" >&2; return 1; }
    # e.g. a wasmtime built without the pooling allocator refuses -Opooling-allocator=y
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "error: the server for $1 exited" >&2; return 1; }
    sleep 0.1
  done
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# Starts `wisp serve` on free ports in data dir $1 (extra flags after it;
# WISP_WRAPPER, a command to run it under, e.g. valgrind; START_TIMEOUT in
# seconds); sets SERVER_PID, API, GATEWAY, TOKEN. The benchmark is one tenant
# measuring the whole pool: the per-team share (default 50 %) and the
# sandbox memory budget (default the machine's memory; the scale run holds
# 1,000 calls of 128 MiB limits at once) are lifted so they do not cap it.
start_wisp() {
  local dir="$1"; shift
  rm -f "$dir/addresses.json"
  "${WISP_WRAPPER[@]}" "$WISP" serve --data-dir "$dir" --listen 127.0.0.1:0 --gateway 127.0.0.1:0 \
    --team-concurrency-percent 100 --sandbox-memory-budget-mb 1048576 "$@" \
    >>"$dir.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  local deadline=$((SECONDS + ${START_TIMEOUT:-60}))
  until [ -s "$dir/addresses.json" ]; do
    [ $SECONDS -lt $deadline ] || { echo "error: wisp did not start (see $dir.log)" >&2; return 1; }
    sleep 0.05
  done
  API="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$dir/addresses.json")"
  GATEWAY="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"])' "$dir/addresses.json")"
  # A node joining a cluster finds the administrator made: it keeps TOKEN.
  TOKEN="$(cat "$dir/admin-token" 2>/dev/null || echo "${TOKEN:-}")"
}

deploy() { # name file
  curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/wasm' \
    --data-binary "@$2" "$API/api/v1/functions/$1/versions" ||
    { echo "error: deploying $1 failed" >&2; return 1; }
}

api() { curl -sf -H "Authorization: Bearer $TOKEN" "$@"; }

# Waits until every function that went live on baseline code runs its
# optimised code (so a restart measures loading, not compiling).
wait_optimised() {
  local deadline=$((SECONDS + 900))
  until api "$API/api/v1/status" | python3 -c 'import json,sys; c=json.load(sys.stdin)["artifact_cache"]; sys.exit(0 if c["compiles"] >= c["baseline_compiles"] else 1)'; do
    [ $SECONDS -lt $deadline ] || { echo "error: optimised code not ready after 900 s" >&2; return 1; }
    sleep 0.5
  done
}

# --- load ----------------------------------------------------------------------
# A wrk script asking for /fn/s00000/ … /fn/sNNNNN/ at random (N functions
# deployed by `tools.py deploy-many … s N`); N=1 always asks for s00000,
# through the same script, so that wrk's own work per request is the same.
spread_script() { # functions file
  cat >"$2" <<EOF
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/fn/s%05d/", math.random(0, $1 - 1)))
end
EOF
}
# wrk one round: prints "rps p50_ms p99_ms errors cpu_us_per_call", the last
# being the server process's CPU time (user + system, from /proc) per
# completed request over the round ("nan" without a pid).
wrk_round() { # url conns seconds pid [more wrk options, e.g. -s script]
  local url="$1" conns="$2" seconds="$3" pid="$4" threads=2 before after out
  shift 4
  [ "$conns" -lt 2 ] && threads=1
  before="$(cpu_ticks "$pid")"
  out="$(wrk -t "$threads" -c "$conns" -d "${seconds}s" --latency "$@" "$url")"
  after="$(cpu_ticks "$pid")"
  printf '%s\n' "$out" | python3 "$ROOT/bench/tools.py" parse-wrk "$before" "$after"
}

cpu_ticks() { # pid -> utime + stime in clock ticks ("" when unknown)
  [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || true
}

# A warm-up per server, then ROUNDS rounds per concurrency, the servers'
# rounds interleaved (A, B, C, A, B, C, ...); appends to $WORK/raw.tsv.
# With several servers, a drift in the machine's speed (a shared VM) then
# hits them all alike instead of reading as a difference between them.
measure_interleaved() { # component name1 url1 pid1 [name2 url2 pid2 ...]
  local comp="$1"; shift
  local -a names=() urls=() pids=()
  while [ $# -gt 0 ]; do names+=("$1"); urls+=("$2"); pids+=("$3"); shift 3; done
  log "$comp on ${names[*]}: warm-up ${WARMUP}s each, then $ROUNDS × ${DURATION}s each, interleaved, at c = $CONNS"
  local url
  for url in "${urls[@]}"; do wrk -t 2 -c 16 -d "${WARMUP}s" "$url" >/dev/null; done
  local c r i line
  for c in $CONNS; do
    for r in $(seq 1 "$ROUNDS"); do
      for i in "${!names[@]}"; do
        line="$(wrk_round "${urls[$i]}" "$c" "$DURATION" "${pids[$i]}")"
        printf '%s\t%s\t%s\t%s\t%s\n' "$comp" "${names[$i]}" "$c" "$r" "$line" | tee -a "$WORK/raw.tsv" >&2
      done
    done
  done
}

# Recording on vs off (hello): RECORD_PAIRS pairs of adjacent short rounds
# per concurrency, the order flipping from pair to pair (on-off, off-on,
# ...); appends "c pair <on round> <off round>" to $WORK/record.tsv. The
# cost is read from each pair's own ratio (median over the pairs): this
# VM's speed moves by up to ±20 % between consecutive 5 s rounds, more
# than the effect measured, and two adjacent rounds share most of a drift.
measure_recording() { # on_url on_pid off_url off_pid
  log "hello, recording on vs off: $RECORD_PAIRS pairs of ${RECORD_DURATION}s rounds, order alternating, at c = $RECORD_CONNS"
  local c p on off
  for c in $RECORD_CONNS; do
    for p in $(seq 1 "$RECORD_PAIRS"); do
      if [ $((p % 2)) = 1 ]; then
        on="$(wrk_round "$1" "$c" "$RECORD_DURATION" "$2")"
        off="$(wrk_round "$3" "$c" "$RECORD_DURATION" "$4")"
      else
        off="$(wrk_round "$3" "$c" "$RECORD_DURATION" "$4")"
        on="$(wrk_round "$1" "$c" "$RECORD_DURATION" "$2")"
      fi
      printf '%s %s %s %s\n' "$c" "$p" "$on" "$off" | tee -a "$WORK/record.tsv" >&2
    done
  done
}

path_of() { # component -> request path + query
  case "$1" in
    cpu) echo "/?n=$CPU_N" ;;
    *) echo "/" ;;
  esac
}

throughput() {
  mkdir -p "$RESULTS"
  : >"$WORK/raw.tsv"
  local port
  # Plain axum: the HTTP floor (hello only: it is not a sandbox).
  if [[ " $COMPONENTS " == *" hello "* && " $SERVERS " == *" axum "* ]]; then
    port="$(free_port)"
    "$AXUM" "127.0.0.1:$port" >/dev/null 2>&1 &
    SERVER_PID=$!; PIDS+=("$SERVER_PID")
    wait_http "http://127.0.0.1:$port/" 30
    measure_interleaved hello axum "http://127.0.0.1:$port/" "$SERVER_PID"
    stop_server
  fi

  # Wisp (deployed through the REST API, compiled on upload, called through
  # the gateway; recording on, and a second server with `--no-record` that
  # gets the same functions and the same rounds, so that the two differ in
  # recording only: a server that has run python-hello hands its pool slots
  # to hello in another state than one that has not) and `wasmtime serve`
  # (pooling allocator, a fresh instance per request, its default for WASI
  # 0.2 components; guest logs to /dev/null) run side by side, one
  # component at a time, rounds interleaved.
  local dir="$WORK/wisp" on_pid="" on_api="" on_gateway="" on_token="" off_pid="" off_gateway=""
  if [[ " $SERVERS " == *" wisp "* ]]; then
    start_wisp "$dir"
    on_pid="$SERVER_PID" on_api="$API" on_gateway="$GATEWAY" on_token="$TOKEN"
    for comp in $COMPONENTS; do deploy "$comp" "$ROOT/functions/$comp.wasm"; done
    start_wisp "$dir-off" --no-record
    off_pid="$SERVER_PID" off_gateway="$GATEWAY"
    for comp in $COMPONENTS; do deploy "$comp" "$ROOT/functions/$comp.wasm"; done
    API="$on_api" TOKEN="$on_token"
  fi
  for comp in $COMPONENTS; do
    local -a servers=()
    local peer_pid=""
    if [[ " $SERVERS " == *" wasmtime "* ]]; then
      port="$(free_port)"
      # shellcheck disable=SC2086 # flags are words
      "$WASMTIME" serve -Scli $WASMTIME_FLAGS --addr "127.0.0.1:$port" "$ROOT/functions/$comp.wasm" >/dev/null 2>&1 &
      SERVER_PID=$!; PIDS+=("$SERVER_PID"); peer_pid="$SERVER_PID"
      # A Python component compiles for tens of seconds before it listens.
      wait_http "http://127.0.0.1:$port/" 600
      servers+=(wasmtime-serve "http://127.0.0.1:$port$(path_of "$comp")" "$peer_pid")
    fi
    [ -n "$on_pid" ] && servers+=(wisp "$on_gateway/fn/$comp$(path_of "$comp")" "$on_pid")
    [ -n "$off_pid" ] && servers+=(wisp-no-record "$off_gateway/fn/$comp$(path_of "$comp")" "$off_pid")
    measure_interleaved "$comp" "${servers[@]}"
    [ -z "$peer_pid" ] || SERVER_PID="$peer_pid" stop_server
  done
  : >"$WORK/record.tsv"
  if [ -n "$off_pid" ] && [[ " $COMPONENTS " == *" hello "* ]]; then
    measure_recording "$on_gateway/fn/hello/" "$on_pid" "$off_gateway/fn/hello/" "$off_pid"
  fi
  if [ -n "$on_pid" ]; then
    api "$API/api/v1/status" >"$WORK/status.json"
    for pid in "$on_pid" $off_pid; do SERVER_PID="$pid" stop_server; done
    cp "$WORK/status.json" "$RESULTS/latest-status.json"
  fi

  # RAW_APPEND: earlier raw rounds to merge in (servers run separately).
  [ -n "${RAW_APPEND:-}" ] && cat "$RAW_APPEND" >>"$WORK/raw.tsv"
  python3 "$ROOT/bench/tools.py" table "$WORK/raw.tsv" "$RESULTS/latest-status.json" \
    --duration "$DURATION" --rounds "$ROUNDS" --warmup "$WARMUP" --record "$WORK/record.tsv" \
    --pairs "$RECORD_PAIRS" --pair_duration "$RECORD_DURATION" \
    --peer "$("$WASMTIME" --version 2>/dev/null || echo none) $WASMTIME_FLAGS" >"$RESULTS/latest.md"
  cp "$WORK/raw.tsv" "$RESULTS/latest-raw.tsv"
  cp "$WORK/record.tsv" "$RESULTS/latest-record.tsv"
  cat "$RESULTS/latest.md"
  echo >&2
  echo "written: bench/results/latest.md (raw rounds: bench/results/latest-raw.tsv)" >&2
}

source "$ROOT/bench/cold-scale.sh"
source "$ROOT/bench/cluster.sh"
source "$ROOT/bench/capture.sh"
source "$ROOT/bench/count.sh"
source "$ROOT/bench/deploy.sh"
source "$ROOT/bench/profile.sh"
source "$ROOT/bench/recording.sh"

cmd="${1:-all}"
case "$cmd" in
  throughput | cold | scale | all | cluster | capture | count | deploy | profile | recording) ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "usage: bench/run.sh [all|throughput|recording|cold|scale|cluster|capture|count|deploy|profile]" >&2; exit 2 ;;
esac
# The cluster run needs neither the peer nor the Python component.
[ "$cmd" = cluster ] && SERVERS="wisp" && BUILD_FUNCTIONS_FLAGS="--no-python"
[ "$cmd" = capture ] && SERVERS="wisp" && BUILD_FUNCTIONS_FLAGS="--no-python"
[ "$cmd" = profile ] && SERVERS="wisp" && BUILD_FUNCTIONS_FLAGS="--no-python"
[ "$cmd" = recording ] && SERVERS="wisp" && BUILD_FUNCTIONS_FLAGS="--no-python"
[ "$cmd" = count ] && SERVERS="wisp" && BUILD_FUNCTIONS_FLAGS="--no-python"
ensure_tools
build
case "$cmd" in
  cluster) cluster ;;
  capture) capture ;;
  count) count ;;
  deploy) deploy_to_live ;;
  profile) profile ;;
  recording) recording_run ;;
  throughput) throughput ;;
  cold) cold ;;
  scale) scale ;;
  # Every item of issue 27 in one run: throughput (with the paired
  # recording rounds on SQLite), recording on PostgreSQL, deploy-to-live,
  # restart, scale.
  all) throughput; RECORD_DATABASES=postgres recording_run; deploy_to_live; cold; scale ;;
esac
