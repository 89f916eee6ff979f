#!/usr/bin/env bash
# GT gateway runtimes (--gateway-threads, default 1): four infinite-loop calls and a memory bomb in flight
# while hello is called on other connections of the same runtime; hello's latency and the server's health.
set -uo pipefail
# (lab script of docs/BENCHMARKS.md run 18; needs a release build and the example functions)
WISP="${WISP:-${CARGO_TARGET_DIR:-$(dirname "$0")/../../target}/release/wisp}"; F="${FUNCTIONS:-$(dirname "$0")/../../functions}"
D=$(mktemp -d /tmp/hostile.XXXX)
$WISP serve --data-dir $D --listen 127.0.0.1:0 --gateway 127.0.0.1:0 --gateway-threads ${GT:-1} > $D.log 2>&1 & PID=$!
until [ -s $D/addresses.json ]; do sleep 0.05; done
API=http://$(python3 -c "import json; print(json.load(open('$D/addresses.json'))['listen'])")
GW=http://$(python3 -c "import json; print(json.load(open('$D/addresses.json'))['gateway'])")
T=$(cat $D/admin-token)
for f in hello infinite-loop memory-bomb; do curl -sf -o /dev/null -H "Authorization: Bearer $T" -H 'content-type: application/wasm' --data-binary @$F/$f.wasm $API/api/v1/functions/$f/versions || echo "deploy $f failed"; done
echo "threads: $(ls /proc/$PID/task | wc -l), gateway threads: $(cat /proc/$PID/task/*/comm | grep -c wisp-gateway)"
echo "hello alone:"; curl -s -o /dev/null -w "%{http_code} %{time_total}s\n" $GW/fn/hello/
CALLS=()
for i in 1 2 3 4; do curl --max-time 8 -s -o /dev/null -w "loop %{http_code} %{time_total}s\n" $GW/fn/infinite-loop/ & CALLS+=($!); done
curl -s -o /dev/null -w "bomb %{http_code} %{time_total}s\n" $GW/fn/memory-bomb/ & CALLS+=($!)
sleep 0.5
echo "hello while 4 infinite loops and a memory bomb run on the same runtime:"
for i in 1 2 3 4 5; do curl -s -o /dev/null -w "hello %{http_code} %{time_total}s\n" $GW/fn/hello/; sleep 0.3; done
wrk -t1 -c4 -d3s --latency $GW/fn/hello/ | grep -E "Requests/sec|99%|Non-2xx"
wait "${CALLS[@]}"
echo "after:"; curl -s -o /dev/null -w "hello %{http_code} %{time_total}s\n" $GW/fn/hello/
curl -s -H "Authorization: Bearer $T" "$API/api/v1/functions/infinite-loop/invocations?limit=5" | python3 -c "import json,sys; d=json.load(sys.stdin); items=d if isinstance(d,list) else d.get('items',d.get('invocations',[])); print('recorded infinite-loop calls:', len(items), [ (i.get('status'), i.get('outcome')) for i in items][:5])"
kill -TERM $PID; wait $PID; echo "exit $?"; tail -3 $D.log
