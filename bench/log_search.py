#!/usr/bin/env python3
"""Log search measurements (docs/BENCHMARKS.md, "Log search").

  python3 bench/log_search.py writer-cost [--rows N] [--rounds R]
      What the search index costs the recorder: CPU per stored invocation row
      for the schema without an index and with each candidate index, on a
      fresh SQLite file migrated with migrations/sqlite/*.sql (the same
      statements the server runs), rows stored in transactions of 500 as the
      recorder's writer does. Rounds alternate between the variants.

  python3 bench/log_search.py fill DB N [--team-functions 20]
      Adds N invocation rows with realistic logs to the SQLite database DB
      (made and migrated by `wisp serve`; the server must be stopped), owned
      by the first team, and feeds the search index as the recorder does.

  python3 bench/log_search.py backfill DB
      Times migration 0012 on a database that already holds calls (the
      index is emptied first, then filled by the migration's statement).

  python3 bench/log_search.py rare DB
      Prints a word stored in exactly one call (for the rare-word search).

  python3 bench/log_search.py query URL TOKEN --rare WORD [--repeat 7]
      Times GET /api/v1/logs for a set of searches (rare and common words,
      filters, a phrase, a prefix, a page further down): median and p95 per
      search and over all of them, as Markdown.
"""

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = (
    "id, function_name, version, trigger_kind, started_at, duration_us, billed_ms, "
    "memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, status, outcome, "
    "status_code, error, method, path, logs, logs_truncated, parent_id, trigger_id"
)
INSERT = (
    f"INSERT INTO invocations ({COLUMNS}) VALUES "
    f"({','.join('?' * 21)}) ON CONFLICT (id) DO NOTHING"
)

# --- realistic records ----------------------------------------------------------

WORDS = [
    "order", "payment", "user", "cart", "invoice", "shipment", "session", "profile",
    "inventory", "coupon", "refund", "webhook", "email", "report", "export", "search",
]
MESSAGES = [
    "created", "updated", "loaded from cache", "cache miss", "validated", "queued",
    "sent", "rejected", "retrying", "timed out", "declined", "not found", "stored",
]
HOSTS = ["db-1.internal", "db-2.internal", "cache.internal", "api.stripe.com", "smtp.example.com"]


def rand_id(rng, prefix, digits=8):
    return f"{prefix}_{rng.getrandbits(digits * 4):0{digits}x}"


def log_line(rng, path):
    kind = rng.random()
    word = rng.choice(WORDS)
    if kind < 0.35:
        level = rng.choices(["debug", "info", "warn", "error"], [2, 12, 2, 1])[0]
        doc = {
            "level": level,
            "msg": f"{word} {rng.choice(MESSAGES)}",
            f"{word}_id": rand_id(rng, word[:3]),
            "duration_ms": rng.randint(0, 2000),
        }
        return json.dumps(doc, separators=(",", ":"))
    if kind < 0.55:
        return f"{rng.choice(['GET', 'POST', 'PUT'])} {path} -> {rng.choice([200, 200, 201, 404, 500])} in {rng.randint(1, 900)}ms"
    if kind < 0.70:
        return f"connecting to {rng.choice(HOSTS)} port={rng.choice([443, 5432, 6379])} attempt={rng.randint(1, 3)}"
    if kind < 0.85:
        return f"cache {rng.choice(['hit', 'miss'])} key={word}:{rng.randint(1, 99999)}:{rng.choice(['profile', 'settings', 'items'])}"
    return f"WARN slow query took {rng.randint(500, 5000)}ms: SELECT * FROM {word}s WHERE id = {rng.randint(1, 10**6)}"


def record(rng, n, started_ms, function, shape=None):
    """One invocations row (the recorder's 21 columns) for call number n."""
    path = f"/{rng.choice(WORDS)}s/{rng.randint(1, 10**6)}"
    if shape == "empty":
        lines = []
    elif shape == "one":
        lines = [f"echo: GET {path}"]
    else:
        lines = [log_line(rng, path) for _ in range(rng.randint(1, 8))]
    failed = rng.random() < 0.01
    error = None
    if failed:
        error = rng.choice([
            "wasm trap: wasm `unreachable` instruction executed",
            "timed out after 30000 ms",
            "out of memory: the 128 MiB limit was reached",
        ])
    return (
        f"{started_ms:012x}-{n:08x}-7000-8000-{rng.getrandbits(48):012x}",
        function,
        1,
        "http",
        started_ms,
        rng.randint(300, 50_000),
        1,
        128,
        2_000_000,
        rng.randint(0, 500),
        rng.randint(10, 5000),
        "error" if failed else "success",
        "trap" if failed else "success",
        None if failed else 200,
        error,
        "GET",
        path,
        "\n".join(lines) + ("\n" if lines else ""),
        0,
        None,
        None,
    )


# --- schema ---------------------------------------------------------------------


def migrate(conn, upto=None, skip=()):
    """Runs migrations/sqlite/*.sql in order (up to and including `upto`)."""
    folder = os.path.join(ROOT, "migrations", "sqlite")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".sql") or name in skip:
            continue
        if upto and name > upto:
            break
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            conn.executescript(f.read())


