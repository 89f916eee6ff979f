# The cluster measurement of bench/run.sh (sourced by it; uses its helpers):
# `bash bench/run.sh cluster` runs 1, 2 and 3 Wisp nodes on one fresh
# PostgreSQL database behind Debian's nginx and measures hello's req/s and
# latency through the balancer; then one node straight (no balancer) on
# SQLite and on PostgreSQL, with the server's and PostgreSQL's CPU per call
# (what a cluster node pays its database per call). On 2 cores the client,
# nginx, every node and PostgreSQL share the same cores: this shows the
# overhead of a cluster, not its speed-up.

CLUSTER_CONNS="${CLUSTER_CONNS:-16 64}"
PG_ADMIN_URL="${WISP_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
CLUSTER_KEY="5f2b8c1d9e4a7b3c6d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"

ensure_nginx() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] && return 0
  log "Installing Debian's nginx-light"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
}

postgres_ticks() { # CPU ticks of every PostgreSQL process
  local total=0 pid t
  for pid in $(pgrep -x postgres || true); do
    t="$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)"
    total=$((total + t))
  done
  echo "$total"
}

# nginx balancing the gateways given (host:port ...); sets NGINX_PID, LB.
start_nginx() {
  local dir="$WORK/nginx-$#" port servers=""
  mkdir -p "$dir"
  port="$(free_port)"
  for addr in "$@"; do servers+="server $addr; "; done
  cat >"$dir/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $dir/nginx.pid; error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
  upstream gateways { $servers keepalive 128; }
  server { listen 127.0.0.1:$port;
    location / { proxy_pass http://gateways; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
EOF
  "$(command -v nginx || echo /usr/sbin/nginx)" -c "$dir/nginx.conf" -p "$dir" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  LB="http://127.0.0.1:$port"
  local deadline=$((SECONDS + 10))
  until curl -s -o /dev/null "$LB/fn/hello/"; do
    [ $SECONDS -lt $deadline ] || { echo "error: nginx did not answer" >&2; return 1; }
    sleep 0.1
  done
}

# Rounds of wrk at each concurrency; prints "label conns rps p50 p99 errors
# server_us_per_call postgres_us_per_call" per round (server = the pids given).
cluster_rounds() { # label url pid...
  local label="$1" url="$2"; shift 2
  local c r out before after pg_before pg_after requests ticks pg_ticks
  wrk -t 2 -c 16 -d "${WARMUP}s" "$url" >/dev/null
  for c in $CLUSTER_CONNS; do
    for r in $(seq 1 "$ROUNDS"); do
      before=0; for p in "$@"; do before=$((before + $(cpu_ticks "$p"))); done
      pg_before="$(postgres_ticks)"
      out="$(wrk -t 2 -c "$c" -d "${DURATION}s" --latency "$url")"
      after=0; for p in "$@"; do after=$((after + $(cpu_ticks "$p"))); done
      pg_after="$(postgres_ticks)"
      read -r rps p50 p99 errors _ <<<"$(printf '%s\n' "$out" | python3 "$ROOT/bench/tools.py" parse-wrk)"
      requests="$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')"
      ticks=$((after - before)); pg_ticks=$((pg_after - pg_before))
      python3 -c 'import sys
label, c, rps, p50, p99, err, req, t, pg = sys.argv[1:]
hz = 100.0
req = max(int(req), 1)
print(label, c, rps, p50, p99, err, "%.1f" % (int(t) / hz / req * 1e6), "%.1f" % (int(pg) / hz / req * 1e6))' \
        "$label" "$c" "$rps" "$p50" "$p99" "$errors" "$requests" "$ticks" "$pg_ticks"
    done
  done
}

cluster() {
  ensure_nginx
  mkdir -p "$RESULTS"
  local out="$RESULTS/cluster.md" raw="$WORK/cluster.tsv" db url n
  db="wisp_bench_cluster_$$"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $db" >/dev/null
  url="${PG_ADMIN_URL%/*}/$db"
  local nodes=() gateways=() pids=()
  for n in 1 2 3; do
    start_wisp "$WORK/node$n" --database-url "$url" --node-id "bench-$n" --secret-key "$CLUSTER_KEY"
    # Nodes 2 and 3 join: the administrator (and its token) is node 1's.
    [ "$n" = 1 ] && NODE1_TOKEN="$TOKEN"
    TOKEN="$NODE1_TOKEN"
    [ "$n" = 1 ] && NODE1_API="$API"
    gateways+=("${GATEWAY#http://}")
    pids+=("$SERVER_PID")
  done
  API="$NODE1_API"
  deploy hello "$ROOT/functions/hello.wasm"
  for g in "${gateways[@]}"; do
    until curl -sf -o /dev/null "http://$g/fn/hello/"; do sleep 0.05; done
  done
  : >"$raw"
  for n in 1 2 3; do
    log "cluster: $n node(s) behind nginx"
    start_nginx "${gateways[@]:0:$n}"
    cluster_rounds "nginx+${n}node" "$LB/fn/hello/" "${pids[@]:0:$n}" | tee -a "$raw" >&2
    kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
  done
  log "cluster: one PostgreSQL node, straight"
  cluster_rounds "pg-node" "http://${gateways[0]}/fn/hello/" "${pids[0]}" | tee -a "$raw" >&2
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
  log "cluster: one SQLite node, straight"
  start_wisp "$WORK/sqlite-node"
  deploy hello "$ROOT/functions/hello.wasm"
  cluster_rounds "sqlite-node" "$GATEWAY/fn/hello/" "$SERVER_PID" | tee -a "$raw" >&2
  stop_server
  {
    echo "Cluster throughput, hello through nginx to 1-3 nodes on one PostgreSQL database,"
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench")."
    echo "Medians of $ROUNDS rounds of ${DURATION}s (wrk, 2 threads). CPU per call: the Wisp processes' and all PostgreSQL processes' user+system time over the round / requests."
    echo
    python3 - "$raw" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 8:
        continue
    rows.setdefault((p[0], int(p[1])), []).append([float(x) if x != "nan" else float("nan") for x in p[2:8]])
print("| setup | conns | req/s | p50 ms | p99 ms | errors | Wisp CPU µs/call | PostgreSQL CPU µs/call |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for (label, c), vals in rows.items():
    med = [statistics.median(v[i] for v in vals) for i in range(6)]
    print(f"| {label} | {c} | {med[0]:.0f} | {med[1]:.2f} | {med[2]:.2f} | {med[3]:.0f} | {med[4]:.1f} | {med[5]:.1f} |")
EOF
  } >"$out"
  cat "$out"
  echo "written: bench/results/cluster.md" >&2
}
