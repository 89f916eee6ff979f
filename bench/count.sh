# bench/run.sh count: a hello call's instructions on the Wisp server, by
# thread, counted with callgrind (issue 27 items 2 and 3). Counts, not
# times: a VM whose speed moves by ±30 % from one hour to the next (docs/
# BENCHMARKS.md, runs 6–10) moves them by well under 1 %, so two builds
# can be compared from one run each.
#
# One release server under `valgrind --tool=callgrind --separate-threads=yes`
# with hello deployed (its optimised code ready), a warm-up, then the
# counters are zeroed, wrk runs at c=COUNT_CONNS for COUNT_SECONDS and the
# counters are dumped per thread. Threads are told apart by what they ran:
# the recorder's writer (the thread running SQLite through rusqlite), the
# tokio workers that ran calls (the gateway and the sandboxes), the epoch
# ticker, and the rest. The writer's
# count is given per stored row (rows counted in the database when the
# counters were zeroed and when they were dumped), the others per call
# (wrk's count of responses). Under valgrind the server runs on one core
# at a few hundred calls a second: compare counts only with counts.
# Writes bench/results/count.md (and each thread's callgrind file to
# bench/results/count-cg/). COUNT_SERVER_FLAGS adds `wisp serve`
# flags (e.g. --no-record).

COUNT_SECONDS="${COUNT_SECONDS:-40}"
COUNT_CONNS="${COUNT_CONNS:-4}"
COUNT_SERVER_FLAGS="${COUNT_SERVER_FLAGS:-}"

# Rows in the invocations table of the server's SQLite database (read
# beside the writer: WAL lets a reader in).
stored_rows() { # data dir
  python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); print(c.execute("SELECT count(*) FROM invocations").fetchone()[0])' "$1/wisp.db"
}

count() {
  if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    log "Installing Debian's valgrind"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
  fi
  mkdir -p "$RESULTS"
  local dir="$WORK/count" out="$RESULTS/count.md" cg="$WORK/count-cg/cg.out"
  mkdir -p "$WORK/count-cg"
  log "count: wisp serve under callgrind (start-up and compiles run ~50x slower)"
  WISP_WRAPPER=(valgrind --tool=callgrind --separate-threads=yes --smc-check=all-non-file
    --dump-instr=no --callgrind-out-file="$cg")
  # shellcheck disable=SC2086 # flags are words
  START_TIMEOUT=900 start_wisp "$dir" $COUNT_SERVER_FLAGS
  WISP_WRAPPER=()
  deploy hello "$ROOT/functions/hello.wasm"
  wait_http "$GATEWAY/fn/hello/" 900
  wait_optimised
  local url="$GATEWAY/fn/hello/"
  wrk -t 2 -c "$COUNT_CONNS" -d 10s "$url" >/dev/null
  sleep 2
  local rows_before rows_after
  rows_before="$(stored_rows "$dir")"
  callgrind_control -z "$SERVER_PID" >/dev/null
  wrk -t 2 -c "$COUNT_CONNS" -d "${COUNT_SECONDS}s" "$url" >"$WORK/count-wrk.txt"
  # The writer stores a batch some milliseconds after its calls end.
  sleep 2
  callgrind_control -d "$SERVER_PID" >/dev/null
  rows_after="$(stored_rows "$dir")"
  local calls
  calls="$(awk '/requests in/ {print $1}' "$WORK/count-wrk.txt")"
  # The dump's files: one per thread, named <file>.<dump>-<thread>.
  local files=()
  mapfile -t files < <(ls "$cg".*-* 2>/dev/null)
  stop_server
  [ "${#files[@]}" -gt 0 ] || { echo "error: callgrind wrote no per-thread dump" >&2; return 1; }
  # Kept for callgrind_annotate (bench/results is not committed).
  rm -rf "$RESULTS/count-cg" && mkdir -p "$RESULTS/count-cg" && cp "${files[@]}" "$RESULTS/count-cg/"
  local writer=0 workers=0 epoch=0 other=0 n f
  for f in "${files[@]}"; do
    n="$(awk '/^totals:/ {print $2}' "$f")"
    n="${n:-0}"
    # The writer is the one thread that runs SQLite through rusqlite (the
    # pool's threads are sqlx's; the workers name rusqlite but run no SQL);
    # the workers are the threads that ran calls.
    if grep -q 'rusqlite::' "$f" && grep -q 'sqlite3VdbeExec' "$f"; then
      writer=$((writer + n))
    elif grep -q 'component::invoke' "$f"; then
      workers=$((workers + n))
    elif grep -q 'increment_epoch' "$f"; then
      epoch=$((epoch + n))
    else
      other=$((other + n))
    fi
  done
  local rows=$((rows_after - rows_before))
  per() { awk -v n="$1" -v d="$2" 'BEGIN { if (d > 0) printf "%\047.0f", n / d; else print "–" }'; }
  {
    echo "A hello call's instructions on the Wisp server, by thread: $(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo "Release build, callgrind over the whole server${COUNT_SERVER_FLAGS:+ (wisp serve $COUNT_SERVER_FLAGS)}, wrk -t 2 -c $COUNT_CONNS for ${COUNT_SECONDS} s after a 10 s warm-up: $calls calls, $rows rows stored."
    echo
    echo "| thread | instructions | per call | per stored row |"
    echo "|---|---:|---:|---:|"
    echo "| tokio workers (gateway and calls) | $workers | $(per "$workers" "$calls") | |"
    echo "| recorder's writer | $writer | $(per "$writer" "$calls") | $(per "$writer" "$rows") |"
    echo "| epoch ticker | $epoch | $(per "$epoch" "$calls") | |"
    echo "| other threads (${#files[@]} threads in all) | $other | $(per "$other" "$calls") | |"
    echo "| **all** | $((workers + writer + epoch + other)) | $(per $((workers + writer + epoch + other)) "$calls") | |"
  } | tee "$out"
  echo "written: ${out#"$ROOT/"}" >&2
}
