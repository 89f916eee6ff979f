#!/usr/bin/env bash
# Builds a release of Wisp: the dashboard's site optimised for size
# (WISP_RELEASE=1: wasm-release profile, gzip -9 and brotli -q 11 variants),
# then `wisp` in release mode with the site embedded (server/build.rs), and
# packs dist/wisp-<version>-x86_64-linux.tar.gz holding the binary, README.md
# and LICENSE. The binary alone serves the dashboard, the API and the gateway.
#
# Environment: CARGO_TARGET_DIR (honoured); WISP_SITE_DIR (default
# target/site-release, kept apart from the development site).
# Containers: see Containerfile (built only where podman or docker exists).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export WISP_SITE_DIR="${WISP_RELEASE_SITE_DIR:-$ROOT/target/site-release}"
version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
name="wisp-$version-x86_64-linux"

ensure_toolchain
log "Dashboard site, release build ($WISP_SITE_DIR)"
WISP_RELEASE=1 bash "$ROOT/scripts/build-site.sh"
log "wisp, release build (site embedded)"
cargo build --release -p server --bin wisp

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$ROOT/dist"
cp "$CARGO_TARGET_DIR/release/wisp" "$stage/$name/wisp"
strip "$stage/$name/wisp" 2>/dev/null || true
cp README.md LICENSE "$stage/$name/"
tar -C "$stage" -czf "$ROOT/dist/$name.tar.gz" "$name"
(cd "$ROOT/dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
log "dist/$name.tar.gz ($(du -h "$ROOT/dist/$name.tar.gz" | cut -f1)), sha256 beside it"
