#!/usr/bin/env bash
# Builds the dashboard's browser side (the "site") without cargo-leptos:
#   $SITE/pkg/wisp.js, $SITE/pkg/wisp_bg.wasm  hydration bundle (wasm-bindgen --target web)
#   $SITE/pkg/wisp.css                         style/{main,forms,components,costs,dashboard,traces,logs,replay}.css
#   $SITE/*                                    public/ (favicon, ...)
# The server serves $SITE at / with LeptosOptions output_name "wisp" and
# site_pkg_dir "pkg". Idempotent: run it again after any change to app/, style/
# or public/.
#
# Environment:
#   WISP_SITE_DIR     output directory (default: <workspace>/target/site)
#   WISP_RELEASE=1    build the wasm with the size-optimised `wasm-release` profile
#   CARGO_TARGET_DIR  honoured, as cargo does
set -euo pipefail

workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$workspace"

site="${WISP_SITE_DIR:-$workspace/target/site}"
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$workspace/$target_dir" ;;
esac

if [[ "${WISP_RELEASE:-0}" == "1" ]]; then
  profile="wasm-release"
  profile_dir="wasm-release"
  # Drop the symbol-name section (over half the file); panics still report messages.
  export CARGO_PROFILE_WASM_RELEASE_STRIP="${CARGO_PROFILE_WASM_RELEASE_STRIP:-true}"
else
  profile="dev"
  profile_dir="debug"
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [[ -z "$bindgen_version" ]]; then
  echo "build-site: wasm-bindgen not found in Cargo.lock" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]]; then
  echo "build-site: installing wasm-bindgen-cli $bindgen_version"
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

echo "build-site: compiling the hydrate bundle (profile $profile)"
cargo build -p app --lib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile "$profile"

wasm="$target_dir/wasm32-unknown-unknown/$profile_dir/app.wasm"
if [[ ! -f "$wasm" ]]; then
  echo "build-site: expected $wasm after the build" >&2
  exit 1
fi

mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript \
  --out-dir "$site/pkg" --out-name wisp "$wasm"
# One stylesheet, in cascade order (tokens and layout first).
cat style/main.css style/forms.css style/components.css style/costs.css style/dashboard.css style/traces.css style/logs.css style/replay.css >"$site/pkg/wisp.css"
if [[ -d public ]] && [[ -n "$(ls -A public)" ]]; then
  cp -R public/. "$site/"
fi

echo "build-site: site ready in $site"
ls -l "$site/pkg"
