# Shared set-up for scripts/run.sh and scripts/test.sh: installs what Wisp
# needs (idempotently) and builds the server, the dashboard bundle and the
# example functions once. Source it; do not run it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Keep cargo's output in one place; CI may point it at a cache outside the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export WISP_SITE_DIR="${WISP_SITE_DIR:-$ROOT/target/site}"
WASM_BINDGEN_VERSION="0.2.130"

log() { printf '\n==> %s\n' "$*" >&2; }

ensure_toolchain() {
  log "Rust targets"
  rustup target add wasm32-wasip1 wasm32-wasip2 wasm32-unknown-unknown >/dev/null
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

build_functions() {
  log "Example functions (functions/*.wasm)"
  bash "$ROOT/functions/build.sh"
}

build_site() {
  log "Dashboard bundle ($WISP_SITE_DIR)"
  bash "$ROOT/scripts/build-site.sh"
}

build_server() {
  log "wisp server"
  cargo build -p server --bin wisp
  WISP_BIN="$CARGO_TARGET_DIR/debug/wisp"
  export WISP_BIN
}
