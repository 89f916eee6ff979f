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

profile() {
  command -v perf >/dev/null || { echo "error: bench/run.sh profile needs perf (apt-get install linux-perf)" >&2; return 1; }
  if [ "$(id -u)" = 0 ]; then echo 1 >/proc/sys/kernel/perf_event_paranoid; fi
  mkdir -p "$RESULTS"
  local dir="$WORK/profile" out="$RESULTS/profile.md"
  start_wisp "$dir"
  deploy hello "$ROOT/functions/hello.wasm"
  wait_http "$GATEWAY/fn/hello/" 30
  wrk -t 2 -c "$PROFILE_CONNS" -d "${WARMUP}s" "$GATEWAY/fn/hello/" >/dev/null
  wrk -t 2 -c "$PROFILE_CONNS" -d "$((PROFILE_SECONDS + 2))s" --latency "$GATEWAY/fn/hello/" >"$WORK/profile-wrk.txt" &
  local wrk_pid=$!
  sleep 1
  perf record -q -F 2999 -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep "$PROFILE_SECONDS" 2>/dev/null
  wait "$wrk_pid"
  local rate
  rate="$(python3 "$ROOT/bench/tools.py" parse-wrk <"$WORK/profile-wrk.txt" | awk '{print $1}')"
  stop_server
  perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --percent-limit 0 \
    --stdio 2>/dev/null >"$WORK/perf.txt"
  {
    echo "Where a hello call's CPU goes on the Wisp server: $(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo "wrk -t 2 -c $PROFILE_CONNS on the gateway (${rate} req/s during the profile), perf record -F 2999 of the server only for ${PROFILE_SECONDS} s, flat self time; wrk shares the 2 cores."
    echo
    python3 "$ROOT/bench/profile_table.py" "$WORK/perf.txt"
  } | tee "$out"
  echo "written: bench/results/profile.md" >&2
}
