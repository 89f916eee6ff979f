#!/usr/bin/env bash
# Builds every example/hostile Wisp function and writes functions/<name>.wasm.
#
#   functions/build.sh              # everything
#   functions/build.sh --no-python  # skip python-hello (slow first build, ~18 MB)
#
# Idempotent: cargo only rebuilds what changed, and python-hello.wasm is
# rebuilt only when app.py or its WIT is newer than it. Needs only rustup,
# cargo, python3 and pip; installs the wasm targets and componentize-py.
# Honors CARGO_TARGET_DIR (default: functions/target).
set -euo pipefail

# wasi:http components (wasm32-wasip2), one crate folder each.
COMPONENTS=(hello echo cpu trap trap-debug infinite-loop memory-bomb deep-recursion huge-output log-flood relay read-file env counter replay-demo)
# Versions of replay-demo built with a feature: <name>-<feature>.wasm.
VARIANTS=(replay-demo:fixed replay-demo:divergent)
# WAGI/CGI command modules (wasm32-wasip1).
MODULES=(cgi)
COMPONENTIZE_PY_VERSION=0.25.1
# The WASI version of the WIT in python-hello/wit/deps.
PYTHON_WORLD="wasi:http/proxy@0.2.12"

build_python=1
for arg in "$@"; do
    case "$arg" in
        --no-python) build_python=0 ;;
        -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Resolve a relative CARGO_TARGET_DIR against the caller's directory, before cd.
target_dir="${CARGO_TARGET_DIR:-$here/target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export CARGO_TARGET_DIR="$target_dir"
cd "$here"

start=$SECONDS
summary=()
record() { # name path
    local bytes
    bytes=$(wc -c <"$2" | tr -d ' ')
    summary+=("$(printf '%-16s %10s bytes  %s' "$1" "$bytes" "${2#"$here"/}")")
}

# --- Rust ---------------------------------------------------------------------
installed_targets="$(rustup target list --installed)"
for t in wasm32-wasip2 wasm32-wasip1; do
    grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)

packages=()
for c in "${COMPONENTS[@]}"; do packages+=(-p "$c"); done
cargo build "${locked[@]}" --release --target wasm32-wasip2 "${packages[@]}"
for c in "${COMPONENTS[@]}"; do
    cp -f "$target_dir/wasm32-wasip2/release/$c.wasm" "$here/$c.wasm"
    record "$c" "$here/$c.wasm"
done
for v in "${VARIANTS[@]}"; do
    c="${v%%:*}" feature="${v#*:}"
    cargo build "${locked[@]}" --release --target wasm32-wasip2 -p "$c" --features "$feature"
    cp -f "$target_dir/wasm32-wasip2/release/$c.wasm" "$here/$c-$feature.wasm"
    record "$c-$feature" "$here/$c-$feature.wasm"
done

packages=()
for m in "${MODULES[@]}"; do packages+=(-p "$m"); done
cargo build "${locked[@]}" --release --target wasm32-wasip1 "${packages[@]}"
for m in "${MODULES[@]}"; do
    cp -f "$target_dir/wasm32-wasip1/release/$m.wasm" "$here/$m.wasm"
    record "$m" "$here/$m.wasm"
done

# --- Python (componentize-py) ---------------------------------------------------
if [[ $build_python == 1 ]]; then
    if ! command -v componentize-py >/dev/null 2>&1; then
        # A Debian-style "externally managed" Python refuses a plain install.
        python3 -m pip install "componentize-py==$COMPONENTIZE_PY_VERSION" ||
            python3 -m pip install --user --break-system-packages \
                "componentize-py==$COMPONENTIZE_PY_VERSION"
        # A --user install puts the script under the user base, maybe off PATH.
        # (Not `python3 -m site --user-base`: it exits non-zero in a venv.)
        if ! command -v componentize-py >/dev/null 2>&1; then
            PATH="$PATH:$(python3 -c 'import site; print(site.getuserbase())')/bin"
        fi
    fi
    have="$(componentize-py --version | awk '{print $2}')"
    if [[ $have != "$COMPONENTIZE_PY_VERSION" ]]; then
        echo "build.sh: warning: componentize-py $have found, $COMPONENTIZE_PY_VERSION expected" >&2
    fi

    out="$here/python-hello.wasm"
    src="$here/python-hello"
    stale=0
    [[ -f $out ]] || stale=1
    for f in "$src/app.py" "$src"/wit/*.wit "$src"/wit/deps/*.wit; do
        [[ $f -nt $out ]] && stale=1
    done
    if [[ $stale == 1 ]]; then
        (cd "$src" && componentize-py -d wit -w "$PYTHON_WORLD" componentize app -o "$out.tmp")
        mv -f "$out.tmp" "$out"
    fi
    record python-hello "$out"
fi

echo
printf '%s\n' "${summary[@]}"
echo "built ${#summary[@]} functions in $((SECONDS - start)) s"
