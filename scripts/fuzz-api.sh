#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis (PyPI):
# starts a real `wisp serve` on free ports with a temporary data directory,
# lets schemathesis generate valid and invalid requests for every documented
# operation, and fails on any 5xx answer, on an answer that breaks the
# document, or when the server is gone afterwards.
#
#   scripts/fuzz-api.sh [more schemathesis options]
#
# Environment: WISP_BIN (default: $CARGO_TARGET_DIR/debug/wisp),
# FUZZ_MAX_EXAMPLES (cases per operation and phase, default 25), FUZZ_SEED
# (default 1: the same run every time), WISP_SCHEMATHESIS_VENV (where
# schemathesis is installed once; default ~/.cache/wisp-schemathesis-VERSION).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCHEMATHESIS_VERSION="4.32.5"
VENV="${WISP_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp-schemathesis-$SCHEMATHESIS_VERSION}"
WISP_BIN="${WISP_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/wisp}"
# Hard bound on the whole run (2 cores: a few minutes is the budget).
RUN_TIMEOUT_S=600

log() { printf '\n==> %s\n' "$*" >&2; }

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  log "Installing schemathesis $SCHEMATHESIS_VERSION into $VENV (once)"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

[ -x "$WISP_BIN" ] || { echo "fuzz-api.sh: $WISP_BIN is missing (cargo build -p server --bin wisp)" >&2; exit 1; }

data="$(mktemp -d "${TMPDIR:-/tmp}/wisp-fuzz.XXXXXX")"
server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -f "$data/server.log" ]; then
    echo "--- last lines of the server log ($data/server.log) ---" >&2
    tail -n 40 "$data/server.log" >&2
  else
    rm -rf "$data"
  fi
}
trap cleanup EXIT

log "Starting wisp serve on free ports ($data)"
WISP_ADMIN_PASSWORD="fuzz-admin-password" WISP_LOG="${WISP_LOG:-warn}" \
  "$WISP_BIN" serve --data-dir "$data" --listen 127.0.0.1:0 --gateway 127.0.0.1:0 \
  >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  [ -s "$data/addresses.json" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "wisp serve exited" >&2; exit 1; }
  sleep 0.1
done
api="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$data/addresses.json")"
token="$(cat "$data/admin-token")"
base="http://$api"
# The document needs the token like every route; give schemathesis a file.
python3 - "$base/api/v1/openapi.json" "$token" "$data/openapi.json" <<'EOF'
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
with urllib.request.urlopen(request, timeout=30) as response, open(sys.argv[3], "wb") as out:
    out.write(response.read())
EOF

# A function to work on: the document's examples name `hello`, so the
# examples phase reaches a real function (detail, configure, invoke, ...).
hello="$ROOT/functions/hello.wasm"
if [ -f "$hello" ]; then
  python3 - "$base/api/v1/functions/hello/versions" "$token" "$hello" <<'EOF2'
import sys, urllib.request
with open(sys.argv[3], "rb") as f:
    body = f.read()
request = urllib.request.Request(sys.argv[1], data=body, method="POST", headers={
    "Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/wasm"})
with urllib.request.urlopen(request, timeout=120) as response:
    assert response.status == 201, response.status
EOF2
else
  echo "fuzz-api.sh: $hello missing (functions/build.sh): fuzzing without a deployed function" >&2
fi

log "schemathesis $SCHEMATHESIS_VERSION against $base ($(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len([m for m in p if m in ("get","put","post","delete","patch")]) for p in d["paths"].values()))' "$data/openapi.json") operations)"
# Left out: the server-sent event stream (an answer that never ends),
# revoking tokens (the fuzzer would revoke its own and see only 401s), and
# changing team members (it would demote its own admin and see only 403s).
cd "$data" # schemathesis and hypothesis keep their caches in the working directory
timeout "$RUN_TIMEOUT_S" "$VENV/bin/schemathesis" run "$data/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /api/v1/invocations/stream \
  --exclude-path '/api/v1/tokens/{id}' \
  --exclude-path '/api/v1/team/members/{username}' \
  --max-examples "${FUZZ_MAX_EXAMPLES:-25}" \
  --seed "${FUZZ_SEED:-1}" \
  --workers 2 \
  --request-timeout 30 \
  --no-color \
  "$@"

log "The server is still up"
kill -0 "$server_pid"
python3 - "$base/healthz" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as response:
    assert response.status == 200, response.status
EOF
echo "fuzz-api.sh: no server errors"
