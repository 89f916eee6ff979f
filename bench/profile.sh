# bench/run.sh profile: where a hello call's CPU goes on the Wisp server
# (issue 27 item 2: "profile first"). One release server with hello
# deployed, wrk at c=16 on the gateway, and `perf record` (flat self time,
# no call graphs: the release build has no frame pointers) on the server's
# process for PROFILE_SECONDS; the samples are put into buckets by symbol
# and library (bench/profile_table.py) and written to
# bench/results/profile.md. Needs `perf` (Debian's linux-perf) and
# kernel.perf_event_paranoid <= 1 (set for the run when run as root).

PROFILE_SECONDS="${PROFILE_SECONDS:-10}"
PROFILE_CONNS="${PROFILE_CONNS:-16}"
# PROFILE_FUNCTIONS=N > 1 deploys hello as N functions and spreads the calls
# over them at random (issue 27 item 4: what a spread call costs more).
PROFILE_FUNCTIONS="${PROFILE_FUNCTIONS:-1}"
# PROFILE_SERVER_FLAGS: more `wisp serve` flags, e.g. --no-record to see
# what recording costs. PROFILE_NAME: the result's name (bench/results/NAME.md).
PROFILE_SERVER_FLAGS="${PROFILE_SERVER_FLAGS:-}"

profile() {
  command -v perf >/dev/null || { echo "error: bench/run.sh profile needs perf (apt-get install linux-perf)" >&2; return 1; }
  if [ "$(id -u)" = 0 ]; then echo 1 >/proc/sys/kernel/perf_event_paranoid; fi
  mkdir -p "$RESULTS"
  local dir="$WORK/profile" out="$RESULTS/${PROFILE_NAME:-profile}.md"
  # shellcheck disable=SC2086 # flags are words
  start_wisp "$dir" $PROFILE_SERVER_FLAGS
  local url="$GATEWAY/fn/hello/" what="a hello call" script=()
  if [ "$PROFILE_FUNCTIONS" -gt 1 ]; then
    log "profile: deploying hello as $PROFILE_FUNCTIONS functions"
    python3 "$ROOT/bench/tools.py" deploy-many "$API" "$TOKEN" "$ROOT/functions/hello.wasm" s "$PROFILE_FUNCTIONS" --workers 4 >&2
    spread_script "$PROFILE_FUNCTIONS" "$WORK/profile.lua"
    url="$GATEWAY/"
    what="a hello call spread at random over $PROFILE_FUNCTIONS functions"
    script=(-s "$WORK/profile.lua")
    wait_http "$GATEWAY/fn/s00000/" 30
  else
    deploy hello "$ROOT/functions/hello.wasm"
    wait_http "$GATEWAY/fn/hello/" 30
  fi
  wrk -t 2 -c "$PROFILE_CONNS" -d "${WARMUP}s" "${script[@]}" "$url" >/dev/null
  wrk -t 2 -c "$PROFILE_CONNS" -d "$((PROFILE_SECONDS + 2))s" --latency "${script[@]}" "$url" >"$WORK/profile-wrk.txt" &
  local wrk_pid=$!
  sleep 1
  local ticks_before ticks_after
  ticks_before="$(cpu_ticks "$SERVER_PID")"
  perf record -q -F 2999 -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$PROFILE_SECONDS" 2>/dev/null
  ticks_after="$(cpu_ticks "$SERVER_PID")"
  wait "$wrk_pid"
  local rate us_per_call
  rate="$(python3 "$ROOT/bench/tools.py" parse-wrk <"$WORK/profile-wrk.txt" | awk '{print $1}')"
  # The server's CPU (user + system, clock ticks of 10 ms) over the
  # profile, per call at wrk's rate.
  us_per_call="$(awk -v a="$ticks_before" -v b="$ticks_after" -v r="$rate" -v s="$PROFILE_SECONDS" \
    'BEGIN { printf "%.1f", (b - a) * 10000 / (r * s) }')"
  stop_server
  perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --percent-limit 0 \
    --stdio 2>/dev/null >"$WORK/perf.txt"
  perf report -i "$WORK/perf.data" --no-children --sort comm --percent-limit 0.5 \
    --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' >"$WORK/perf-threads.txt" || true
  {
    echo "Where $what's CPU goes on the Wisp server: $(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo "wrk -t 2 -c $PROFILE_CONNS on the gateway (${rate} req/s during the profile)${PROFILE_SERVER_FLAGS:+, wisp serve $PROFILE_SERVER_FLAGS}, perf record -F 2999 of the server only for ${PROFILE_SECONDS} s, flat self time; wrk shares the 2 cores. The server spent ${us_per_call} µs of CPU per call."
    echo
    python3 "$ROOT/bench/profile_table.py" "$WORK/perf.txt" "$us_per_call"
    echo
    echo "By thread (perf's comm: tokio workers, the recorder's writer, compile and epoch threads):"
    echo
    echo "| thread | share |"
    echo "|---|---:|"
    awk '{printf "| %s | %s |\n", $2, $1}' "$WORK/perf-threads.txt"
  } | tee "$out"
  echo "written: ${out#"$ROOT/"}" >&2
}
