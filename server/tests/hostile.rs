//! Hostile functions are contained: each ends with a recorded error and the
//! right status within its limits, while a concurrent stream of normal calls
//! keeps succeeding. Besides traps and resource exhaustion this covers the
//! sandbox's walls: outbound requests to loopback, the cloud metadata address
//! and a host off the allow-list, too many outbound requests, and reading a
//! host file.

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
    server.deploy("read-file", "read-file").await;
    // Server-side request forgery: the control plane on loopback (by address
    // and by a name resolving to it), the cloud metadata address (all three
    // on the allow-list, so only the private-address check stops them), and
    // a host that is not on the allow-list.
    let api_port = server.api.rsplit(':').next().unwrap().to_string();
    server.deploy("ssrf", "relay").await;
    let ssrf_steps = [
        format!("GET http://127.0.0.1:{api_port}/api/v1/functions"),
        format!("GET http://localhost:{api_port}/healthz"),
        "GET http://169.254.169.254/latest/meta-data/".to_string(),
        "GET http://example.com/".to_string(),
    ];
    server
        .configure(
            "ssrf",
            json!({
                "env": {"STEPS": ssrf_steps.join(";")},
                "allowed_hosts": ["127.0.0.1", "localhost", "169.254.169.254"],
            }),
        )
        .await;
    // More outbound requests than the function's limit allows.
    server.deploy("outbound-flood", "relay").await;
    let flood_steps = ["GET http://kv.wisp/k"; 5].join(";");
    server
        .configure(
            "outbound-flood",
            json!({
                "env": {"STEPS": flood_steps},
                "max_outbound_calls": 3,
            }),
        )
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

    // No filesystem is preopened: neither /etc/passwd nor the server's own
    // database can be read.
    let database = server.data_dir.join("wisp.db");
    let mut read_ids = Vec::new();
    for path in ["/etc/passwd".to_string(), database.display().to_string()] {
        let r = server
            .http
            .get(server.fn_url(&format!("/fn/read-file/?path={path}")))
            .send()
            .await
            .unwrap();
        let id = invocation_id(&r);
        assert_eq!(r.status(), 403, "{path} was readable");
        let text = r.text().await.unwrap();
        assert!(text.starts_with(&format!("cannot read {path}: ")), "{text}");
        assert!(!text.contains("root:"), "{text}");
        read_ids.push((id, path));
    }

    let r = server
        .http
        .get(server.fn_url("/fn/ssrf/"))
        .send()
        .await
        .unwrap();
    let ssrf_id = invocation_id(&r);
    assert_eq!(r.status(), 200);
    let ssrf_lines = r.text().await.unwrap();
    assert_eq!(ssrf_lines.lines().count(), 4, "{ssrf_lines}");
    for line in ssrf_lines.lines() {
        assert!(
            line.contains(" -> error: "),
            "an outbound call got through: {line}"
        );
    }

    let r = server
        .http
        .get(server.fn_url("/fn/outbound-flood/"))
        .send()
        .await
        .unwrap();
    let outbound_id = invocation_id(&r);
    assert_eq!(r.status(), 200);
    let outbound_lines = r.text().await.unwrap();
    let refused: Vec<&str> = outbound_lines
        .lines()
        .filter(|l| l.contains(" -> error: "))
        .collect();
    assert_eq!(refused.len(), 2, "{outbound_lines}");
    assert!(
        outbound_lines
            .lines()
            .take(3)
            .all(|l| l.contains(" -> 404")),
        "{outbound_lines}"
    );

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
        assert_eq!(record.status, model::InvocationStatus::Error, "{id}");
        assert_eq!(record.outcome.as_str(), outcome, "{id}: {:?}", record.error);
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
    assert_eq!(flood.status, model::InvocationStatus::Success);
    assert!(flood.logs_truncated);
    assert!(
        flood.logs.len() <= 70 * 1024,
        "{} log bytes kept",
        flood.logs.len()
    );

    // Each wall the sandbox put up is in the invocation's record.
    for (id, path) in &read_ids {
        let record = server.invocation_eventually(id).await;
        assert_eq!(record.status_code, Some(403), "{path}");
        assert!(
            record.logs.contains(&format!("read-file: {path}: ")),
            "{path}: {:?}",
            record.logs
        );
    }
    let ssrf = server.invocation_eventually(&ssrf_id).await;
    for refusal in [
        format!("[wisp: outbound GET http://127.0.0.1:{api_port}/api/v1/functions refused: 127.0.0.1 is a loopback, private or link-local address"),
        format!("[wisp: outbound GET http://localhost:{api_port}/healthz refused: localhost resolves to "),
        "[wisp: outbound GET http://169.254.169.254/latest/meta-data/ refused: 169.254.169.254 is a loopback, private or link-local address".to_string(),
        "[wisp: outbound GET http://example.com/ refused: example.com is not on the function's allowed hosts]".to_string(),
    ] {
        assert!(ssrf.logs.contains(&refusal), "{refusal} missing from:\n{}", ssrf.logs);
    }
    let outbound = server.invocation_eventually(&outbound_id).await;
    assert_eq!(
        outbound
            .logs
            .matches("refused: outbound call limit of 3 per invocation reached")
            .count(),
        1,
        "{}",
        outbound.logs
    );

    // And the server still serves.
    let (status, _, _) = call(&server, "/fn/hello/").await;
    assert_eq!(status, 200);
}
