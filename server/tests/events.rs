//! Triggers and events over the real server: HTTP routes (parameters,
//! wildcard, 405, conflicts), function-to-function calls and topics with the
//! parent chain, CloudEvents headers, the key-value store, durable async
//! invokes with retries, dead letters and redrive, concurrency limits, and
//! a SIGKILL while 1,000 events are queued.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{invocation_id, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn http_routes_with_parameters_wildcards_and_conflicts() {
    let server = TestServer::start().await;
    server.deploy("orders", "echo").await;
    server.deploy("files", "echo").await;
    let route = server
        .create_trigger(json!({"kind": "http", "function": "orders", "route": "/orders/:id", "methods": ["get", "POST"]}))
        .await;
    assert_eq!(route["methods"], json!(["GET", "POST"]));
    server
        .create_trigger(json!({"kind": "http", "function": "files", "route": "/static/*"}))
        .await;

    let r = server
        .http
        .get(server.fn_url("/orders/42?x=1"))
        .header("x-wisp-param-id", "spoofed")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = invocation_id(&r);
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["path"], "/orders/42");
    assert_eq!(seen["query"], "x=1");
    assert_eq!(seen["headers"]["x-wisp-param-id"], "42");
    assert_eq!(seen["headers"]["x-wisp-route"], "/orders/:id");
    let record = server.invocation_eventually(&id).await;
    assert_eq!(record.function, "orders");
    assert_eq!(record.trigger, model::TriggerKind::Http);
    assert_eq!(record.trigger_id.as_deref(), route["id"].as_str());

    let seen: Value = server
        .http
        .get(server.fn_url("/static/css/site.css"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["headers"]["x-wisp-param-rest"], "css/site.css");

    let r = server
        .http
        .delete(server.fn_url("/orders/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, POST");
    let r = server
        .http
        .get(server.fn_url("/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Conflicts are rejected with a message naming the existing route.
    for conflicting in [
        json!({"kind": "http", "function": "files", "route": "/orders/:name"}),
        json!({"kind": "http", "function": "files", "route": "/orders/:id", "methods": ["POST"]}),
    ] {
        let r = server
            .post("/api/v1/triggers")
            .json(&conflicting)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{conflicting}");
        let err: Value = r.json().await.unwrap();
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/orders/:"),
            "{err}"
        );
    }
    // A different method on the same route is fine.
    server
        .create_trigger(json!({"kind": "http", "function": "files", "route": "/orders/:id", "methods": ["DELETE"]}))
        .await;
    let r = server
        .http
        .delete(server.fn_url("/orders/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Bad input is a 400 that says what is wrong.
    for (bad, needle) in [
        (
            json!({"kind": "http", "function": "files", "route": "/fn/x"}),
            "reserved",
        ),
        (
            json!({"kind": "http", "function": "files", "route": "no-slash"}),
            "start with",
        ),
        (
            json!({"kind": "cron", "function": "files", "schedule": "* * *"}),
            "fields",
        ),
        (
            json!({"kind": "topic", "function": "files", "topic": "a b"}),
            "topic",
        ),
        (
            json!({"kind": "smoke", "function": "files"}),
            "unknown variant `smoke`",
        ),
    ] {
        let r = server
            .post("/api/v1/triggers")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let text = r.text().await.unwrap();
        assert!(text.contains(needle), "{bad}: {text}");
    }
    let r = server
        .post("/api/v1/triggers")
        .json(&json!({"kind": "topic", "function": "missing", "topic": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Editing a trigger moves its route (checked against the others, not itself).
    let files_route = server
        .create_trigger(json!({"kind": "http", "function": "files", "route": "/v1/files"}))
        .await;
    let put = |body: Value| {
        server
            .http
            .put(server.api_url(&format!(
                "/api/v1/triggers/{}",
                files_route["id"].as_str().unwrap()
            )))
            .bearer_auth(&server.token)
            .json(&body)
            .send()
    };
    let r =
        put(json!({"kind": "http", "function": "files", "route": "/v2/files", "methods": ["GET"]}))
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["id"], files_route["id"]);
    assert_eq!(edited["route"], "/v2/files");
    let r = server
        .http
        .get(server.fn_url("/v1/files"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = server
        .http
        .get(server.fn_url("/v2/files"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = put(json!({"kind": "http", "function": "files", "route": "/orders/:other"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // Deleting the trigger removes the route at once.
    let r = server
        .http
        .delete(server.api_url(&format!(
            "/api/v1/triggers/{}",
            route["id"].as_str().unwrap()
        )))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = server
        .http
        .get(server.fn_url("/orders/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405, "GET route gone, DELETE one left");
}

#[tokio::test]
async fn function_calls_and_topics_record_the_parent_chain() {
    let server = TestServer::start().await;
    for name in ["a", "b", "c"] {
        server.deploy(name, "relay").await;
    }
    server
        .configure(
            "a",
            json!({"env": {"STEPS": "GET http://b.fn.wisp/hi;POST http://events.wisp/orders {body}"}}),
        )
        .await;
    server
        .configure(
            "c",
            json!({"env": {"STEPS": "PUT http://kv.wisp/got/{ce-id} {body}"}}),
        )
        .await;
    let sub = server
        .create_trigger(json!({"kind": "topic", "function": "c", "topic": "orders"}))
        .await;

    let r = server
        .http
        .post(server.fn_url("/fn/a/"))
        .body("order-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a_id = invocation_id(&r);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("GET http://b.fn.wisp/hi -> 200 relay /hi"),
        "{text}"
    );
    assert!(
        text.contains("POST http://events.wisp/orders -> 202"),
        "{text}"
    );
    let receipt: Value = serde_json::from_str(
        text.lines()
            .find(|l| l.starts_with("POST"))
            .and_then(|l| l.split_once("-> 202 "))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(receipt["deliveries"], 1);
    let event_id = receipt["event_id"].as_str().unwrap();

    // C got the event (CloudEvents id + body) and wrote it to the kv store.
    let entries = server
        .wait_json("/api/v1/kv?prefix=got/", "c's kv write", |v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(entries[0]["key"], format!("got/{event_id}"));
    assert_eq!(entries[0]["preview"], "order-1");

    let children = server
        .wait_json(
            &format!("/api/v1/invocations/{a_id}/children"),
            "a's children",
            |v| v.as_array().is_some_and(|a| a.len() == 2),
        )
        .await;
    let by_function = |f: &str| {
        children
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["function"] == f)
            .unwrap_or_else(|| panic!("no child {f} in {children}"))
            .clone()
    };
    let b = by_function("b");
    assert_eq!(b["trigger"], "function");
    assert_eq!(b["parent_id"], a_id);
    assert_eq!(b["path"], "/hi");
    let c = by_function("c");
    assert_eq!(c["trigger"], "topic");
    assert_eq!(c["parent_id"], a_id);
    assert_eq!(c["trigger_id"], sub["id"]);
    assert!(
        c["logs"]
            .as_str()
            .unwrap()
            .contains("PUT http://kv.wisp/got/"),
        "{c}"
    );

    // Publishing through the API reaches the subscriber too.
    let r = server
        .post("/api/v1/topics/orders")
        .body("order-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let receipt: Value = r.json().await.unwrap();
    let key = format!("got/{}", receipt["event_id"].as_str().unwrap());
    let value = server
        .wait_json("/api/v1/kv?prefix=got/", "second event", |v| {
            v.as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    assert!(value
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["key"] == key.as_str()));
    let raw = server
        .get(&format!("/api/v1/kv/default/{key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), "order-2");
}

/// A reserved host that answers before reading the request body (here: no
/// such function) still gets its answer to the guest, however large the
/// upload: the rest of the body is drained, not cut off mid-write.
#[tokio::test]
async fn an_answer_before_the_upload_is_read_reaches_the_guest() {
    let server = TestServer::start().await;
    server.deploy("uploader", "relay").await;
    server
        .configure(
            "uploader",
            json!({"env": {"STEPS": "POST http://nobody.fn.wisp/ {body}"}}),
        )
        .await;
    // 2 MiB: far more than the guest's body stream buffers, so the guest is
    // still writing when the 404 is ready.
    let upload = "x".repeat(2 << 20);
    for _ in 0..3 {
        let r = server
            .http
            .post(server.fn_url("/fn/uploader/"))
            .body(upload.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("POST http://nobody.fn.wisp/ -> 404"),
            "{}",
            &text[..text.len().min(400)]
        );
    }
}

#[tokio::test]
async fn async_work_retries_then_dead_letters_and_redrives() {
    let server = TestServer::start_with(&["--retry-base-ms", "50", "--max-attempts", "3"]).await;
    server.deploy("flaky", "relay").await;
    server
        .configure("flaky", json!({"env": {"FAIL_BODY_CONTAINS": "fail"}}))
        .await;

    // A call that succeeds: 202 at once, then one recorded async invocation.
    let r = server
        .post("/api/v1/functions/flaky/invoke?async=true")
        .body("fine")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let ok: Value = r.json().await.unwrap();
    let record = server
        .final_invocation(ok["invocation_id"].as_str().unwrap())
        .await;
    assert_eq!(record.trigger, model::TriggerKind::Async);
    assert_eq!(record.status_code, Some(200));
    let job_path = format!("/api/v1/jobs/{}", ok["job_id"].as_str().unwrap());
    server
        .wait_json(&job_path, "job done", |j| j["state"] == "done")
        .await;

    // A call that always fails: 3 attempts with backoff, then a dead letter.
    let r = server
        .post("/api/v1/functions/flaky/invoke?async=true")
        .body("fail please")
        .send()
        .await
        .unwrap();
    let failing: Value = r.json().await.unwrap();
    let job_path = format!("/api/v1/jobs/{}", failing["job_id"].as_str().unwrap());
    let job = server
        .wait_json(&job_path, "dead letter", |j| j["state"] == "dead")
        .await;
    assert_eq!(job["attempts"], 3, "{job}");
    assert!(job["last_error"].as_str().unwrap().contains("500"), "{job}");
    let dead = server.get_json("/api/v1/dead-letters").await;
    assert_eq!(dead.as_array().unwrap().len(), 1);
    assert_eq!(dead[0]["id"], job["id"]);
    let failures = server
        .invocations("flaky", 4)
        .await
        .into_iter()
        .filter(|r| r.status_code == Some(500))
        .count();
    assert_eq!(failures, 3);

    // Fix the function, redrive: delivered.
    server
        .configure(
            "flaky",
            json!({"env": {"FAIL_BODY_CONTAINS": "never-matches"}}),
        )
        .await;
    let r = server
        .post(&format!(
            "/api/v1/dead-letters/{}/redrive",
            job["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let job = server
        .wait_json(&job_path, "redriven job done", |j| j["state"] == "done")
        .await;
    assert_eq!(job["attempts"], 1);
    assert_eq!(server.get_json("/api/v1/dead-letters").await, json!([]));
    // Redriving something that is not dead is a conflict.
    let r = server
        .post(&format!(
            "/api/v1/dead-letters/{}/redrive",
            job["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // Unknown functions are a 404, not a 202.
    let r = server
        .post("/api/v1/functions/nope/invoke?async=true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn concurrency_limit_429s_sync_calls_and_queues_async_work() {
    let server = TestServer::start().await;
    server.deploy("slow", "relay").await;
    server
        .configure(
            "slow",
            json!({"max_concurrency": 1, "env": {"SLEEP_MS": "300"}}),
        )
        .await;
    let first = server.http.get(server.fn_url("/fn/slow/")).send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.http.get(server.fn_url("/fn/slow/")).send().await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().status(), 200);
    let second = second.unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "1");

    // Async work beyond the limit waits its turn instead of failing.
    let mut jobs = Vec::new();
    for i in 0..5 {
        let r = server
            .post("/api/v1/functions/slow/invoke?async=true")
            .body(format!("job {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        jobs.push(
            r.json::<Value>().await.unwrap()["job_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for id in jobs {
        let job = server
            .wait_json(&format!("/api/v1/jobs/{id}"), "queued job", |j| {
                j["state"] == "done"
            })
            .await;
        assert_eq!(job["attempts"], 1, "waited, never failed: {job}");
    }
    // They ran one at a time: no two invocations overlap.
    let mut spans: Vec<(i64, i64)> = server
        .invocations("slow", 6)
        .await
        .iter()
        .filter(|r| r.trigger == model::TriggerKind::Async)
        .map(|r| {
            let start = r.started_at.timestamp_micros();
            (start, start + (r.duration_ms * 1000.0) as i64)
        })
        .collect();
    spans.sort();
    assert_eq!(spans.len(), 5);
    for pair in spans.windows(2) {
        assert!(pair[1].0 >= pair[0].1 - 1000, "overlapping runs: {pair:?}");
    }
}

#[tokio::test]
async fn sigkill_with_1000_events_queued_loses_none() {
    let mut server = TestServer::start_with(&["--retry-base-ms", "100"]).await;
    server.deploy("sink", "relay").await;
    server
        .configure(
            "sink",
            json!({"max_concurrency": 4, "env": {"SLEEP_MS": "20", "STEPS": "PUT http://kv.wisp/seen/{ce-id} {body}"}}),
        )
        .await;
    server
        .create_trigger(json!({"kind": "topic", "function": "sink", "topic": "load"}))
        .await;

    let mut ids = HashSet::new();
    for chunk in 0..50 {
        let publishes = (0..20).map(|i| {
            server
                .post("/api/v1/topics/load")
                .body(format!("event {}", chunk * 20 + i))
                .send()
        });
        for r in futures::future::join_all(publishes).await {
            let r = r.unwrap();
            assert_eq!(r.status(), 202);
            let receipt: Value = r.json().await.unwrap();
            ids.insert(receipt["event_id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(ids.len(), 1000);
    let before = server.get_json("/api/v1/jobs/stats").await;
    let pending = before["queued"].as_i64().unwrap() + before["running"].as_i64().unwrap();
    assert!(pending > 0, "all work finished before the kill: {before}");

    server.kill9_and_restart().await;

    let stats = server
        .wait_json("/api/v1/jobs/stats", "the queue to drain", |s| {
            s["queued"] == 0 && s["running"] == 0
        })
        .await;
    assert_eq!(stats["dead"], 0, "{stats}");
    assert_eq!(stats["done"], 1000, "{stats}");
    let seen = server.get_json("/api/v1/kv?prefix=seen/&limit=1000").await;
    let keys: HashSet<String> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["key"]
                .as_str()
                .unwrap()
                .trim_start_matches("seen/")
                .to_string()
        })
        .collect();
    assert_eq!(keys, ids, "every published event was delivered");
    eprintln!("killed with {pending} of 1000 deliveries pending; all 1000 delivered after restart");
}
