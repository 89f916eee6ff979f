//! Resource limits a hostile tenant must not get around (issue 28), over
//! the real `wisp serve`: one team cannot take the whole instance pool or
//! the memory budget of running sandboxes (it gets 429 with `Retry-After`,
//! other teams keep getting 200); a client that stops reading a response
//! does not hold the function's concurrency slot past its deadline; a
//! compile bomb is given up after the compile budget (422) while calls keep
//! being served; the outbound allow-list takes `*` and IPv6 literals, and
//! IPv6 addresses that embed a loopback IPv4 address are refused.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Deploys `functions/<file>.wasm` as `name` with `token` and sets `config`.
async fn deploy_as(server: &TestServer, token: &str, name: &str, file: &str, config: Value) {
    let r = server
        .http
        .post(server.api_url(&format!("/api/v1/functions/{name}/versions")))
        .bearer_auth(token)
        .header("content-type", "application/wasm")
        .body(common::wasm(file))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = server
        .http
        .patch(server.api_url(&format!("/api/v1/functions/{name}")))
        .bearer_auth(token)
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// One gateway call: status, `Retry-After` header and body.
async fn call(http: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    let r = http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry_after, r.text().await.unwrap_or_default())
}

/// `n` gateway calls to `url` at once; returns their handles.
fn calls_at_once(
    server: &TestServer,
    url: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<(u16, Option<String>, String)>> {
    (0..n)
        .map(|_| {
            let http = server.http.clone();
            let url = server.fn_url(url);
            tokio::spawn(async move { call(&http, &url).await })
        })
        .collect()
}

/// Issue 28, item 2: 100 slow calls of one team on an 8-sandbox server.
/// The team gets its share (half) and 429 with `Retry-After` beyond it;
/// another team's hello keeps answering 200 meanwhile.
#[tokio::test]
async fn one_team_cannot_take_the_whole_instance_pool() {
    let server =
        TestServer::start_with(&["--max-instances", "8", "--team-concurrency-percent", "50"]).await;
    server.deploy("hello", "hello").await;
    let bob = server.second_team_token("red", "bob").await;
    deploy_as(
        &server,
        &bob,
        "hog",
        "relay",
        json!({"max_concurrency": 1000, "env": {"SLEEP_MS": "4000"}}),
    )
    .await;

    let hog = calls_at_once(&server, "/fn/hog/", 100);
    // Refused calls come back at once; wait for the first of them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !hog.iter().any(|h| h.is_finished()) {
        assert!(Instant::now() < deadline, "no hog call came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..3 {
        let (status, _, body) = call(&server.http, &server.fn_url("/fn/hello/")).await;
        assert_eq!(
            status, 200,
            "another team's call while the hog runs: {body}"
        );
    }

    let mut ok = 0;
    let mut refused = 0;
    for handle in hog {
        let (status, retry_after, body) = handle.await.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                refused += 1;
                assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
                assert!(body.contains("share of the server"), "{body}");
            }
            other => panic!("hog call answered {other}: {body}"),
        }
    }
    assert!((1..=4).contains(&ok), "{ok} hog calls ran at once");
    assert_eq!(ok + refused, 100);
}

