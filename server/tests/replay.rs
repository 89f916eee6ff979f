//! Capture and replay over the real API and CLI (issue: replay a recorded
//! invocation exactly): a failed call of `replay-demo` (it reads the clocks,
//! draws random bytes and asks an outside server run here) replays byte for
//! byte without the outside server seeing a request; on the fixed version it
//! succeeds and the diff shows exactly what changed; a version asking
//! another URL diverges; a replay publishes nothing and writes no key; a
//! capture over the size limit is refused; no secret value reaches the
//! database files.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{wisp, TestServer};
use serde_json::{json, Value};

/// A value found nowhere else: finding it in the database is a leak.
const SECRET: &str = "replay-secret-6c1f9e-value";

/// The outside server: counts requests, keeps the last `x-api-key`, and
/// answers `quote-<n>`.
struct Upstream {
    addr: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
    last_key: Arc<Mutex<Option<String>>>,
}

impl Upstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let last_key = Arc::new(Mutex::new(None));
        let (h, k) = (hits.clone(), last_key.clone());
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (h, k) = (h.clone(), k.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                *k.lock().unwrap() = request
                    .headers()
                    .get("x-api-key")
                    .map(|v| v.to_str().unwrap().to_string());
                let n = request
                    .uri()
                    .query()
                    .and_then(|q| q.strip_prefix("n="))
                    .unwrap_or("?")
                    .to_string();
                format!("quote-{n}")
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream {
            addr,
            hits,
            last_key,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// `replay-demo` deployed as `demo`, wired to `upstream`, with a secret.
async fn demo(upstream: &Upstream) -> TestServer {
    let server = TestServer::start_with(&["--allow-private-destinations"]).await;
    server.deploy("demo", "replay-demo").await;
    server
        .configure(
            "demo",
            json!({
                "env": {"UPSTREAM": format!("http://{}", upstream.addr)},
                "allowed_hosts": [upstream.addr.to_string()],
                "secrets": {"API_KEY": SECRET},
            }),
        )
        .await;
    server
}

async fn replay(server: &TestServer, id: &str, body: Value) -> (u16, Value) {
    let r = server
        .post(&format!("/api/v1/invocations/{id}/replay"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Calls `demo` through the gateway: (status, invocation id).
async fn call(server: &TestServer, path: &str) -> (u16, String) {
    let r = server
        .http
        .get(server.fn_url(&format!("/fn/demo{path}")))
        .send()
        .await
        .unwrap();
    let id = common::invocation_id(&r);
    (r.status().as_u16(), id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_replays_exactly_and_a_fixed_version_fixes_it() {
    let upstream = Upstream::start().await;
    let server = demo(&upstream).await;
    let (status, id) = call(&server, "/quote?n=3").await;
    assert_eq!(status, 500);
    assert_eq!(upstream.hits(), 1);
    assert_eq!(upstream.last_key.lock().unwrap().as_deref(), Some(SECRET));
    let original = server.invocation_eventually(&id).await;
    assert!(
        original.logs.contains("upstream=200 quote-3"),
        "{}",
        original.logs
    );

    // Same version, recorded outbound: identical, and nothing sent.
    let (status, answer) = replay(&server, &id, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let diff = &answer["diff"];
    assert_eq!(diff["same"], true, "{answer:#}");
    assert_eq!(answer["replay"]["status_code"], 500);
    assert_eq!(answer["replay"]["trigger"], "replay");
    assert_eq!(answer["replay"]["parent_id"], id.as_str());
    assert_eq!(
        answer["replay"]["logs"],
        json!(original.logs),
        "byte-identical logs"
    );
    assert_eq!(diff["body"]["original"], diff["body"]["replay"]);
    assert!(diff["body"]["original"]
        .as_str()
        .unwrap()
        .contains("n=3 is odd"));
    assert_eq!(upstream.hits(), 1, "a recorded replay sends nothing");
    // The replay is an invocation of its own, linked to the original.
    let replay_id = answer["replay"]["id"].as_str().unwrap().to_string();
    let stored = server.invocation_eventually(&replay_id).await;
    assert_eq!(stored.parent_id.as_deref(), Some(id.as_str()));

    // The fixed version: succeeds, and the diff names exactly what changed.
    server.deploy("demo", "replay-demo-fixed").await;
    let (status, answer) = replay(&server, &id, json!({"version": 2})).await;
    assert_eq!(status, 200, "{answer}");
    let diff = &answer["diff"];
    assert_eq!(answer["replay"]["version"], 2);
    assert_eq!(diff["same"], false);
    assert_eq!(
        diff["status"],
        json!({"same": false, "original": 500, "replay": 200})
    );
    assert_eq!(diff["body"]["same"], false);
    let replay_body = diff["body"]["replay"].as_str().unwrap();
    assert!(
        replay_body.starts_with("quote quote-3 at "),
        "{replay_body}"
    );
    // Same clock and random bytes as the original: the log lines that show
    // them are unchanged; only the failure line is gone.
    let changed: Vec<(String, String)> = diff["logs"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["tag"] != "same")
        .map(|l| {
            (
                l["tag"].as_str().unwrap().into(),
                l["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        vec![(
            "removed".to_string(),
            "demo: odd input 3, giving up".to_string()
        )]
    );
    assert!(diff["outbound"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["same"] == true));
    assert!(diff["divergences"].as_array().unwrap().is_empty());
    // Headers differ at most in the body's length.
    for h in diff["headers"].as_array().unwrap() {
        assert_eq!(h["name"], "content-length", "{h}");
    }
    assert_eq!(upstream.hits(), 1);

    // A version that asks another URL diverges at that request.
    server.deploy("demo", "replay-demo-divergent").await;
    let (status, answer) = replay(&server, &id, json!({"version": "live"})).await;
    assert_eq!(status, 200, "{answer}");
    let divergences = answer["diff"]["divergences"].as_array().unwrap();
    assert_eq!(divergences.len(), 1, "{answer:#}");
    let d = &divergences[0];
    let host = upstream.addr;
    assert_eq!(d["index"], 0);
    assert_eq!(d["recorded"], format!("GET http://{host}/quote?n=3"));
    assert_eq!(d["replay"], format!("GET http://{host}/v2/quote?n=3"));
    assert_eq!(d["differs"], json!(["uri"]));
    assert_eq!(upstream.hits(), 1, "a diverged request is not sent");

    // Live outbound: the request goes out, with the secret read again by name.
    let (status, answer) = replay(&server, &id, json!({"version": 1, "outbound": "live"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(upstream.hits(), 2);
    assert_eq!(upstream.last_key.lock().unwrap().as_deref(), Some(SECRET));

    // The capture names the secret; its value is in no database file.
    let capture = server
        .get_json(&format!("/api/v1/invocations/{id}/capture"))
        .await;
    assert_eq!(capture["secrets"], json!(["API_KEY"]));
    assert!(capture["env"]
        .as_array()
        .unwrap()
        .contains(&json!("UPSTREAM")));
    assert_eq!(capture["incomplete"], Value::Null);
    assert!(!capture.to_string().contains(SECRET));
    let mut bytes = Vec::new();
    for file in ["wisp.db", "wisp.db-wal", "wisp.db-shm"] {
        if let Ok(b) = std::fs::read(server.data_dir.join(file)) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty());
    assert!(
        !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the secret value is in the database files"
    );

    // The CLI: one replay, then the latest failures on the fixed version.
    let (ok, out, err) = wisp(&server, &["replay", &id, "--version", "1"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("the replay matches the original exactly"),
        "{out}"
    );
    let (ok, out, err) = wisp(&server, &["replay", "--failures", "demo", "--version", "2"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("1 fixed, 0 still failing, 0 diverged"),
        "{out}"
    );
    let batch: Value = server
        .post("/api/v1/functions/demo/replay")
        .json(&json!({"version": 1, "last": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(batch["still_failing"], 1, "{batch}");
    assert_eq!(batch["results"][0]["original_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_publishes_nothing_and_writes_no_key() {
    let upstream = Upstream::start().await;
    let server = demo(&upstream).await;
    server.configure("demo", json!({"capture": "all"})).await;
    server.deploy("listener", "hello").await;
    server
        .create_trigger(json!({"kind": "topic", "function": "listener", "topic": "replay-demo"}))
        .await;
    let r = server
        .http
        .post(server.fn_url("/fn/demo/effects?n=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = common::invocation_id(&r);
    server.invocation_eventually(&id).await;
    let deliveries = server.invocations("listener", 1).await;
    assert_eq!(deliveries.len(), 1);
    let key = server
        .get("/api/v1/kv/default/demo-5")
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 200);
    let gone = server
        .http
        .delete(server.api_url("/api/v1/kv/default/demo-5"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);

    let (status, answer) = replay(&server, &id, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["diff"]["same"], true, "{answer:#}");
    assert_eq!(answer["replay"]["status_code"], 200);
    let jobs = server.get_json("/api/v1/jobs?function=listener").await;
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "the replay published: {jobs}"
    );
    let key = server
        .get("/api/v1/kv/default/demo-5")
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 404, "the replay wrote the key");
    assert_eq!(server.invocations("listener", 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_over_the_size_limit_is_incomplete_and_not_replayed() {
    let server = TestServer::start().await;
    server.deploy("echo", "echo").await;
    server.configure("echo", json!({"capture": "all"})).await;
    let big = vec![b'x'; 1536 * 1024];
    let r = server
        .http
        .post(server.fn_url("/fn/echo/"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = common::invocation_id(&r);
    let _ = r.bytes().await.unwrap();
    server.invocation_eventually(&id).await;
    let capture = server
        .get_json(&format!("/api/v1/invocations/{id}/capture"))
        .await;
    let why = capture["incomplete"].as_str().unwrap();
    assert!(
        why.contains("over the capture limit of 1048576 bytes"),
        "{why}"
    );
    // Never replayed, so its bodies are not kept: it takes little of the cap.
    let size = capture["size_bytes"].as_i64().unwrap();
    assert!(size < 16 * 1024, "an incomplete capture keeps {size} bytes");
    let (status, answer) = replay(&server, &id, json!({})).await;
    assert_eq!(status, 409, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("incomplete"), "{message}");

    // A call that was not recorded says so.
    server
        .configure("echo", json!({"capture": "failures"}))
        .await;
    let r = server
        .http
        .post(server.fn_url("/fn/echo/"))
        .body("small")
        .send()
        .await
        .unwrap();
    let ok_id = common::invocation_id(&r);
    server.invocation_eventually(&ok_id).await;
    let (status, answer) = replay(&server, &ok_id, json!({})).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no capture"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_urls_are_named_in_captures_and_redacted_in_diffs() {
    let upstream = Upstream::start().await;
    let server = TestServer::start_with(&["--allow-private-destinations"]).await;
    server.deploy("demo", "replay-demo").await;
    let base = format!("http://{}", upstream.addr);
    server
        .configure(
            "demo",
            json!({"allowed_hosts": [upstream.addr.to_string()], "secrets": {"UPSTREAM": base}}),
        )
        .await;
    let (status, id) = call(&server, "/quote?n=7").await;
    assert_eq!(status, 500);
    server.invocation_eventually(&id).await;
    let capture = server
        .get_json(&format!("/api/v1/invocations/{id}/capture"))
        .await;
    assert_eq!(
        capture["outbound"],
        json!(["GET {{wisp-secret:UPSTREAM}}/quote?n=7 -> 200"])
    );
    let (status, answer) = replay(&server, &id, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["diff"]["same"], true, "{answer:#}");
    assert_eq!(
        answer["diff"]["outbound"][0]["original"],
        "GET [redacted]/quote?n=7 -> 200"
    );
    assert!(!answer.to_string().contains(&base), "{answer}");
    assert_eq!(upstream.hits(), 1);

    // Strict input: an object with known fields, a version from 1 up.
    for body in [json!([]), json!({"verison": 2}), json!({"version": 0})] {
        let (status, answer) = replay(&server, &id, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    // A replay is not itself replayed: its original is.
    let (_, answer) = replay(&server, &id, json!({})).await;
    let replay_id = answer["replay"]["id"].as_str().unwrap().to_string();
    server.invocation_eventually(&replay_id).await;
    let (status, answer) = replay(&server, &replay_id, json!({})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_request_replays_the_same() {
    let server = TestServer::start().await;
    server.deploy("echo", "echo").await;
    server.configure("echo", json!({"capture": "all"})).await;
    let r = server
        .http
        .head(server.fn_url("/fn/echo/head?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = common::invocation_id(&r);
    server.invocation_eventually(&id).await;
    // The response to HEAD had no body, and the replay's is not read.
    let (status, answer) = replay(&server, &id, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["diff"]["same"], true, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_the_function_did_not_read_is_captured_and_replayed() {
    let server = TestServer::start().await;
    // Version 1 fails before it reads its body.
    server.deploy("flip", "trap").await;
    let r = server
        .http
        .post(server.fn_url("/fn/flip/orders"))
        .body("order=42&qty=7")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error(), "{}", r.status());
    let id = common::invocation_id(&r);
    server.invocation_eventually(&id).await;
    let capture = server
        .get_json(&format!("/api/v1/invocations/{id}/capture"))
        .await;
    assert_eq!(capture["request_body_bytes"], 14, "{capture:#}");
    assert_eq!(capture["incomplete"], Value::Null, "{capture:#}");

    // Version 2 reads it: the replay hands it the body the caller sent.
    server.deploy("flip", "echo").await;
    let (status, answer) = replay(&server, &id, json!({"version": 2})).await;
    assert_eq!(status, 200, "{answer}");
    let echoed: Value =
        serde_json::from_str(answer["diff"]["body"]["replay"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["body"], "order=42&qty=7", "{answer:#}");
    assert_eq!(echoed["method"], "POST");
}
