#!/usr/bin/env bash
# Builds the component target/wasm32-wasip2/release/app.wasm.
# Needs rustup and cargo (https://rustup.rs); adds the wasm32-wasip2 target if missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
# --target-dir: a CARGO_TARGET_DIR set elsewhere must not move the output.
cargo build --release --target wasm32-wasip2 --target-dir target
