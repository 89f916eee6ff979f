# bench/run.sh recording: what recording every invocation costs a hello
# call (issue 27 item 3: at most 2 %), on the embedded SQLite database and
# on PostgreSQL. For each database two servers run side by side, one
# recording (the default) and one started with `--no-record`, with the
# same function deployed; RECORD_PAIRS pairs of adjacent RECORD_DURATION s
# rounds per concurrency in RECORD_CONNS, the order flipping from pair to
# pair (DECISIONS #28, #32). On PostgreSQL each server has a database of
# its own (created and dropped here); the database's CPU is on the same
# two cores, so it shows in the req/s. RECORD_DATABASES="sqlite postgres".

RECORD_DATABASES="${RECORD_DATABASES:-sqlite postgres}"
RECORD_PG_URL="${WISP_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
# SQL run on both servers' databases once they have started (their schema
# is then in place), to try a database-side change by hand.
RECORD_SQL="${RECORD_SQL:-}"

record_sql() { # database dir [postgres database...]: runs $RECORD_SQL on both servers' databases
  local database="$1" dir="$2" db
  shift 2
  if [ "$database" = postgres ]; then
    for db in "$@"; do psql "${RECORD_PG_URL%/*}/$db" -qc "$RECORD_SQL" >/dev/null; done
  else
    for db in "$dir-on/wisp.db" "$dir-off/wisp.db"; do
      python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); c.executescript(sys.argv[2]); c.close()' "$db" "$RECORD_SQL"
    done
  fi
}

recording_run() {
  mkdir -p "$RESULTS"
  local runs=() database
  for database in $RECORD_DATABASES; do
    local on_flags=() off_flags=() dbs=()
    if [ "$database" = postgres ]; then
      command -v psql >/dev/null || { echo "error: bench/run.sh recording needs psql for PostgreSQL" >&2; return 1; }
      local base="${RECORD_PG_URL%/*}" db
      for db in wisp_bench_record_on wisp_bench_record_off; do
        psql "$RECORD_PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
        psql "$RECORD_PG_URL" -qc "CREATE DATABASE $db" >/dev/null
        dbs+=("$db")
      done
      on_flags=(--database-url "$base/wisp_bench_record_on")
      off_flags=(--database-url "$base/wisp_bench_record_off")
    fi
    local dir="$WORK/record-$database"
    start_wisp "$dir-on" "${on_flags[@]}"
    local on_pid="$SERVER_PID" on_gateway="$GATEWAY"
    deploy hello "$ROOT/functions/hello.wasm"
    start_wisp "$dir-off" --no-record "${off_flags[@]}"
    local off_pid="$SERVER_PID" off_gateway="$GATEWAY"
    deploy hello "$ROOT/functions/hello.wasm"
    wait_http "$on_gateway/fn/hello/" 30
    wait_http "$off_gateway/fn/hello/" 30
    [ -n "$RECORD_SQL" ] && record_sql "$database" "$dir" "${dbs[@]}"
    wrk -t 2 -c 16 -d "${WARMUP}s" "$on_gateway/fn/hello/" >/dev/null
    wrk -t 2 -c 16 -d "${WARMUP}s" "$off_gateway/fn/hello/" >/dev/null
    : >"$WORK/record.tsv"
    log "recording on $database"
    measure_recording "$on_gateway/fn/hello/" "$on_pid" "$off_gateway/fn/hello/" "$off_pid"
    cp "$WORK/record.tsv" "$RESULTS/record-$database.tsv"
    runs+=("$database=$RESULTS/record-$database.tsv")
    for pid in "$on_pid" "$off_pid"; do SERVER_PID="$pid" stop_server; done
    for db in "${dbs[@]}"; do
      psql "$RECORD_PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    done
  done
  {
    echo "Recording cost, $(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo
    python3 "$ROOT/bench/tools.py" recording "$RECORD_PAIRS" "$RECORD_DURATION" "${runs[@]}"
  } | tee "$RESULTS/recording.md"
  echo "written: bench/results/recording.md" >&2
}
