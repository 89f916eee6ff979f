# The capture measurement of bench/run.sh (sourced by it; uses its helpers):
# `bash bench/run.sh capture` deploys hello four times on one Wisp server —
# capture off, capture = failures (the default) and capture = all — and
# measures each recording setting against `off` in CAPTURE_PAIRS pairs of
# adjacent short rounds per concurrency, the order flipping from pair to
# pair (as the recording on/off measurement does: this VM's speed drifts
# between rounds by more than the effect measured). hello never fails, so
# `failures` records every call and keeps none of them; `all` also seals
# and stores each call's capture. A fourth copy with capture off is
# measured against the first the same way (`off-again`, an A/A
# comparison): the noise floor of the run.

CAPTURE_PAIRS="${CAPTURE_PAIRS:-30}"
CAPTURE_DURATION="${CAPTURE_DURATION:-2}"
CAPTURE_CONNS="${CAPTURE_CONNS:-16 64}"
# Which rows to measure against off (all three by default).
CAPTURE_MODES="${CAPTURE_MODES:-off-again failures all}"

capture() {
  mkdir -p "$RESULTS"
  local dir="$WORK/capture" mode c p a b out="$WORK/capture.tsv"
  start_wisp "$dir"
  local pid="$SERVER_PID"
  # off-again is a second copy of hello with capture off: off-again vs off
  # (an A/A comparison) is the noise floor the other rows are read against.
  for mode in off $CAPTURE_MODES; do
    deploy "hello-$mode" "$ROOT/functions/hello.wasm"
    curl -sf -o /dev/null -X PATCH -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
      --data "{\"capture\": \"${mode%-again}\"}" "$API/api/v1/functions/hello-$mode" ||
      { echo "error: configuring hello-$mode failed" >&2; return 1; }
    wrk -t 2 -c 16 -d "${WARMUP}s" "$GATEWAY/fn/hello-$mode/" >/dev/null
  done
  : >"$out"
  for mode in $CAPTURE_MODES; do
    log "hello, capture=$mode vs off: $CAPTURE_PAIRS pairs of ${CAPTURE_DURATION}s rounds, order alternating, at c = $CAPTURE_CONNS"
    for c in $CAPTURE_CONNS; do
      for p in $(seq 1 "$CAPTURE_PAIRS"); do
        if [ $((p % 2)) = 1 ]; then
          a="$(wrk_round "$GATEWAY/fn/hello-$mode/" "$c" "$CAPTURE_DURATION" "$pid")"
          b="$(wrk_round "$GATEWAY/fn/hello-off/" "$c" "$CAPTURE_DURATION" "$pid")"
        else
          b="$(wrk_round "$GATEWAY/fn/hello-off/" "$c" "$CAPTURE_DURATION" "$pid")"
          a="$(wrk_round "$GATEWAY/fn/hello-$mode/" "$c" "$CAPTURE_DURATION" "$pid")"
        fi
        printf '%s %s %s %s %s\n' "$mode" "$c" "$p" "$a" "$b" | tee -a "$out" >&2
      done
    done
  done
  local stored
  stored="$(python3 -c 'import sqlite3,sys; print(*sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM captures").fetchone())' "$dir/wisp.db" 2>/dev/null || echo '? ?')"
  SERVER_PID="$pid" stop_server
  python3 "$ROOT/bench/tools.py" capture "$out" "$stored" >"$RESULTS/latest-capture.md"
  cp "$out" "$RESULTS/latest-capture.tsv"
  cat "$RESULTS/latest-capture.md"
}
