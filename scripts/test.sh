#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything once,
# then runs formatting and lint checks, the Rust tests (unit + integration
# tests that start the real `wisp serve` on port 0), a schemathesis fuzz of
# the REST API (scripts/fuzz-api.sh) and the browser end-to-end tests
# against a real server in Debian's Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "${CI:-}" = "true" ] && [ -z "${WISP_KEEP_TARGET_IN_TREE:-}" ]; then
  # Reuse build output across CI runs on the same machine (a cold run works too).
  export CARGO_TARGET_DIR="${WISP_CI_TARGET_DIR:-/var/tmp/wisp-ci-target}"
fi

WASMTIME_VERSION="48.0.8"

ensure_test_tools() {
  if [ "$(wasmtime --version 2>/dev/null | awk '{print $2}')" != "$WASMTIME_VERSION" ]; then
    # The reference peer of the conformance test and of bench/run.sh (one
    # install for both: the pooling allocator is what `wasmtime serve` uses
    # by default and what the benchmark compares against).
    log "Installing wasmtime-cli $WASMTIME_VERSION (reference peer; once)"
    cargo install wasmtime-cli --locked --version "$WASMTIME_VERSION" \
      --no-default-features --features run,serve,cranelift,component-model-async,pooling-allocator
  fi
  if ! [ -x /usr/bin/chromium ]; then
    log "Installing Debian's chromium (browser tests)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
    log "Installing Debian's poppler-utils (pdftotext/pdftoppm for the cost PDF test)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq poppler-utils >/dev/null
  fi
  if ! command -v promtool >/dev/null; then
    log "Installing Debian's prometheus (promtool checks GET /metrics)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  if ! [ -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null; then
    log "Installing Debian's nginx-light (the load balancer of the cluster test)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  fi
  if ! [ -d "$ROOT/end2end/node_modules/playwright-core" ]; then
    log "Installing playwright-core (no browser download)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# The brokers the queue-trigger tests consume from (server/tests/queues.rs):
# NATS with JetStream on 4222, Redis on 6379, Mosquitto on 1883; and the
# PostgreSQL on 5432 that server/tests/postgres.rs runs Wisp on. Each is
# started (installed from Debian's packages first if missing) only when its
# port is closed, so running this twice changes nothing.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 50); do port_open "$2" && return 0; sleep 0.2; done
  echo "error: $1 did not start listening on 127.0.0.1:$2" >&2
  return 1
}

ensure_services() {
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "Installing Debian's ${missing[*]} (queue trigger tests)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! port_open 4222; then
    log "Starting nats-server with JetStream on 127.0.0.1:4222"
    $SUDO mkdir -p /var/lib/nats-server
    $SUDO start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_port nats-server 4222
  fi
  if ! port_open 6379; then
    log "Starting redis-server on 127.0.0.1:6379"
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_port redis-server 6379
  fi
  if ! port_open 1883; then
    log "Starting mosquitto on 127.0.0.1:1883"
    if [ -f /etc/mosquitto/mosquitto.conf ]; then
      $SUDO /usr/sbin/mosquitto -d -c /etc/mosquitto/mosquitto.conf
    else
      $SUDO /usr/sbin/mosquitto -d -p 1883
    fi
    wait_port mosquitto 1883
  fi
  if ! port_open 5432; then
    log "Starting PostgreSQL on 127.0.0.1:5432"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -1)" main start
    wait_port postgresql 5432
  fi
}

ensure_toolchain
ensure_test_tools
ensure_services
build_functions
build_site

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

build_server

log "Rust tests (unit + integration against the real server)"
export WISP_FUNCTIONS_DIR="$ROOT/functions"
export WISP_TEST_CACHE_DIR="$CARGO_TARGET_DIR/wisp-test-cache"
cargo test --workspace -- --test-threads=2

log "Core suites again on PostgreSQL (deploy/call/record, versions, triggers and events, costs, tenancy, applications as code)"
WISP_TEST_BACKEND=postgres cargo test -p server --test core_flow --test events \
  --test costs --test tenancy --test apply -- --test-threads=2

log "API fuzzing (schemathesis from the OpenAPI document: no 5xx, no crash)"
bash "$ROOT/scripts/fuzz-api.sh"

log "Browser end-to-end tests"
bash "$ROOT/end2end/run.sh"
