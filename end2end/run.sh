#!/usr/bin/env bash
# Starts a real `wisp serve` (fresh data dir, free ports) and runs the
# Playwright browser tests (`npm test`) against it in Debian's Chromium.
# Expects the server, the dashboard bundle and functions/*.wasm to be built
# (scripts/test.sh does that).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export WISP_BIN="${WISP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/wisp}"
DATA="$(mktemp -d /tmp/wisp-e2e.XXXXXX)"
LOG="$DATA/server.log"
export WISP_ADMIN_PASSWORD="${WISP_ADMIN_PASSWORD:-e2e-$(date +%s)-secret}"
export WISP_FUNCTIONS_DIR="${WISP_FUNCTIONS_DIR:-$ROOT/functions}"
export WISP_SCREENSHOT_DIR="${WISP_SCREENSHOT_DIR:-$ROOT/end2end/screenshots}"

# The dashboard is the copy embedded in the binary (as users run it);
# WISP_E2E_SITE_DIR serves a folder instead (development).
"$WISP_BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 --gateway 127.0.0.1:0 --backtrace-details --alert-every 2s \
  ${WISP_E2E_SITE_DIR:+--site-dir "$WISP_E2E_SITE_DIR"} \
  ${WISP_TEST_CACHE_DIR:+--cache-dir "$WISP_TEST_CACHE_DIR"} >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  [ -s "$DATA/addresses.json" ] && break
  if ! kill -0 $SERVER 2>/dev/null; then cat "$LOG"; echo "wisp serve exited early" >&2; exit 1; fi
  sleep 0.1
done
[ -s "$DATA/addresses.json" ] || { cat "$LOG"; echo "wisp serve did not start" >&2; exit 1; }
WISP_URL="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$DATA/addresses.json")"
WISP_GATEWAY_URL="http://$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gateway"])' "$DATA/addresses.json")"
export WISP_URL WISP_GATEWAY_URL
echo "end2end: server at $WISP_URL, gateway at $WISP_GATEWAY_URL, log $LOG"

cd "$HERE"
if ! ${WISP_E2E_COMMAND:-npm test --silent}; then
  echo "---- server log (last 80 lines) ----"; tail -n 80 "$LOG"
  exit 1
fi
echo "end2end: screenshots in $WISP_SCREENSHOT_DIR"
