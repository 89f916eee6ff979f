#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and starts
# `wisp serve` (dashboard + API on 127.0.0.1:3000, gateway on 127.0.0.1:8080,
# SQLite under ./wisp-data). Extra arguments go to `wisp serve`.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_toolchain
build_functions
build_site
build_server
# Development: triggers may use the brokers on this machine (NATS, Redis,
# Mosquitto) besides public ones. A production server lists its own.
export WISP_BROKER_HOSTS="${WISP_BROKER_HOSTS:-*,127.0.0.1,::1,localhost}"
log "Starting wisp (Ctrl-C to stop)"
exec "$WISP_BIN" serve "$@"