/// Issue 28, item 2: the memory limits of running calls stay within the
/// server's budget. Four 1 GiB calls at once on a 2 GiB budget: two run,
/// two get 429; a function configured beyond the budget is refused.
#[tokio::test]
async fn running_sandboxes_stay_within_the_memory_budget() {
    let server = TestServer::start_with(&[
        "--sandbox-memory-budget-mb",
        "2048",
        "--team-concurrency-percent",
        "100",
    ])
    .await;
    server.deploy("big", "relay").await;
    server
        .configure(
            "big",
            json!({"memory_mb": 1024, "env": {"SLEEP_MS": "3000"}}),
        )
        .await;

    let mut statuses = Vec::new();
    for handle in calls_at_once(&server, "/fn/big/", 4) {
        let (status, retry_after, body) = handle.await.unwrap();
        if status == 429 {
            assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
            assert!(body.contains("memory budget"), "{body}");
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429, 429]);
    // The budget comes back when the calls end.
    let (status, _, body) = call(&server.http, &server.fn_url("/fn/big/")).await;
    assert_eq!(status, 200, "{body}");

    // A memory limit beyond the budget could never run: refused.
    let r = server
        .http
        .patch(server.api_url("/api/v1/functions/big"))
        .bearer_auth(&server.token)
        .json(&json!({"memory_mb": 4096}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("memory budget"), "{text}");
}

/// Issue 28, item 7: three clients read only the status line of a 60 MiB
/// response. The function's 2 s deadline cuts their responses and frees its
/// three slots: the next call gets 200, not 429, and the cut calls are
/// recorded as timeouts.
#[tokio::test]
async fn a_stalled_reader_does_not_hold_a_slot_past_the_deadline() {
    let server = TestServer::start().await;
    server.deploy("big", "huge-output").await;
    server
        .configure("big", json!({"timeout_ms": 2000, "max_concurrency": 3}))
        .await;
    let gateway = server.gateway.trim_start_matches("http://").to_string();
    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut tcp = tokio::net::TcpStream::connect(&gateway).await.unwrap();
        tcp.write_all(b"GET /fn/big/?mb=60 HTTP/1.1\r\nhost: wisp\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        // Read nothing more, keep the connection open.
        stalled.push(tcp);
    }

    let started = Instant::now();
    loop {
        let (status, _, body) = call(&server.http, &server.fn_url("/fn/big/?mb=0")).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still 429 {:?} after the 2 s deadline: the stalled readers hold the slots",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let records = server.invocations("big", 4).await;
    let timeouts = records
        .iter()
        .filter(|r| r.outcome == model::InvocationOutcome::Timeout)
        .count();
    assert_eq!(timeouts, 3, "{records:?}");
    drop(stalled);
}

/// Issue 28, item 7: a client that stops reading a 60 MiB response has its
/// connection dropped after the write timeout (2 s here), even though the
/// function's own deadline (60 s) is far away: when it reads again, the
/// stream ends after what was already buffered.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_the_write_timeout() {
    let server = TestServer::start_with(&["--write-timeout-secs", "2"]).await;
    server.deploy("big", "huge-output").await;
    server.configure("big", json!({"timeout_ms": 60000})).await;
    let gateway = server.gateway.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&gateway).await.unwrap();
    tcp.write_all(b"GET /fn/big/?mb=60 HTTP/1.1\r\nhost: wisp\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // Stop reading for three times the write timeout.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let read_all = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read_all)
        .await
        .expect("the connection ends");
    assert!(
        received < 30 << 20,
        "{received} bytes arrived after the stall: the connection was kept"
    );
}

/// A core module (a WASI command) whose `_start` is `depth` nested blocks,
/// each testing one of `locals` locals and branching out of several levels:
/// small, valid, and slow for an optimizing compiler.
fn compile_bomb(depth: usize, locals: u32, salt: u32) -> Vec<u8> {
    nested_module(depth, locals, salt, BLOCK)
}

/// `block` and `loop` opcodes (both with an empty block type after them).
const BLOCK: u8 = 0x02;
const LOOP: u8 = 0x03;

/// [`compile_bomb`] with `opcode` (block or loop) as the nested construct.
/// Nested loops are much slower still: every loop header merges every live
/// local (20,000 loops of 2,000 locals compiled for over 10 minutes).
fn nested_module(depth: usize, locals: u32, salt: u32, opcode: u8) -> Vec<u8> {
    fn leb(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len() as u64, out);
        out.extend_from_slice(body);
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    // Type 0: [] -> [].
    section(1, &[1, 0x60, 0, 0], &mut module);
    // One function of type 0.
    section(3, &[1, 0], &mut module);
    // Export it as `_start`.
    let mut exports = vec![1, 6];
    exports.extend_from_slice(b"_start");
    exports.extend_from_slice(&[0, 0]);
    section(7, &exports, &mut module);

    let mut body = Vec::new();
    // `locals` i32 locals.
    body.push(1);
    leb(u64::from(locals), &mut body);
    body.push(0x7f);
    for level in 0..depth {
        // block or loop, no result
        body.extend_from_slice(&[opcode, 0x40]);
        let local = (level as u32 * 7 + salt) % locals;
        // local.get; i32.const 1; i32.add; local.set (keeps every local live)
        body.push(0x20);
        leb(u64::from(local), &mut body);
        body.extend_from_slice(&[0x41, 1, 0x6a, 0x21]);
        leb(u64::from(local), &mut body);
        // local.get; br_if (to an outer block)
        body.push(0x20);
        leb(u64::from((local + 1) % locals), &mut body);
        body.push(0x0d);
        leb((level % 5) as u64, &mut body);
    }
    body.extend(std::iter::repeat_n(0x0b, depth));
    body.push(0x0b);
    let mut code = vec![1];
    leb(body.len() as u64, &mut code);
    code.extend_from_slice(&body);
    section(10, &code, &mut module);
    module
}

/// Issue 28, item 8: a compile bomb's upload is given up after the compile
/// budget (2 s here) with 422, while hello keeps answering 200. (With the
/// optimising compiler first; the baseline compiler compiles this bomb in
/// about a second: next test.)
#[tokio::test]
async fn a_compile_bomb_is_given_up_after_the_compile_budget() {
    // A cache of its own: a bomb compiled to its end once (the abandoned
    // compilation finishes in the background) must not be loaded from the
    // shared test cache the next time.
    let cache = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(&[
        "--no-baseline-compiler",
        "--compile-budget-secs",
        "2",
        "--max-concurrent-compiles",
        "1",
        "--cache-dir",
        cache.path().to_str().unwrap(),
    ])
    .await;
    server.deploy("hello", "hello").await;
    let bomb = compile_bomb(BOMB_DEPTH, BOMB_LOCALS, 1);

    let started = Instant::now();
    let upload = {
        let http = server.http.clone();
        let url = server.api_url("/api/v1/functions/bomb/versions");
        let token = server.token.clone();
        tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/wasm")
                .body(bomb)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    while !upload.is_finished() {
        let (status, _, body) = call(&server.http, &server.fn_url("/fn/hello/")).await;
        assert_eq!(status, 200, "hello while a bomb compiles: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, text) = upload.await.unwrap();
    let took = started.elapsed();
    assert_eq!(status, 422, "after {took:?}: {text}");
    assert!(text.contains("compile budget of 2 s"), "{text}");
    let (status, _, body) = call(&server.http, &server.fn_url("/fn/hello/")).await;
    assert_eq!(status, 200, "{body}");
}

/// The same bomb with the baseline compiler (the default): Winch compiles it
/// in one pass, so it goes live on baseline code; its optimised compile is
/// given up after the budget and it keeps its baseline code for good. The
/// given-up compilation runs on beside the optimising slots, so the next
/// upload still gets its optimised code; hello answers throughout. The
/// budget is 6 s, not 2: the next upload's optimised compile (echo, a debug
/// build) shares two cores with the given-up one and another test, and
/// took over 2 s once in CI; the bomb still takes several times longer.
#[tokio::test]
async fn a_compile_bomb_on_baseline_code_gives_up_only_its_optimisation() {
    let cache = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(&[
        "--compile-budget-secs",
        "6",
        "--max-concurrent-compiles",
        "1",
        "--cache-dir",
        cache.path().to_str().unwrap(),
    ])
    .await;
    server.deploy("hello", "hello").await;
    let (status, json) = server
        .upload("bomb", compile_bomb(BOMB_DEPTH, BOMB_LOCALS, 1))
        .await;
    assert_eq!(status, 201, "{json}");
    assert_eq!(json["code"], "optimizing", "{json}");
    let detail = loop {
        let (status, _, body) = call(&server.http, &server.fn_url("/fn/hello/")).await;
        assert_eq!(
            status, 200,
            "hello while the bomb's optimisation runs: {body}"
        );
        let detail = server.get_json("/api/v1/functions/bomb").await;
        if detail["live_code"] != "optimizing" {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(detail["live_code"], "baseline", "{detail}");
    assert!(
        server.log().contains("compilation exceeded its budget"),
        "{}",
        server.log()
    );

    // The next upload is optimised although the bomb's compilation runs on.
    server.deploy("small", "echo").await;
    let detail = server
        .wait_json("/api/v1/functions/small", "optimised code", |f| {
            f["live_code"] != "optimizing"
        })
        .await;
    assert_eq!(detail["live_code"], "optimized", "{detail}");
}

/// Nesting of the compile bomb (see [`compile_bomb`]): its compilation
/// takes far longer than the 2 s budget (40,000 levels compiled for 12.4 s
/// in the test build on a 2-core machine), yet ends on its own, so that the
/// test would see a 201 without the budget instead of waiting for minutes.
const BOMB_DEPTH: usize = 60_000;
/// Locals of the compile bomb.
const BOMB_LOCALS: u32 = 2_000;

/// Issue 28, item 8: a given-up compilation cannot be stopped, but it does
/// not keep its compile slot: the next upload compiles at once instead of
/// waiting for the bomb (minutes) to end.
#[tokio::test]
async fn a_given_up_compilation_frees_its_compile_slot() {
    let cache = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(&[
        "--no-baseline-compiler",
        "--compile-budget-secs",
        "2",
        "--max-concurrent-compiles",
        "1",
        "--cache-dir",
        cache.path().to_str().unwrap(),
    ])
    .await;
    let (status, json) = server
        .upload("bomb", nested_module(20_000, 2_000, 3, LOOP))
        .await;
    assert_eq!(status, 422, "{json}");

    // A small module; the bomb still compiles in the background.
    let r = server
        .post("/api/v1/functions/small/versions")
        .header("content-type", "application/wasm")
        .body(compile_bomb(10, 1, 7))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let r = r.expect("the next upload compiles without waiting for the given-up bomb");
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
}

/// An HTTP server on `[::1]` answering `ok` (axum: a hand-rolled one that
/// closed after one read sent a reset when the request came in two reads).
async fn ipv6_loopback_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sets `allowed_hosts`; returns the status and body.
async fn set_allowed_hosts(server: &TestServer, name: &str, hosts: Value) -> (u16, String) {
    let r = server
        .http
        .patch(server.api_url(&format!("/api/v1/functions/{name}")))
        .bearer_auth(&server.token)
        .json(&json!({"allowed_hosts": hosts}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Issue 28, item 10: `*` and IPv6 literals are accepted allow-list
/// entries, and an allow-listed IPv6 literal is reached (on a server that
/// allows private destinations).
#[tokio::test]
async fn the_allow_list_takes_the_wildcard_and_ipv6_literals() {
    let server = TestServer::start_with(&["--allow-private-destinations"]).await;
    server.deploy("caller", "relay").await;
    for hosts in [
        json!(["*"]),
        json!(["2001:db8::1"]),
        json!(["[2001:db8::1]:8443"]),
    ] {
        let (status, text) = set_allowed_hosts(&server, "caller", hosts.clone()).await;
        assert_eq!(status, 200, "{hosts}: {text}");
    }
    let (status, text) = set_allowed_hosts(&server, "caller", json!(["[::1"])).await;
    assert_eq!(status, 400, "{text}");

    let addr = ipv6_loopback_server().await;
    for entry in ["::1", "[::1]", &format!("[0:0::1]:{}", addr.port())] {
        let (status, text) = set_allowed_hosts(&server, "caller", json!([entry])).await;
        assert_eq!(status, 200, "{entry}: {text}");
        server
            .configure(
                "caller",
                json!({"env": {"STEPS": format!("GET http://[::1]:{}/", addr.port())}}),
            )
            .await;
        let (status, _, body) = call(&server.http, &server.fn_url("/fn/caller/")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("-> 200 ok"), "allowed as {entry}: {body}");
    }
}

/// Issue 28, item 10: with `allowed_hosts: ["*"]`, IPv6 addresses that
/// carry a loopback IPv4 address (NAT64, 6to4, IPv4-compatible) are refused
/// like 127.0.0.1 itself, with the reason in the invocation's logs.
#[tokio::test]
async fn ipv6_addresses_embedding_loopback_are_refused() {
    let server = TestServer::start().await;
    server.deploy("caller", "relay").await;
    let targets = [
        "http://[64:ff9b::7f00:1]:9/",
        "http://[2002:7f00:1::1]:9/",
        "http://[::127.0.0.1]:9/",
    ];
    let steps: Vec<String> = targets.iter().map(|t| format!("GET {t}")).collect();
    server
        .configure(
            "caller",
            json!({
                "allowed_hosts": ["*"],
                "timeout_ms": 5000,
                "env": {"STEPS": steps.join(";")},
            }),
        )
        .await;
    let r = server
        .http
        .get(server.fn_url("/fn/caller/"))
        .send()
        .await
        .unwrap();
    let id = common::invocation_id(&r);
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let record = server.invocation_eventually(&id).await;
    let refusals = record
        .logs
        .matches("is a loopback, private or link-local address")
        .count();
    assert_eq!(
        refusals,
        targets.len(),
        "each of {targets:?} is refused as private: {}\n{body}",
        record.logs
    );
}
