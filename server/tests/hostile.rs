//! Hostile functions are contained: each ends with a recorded error and the
//! right status within its limits, while a concurrent stream of normal calls
//! keeps succeeding.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{invocation_id, TestServer};
use serde_json::{json, Value};

/// Calls the gateway and returns (status, JSON error body, invocation id).
async fn call(server: &TestServer, path: &str) -> (u16, Value, String) {
    let r = server.http.get(server.fn_url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let id = invocation_id(&r);
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_functions_are_contained_and_recorded() {
    let server = Arc::new(TestServer::start().await);
    server.deploy("hello", "hello").await;
    for name in [
        "trap",
        "infinite-loop",
        "memory-bomb",
        "deep-recursion",
        "huge-output",
        "log-flood",
    ] {
        server.deploy(name, name).await;
    }
    server
        .configure("infinite-loop", json!({"timeout_ms": 1000}))
        .await;
    server
        .configure("memory-bomb", json!({"memory_mb": 32}))
        .await;

    // A steady stream of normal calls for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::new();
    for _ in 0..2 {
        let (server, stop, ok) = (server.clone(), stop.clone(), ok.clone());
        streams.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = server
                    .http
                    .get(server.fn_url("/fn/hello/"))
                    .send()
                    .await
                    .expect("hello call during hostile test");
                assert_eq!(r.status(), 200, "hello failed while hostile functions ran");
                assert_eq!(r.text().await.unwrap(), "Hello from Wisp!\n");
                ok.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let (status, body, trap_id) = call(&server, "/fn/trap/").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "trap");
    assert_eq!(body["invocation_id"], trap_id.as_str());

    let started = Instant::now();
    let (status, body, loop_id) = call(&server, "/fn/infinite-loop/").await;
    let waited = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "timeout");
    assert!(
        waited >= Duration::from_millis(900),
        "timed out too early: {waited:?}"
    );

    let (status, body, bomb_id) = call(&server, "/fn/memory-bomb/").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "out_of_memory");

    let (status, body, recursion_id) = call(&server, "/fn/deep-recursion/").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "stack_overflow");

    // 100 MiB response against a 64 MiB limit: the stream is cut off.
    let r = server
        .http
        .get(server.fn_url("/fn/huge-output/?mb=100"))
        .send()
        .await
        .unwrap();
    let huge_id = invocation_id(&r);
    let mut received: u64 = 0;
    let mut r = r;
    let cut_off = loop {
        match r.chunk().await {
            Ok(Some(chunk)) => received += chunk.len() as u64,
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(cut_off, "a 100 MiB body must not complete");
    assert!(received <= 64 * 1024 * 1024, "received {received} bytes");

    let (status, _, flood_id) = call(&server, "/fn/log-flood/?lines=200000").await;
    assert_eq!(status, 200);

    stop.store(true, Ordering::Relaxed);
    for s in streams {
        s.await.unwrap();
    }
    assert!(ok.load(Ordering::Relaxed) > 0, "no hello call completed");

    // Every hostile call is recorded with its error.
    for (id, outcome) in [
        (&trap_id, "trap"),
        (&loop_id, "timeout"),
        (&bomb_id, "out_of_memory"),
        (&recursion_id, "stack_overflow"),
        (&huge_id, "response_too_large"),
    ] {
        let record = server.invocation_eventually(id).await;
        assert_eq!(record.status, "error", "{id}");
        assert_eq!(record.outcome, outcome, "{id}: {:?}", record.error);
        assert!(record.error.as_deref().is_some_and(|e| !e.is_empty()));
    }
    let trap = server.invocation_eventually(&trap_id).await;
    assert!(trap.logs.contains("trap: about to fail"), "{:?}", trap.logs);
    let bomb = server.invocation_eventually(&bomb_id).await;
    assert!(
        bomb.peak_memory_bytes <= 32 * 1024 * 1024,
        "{}",
        bomb.peak_memory_bytes
    );
    let flood = server.invocation_eventually(&flood_id).await;
    assert_eq!(flood.status, "success");
    assert!(flood.logs_truncated);
    assert!(
        flood.logs.len() <= 70 * 1024,
        "{} log bytes kept",
        flood.logs.len()
    );

    // And the server still serves.
    let (status, _, _) = call(&server, "/fn/hello/").await;
    assert_eq!(status, 200);
}
