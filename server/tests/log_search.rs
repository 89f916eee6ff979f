//! Log search (`GET /api/v1/logs`) over the real server, on SQLite and on
//! PostgreSQL: three functions, 10,000 calls through the gateway (made
//! concurrently, recorded by the recorder), then one call's unique word
//! finds exactly that call (also as a prefix, a phrase and through
//! `wisp logs --search`), time range and status narrow the hits to exact
//! counts (paged by cursor), another team sees nothing of it, and query
//! text made of FTS or tsquery syntax never fails the server.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::storage::TestDatabase;
use common::TestServer;
use futures::StreamExt;
use model::{FunctionSummary, LogSearchHit, LogSearchPage};
use serde_json::Value;

/// The unique word, in one call's path (echo logs `echo: GET <path>`).
const UNIQUE: &str = "zebracorn7";
/// Calls per function before and after the time mark: (function, before, after).
const CALLS: [(&str, usize, usize); 3] = [
    ("alpha", 2500, 2000),
    ("beta", 2500, 2000),
    ("gamma", 500, 500),
];
/// Calls in flight at once.
const CONCURRENCY: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_search_on_sqlite() {
    let server = TestServer::start().await;
    exercise(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_search_on_postgresql() {
    let db = TestDatabase::create("logsearch");
    let server = TestServer::start_with(&["--database-url", &db.url]).await;
    exercise(&server).await;
    // The index holds only the rows with logs or an error (migration 0018:
    // a call that logs nothing and succeeds pays nothing for it), and the
    // search's condition is one the planner can use it for.
    let index = common::storage::psql(
        &db.url,
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'invocations_words'",
    );
    assert!(
        index.contains("WHERE ((logs <> ''::text) OR (error IS NOT NULL))"),
        "{index}"
    );
    let plan = common::storage::psql(
        &db.url,
        &format!(
            "SET enable_seqscan = off; EXPLAIN SELECT i.id FROM invocations i \
             WHERE invocation_words(i.logs, i.error) @@ to_tsquery('simple', '{UNIQUE}') \
             AND (i.logs <> '' OR i.error IS NOT NULL)"
        ),
    );
    assert!(plan.contains("invocations_words"), "{plan}");
}

async fn exercise(server: &TestServer) {
    // alpha (echo) and beta (relay) log a line with the request's path;
    // gamma (trap) logs `trap: about to fail` and fails.
    server.deploy("alpha", "echo").await;
    server.deploy("beta", "relay").await;
    server.deploy("gamma", "trap").await;

    call_all(server, 0).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mark: DateTime<Utc> = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let unique_id = {
        let r = server
            .http
            .get(server.fn_url(&format!("/fn/alpha/orders/{UNIQUE}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        common::invocation_id(&r)
    };
    call_all(server, 1).await;
    let total: usize = CALLS.iter().map(|(_, a, b)| a + b).sum::<usize>() + 1;
    assert!(total > 10_000);
    wait_recorded(server, total).await;

    // The unique word: exactly that call, with its line and the hit marked.
    let page = search(server, &server.token, &format!("q={UNIQUE}")).await;
    assert_eq!(ids(&page), [unique_id.as_str()]);
    let hit = &page.hits[0];
    assert_eq!(hit.function, "alpha");
    assert_eq!(hit.lines.len(), 1);
    let line = &hit.lines[0];
    assert_eq!(line.text, format!("echo: GET /orders/{UNIQUE}"));
    let [start, end] = line.highlights[0];
    assert_eq!(&line.text[start as usize..end as usize], UNIQUE);
    assert!(page.next_before.is_none());
    // Case, a prefix, a phrase, a term with punctuation: the same call.
    for q in [
        "ZebraCorn7",
        "zebrac*",
        "\"get orders zebracorn7\"",
        "/orders/zebracorn7",
        "zebracorn7 -nothinglikethis",
        "zebracorn7 OR nothinglikethis",
    ] {
        let page = search(server, &server.token, &format!("q={}", enc(q))).await;
        assert_eq!(ids(&page), [unique_id.as_str()], "q={q}");
    }
    // Words in the wrong order are not the phrase; an excluded word drops it.
    for q in ["\"zebracorn7 orders\"", "zebracorn7 -echo"] {
        let page = search(server, &server.token, &format!("q={}", enc(q))).await;
        assert!(page.hits.is_empty(), "q={q}: {page:?}");
    }

    // The CLI's search prints the call and its line.
    let (ok, out, err) = common::wisp(server, &["logs", "--search", UNIQUE]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&unique_id) && out.contains("echo: GET /orders/zebracorn7"),
        "{out}"
    );

    // Time range: every echo call before the mark, and after it.
    let mark = enc(&mark.to_rfc3339());
    let (before, after) = (CALLS[0].1, CALLS[0].2 + 1);
    assert_eq!(
        all_hits(server, &format!("q=echo&until={mark}")).await,
        before
    );
    assert_eq!(
        all_hits(server, &format!("q=echo&since={mark}")).await,
        after
    );
    assert_eq!(all_hits(server, "q=echo").await, before + after);
    // Function and status: relay's and trap's calls, by function, failed or not.
    let gamma = CALLS[2].1 + CALLS[2].2;
    let beta = CALLS[1].1 + CALLS[1].2;
    assert_eq!(
        all_hits(server, "q=echo%20OR%20relay%20OR%20about&function=beta").await,
        beta
    );
    // Only trap's calls failed: any other hit here is shown with its outcome.
    let failed = hits(server, "q=echo%20OR%20relay%20OR%20about&status=error").await;
    if let Some(other) = failed.iter().find(|h| h.function != "gamma") {
        let record = server
            .get_json(&format!("/api/v1/invocations/{}", other.id))
            .await;
        let warnings: Vec<_> = server
            .log()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("panicked"))
            .map(str::to_owned)
            .collect();
        panic!(
            "a call answered 200 but recorded as failed: {record:#}\nserver warnings:\n{}",
            warnings.join("\n")
        );
    }
    let recorded: Vec<FunctionSummary> =
        serde_json::from_value(server.get_json("/api/v1/functions").await).unwrap();
    let recorded: Vec<_> = recorded.iter().map(|f| (&f.name, f.calls_24h)).collect();
    assert_eq!(failed.len(), gamma, "calls recorded now: {recorded:?}");
    assert_eq!(all_hits(server, "q=about&status=success").await, 0);
    assert_eq!(all_hits(server, "q=about&status=trap").await, gamma);
    assert_eq!(
        all_hits(
            server,
            &format!("q=relay&function=beta&status=success&since={mark}")
        )
        .await,
        CALLS[1].2
    );

    // Another team: sees none of it, and not the function.
    let other = server.second_team_token("blue", "bob").await;
    let page = search(server, &other, &format!("q={UNIQUE}")).await;
    assert!(page.hits.is_empty(), "{page:?}");
    let (status, body) = get(server, &other, "q=echo&function=alpha").await;
    assert_eq!(status, 404, "{body}");

    // Query text made of search syntax: answered, never a server error.
    for q in [
        "\"",
        "\"zebracorn7",
        "zebracorn7\" OR \"x",
        "NEAR(zebracorn7 echo)",
        "logs:zebracorn7",
        "error:x",
        "*",
        "(",
        ")",
        "'); DROP TABLE invocations; --",
        "^zebracorn7",
        "-",
        "AND",
        "OR OR",
        "\\",
        "a & !b | c:*",
        "x <-> y",
        "'''",
        "\u{0}",
        "ünïcödé",
        "zebracorn7*\"*",
        "{\"level\":\"error\"}",
        "- - -",
        "\"\"",
        "OR zebracorn7",
    ] {
        let (status, body) = get(server, &server.token, &format!("q={}", enc(q))).await;
        assert!(status == 200 || status == 400, "q={q:?}: {status} {body}");
        if status == 400 {
            assert_eq!(body["error"]["code"], "invalid_input", "q={q:?}: {body}");
        }
    }
    let (status, body) = get(server, &server.token, "q=%22%21%21%21%22").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no letters or digits"),
        "{body}"
    );
    let (status, _) = get(server, &server.token, "q=echo&status=sideways").await;
    assert_eq!(status, 400);
    let (status, _) = get(server, &server.token, "q=echo&level=not%20a%20word").await;
    assert_eq!(status, 400);
}

/// Round `round` of calls: each function's share, `CONCURRENCY` at a time.
async fn call_all(server: &TestServer, round: usize) {
    let mut urls = Vec::new();
    for (function, before, after) in CALLS {
        let n = if round == 0 { before } else { after };
        for i in 0..n {
            urls.push(server.fn_url(&format!("/fn/{function}/r{round}/{i}")));
        }
    }
    // Each call that went wrong: its URL, status, and the body's error.
    let wrong: Vec<String> = futures::stream::iter(urls)
        .map(|url| async move {
            let r = server.http.get(&url).send().await.unwrap();
            let expected = if url.contains("/fn/gamma/") { 502 } else { 200 };
            let status = r.status().as_u16();
            let id = r.headers().get("x-wisp-invocation-id").cloned();
            match r.bytes().await {
                Ok(_) if status == expected => None,
                body => Some(format!(
                    "{url}: {status} (invocation {id:?}), body: {:?}",
                    body.map(|b| b.len())
                )),
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await;
    assert!(
        wrong.is_empty(),
        "calls that went wrong in round {round}: {wrong:#?}"
    );
}

/// Waits until `n` calls of the three functions are recorded.
async fn wait_recorded(server: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list: Vec<FunctionSummary> =
            serde_json::from_value(server.get_json("/api/v1/functions").await).unwrap();
        let recorded: i64 = list.iter().map(|f| f.calls_24h).sum();
        if recorded as usize >= n {
            assert_eq!(recorded as usize, n);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {recorded} of {n} calls recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `text` percent-encoded for a query string.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ids(page: &LogSearchPage) -> Vec<&str> {
    page.hits.iter().map(|h| h.id.as_str()).collect()
}

async fn get(server: &TestServer, token: &str, query: &str) -> (u16, Value) {
    let r = server
        .http
        .get(server.api_url(&format!("/api/v1/logs?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn search(server: &TestServer, token: &str, query: &str) -> LogSearchPage {
    let (status, body) = get(server, token, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    serde_json::from_value(body).unwrap()
}

/// How many hits `query` has (see [`hits`]).
async fn all_hits(server: &TestServer, query: &str) -> usize {
    hits(server, query).await.len()
}

/// Every hit of `query`, paged 500 at a time; each id once.
async fn hits(server: &TestServer, query: &str) -> Vec<LogSearchHit> {
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let cursor = before.map(|b| format!("&before={b}")).unwrap_or_default();
        let page = search(server, &server.token, &format!("{query}&limit=500{cursor}")).await;
        for hit in page.hits {
            assert!(seen.insert(hit.id.clone()), "{query}: {} twice", hit.id);
            all.push(hit);
        }
        match page.next_before {
            Some(next) => before = Some(next),
            None => return all,
        }
    }
}