SEARCH_MIGRATION = "0012_log_search.sql"

FEED = "INSERT INTO invocations_fts (rowid, logs, error) VALUES (?, ?, ?)"


def table(content, tokenizer="unicode61 remove_diacritics 0"):
    return (
        "CREATE VIRTUAL TABLE invocations_fts USING fts5(logs, error, "
        f"content={content}, columnsize=0, tokenize='{tokenizer}');"
    )


EXTERNAL = "'invocations', content_rowid='rowid'"
TRIGGER = """
CREATE TRIGGER invocations_fts_insert AFTER INSERT ON invocations
WHEN new.logs <> '' OR new.error IS NOT NULL BEGIN
    INSERT INTO invocations_fts (rowid, logs, error) VALUES (new.rowid, new.logs, new.error);
END;
"""


def variants():
    """name -> (SQL run after the migrations before 0012, whether the writer
    feeds the index itself)."""
    return {
        "no index": ("", False),
        "external content, fed by the writer (kept)": (table(EXTERNAL), True),
        "external content, fed by a trigger": (table(EXTERNAL) + TRIGGER, False),
        "contentless, fed by the writer": (table("''"), True),
        "trigram tokenizer, fed by the writer": (table(EXTERNAL, "trigram"), True),
    }


def store(conn, rows, feed):
    """One batch the way the recorder's SQLite writer stores it: one
    transaction, the cached one-row INSERT stepped per record and, with
    `feed`, the record's logs and error into the index under its rowid."""
    conn.execute("BEGIN IMMEDIATE")
    for r in rows:
        cursor = conn.execute(INSERT, r)
        if feed and cursor.rowcount == 1 and (r[17] or r[14] is not None):
            conn.execute(FEED, (cursor.lastrowid, r[17], r[14]))
    conn.execute("COMMIT")


def open_db(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        " PRAGMA temp_store=MEMORY;"
    )
    return conn


def writer_cost(args):
    shapes = ["empty", "one", "app"]
    names = list(variants())
    results = {(v, s): [] for v in names for s in shapes}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.rounds):
            order = names if round_no % 2 == 0 else list(reversed(names))
            for shape in shapes:
                rng = random.Random(1000 + round_no)
                rows = [record(rng, i, 1_760_000_000_000 + i, f"fn-{i % 4}", shape) for i in range(args.rows)]
                for name in order:
                    setup, feed = variants()[name]
                    path = os.path.join(tmp, f"{abs(hash((name, shape, round_no)))}.db")
                    conn = open_db(path)
                    migrate(conn, skip=(SEARCH_MIGRATION,))
                    conn.executescript(setup)
                    for f in range(4):
                        conn.execute(
                            "INSERT OR IGNORE INTO function_owners (name, team_id, created_at) VALUES (?, 1, 0)",
                            (f"fn-{f}",),
                        )
                    start = time.process_time()
                    for b in range(0, len(rows), 500):
                        store(conn, rows[b : b + 500], feed)
                    spent = time.process_time() - start
                    results[(name, shape)].append(spent / len(rows) * 1e6)
                    conn.close()
                    if round_no == 0:
                        # Closing checkpoints the WAL into the file.
                        sizes[(name, shape)] = os.path.getsize(path)
                    for suffix in ("", "-wal", "-shm"):
                        try:
                            os.remove(path + suffix)
                        except FileNotFoundError:
                            pass
    print(f"SQLite {sqlite3.sqlite_version}, {args.rows} rows per round, {args.rounds} rounds;"
          " CPU µs per stored row (median of rounds; extra over no index)\n")
    print("| variant | empty logs (hello) | one line (echo) | 1–8 app lines |")
    print("|---|---|---|---|")
    for name in names:
        cells = []
        for shape in shapes:
            med = statistics.median(results[(name, shape)])
            base = statistics.median(results[("no index", shape)])
            extra = "" if name == "no index" else f" (+{med - base:.1f})"
            cells.append(f"{med:.1f}{extra}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\ndatabase file size after one round, MB:\n")
    print("| variant | " + " | ".join(shapes) + " |")
    print("|---|---|---|---|")
    for name in names:
        print(f"| {name} | " + " | ".join(f"{sizes[(name, s)] / 1e6:.1f}" for s in shapes) + " |")


# --- bulk fill --------------------------------------------------------------------


