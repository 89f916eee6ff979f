# Deploy-to-live of bench/run.sh (sourced by it; uses its helpers): for
# hello, python-hello (componentize-py, ~18 MB) and a componentize-js
# component (the `wisp new js` template), the time from the start of the
# upload to the first 200 through the gateway, on Wisp as shipped (baseline
# code first, optimised code switched to in the background) and with
# `--no-baseline-compiler` (optimised code before going live), next to
# `wasmtime serve`'s process start to first 200 for the same file (it
# compiles at start; this build has no compilation cache). Each upload is a
# distinct copy (a custom section changes its hash) on a fresh cache, so
# every round compiles. Rounds interleave the three.

DEPLOY_ROUNDS="${DEPLOY_ROUNDS:-5}"
DEPLOY_COMPONENTS="${DEPLOY_COMPONENTS:-hello python-hello js-hello}"

# Builds the componentize-js component from the js template (npm install of
# componentize-js on first use, as `wisp new js` documents).
js_component() {
  local dir="$WORK/js-hello"
  if [ ! -f "$dir/app.wasm" ]; then
    log "Building a componentize-js component from the js template"
    (cd "$WORK" && "$WISP" new js js-hello >/dev/null && cd js-hello && bash build.sh >&2)
  fi
  echo "$dir/app.wasm"
}

deploy_file() { # component -> wasm path
  case "$1" in
    js-hello) js_component ;;
    *) echo "$ROOT/functions/$1.wasm" ;;
  esac
}

# Adds the runtime's own baseline compile time to a deploy-to-live result,
# from the server's log (its last "compiled baseline code" line): the
# compile stage also covers storing the blob beside the compile and the
# wait for a compile slot.
with_compile_ms() { # result-json log-file
  python3 - "$1" "$2" <<'PY'
import json, re, sys
result = json.loads(sys.argv[1])
log = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[2], errors="replace").read())
found = re.findall(r"compiled baseline code.*?elapsed_ms=(\d+)", log)
result["baseline_compile_ms"] = int(found[-1]) if found else None
print(json.dumps(result))
PY
}

deploy_to_live() {
  mkdir -p "$RESULTS"
  local out="$RESULTS/deploy.md" raw="$WORK/deploy.tsv"
  : >"$raw"
  for component in $DEPLOY_COMPONENTS; do
    local file
    file="$(deploy_file "$component")"
    log "deploy-to-live: $component ($(du -h "$file" | cut -f1))"
    for round in $(seq 1 "$DEPLOY_ROUNDS"); do
      for mode in baseline optimised-first; do
        local dir="$WORK/deploy-$component-$mode-$round" flags=()
        [ "$mode" = optimised-first ] && flags=(--no-baseline-compiler)
        start_wisp "$dir" --cache-dir "$dir-cache" "${flags[@]}"
        local result
        result="$(python3 "$ROOT/bench/tools.py" deploy-to-live "$API" "$TOKEN" "$GATEWAY" "$file" "f$round")"
        result="$(with_compile_ms "$result" "$dir.log")"
        printf '%s\t%s\t%s\n' "$component" "wisp-$mode" "$result" >>"$raw"
        echo "  $component wisp $mode: $result" >&2
        stop_server
      done
      if [[ " $SERVERS " == *" wasmtime "* ]]; then
        local result
        result="$(python3 "$ROOT/bench/tools.py" peer-start "$WASMTIME" "$file" "$(free_port)")"
        printf '%s\t%s\t%s\n' "$component" "wasmtime-serve" "$result" >>"$raw"
        echo "  $component wasmtime serve: $result" >&2
      fi
    done
    # The same uploads to a server that is already running (as a deploy
    # reaches a real one): its first compile is not counted, each upload is
    # new bytes and waits for the one before to be optimised.
    local dir="$WORK/deploy-$component-running"
    start_wisp "$dir" --cache-dir "$dir-cache"
    for round in $(seq 0 "$DEPLOY_ROUNDS"); do
      local result
      result="$(python3 "$ROOT/bench/tools.py" deploy-to-live "$API" "$TOKEN" "$GATEWAY" "$file" "r$round")"
      [ "$round" = 0 ] && continue
      result="$(with_compile_ms "$result" "$dir.log")"
      printf '%s\t%s\t%s\n' "$component" "wisp-running" "$result" >>"$raw"
      echo "  $component wisp on a running server: $result" >&2
    done
    stop_server
  done
  {
    echo "Deploy-to-live: upload start → first 200 through the gateway (Wisp), process start → first 200 (\`wasmtime serve\`),"
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import tools; print(tools.machine())' "$ROOT/bench"), $DEPLOY_ROUNDS rounds, medians."
    echo
    python3 - "$raw" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    component, mode, result = line.rstrip("\n").split("\t", 2)
    rows.setdefault(component, {}).setdefault(mode, []).append(json.loads(result))
def med(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values)) if values else "–"
print("| component | Wisp (baseline first), fresh server ms | its upload stage ms | its compile stage ms | … of which the baseline compile ms | optimised after ms | Wisp on a running server ms | its compile stage ms | … of which the baseline compile ms | Wisp --no-baseline-compiler ms | `wasmtime serve` start ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for component, modes in rows.items():
    b = modes.get("wisp-baseline", [])
    o = modes.get("wisp-optimised-first", [])
    p = modes.get("wasmtime-serve", [])
    running = modes.get("wisp-running", [])
    print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        component,
        med([r["first_response_ms"] for r in b]),
        med([r["stages"].get("upload") for r in b]),
        med([r["stages"].get("compile") for r in b]),
        med([r.get("baseline_compile_ms") for r in b]),
        med([r["optimised_after_ms"] for r in b]),
        med([r["first_response_ms"] for r in running]),
        med([r["stages"].get("compile") for r in running]),
        med([r.get("baseline_compile_ms") for r in running]),
        med([r["first_response_ms"] for r in o]),
        med([r["first_response_ms"] for r in p])))
PY
  } >"$out"
  cat "$out"
}
