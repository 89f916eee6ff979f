#!/usr/bin/env bash
# Builds the component app.wasm from app.py (and any other .py files here)
# with componentize-py. Needs python3 (3.9+) with venv; installs the pinned
# componentize-py into .venv/ on first use. Does nothing when app.wasm is
# newer than every source file.
set -euo pipefail
COMPONENTIZE_PY_VERSION=0.25.1
cd "$(dirname "${BASH_SOURCE[0]}")"

tool=.venv/bin/componentize-py
if [[ ! -x $tool ]] || [[ $("$tool" --version | awk '{print $2}') != "$COMPONENTIZE_PY_VERSION" ]]; then
    python3 -m venv .venv || {
        echo "build.sh: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    }
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION"
    rm -f app.wasm
fi

if [[ -f app.wasm ]] && [[ -z $(find . -path ./.venv -prune -o \( -name '*.py' -o -name '*.wit' \) -newer app.wasm -print) ]]; then
    echo "app.wasm is up to date"
    exit 0
fi
"$tool" -d wit -w app componentize app -o app.tmp.wasm
mv -f app.tmp.wasm app.wasm
