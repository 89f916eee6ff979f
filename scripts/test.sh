#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything once,
# then runs formatting and lint checks, the Rust tests (unit + integration
# tests that start the real `wisp serve` on port 0) and the browser
# end-to-end tests against a real server in Debian's Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "${CI:-}" = "true" ] && [ -z "${WISP_KEEP_TARGET_IN_TREE:-}" ]; then
  # Reuse build output across CI runs on the same machine (a cold run works too).
  export CARGO_TARGET_DIR="${WISP_CI_TARGET_DIR:-/var/tmp/wisp-ci-target}"
fi

WASMTIME_VERSION="48.0.8"

ensure_test_tools() {
  if [ "$(wasmtime --version 2>/dev/null | awk '{print $2}')" != "$WASMTIME_VERSION" ]; then
    log "Installing wasmtime-cli $WASMTIME_VERSION (reference peer for the conformance test; once)"
    cargo install wasmtime-cli --locked --version "$WASMTIME_VERSION" \
      --no-default-features --features run,serve,cranelift,component-model-async
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
  if ! [ -d "$ROOT/end2end/node_modules/playwright-core" ]; then
    log "Installing playwright-core (no browser download)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

ensure_toolchain
ensure_test_tools
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

log "Browser end-to-end tests"
bash "$ROOT/end2end/run.sh"