def fill(args):
    conn = open_db(args.db)
    functions = [f"bench-{i:02d}" for i in range(args.team_functions)]
    conn.executemany(
        "INSERT OR IGNORE INTO function_owners (name, team_id, created_at) VALUES (?, 1, 0)",
        [(f,) for f in functions],
    )
    rng = random.Random(7)
    now = int(time.time() * 1000)
    # Spread over the last 30 days, oldest first (as the recorder appends).
    step = 30 * 24 * 3600 * 1000 // args.rows
    start = now - args.rows * step
    t0 = time.monotonic()
    batch = []
    for i in range(args.rows):
        batch.append(record(rng, i, start + i * step, functions[rng.randrange(len(functions))]))
        if len(batch) == 5000:
            store(conn, batch, feed=True)
            batch = []
            if (i + 1) % 100_000 == 0:
                print(f"  {i + 1} rows, {time.monotonic() - t0:.0f} s", file=sys.stderr)
    if batch:
        store(conn, batch, feed=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    print(f"filled {args.rows} rows in {time.monotonic() - t0:.0f} s; {os.path.getsize(args.db) / 1e6:.0f} MB")


def backfill(args):
    """Times what migration 0012 does to a database that already holds
    calls: it empties the index, then runs the migration's INSERT ... SELECT."""
    conn = open_db(args.db)
    conn.execute("INSERT INTO invocations_fts (invocations_fts) VALUES ('delete-all')")
    with open(os.path.join(ROOT, "migrations", "sqlite", SEARCH_MIGRATION), encoding="utf-8") as f:
        statement = f.read().split("-- The calls recorded before this migration.")[1]
    t0 = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(statement)
    conn.execute("COMMIT")
    (rows,) = conn.execute("SELECT count(*) FROM invocations").fetchone()
    print(f"indexing {rows} stored calls (migration 0012): {time.monotonic() - t0:.1f} s")
    conn.close()


def rare(args):
    """Prints a word that occurs in exactly one stored call (an id from a
    JSON log line in the middle of the table)."""
    conn = sqlite3.connect(args.db)
    (count,) = conn.execute("SELECT max(rowid) FROM invocations").fetchone()
    for rowid in range(count // 2, count):
        row = conn.execute("SELECT logs FROM invocations WHERE rowid = ?", (rowid,)).fetchone()
        for word in (row[0] if row else "").replace('"', " ").replace("_", " ").split():
            if len(word) == 8 and any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
                (n,) = conn.execute(
                    "SELECT count(*) FROM invocations_fts WHERE invocations_fts MATCH ?", (f'"{word}"',)
                ).fetchone()
                if n == 1:
                    print(word)
                    return
    sys.exit("no word found only once")


# --- timed searches -----------------------------------------------------------------


SEARCHES = [
    ("a rare word (one order id)", {"q": "{rare}"}),
    ("a common word (in most calls)", {"q": "cache"}),
    ("two words", {"q": "payment declined"}),
    ("a phrase", {"q": '"slow query"'}),
    ("a prefix", {"q": "ship*"}),
    ("common word, one function", {"q": "cache", "function": "bench-03"}),
    ("common word, errors only", {"q": "cache", "status": "error"}),
    ("common word, one day 10 days ago", {"q": "connecting", "since": "{day_start}", "until": "{day_end}"}),
    ("a word no call has", {"q": "zzzabsent"}),
    ("JSON lines at level error", {"q": "order", "level": "error"}),
]


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def query(args):
    base = args.url.rstrip("/") + "/api/v1/logs?"
    # A word that occurs once: an order id from one stored line.
    rare = args.rare
    now = time.time()
    day_start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10 * 86400))
    day_end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 9 * 86400))
    fill_in = {"{rare}": rare, "{day_start}": day_start, "{day_end}": day_end}
    rows = []
    every = []
    for label, params in SEARCHES:
        params = {k: fill_in.get(v, v) for k, v in params.items()}
        url = base + urllib.parse.urlencode(params)
        times = []
        hits = 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            page = get(url, args.token)
            times.append((time.perf_counter() - t) * 1000)
            hits = len(page["hits"])
        times.sort()
        every.extend(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        rows.append((label, params, hits, statistics.median(times), p95))
    # One page further down: the next page of the common word.
    first = get(base + urllib.parse.urlencode({"q": "cache"}), args.token)
    if first.get("next_before"):
        url = base + urllib.parse.urlencode({"q": "cache", "before": first["next_before"]})
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            page = get(url, args.token)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        every.extend(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        rows.append(("common word, second page", {"q": "cache", "before": "…"}, len(page["hits"]), statistics.median(times), p95))
    print("| search | parameters | hits (limit 50) | median ms | p95 ms |")
    print("|---|---|---|---|---|")
    for label, params, hits, med, p95 in rows:
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        print(f"| {label} | `{shown}` | {hits} | {med:.1f} | {p95:.1f} |")
    every.sort()
    p95 = every[min(len(every) - 1, round(0.95 * (len(every) - 1)))]
    print(f"\nall {len(every)} requests: median {statistics.median(every):.1f} ms, p95 {p95:.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("writer-cost")
    w.add_argument("--rows", type=int, default=20_000)
    w.add_argument("--rounds", type=int, default=5)
    f = sub.add_parser("fill")
    f.add_argument("db")
    f.add_argument("rows", type=int)
    f.add_argument("--team-functions", type=int, default=20)
    b = sub.add_parser("backfill")
    b.add_argument("db")
    r = sub.add_parser("rare")
    r.add_argument("db")
    q = sub.add_parser("query")
    q.add_argument("url")
    q.add_argument("token")
    q.add_argument("--rare", required=True, help="a word stored exactly once")
    q.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    {"writer-cost": writer_cost, "fill": fill, "backfill": backfill, "rare": rare, "query": query}[args.command](args)


if __name__ == "__main__":
    main()
