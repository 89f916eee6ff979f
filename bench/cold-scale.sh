# The cold-path and scale measurements of bench/run.sh (sourced by it; uses
# its helpers): `cold` = restart-to-first-response with 100 deployed
# functions and proof that nothing is recompiled; `scale` = 10,000 deployed
# functions (memory, list and routing time) and 1,000 concurrent slow calls.

RESTARTS="${RESTARTS:-3}"
SCALE_FUNCTIONS="${SCALE_FUNCTIONS:-100000}"
SLOW_CALLS="${SLOW_CALLS:-1000}"
SLOW_MS="${SLOW_MS:-2000}"

cold() {
  mkdir -p "$RESULTS"
  local dir="$WORK/cold" out="$RESULTS/cold.md"
  log "cold: deploying 100 distinct functions (hello + a unique custom section each: 100 compiles)"
  start_wisp "$dir"
  local deployed
  deployed="$(python3 "$ROOT/bench/tools.py" deploy-many "$API" "$TOKEN" "$ROOT/functions/hello.wasm" f 100 --distinct --workers 2)"
  echo "$deployed" >&2
  wait_optimised
  local before
  before="$(api "$API/api/v1/status")"
  stop_server
  {
    echo "Restart-to-first-response with 100 deployed functions (100 distinct artifacts),"
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo
    echo "Deploy of the 100 (REST uploads, 2 at a time, each compiled on upload): \`$deployed\`"
    echo
    echo "Status before the restart: \`$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(json.dumps({"live_functions": s["live_functions"], "artifact_cache": s["artifact_cache"]}))' "$before")\`"
    echo
    echo "Each restart: process start → \`addresses.json\` written (listening) → first 200 from \`/fn/f00099/\`; then \`GET /api/v1/status\` (compiles since start must be 0):"
    echo
    echo "| restart | listening ms | first response ms | live functions | artifact cache since start | RSS MiB |"
    echo "|---:|---:|---:|---:|---|---:|"
    for i in $(seq 1 "$RESTARTS"); do
      python3 "$ROOT/bench/tools.py" restart "$WISP" "$dir" f00099 | python3 -c '
import json, sys
r = json.load(sys.stdin)
cache = r["artifact_cache"]
print("| {} | {} | {} | {} | {} hits, {} compiles | {} |".format(sys.argv[1], r["listening_ms"],
      r["first_response_ms"], r["live_functions"], cache["hits"], cache["compiles"], r["rss_mib"]))' "$i"
    done
  } | tee "$out"
  echo "written: bench/results/cold.md" >&2
}

# The least of three times (s) to GET an API URL.
best_time() {
  local best=""
  for _ in 1 2 3; do
    local t
    t="$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$1")"
    best="$(python3 -c 'import sys; v=[float(x) for x in sys.argv[1:] if x]; print(min(v))' "$t" $best)"
  done
  echo "$best"
}

