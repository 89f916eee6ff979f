#!/usr/bin/env bash
# Builds the component app.wasm from app.js with componentize-js. Needs
# Node.js 20+ and npm; installs the pinned componentize-js (package.json,
# package-lock.json) into node_modules/ when missing or out of date. Does
# nothing when app.wasm is newer than every source file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

stamp=node_modules/.package-lock.json
if [[ ! -f $stamp || package.json -nt $stamp || package-lock.json -nt $stamp ]]; then
    npm install --no-audit --no-fund
    touch "$stamp"
    rm -f app.wasm
fi

if [[ -f app.wasm ]] && [[ -z $(find . -path ./node_modules -prune -o \( -name '*.js' -o -name '*.mjs' -o -name '*.wit' \) -newer app.wasm -print) ]]; then
    echo "app.wasm is up to date"
    exit 0
fi
node_modules/.bin/componentize-js --wit wit --world-name app -o app.tmp.wasm app.js
mv -f app.tmp.wasm app.wasm
