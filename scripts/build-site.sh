#!/usr/bin/env bash
# Builds the dashboard's browser side (the "site") without cargo-leptos:
#   $SITE/pkg/wisp.js, $SITE/pkg/wisp_bg.wasm  hydration bundle (wasm-bindgen --target web)
#   $SITE/pkg/wisp.css                         style/{main,forms,components,costs,dashboard,traces,logs,replay}.css
#   $SITE/*                                    public/ (favicon, ...)
#   FILE.gz, FILE.br                           precompressed variants of each
# The server binary embeds $SITE at build time (server/build.rs): build the
# site first, then the server.
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

# Built in a scratch folder, then copied over only where a file changed: the
# server embeds the site (server/build.rs), and an unchanged site must not
# make cargo rebuild it.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/pkg" "$site/pkg"
wasm-bindgen --target web --no-typescript \
  --out-dir "$scratch/pkg" --out-name wisp "$wasm"
# One stylesheet, in cascade order (tokens and layout first).
cat style/main.css style/forms.css style/components.css style/costs.css style/dashboard.css style/traces.css style/logs.css style/replay.css >"$scratch/pkg/wisp.css"
if [[ -d public ]] && [[ -n "$(ls -A public)" ]]; then
  cp -R public/. "$scratch/"
fi

# Precompressed variants (FILE.gz, FILE.br) that the server embeds beside each
# file and sends to browsers that accept them. brotli is Debian's package.
if ! command -v brotli >/dev/null && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  echo "build-site: installing brotli (Debian package)"
  (apt-get install -y -qq brotli >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq brotli >/dev/null; }) || true
fi
if [[ "${WISP_RELEASE:-0}" == "1" ]]; then gzip_level=9; brotli_level=11; else gzip_level=6; brotli_level=5; fi
(cd "$scratch" && find . -type f) | while read -r file; do
  file="${file#./}"
  mkdir -p "$(dirname "$site/$file")"
  compressible=0
  case "$file" in *.js|*.wasm|*.css|*.svg|*.json) compressible=1 ;; esac
  if cmp -s "$scratch/$file" "$site/$file" && { [[ $compressible == 0 ]] || [[ -f "$site/$file.gz" ]]; }; then
    continue
  fi
  cp "$scratch/$file" "$site/$file"
  case "$compressible" in
    1)
      gzip -"$gzip_level" -n -c "$site/$file" >"$site/$file.gz"
      if command -v brotli >/dev/null; then
        brotli -q "$brotli_level" -f -c "$site/$file" >"$site/$file.br"
      else
        rm -f "$site/$file.br"
      fi
      ;;
  esac
done

echo "build-site: site ready in $site"
ls -l "$site/pkg"
