#!/usr/bin/env bash
# Log search at scale (docs/BENCHMARKS.md, "Log search"): fills a SQLite
# database with ROWS invocation rows with realistic logs (a direct bulk
# insert that feeds the search index as the recorder does), then times
# searches through the real API (`GET /api/v1/logs` on `wisp serve`):
# median and p95 per search and over all of them.
#
#   bash bench/log_search.sh              # ROWS=1000000 REPEAT=7 PROFILE=release
#   ROWS=100000 PROFILE=debug bash bench/log_search.sh
#   WISP_BIN=path/to/wisp bash bench/log_search.sh   # a binary already built (no build)
#
# Also prints what the index costs the recorder's writer
# (`python3 bench/log_search.py writer-cost`). Results: bench/results/log_search.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ROWS="${ROWS:-1000000}"
REPEAT="${REPEAT:-7}"
PROFILE="${PROFILE:-release}"
RESULTS="$ROOT/bench/results"
WORK="$(mktemp -d /tmp/bench-logs.XXXXXX)"
SERVER_PID=""

log() { printf '\n==> %s\n' "$*" >&2; }
cleanup() {
  [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${WISP_BIN:-}" ]; then
  WISP="$WISP_BIN"
  PROFILE="given binary"
elif [ "$PROFILE" = release ]; then
  log "Release build of wisp"
  cargo build --release -p server --bin wisp
  WISP="$CARGO_TARGET_DIR/release/wisp"
else
  log "Debug build of wisp"
  cargo build -p server --bin wisp
  WISP="$CARGO_TARGET_DIR/debug/wisp"
fi

start() {
  rm -f "$WORK/data/addresses.json"
  "$WISP" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 --gateway 127.0.0.1:0 \
    >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + 120))
  until [ -s "$WORK/data/addresses.json" ]; do
    [ $SECONDS -lt $deadline ] || { echo "error: wisp did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
  done
  API="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/data/addresses.json")"
  TOKEN="$(cat "$WORK/data/admin-token")"
}
stop() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

log "First start: the server creates and migrates the database"
mkdir -p "$WORK/data"
start
stop

log "Filling $ROWS invocation rows"
fill_out="$(python3 bench/log_search.py fill "$WORK/data/wisp.db" "$ROWS")"
echo "$fill_out"
backfill_out="$(python3 bench/log_search.py backfill "$WORK/data/wisp.db")"
echo "$backfill_out"
rare="$(python3 bench/log_search.py rare "$WORK/data/wisp.db")"

log "Searching through the API ($REPEAT times each)"
start
table="$(python3 bench/log_search.py query "$API" "$TOKEN" --rare "$rare" --repeat "$REPEAT")"
stop
echo "$table"

log "What the index costs the recorder's writer"
writer="$(python3 bench/log_search.py writer-cost)"
echo "$writer"

mkdir -p "$RESULTS"
{
  echo "# Log search: $ROWS invocations, SQLite ($(date -u '+%Y-%m-%d %H:%M UTC'), $PROFILE build, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "$fill_out"
  echo
  echo "$backfill_out"
  echo
  echo "$table"
  echo
  echo "## Writer cost"
  echo
  echo "$writer"
} >"$RESULTS/log_search.md"
log "Written to bench/results/log_search.md"
