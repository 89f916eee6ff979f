#!/usr/bin/env python3
"""Helpers of bench/run.sh (standard library only).

  parse-wrk                     wrk --latency output on stdin -> "rps p50_ms p99_ms errors"
  table RAW STATUS [...]        raw rounds (TSV) + Wisp's /api/v1/status -> Markdown tables
  deploy-many API TOKEN WASM PREFIX COUNT [--distinct] [--workers N]
                                uploads COUNT functions PREFIX00000.. concurrently (keep-alive)
  restart WISP DIR FN           starts wisp on DIR, times start -> first 200 from /fn/FN/
  slow-calls URL COUNT PID      COUNT concurrent GETs; all statuses, wall time, peak RSS of PID
  rss PID                       current and peak RSS of PID in MiB
  deploy-to-live API TOKEN GATEWAY WASM NAME [PATH]
                                uploads WASM (a distinct copy) as NAME, times upload -> first 200
                                from the gateway at PATH (default /fn/NAME/), and the switch to
                                optimised code
  peer-start WASMTIME WASM PORT times `wasmtime serve WASM` start -> first 200
"""

import asyncio
import http.client
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def parse_wrk(ticks_before="", ticks_after=""):
    """wrk's output on stdin → "rps p50_ms p99_ms errors cpu_us_per_call"; the
    server's CPU per completed request comes from its /proc clock ticks before
    and after the round ("nan" when they are not given)."""
    out = sys.stdin.read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    if not rps:
        sys.stderr.write(out)
        print("0 nan nan 1 nan")
        return
    cpu = "nan"
    done = re.search(r"^\s*(\d+) requests in", out, re.M)
    if ticks_before and ticks_after and done and int(done.group(1)) > 0:
        seconds = (int(ticks_after) - int(ticks_before)) / os.sysconf("SC_CLK_TCK")
        cpu = f"{seconds * 1e6 / int(done.group(1)):.1f}"
    print(f"{float(rps.group(1)):.1f} {to_ms(p50.group(1)):.3f} {to_ms(p99.group(1)):.3f} {errors} {cpu}")


def machine():
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return (f"{os.cpu_count()} cores (`nproc`), {model}, {mem} RAM, "
            f"Linux {platform.release()}, {distro}")


def fmt(x, digits=2):
    return "–" if x is None or math.isnan(x) else f"{x:,.{digits}f}"