scale() {
  mkdir -p "$RESULTS"
  local dir="$WORK/scale" out="$RESULTS/scale.md" n="$SCALE_FUNCTIONS"
  start_wisp "$dir"
  local idle deployed rss_after list_s list_bytes
  idle="$(python3 "$ROOT/bench/tools.py" rss "$SERVER_PID")"
  log "scale: deploying $n functions (same hello binary: one artifact, $n live functions)"
  deployed="$(python3 "$ROOT/bench/tools.py" deploy-many "$API" "$TOKEN" "$ROOT/functions/hello.wasm" s "$n" --workers 4)"
  echo "$deployed" >&2
  rss_after="$(python3 "$ROOT/bench/tools.py" rss "$SERVER_PID")"
  list_s="$(curl -sf -o "$WORK/list.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$API/api/v1/functions")"
  list_s="$(curl -sf -o "$WORK/list.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$API/api/v1/functions")"
  list_bytes="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/list.json")"
  # Paged (what the dashboard asks for): the first page, one from the
  # middle, a search; each the best of three.
  local page_first page_middle page_search
  page_first="$(best_time "$API/api/v1/functions?limit=100")"
  page_middle="$(best_time "$API/api/v1/functions?limit=100&after=s$(printf %05d $((n / 2)))")"
  page_search="$(best_time "$API/api/v1/functions?limit=100&search=s0999")"
  # Routing: the same load on one function vs spread at random over all of them.
  spread_script "$n" "$WORK/random.lua"
  # The calls to one function go through a script too, so that wrk (on
  # the same 2 cores) does the same work per request in both rounds.
  spread_script 1 "$WORK/one.lua"
  wrk -t 2 -c 16 -d "${WARMUP}s" "$GATEWAY/fn/s00000/" >/dev/null
  local one one_plain spread
  # The server's CPU ticks are read after wrk ends (wrk_round), not in a
  # pipeline beside it, where both readings would come before the load.
  one_plain="$(wrk_round "$GATEWAY/fn/s00000/" 16 "$DURATION" "$SERVER_PID")"
  one="$(wrk_round "$GATEWAY/" 16 "$DURATION" "$SERVER_PID" -s "$WORK/one.lua")"
  spread="$(wrk_round "$GATEWAY/" 16 "$DURATION" "$SERVER_PID" -s "$WORK/random.lua")"
  local rss_load
  rss_load="$(python3 "$ROOT/bench/tools.py" rss "$SERVER_PID")"

  log "scale: $SLOW_CALLS concurrent calls of relay sleeping ${SLOW_MS} ms"
  deploy slow "$ROOT/functions/relay.wasm"
  api -o /dev/null -X PATCH -H 'content-type: application/json' \
    -d "{\"max_concurrency\": $SLOW_CALLS, \"env\": {\"SLEEP_MS\": \"$SLOW_MS\"}}" "$API/api/v1/functions/slow"
  local slow
  slow="$(python3 "$ROOT/bench/tools.py" slow-calls "$GATEWAY/fn/slow/" "$SLOW_CALLS" "$SERVER_PID")"
  local final
  final="$(api "$API/api/v1/status")"
  stop_server
  {
    echo "Scale on one node, $(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo
    echo "| measurement | result |"
    echo "|---|---|"
    echo "| RSS of an idle wisp (no functions) | \`$idle\` |"
    echo "| deploy $n functions (REST, 4 at a time) | \`$deployed\` |"
    echo "| RSS with $n live functions | \`$rss_after\` |"
    echo "| \`GET /api/v1/functions\` ($list_bytes functions listed) | ${list_s} s |"
    echo "| \`GET /api/v1/functions?limit=100\` (first page; best of 3) | ${page_first} s |"
    echo "| \`GET /api/v1/functions?limit=100&after=…\` (a page from the middle; best of 3) | ${page_middle} s |"
    echo "| \`GET /api/v1/functions?limit=100&search=s0999\` (a search; best of 3) | ${page_search} s |"
    echo "| calls to one function, c=16, wrk without a script (req/s p50_ms p99_ms errors server_cpu_us_per_call) | $one_plain |"
    echo "| calls to one function, c=16, through wrk's script like the spread calls (req/s p50_ms p99_ms errors server_cpu_us_per_call) | $one |"
    echo "| calls spread at random over all $n, c=16 (req/s p50_ms p99_ms errors server_cpu_us_per_call) | $spread |"
    echo "| RSS after the routing runs | \`$rss_after\` → \`$rss_load\` |"
    echo "| $SLOW_CALLS concurrent calls sleeping ${SLOW_MS} ms (relay, SLEEP_MS) | \`$slow\` |"
    echo "| live functions, instantiation stats at the end | \`$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(json.dumps({"live_functions": s["live_functions"], "instantiation": s["instantiation"]}))' "$final")\` |"
  } | tee "$out"
  echo "written: bench/results/scale.md" >&2
}
