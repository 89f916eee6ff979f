//! The topology graph over the real server: a small application (HTTP route
//! → A; A calls B, which fails on purpose; A publishes to topic T; T → C;
//! C calls an allowed external host; cron → D) gets traffic, and the API
//! returns exactly its nodes, edges and counts, as JSON, SVG and DOT.

mod common;

use std::collections::BTreeMap;

use common::TestServer;
use serde_json::{json, Value};

/// A local "external" HTTP server answering 200 `pong`.
async fn external_host() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "pong" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn topology_shows_declared_and_observed_edges_with_exact_counts() {
    let host = external_host().await;
    let server = TestServer::start_with(&["--allow-private-destinations"]).await;
    for name in ["a", "b", "c", "d"] {
        server.deploy(name, "relay").await;
    }
    server
        .configure(
            "a",
            json!({"env": {"STEPS": "GET http://b.fn.wisp/work;POST http://events.wisp/t {body}"}}),
        )
        .await;
    server
        .configure("b", json!({"env": {"STATUS": "500"}}))
        .await;
    server
        .configure(
            "c",
            json!({"env": {"STEPS": format!("GET http://{host}/ping")}, "allowed_hosts": [host.to_string()]}),
        )
        .await;
    let route = server
        .create_trigger(
            json!({"kind": "http", "function": "a", "route": "/shop/:item", "methods": ["POST"]}),
        )
        .await;
    let sub = server
        .create_trigger(json!({"kind": "topic", "function": "c", "topic": "t"}))
        .await;
    // Once a year: declared, but no traffic in the test's window.
    let cron = server
        .create_trigger(json!({"kind": "cron", "function": "d", "schedule": "0 0 1 1 *"}))
        .await;

    for i in 0..3 {
        let r = server
            .http
            .post(server.fn_url(&format!("/shop/item-{i}")))
            .body(format!("order {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.contains("GET http://b.fn.wisp/work -> 500"), "{text}");
    }
    // Wait for the three topic deliveries to C and C's host calls to be stored.
    server.invocations("c", 3).await;
    let topo = server
        .wait_json("/api/v1/topology?window=15m", "all edges recorded", |t| {
            t["edges"].as_array().is_some_and(|edges| {
                edges.iter().any(|e| {
                    e["to"].as_str().is_some_and(|to| to.starts_with("host:"))
                        && e["stats"]["calls"] == 3
                })
            })
        })
        .await;

    let route_id = format!("route:{}", route["id"].as_str().unwrap());
    let cron_id = format!("cron:{}", cron["id"].as_str().unwrap());
    let host_id = format!("host:{host}");
    let nodes: BTreeMap<String, String> = topo["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected_nodes: BTreeMap<String, String> = [
        (route_id.as_str(), "route"),
        (cron_id.as_str(), "cron"),
        ("topic:t", "topic"),
        ("fn:a", "function"),
        ("fn:b", "function"),
        ("fn:c", "function"),
        ("fn:d", "function"),
        (host_id.as_str(), "host"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(nodes, expected_nodes, "{topo}");

    // (from, to) → (declared, observed, calls, errors)
    let edges: BTreeMap<(String, String), (bool, bool, i64, i64)> = topo["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                (
                    e["from"].as_str().unwrap().to_string(),
                    e["to"].as_str().unwrap().to_string(),
                ),
                (
                    e["declared"].as_bool().unwrap(),
                    e["observed"].as_bool().unwrap(),
                    e["stats"]["calls"].as_i64().unwrap(),
                    e["stats"]["errors"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    let edge = |from: &str, to: &str| (from.to_string(), to.to_string());
    let expected_edges: BTreeMap<(String, String), (bool, bool, i64, i64)> = [
        (edge(&route_id, "fn:a"), (true, true, 3, 0)),
        (edge("fn:a", "fn:b"), (false, true, 3, 3)),
        (edge("fn:a", "topic:t"), (false, true, 3, 0)),
        (edge("topic:t", "fn:c"), (true, true, 3, 0)),
        (edge("fn:c", &host_id), (false, true, 3, 0)),
        (edge(&cron_id, "fn:d"), (true, false, 0, 0)),
    ]
    .into_iter()
    .collect();
    assert_eq!(edges, expected_edges, "{topo}");

    // Stats carry latency and cost; B's node shows its errors.
    let b = topo["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "fn:b")
        .unwrap();
    assert_eq!(b["stats"]["calls"], 3);
    assert_eq!(b["stats"]["errors"], 3);
    let ab = topo["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == "fn:b")
        .unwrap();
    assert!(ab["stats"]["p95_ms"].as_f64().unwrap() >= ab["stats"]["p50_ms"].as_f64().unwrap());
    assert!(ab["stats"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(
        ab["stats"]["cost"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0,
        "{ab}"
    );
    let _ = sub;

    // The same graph laid out, as SVG and as DOT.
    let laid_out = server
        .get_json("/api/v1/topology?window=15m&layout=true")
        .await;
    assert_eq!(laid_out["layout"]["nodes"].as_array().unwrap().len(), 8);
    assert_eq!(laid_out["layout"]["edges"].as_array().unwrap().len(), 6);
    let svg = server
        .get("/api/v1/topology?window=15m&format=svg")
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains(r#"href="/functions/a""#),
        "{svg}"
    );
    assert_eq!(svg.matches("<path class=\"edge").count(), 6);
    assert!(svg.contains("edge bad"), "A → B fails every time: {svg}");
    assert!(svg.contains("unused"), "cron → D is declared but unused");
    let dot = server
        .get("/api/v1/topology?window=15m&format=dot")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dot.contains("\"fn:a\" -> \"fn:b\" [label=\"3 calls, 3 errors\""),
        "{dot}"
    );
    assert!(
        dot.contains(&format!("\"{cron_id}\" -> \"fn:d\" [label=\"unused\"")),
        "{dot}"
    );

    // A window before any traffic has the declared edges only.
    let quiet: Value = server
        .get_json("/api/v1/topology?since=2020-01-01T00:00:00Z&until=2020-01-01T01:00:00Z")
        .await;
    assert!(quiet["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["declared"] == true && e["stats"]["calls"] == 0));
    let r = server
        .get("/api/v1/topology?window=3w")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