def table(raw_path, status_path, opts):
    rows = {}
    order = []
    with open(raw_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 8:
                continue
            comp, server, c, _r, rps, p50, p99, err = parts[:8]
            # Server CPU per call: absent from rows of older runs.
            cpu = float(parts[8]) if len(parts) > 8 else math.nan
            key = (comp, server, int(c))
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append((float(rps), float(p50), float(p99), int(err), cpu))
    med = {}
    for key, vals in rows.items():
        cpus = [v[4] for v in vals if not math.isnan(v[4])]
        med[key] = (statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals),
                    statistics.median(v[2] for v in vals), sum(v[3] for v in vals),
                    statistics.median(cpus) if cpus else math.nan)
    try:
        with open(status_path) as f:
            status = json.load(f)
    except (OSError, ValueError):
        status = {}
    names = {"wisp": "Wisp gateway", "wisp-no-record": "Wisp, recording off",
             "wasmtime-serve": "wasmtime serve", "axum": "plain axum"}
    out = []
    out.append(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}.")
    out.append("")
    out.append(f"wrk on loopback, client and server on the same cores; per point a "
               f"{opts['warmup']} s warm-up per server, then {opts['rounds']} rounds of "
               f"{opts['duration']} s; medians of the rounds. Every call is a fresh store and "
               f"instance on both Wisp and `wasmtime serve` (its default for WASI 0.2).")
    if opts.get("peer"):
        out.append("")
        out.append(f"Peer: `{opts['peer'].strip()}`.")
    out.append("")
    out.append("| component | c | server | req/s | p50 ms | p99 ms | errors | server CPU µs/call |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|")
    for key in order:
        comp, server, c = key
        rps, p50, p99, err, cpu = med[key]
        out.append(f"| {comp} | {c} | {names.get(server, server)} | {fmt(rps, 0)} | "
                   f"{fmt(p50)} | {fmt(p99)} | {err} | {fmt(cpu, 1)} |")
    out.append("")
    out.append("Ratios (Wisp ÷ peer; req/s above 1 and latency below 1 favour Wisp):")
    out.append("")
    out.append("| component | c | req/s Wisp/wasmtime | p50 Wisp/wasmtime | p99 Wisp/wasmtime | req/s Wisp/axum |")
    out.append("|---|---:|---:|---:|---:|---:|")
    checks = []
    for key in order:
        comp, server, c = key
        if server != "wisp":
            continue
        w = med[key]
        peer = med.get((comp, "wasmtime-serve", c))
        ax = med.get((comp, "axum", c))
        r = [w[0] / peer[0], w[1] / peer[1], w[2] / peer[2]] if peer else [None] * 3
        ra = w[0] / ax[0] if ax else None
        out.append(f"| {comp} | {c} | {fmt(r[0])} | {fmt(r[1])} | {fmt(r[2])} | {fmt(ra, 3)} |")
        if peer and comp == "hello" and c in (16, 64):
            checks.append((f"hello c={c}: req/s ≥ 1.2 × wasmtime serve, p99 no worse",
                           r[0] >= 1.2 and r[2] <= 1.0,
                           f"{r[0]:.2f}×, p99 {w[2]:.2f} vs {peer[2]:.2f} ms"))
        if peer and comp == "python-hello":
            checks.append((f"python-hello c={c}: p50 ≤ 0.5 × wasmtime serve",
                           r[1] <= 0.5, f"{w[1]:.2f} vs {peer[1]:.2f} ms ({r[1]:.2f}×)"))
    paired = recording_pairs(opts.get("record"))
    off_keys = [k for k in order if k[1] == "wisp-no-record"]
    if off_keys:
        out.append("")
        out.append("Invocation recording (on = the default; off = `wisp serve --no-record`, the same "
                   "functions deployed and called), in the rotation above (medians of its rounds):")
        out.append("")
        out.append("| component | c | on req/s | off req/s | cost of recording (req/s) | on CPU µs/call | off CPU µs/call | cost of recording (CPU per call) |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for key in off_keys:
            on = med.get((key[0], "wisp", key[2]))
            off = med[key]
            if on:
                cost = 1 - on[0] / off[0]
                cpu_cost = on[4] / off[4] - 1
                cpu_text = "–" if math.isnan(cpu_cost) else f"{cpu_cost * 100:+.1f} %"
                out.append(f"| {key[0]} | {key[2]} | {fmt(on[0], 0)} | {fmt(off[0], 0)} | {cost * 100:+.1f} % | "
                           f"{fmt(on[4], 1)} | {fmt(off[4], 1)} | {cpu_text} |")
                if key[0] == "hello" and key[2] in (16, 64) and not paired:
                    checks.append((f"recording on costs ≤ {RECORDING_GOAL * 100:.0f} % at c={key[2]}", cost <= RECORDING_GOAL,
                                   f"{cost * 100:.1f} %"))
    if paired:
        out.append("")
        lines, more = paired_table(paired, opts)
        out.extend(lines)
        checks.extend(more)
    inst = status.get("instantiation")
    if inst:
        out.append("")
        out.append(f"Wisp's instantiation time per sandbox (`GET /api/v1/status` → `instantiation`, "
                   f"{inst['count']:,} sandboxes of this run, all components): "
                   f"p50 {inst['p50_us']:.0f} µs, p99 {inst['p99_us']:.0f} µs, "
                   f"mean {inst['mean_us']:.0f} µs; "
                   f"{inst.get('prewarmed_calls', 0):,} calls found theirs instantiated "
                   f"ahead (warm spares).")
    if checks:
        out.append("")
        out.append("| acceptance check | holds | measured |")
        out.append("|---|---|---|")
        for name, ok, what in checks:
            out.append(f"| {name} | {'yes' if ok else '**no**'} | {what} |")
    print("\n".join(out))


RECORDING_GOAL = 0.02  # issue 27 item 3: recording costs at most 2 %


def paired_table(paired, opts, database=None):
    """The paired recording comparison → (markdown lines, acceptance checks)."""
    where = f" on {database}" if database else ""
    out = [f"Recording on vs off{where}, paired (hello; per concurrency {opts.get('pairs', '?')} pairs "
           f"of adjacent {opts.get('pair_duration', '?')} s rounds, the order flipping from "
           f"pair to pair; cost = 1 − on/off of each pair, median and quartiles over the pairs):",
           "",
           "| c | pairs | on req/s (median) | off req/s (median) | cost: median of pairs | "
           "quartiles | on CPU µs/call | off CPU µs/call |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    checks = []
    for c, pairs in sorted(paired.items()):
        costs = [1 - on[0] / off[0] for on, off in pairs]
        cost = statistics.median(costs)
        q = statistics.quantiles(costs, n=4) if len(costs) > 1 else [cost, cost, cost]
        on_cpu = statistics.median(on[4] for on, _ in pairs)
        off_cpu = statistics.median(off[4] for _, off in pairs)
        out.append(f"| {c} | {len(pairs)} | {fmt(statistics.median(on[0] for on, _ in pairs), 0)} | "
                   f"{fmt(statistics.median(off[0] for _, off in pairs), 0)} | "
                   f"{cost * 100:+.1f} % | {q[0] * 100:+.1f} % … {q[2] * 100:+.1f} % | "
                   f"{fmt(on_cpu, 1)} | {fmt(off_cpu, 1)} |")
        if c in (16, 64):
            checks.append((f"recording{where} costs ≤ {RECORDING_GOAL * 100:.0f} % at c={c} (paired rounds)",
                           cost <= RECORDING_GOAL,
                           f"{cost * 100:.1f} % (quartiles {q[0] * 100:.1f} … {q[2] * 100:.1f} %)"))
    return out, checks


def recording(opts, runs):
    """`bench/run.sh recording`: one paired table per database, then the checks."""
    out, checks = [], []
    for database, path in runs:
        lines, more = paired_table(recording_pairs(path), opts, database)
        out.extend(lines + [""])
        checks.extend(more)
    out += ["| acceptance check | holds | measured |", "|---|---|---|"]
    out += [f"| {name} | {'yes' if ok else '**no**'} | {what} |" for name, ok, what in checks]
    print("\n".join(out))


def recording_pairs(path):
    """record.tsv of bench/run.sh → {c: [(on round, off round), ...]}; a round
    is (rps, p50, p99, errors, cpu_us_per_call)."""
    pairs = {}
    if not path or not os.path.exists(path):
        return pairs

    def round_of(v):
        return (float(v[0]), float(v[1]), float(v[2]), int(v[3]), float(v[4]))

    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 12:
                continue
            c = int(parts[0])
            on, off = parts[2:7], parts[7:12]
            if float(on[0]) > 0 and float(off[0]) > 0:
                pairs.setdefault(c, []).append((round_of(on), round_of(off)))
    return pairs


def with_custom_section(wasm, tag):
    """A distinct but equivalent binary: a trailing custom section (allowed
    at any position in modules and components) changes its SHA-256."""
    name = b"wisp-bench"
    payload = tag.encode()
    body = leb(len(name)) + name + payload
    return wasm + b"\x00" + leb(len(body)) + body


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def deploy_many(api, token, wasm_path, prefix, count, distinct, workers):
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    url = urllib.parse.urlparse(api)
    local = threading.local()
    failures = []

    def one(i):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        body = with_custom_section(wasm, f"{prefix}{i}") if distinct else wasm
        local.conn.request("POST", f"/api/v1/functions/{prefix}{i:05d}/versions", body=body,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/wasm"})
        resp = local.conn.getresponse()
        resp.read()
        if resp.status != 201:
            failures.append((i, resp.status))

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.monotonic() - started
    print(json.dumps({"deployed": count - len(failures), "failures": failures[:5],
                      "seconds": round(elapsed, 2)}))


def first_200(host, port, path, started, limit=120):
    """Polls GET path (a new connection each time) until it answers 200;
    returns the ms since `started` (time.monotonic())."""
    while time.monotonic() - started < limit:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return round((time.monotonic() - started) * 1000, 1)
        except OSError:
            pass
    raise SystemExit(f"no 200 from {host}:{port}{path} within {limit} s")


def deploy_to_live(api, token, gateway, wasm_path, name, path=None):
    with open(wasm_path, "rb") as f:
        wasm = with_custom_section(f.read(), f"{name}-{time.time_ns()}")
    url = urllib.parse.urlparse(api)
    host, port = gateway.replace("http://", "").rsplit(":", 1)
    started = time.monotonic()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    conn.request("POST", f"/api/v1/functions/{name}/versions", body=wasm,
                 headers={"Authorization": f"Bearer {token}",
                          "Content-Type": "application/wasm"})
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    answered = round((time.monotonic() - started) * 1000, 1)
    if resp.status != 201:
        raise SystemExit(f"upload of {name} answered {resp.status}: {answer}")
    first = first_200(host, int(port), path or f"/fn/{name}/", started)
    optimised = None
    while time.monotonic() - started < 600:
        req = urllib.request.Request(f"{api}/api/v1/functions/{name}",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as r:
            if json.load(r).get("live_code") in ("optimized", "baseline"):
                optimised = round((time.monotonic() - started) * 1000)
                break
        time.sleep(0.05)
    stages = {s["stage"]: s["ms"] for s in answer.get("stages", [])}
    print(json.dumps({"upload_answered_ms": answered, "first_response_ms": first,
                      "code": answer.get("code"), "stages": stages,
                      "optimised_after_ms": optimised}))


def peer_start(wasmtime, wasm_path, port):
    started = time.monotonic()
    proc = subprocess.Popen([wasmtime, "serve", "-Scli", "-Opooling-allocator=y",
                             "--addr", f"127.0.0.1:{port}", wasm_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = first_200("127.0.0.1", int(port), "/", started)
    finally:
        proc.kill()
        proc.wait()
    print(json.dumps({"first_response_ms": first}))


def rss(pid):
    cur = peak = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak


def restart(wisp, data_dir, fn):
    addresses = os.path.join(data_dir, "addresses.json")
    if os.path.exists(addresses):
        os.remove(addresses)
    log = open(data_dir + ".log", "a")
    started = time.monotonic()
    proc = subprocess.Popen([wisp, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                             "--gateway", "127.0.0.1:0"], stdout=log, stderr=log)
    first = None
    try:
        while time.monotonic() - started < 60:
            try:
                with open(addresses) as f:
                    addr = json.load(f)
                break
            except (OSError, ValueError):
                time.sleep(0.002)
        listening = time.monotonic() - started
        host, port = addr["gateway"].rsplit(":", 1)
        while time.monotonic() - started < 60:
            try:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                conn.request("GET", f"/fn/{fn}/")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    first = time.monotonic() - started
                    break
            except OSError:
                pass
            time.sleep(0.002)
        with open(os.path.join(data_dir, "admin-token")) as f:
            token = f.read().strip()
        req = urllib.request.Request(f"http://{addr['listen']}/api/v1/status",
                                     headers={"Authorization": f"Bearer {token}"})
        status = json.load(urllib.request.urlopen(req))
        print(json.dumps({"listening_ms": round(listening * 1000, 1),
                          "first_response_ms": round(first * 1000, 1) if first else None,
                          "live_functions": status.get("live_functions"),
                          "artifact_cache": status.get("artifact_cache"),
                          "rss_mib": round(rss(proc.pid)[0], 1)}))
    finally:
        proc.terminate()
        proc.wait()


async def slow_calls(url, count, pid):
    u = urllib.parse.urlparse(url)
    peak = [0.0]
    done = asyncio.Event()

    async def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss(pid)[0])
            await asyncio.sleep(0.05)

    async def one():
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        writer.write(f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                     f"Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
        writer.close()
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0

    base = rss(pid)[0]
    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    elapsed = time.monotonic() - started
    done.set()
    await sampler
    codes = {}
    for r in results:
        k = str(r) if isinstance(r, int) else type(r).__name__
        codes[k] = codes.get(k, 0) + 1
    print(json.dumps({"calls": count, "statuses": codes, "seconds": round(elapsed, 2),
                      "rss_before_mib": round(base, 1), "rss_peak_mib": round(peak[0], 1)}))


def capture(path, stored):
    """capture.tsv of bench/capture.sh → a table of the paired cost of each
    capture setting against capture off."""
    rows = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 13:
                continue
            mode, c = parts[0], int(parts[1])
            a, b = parts[3:8], parts[8:13]
            if float(a[0]) > 0 and float(b[0]) > 0:
                rows.setdefault((mode, c), []).append(
                    (float(a[0]), float(a[4]), float(b[0]), float(b[4])))
    out = [f"## Capture cost (hello; paired rounds against capture off)", "", machine(), "",
           "| capture | c | pairs | req/s | off req/s | cost (req/s, median of pairs) | quartiles | "
           "CPU µs/call | off CPU µs/call | cost (CPU/call) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for (mode, c), pairs in sorted(rows.items()):
        costs = [1 - a / b for a, _, b, _ in pairs]
        cpu = [a_cpu / b_cpu - 1 for _, a_cpu, _, b_cpu in pairs if b_cpu > 0]
        q = statistics.quantiles(costs, n=4) if len(costs) > 1 else [costs[0]] * 3
        out.append(f"| {mode} | {c} | {len(pairs)} | {fmt(statistics.median(p[0] for p in pairs), 0)} | "
                   f"{fmt(statistics.median(p[2] for p in pairs), 0)} | {statistics.median(costs) * 100:+.1f} % | "
                   f"{q[0] * 100:+.1f} % … {q[2] * 100:+.1f} % | "
                   f"{fmt(statistics.median(p[1] for p in pairs), 1)} | "
                   f"{fmt(statistics.median(p[3] for p in pairs), 1)} | "
                   f"{statistics.median(cpu) * 100:+.1f} % |")
    out.append("")
    out.append(f"Captures stored at the end (count, bytes): {stored}")
    print("\n".join(out))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "parse-wrk":
        parse_wrk(*args[:2])
    elif cmd == "table":
        opts = {"duration": "?", "rounds": "?", "warmup": "?"}
        rest = args[2:]
        for i in range(0, len(rest) - 1, 2):
            opts[rest[i].lstrip("-")] = rest[i + 1]
        table(args[0], args[1], opts)
    elif cmd == "recording":
        # recording PAIRS PAIR_DURATION DATABASE=FILE...
        runs = [tuple(a.split("=", 1)) for a in args[2:]]
        recording({"pairs": args[0], "pair_duration": args[1]}, runs)
    elif cmd == "deploy-many":
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 4
        deploy_many(args[0], args[1], args[2], args[3], int(args[4]), "--distinct" in args, workers)
    elif cmd == "restart":
        restart(args[0], args[1], args[2])
    elif cmd == "slow-calls":
        asyncio.run(slow_calls(args[0], int(args[1]), int(args[2])))
    elif cmd == "capture":
        capture(args[0], args[1] if len(args) > 1 else "?")
    elif cmd == "deploy-to-live":
        deploy_to_live(*args[:6])
    elif cmd == "peer-start":
        peer_start(args[0], args[1], args[2])
    elif cmd == "rss":
        cur, peak = rss(int(args[0]))
        print(json.dumps({"rss_mib": round(cur, 1), "peak_mib": round(peak, 1)}))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
