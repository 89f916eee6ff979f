"""perf report (--no-children --sort dso,symbol --stdio) on stdin or a
file -> a markdown table of where the samples went, in buckets named by
what the code does for a call. Used by bench/profile.sh."""

import re
import sys

# (bucket, regex over "dso symbol"), first match wins.
BUCKETS = [
    ("kernel: TCP/IP, sockets, epoll", r"(\[kernel|vmlinux).*\b(tcp|ip_|__ip|inet|sock|skb|epoll|ep_|net_|napi|__dev|loopback|netif|__netif|sk_|lo_)"),
    ("kernel: memory (page faults, madvise, mmap, zeroing)", r"(\[kernel|vmlinux).*\b(page|fault|madvise|mmap|munmap|zap|clear_page|memset|folio|pte|pmd|tlb|lru|rmap|vma)"),
    ("kernel: scheduler, futex, syscalls, other", r"(\[kernel|vmlinux)"),
    ("guest code and trampolines (JIT, unsymbolised)", r"^\S*(\[unknown\]|perf-\d+\.map|memfd|\[anon|//anon)"),
    ("WASI / wasi-http host (request and response plumbing)", r"wasmtime_wasi|wasi_http|wasi::"),
    ("wasmtime: instantiation, pooling allocator, memory reset", r"wasmtime\S*::(.*::)?(allocator|pooling|decommit|cow|instantiate|InstancePre|Instance::new|new_raw|mpk|reset|Mmap|mmap)|wasmtime\S*instantiat"),
    ("wasmtime: other (calls into the guest, component glue)", r"wasmtime"),
    ("HTTP: hyper, http, h1 parsing", r"\bhyper|\bhttp::|httparse|h2::|http_body"),
    ("tokio runtime (tasks, wakers, I/O driver, timers)", r"\btokio|mio::|futures_|futures::|tokio_util"),
    ("Wisp: recording (recorder, SQLite)", r"recorder|rusqlite|sqlite3|libsqlite"),
    ("Wisp: gateway, platform, runtime crate", r"\b(platform|server|wisp|runtime)::|<platform|<server|<runtime"),
    ("allocator (mimalloc)", r"\b_?mi_|mimalloc"),
    ("memcpy / memmove / memset (libc)", r"mem(cpy|move|set|cmp)|__memcpy|__memmove|__memset"),
    ("libc, other", r"libc|ld-linux"),
]


def parse(lines):
    rows = []
    for line in lines:
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
        if m:
            # perf pads the symbol column: keep the name only.
            symbol = re.sub(r"\s{2,}.*$", "", m.group(4)).strip()
            rows.append((float(m.group(1)), m.group(2), m.group(3), symbol))
    return rows


def bucket_of(dso, symbol):
    text = f"{dso} {symbol}"
    for name, pattern in BUCKETS:
        if re.search(pattern, text):
            return name
    return "other"


def main():
    src = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    # The server's CPU per call, to show each bucket in µs per call too.
    per_call = float(sys.argv[2]) if len(sys.argv) > 2 else None
    rows = parse(src)
    total = sum(r[0] for r in rows) or 1.0
    buckets, top = {}, {}
    for pct, dso, _kind, symbol in rows:
        name = bucket_of(dso, symbol)
        buckets[name] = buckets.get(name, 0.0) + pct
        top.setdefault(name, []).append((pct, symbol))
    print("| where | share of the server's CPU | µs per call | largest symbols |")
    print("|---|---:|---:|---|")
    for name, pct in sorted(buckets.items(), key=lambda kv: -kv[1]):
        largest = sorted(top[name], reverse=True)[:3]
        shown = "; ".join(f"`{s[:70]}` {p:.1f} %" for p, s in largest)
        us = f"{per_call * pct / total:.1f}" if per_call else "–"
        print(f"| {name} | {100 * pct / total:.1f} % | {us} | {shown} |")


if __name__ == "__main__":
    main()
