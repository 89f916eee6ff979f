//! The `wisp` CLI's event commands against a real server: triggers (create
//! each built-in kind, list, show the next cron fire times, delete), publish,
//! the key-value store and dead letters.

mod common;

use common::{wisp, TestServer};
use serde_json::json;

#[tokio::test]
async fn cli_manages_triggers_topics_kv_and_dead_letters() {
    let server = TestServer::start().await;
    server.deploy("writer", "relay").await;
    server
        .configure(
            "writer",
            json!({"env": {"STEPS": "PUT http://kv.wisp/got/{ce-id} {body}"}}),
        )
        .await;

    let (ok, out, err) = wisp(&server, &["triggers"]);
    assert!(ok, "{err}");
    assert!(out.contains("No triggers yet"), "{out}");

    let (ok, out, err) = wisp(
        &server,
        &[
            "triggers",
            "http",
            "writer",
            "/w/:id",
            "--methods",
            "get,post",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("fires on:  GET,POST /w/:id"), "{out}");
    let http_id = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Created trigger "))
        .expect("trigger id")
        .to_string();

    let (ok, out, err) = wisp(
        &server,
        &[
            "triggers",
            "cron",
            "writer",
            "0 12 * * *",
            "--timezone",
            "UTC",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out.matches("12:00:00 UTC").count(),
        5,
        "five next fire times: {out}"
    );

    let (ok, _, err) = wisp(&server, &["triggers", "topic", "writer", "orders"]);
    assert!(ok, "{err}");
    let (ok, _, err) = wisp(&server, &["triggers", "http", "writer", "/w/:other"]);
    assert!(!ok);
    assert!(err.contains("conflicts"), "{err}");
    let (ok, _, err) = wisp(&server, &["triggers", "cron", "writer", "61 * * * *"]);
    assert!(!ok);
    assert!(err.contains("schedule"), "{err}");

    let (ok, out, _) = wisp(&server, &["triggers"]);
    assert!(ok);
    for needle in ["http", "cron", "topic", "GET,POST /w/:id", "topic orders"] {
        assert!(out.contains(needle), "{needle} missing from {out}");
    }

    let (ok, out, err) = wisp(&server, &["publish", "orders", "--data", "hello kv"]);
    assert!(ok, "{err}");
    assert!(out.contains("(1 subscriber)"), "{out}");
    let event_id = out.split_whitespace().nth(2).unwrap().to_string();
    server
        .wait_json("/api/v1/kv?prefix=got/", "delivery", |v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    let (ok, out, _) = wisp(&server, &["kv", "list", "--prefix", "got/"]);
    assert!(ok);
    assert!(
        out.contains(&format!("got/{event_id}")) && out.contains("hello kv"),
        "{out}"
    );
    let (ok, _, err) = wisp(&server, &["kv", "put", "colour", "blue"]);
    assert!(ok, "{err}");
    let (ok, out, _) = wisp(&server, &["kv", "get", "colour"]);
    assert!(ok);
    assert_eq!(out, "blue");
    let (ok, _, _) = wisp(&server, &["kv", "delete", "colour"]);
    assert!(ok);
    let (ok, _, err) = wisp(&server, &["kv", "get", "colour"]);
    assert!(!ok && err.contains("no key colour"), "{err}");

    let (ok, out, _) = wisp(&server, &["dead-letters"]);
    assert!(ok);
    assert!(out.contains("No dead letters."), "{out}");

    let (ok, out, err) = wisp(&server, &["triggers", "delete", &http_id]);
    assert!(ok, "{err}");
    assert!(out.contains("Deleted trigger"), "{out}");
    let r = server.http.get(server.fn_url("/w/1")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
