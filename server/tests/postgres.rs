//! `wisp serve --database-url postgres://...` against the machine's real
//! PostgreSQL (127.0.0.1:5432, trust auth; scripts/test.sh starts it when it
//! is down). Each test gets a database of its own, created empty and dropped
//! afterwards, so every PostgreSQL migration runs from scratch: a function is
//! deployed with a secret, called through the gateway, a route and a topic;
//! its records, the topology edges and the cost report are read back over
//! the API, and all of it survives a restart. The SQLite suites cover the
//! same features in depth; this one proves the other backend end to end.

mod common;

use common::storage::{psql, TestDatabase};
use common::TestServer;
use model::CostReport;
use serde_json::{json, Value};

const SECRET: &str = "pg-secret-value-4f1d";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_runs_on_postgresql_end_to_end() {
    let db = TestDatabase::create("e2e");
    let mut server = TestServer::start_with(&["--database-url", &db.url]).await;
    // Nothing was written to a SQLite file: the data lives in PostgreSQL.
    assert!(!server.data_dir.join("wisp.db").exists());
    // Every PostgreSQL migration ran on the empty database.
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../migrations/postgres"
    ))
    .unwrap()
    .count();
    let applied = psql(
        &db.url,
        "SELECT count(*) FROM _sqlx_migrations WHERE success",
    );
    assert_eq!(applied.trim(), migrations.to_string());

    // A function with a secret, called through the gateway.
    server.deploy("env", "env").await;
    server
        .configure("env", json!({"secrets": {"API_KEY": SECRET}}))
        .await;
    let r = server
        .http
        .get(server.fn_url("/fn/env/?name=API_KEY"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let env_id = common::invocation_id(&r);
    assert!(r.text().await.unwrap().contains(SECRET));
    let record = server.invocation_eventually(&env_id).await;
    assert_eq!(record.function, "env");
    assert_eq!(record.trigger, model::TriggerKind::Http);
    assert_eq!(record.status, model::InvocationStatus::Success);
    assert!(
        !record.logs.contains(SECRET),
        "secret in logs: {}",
        record.logs
    );

    // An application: route → a; a calls b and publishes to topic t; t → c.
    for name in ["a", "b", "c"] {
        server.deploy(name, "relay").await;
    }
    server
        .configure(
            "a",
            json!({"env": {"STEPS": "GET http://b.fn.wisp/work;POST http://events.wisp/t {body}"}}),
        )
        .await;
    let route = server
        .create_trigger(
            json!({"kind": "http", "function": "a", "route": "/shop/:item", "methods": ["POST"]}),
        )
        .await;
    server
        .create_trigger(json!({"kind": "topic", "function": "c", "topic": "t"}))
        .await;
    const CALLS: i64 = 3;
    for i in 0..CALLS {
        let r = server
            .http
            .post(server.fn_url(&format!("/shop/item-{i}")))
            .body(format!("order {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    // The topic deliveries went through the durable job queue to c.
    let delivered = server.invocations("c", CALLS as usize).await;
    assert!(delivered
        .iter()
        .all(|r| r.trigger == model::TriggerKind::Topic));
    let a_calls = server.invocations("a", CALLS as usize).await;
    assert!(a_calls
        .windows(2)
        .all(|w| w[0].started_at >= w[1].started_at));
    let children = server.invocations("b", CALLS as usize).await;
    let a_ids: Vec<&str> = a_calls.iter().map(|r| r.id.as_str()).collect();
    assert!(children
        .iter()
        .all(|r| r.parent_id.as_deref().is_some_and(|p| a_ids.contains(&p))));

    // The topology: declared and observed edges with exact counts.
    let route_node = format!("route:{}", route["id"].as_str().unwrap());
    let topo = server
        .wait_json("/api/v1/topology?window=15m", "edges recorded", |t| {
            edge_calls(t, "topic:t", "fn:c") == Some(CALLS)
        })
        .await;
    assert_eq!(
        edge_calls(&topo, &route_node, "fn:a"),
        Some(CALLS),
        "{topo}"
    );
    assert_eq!(edge_calls(&topo, "fn:a", "fn:b"), Some(CALLS), "{topo}");
    assert_eq!(edge_calls(&topo, "fn:a", "topic:t"), Some(CALLS), "{topo}");

    // Metering: the month's report counts every call.
    let report: CostReport =
        serde_json::from_value(server.get_json("/api/v1/costs").await).unwrap();
    let requests = |name: &str| {
        report
            .functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.usage.requests)
    };
    assert_eq!(requests("a"), Some(CALLS), "{report:?}");
    assert_eq!(requests("c"), Some(CALLS), "{report:?}");
    assert_eq!(requests("env"), Some(1), "{report:?}");

    // The secret is sealed at rest: PostgreSQL never holds the value.
    let dump = db.dump();
    assert!(dump.contains("API_KEY"), "the secret's row is in the dump");
    assert!(!dump.contains(SECRET), "secret stored in plain text");

    // A restart finds everything in the database and serves again.
    server.restart().await;
    let again = server.invocation(&env_id).await;
    assert_eq!(again.id, env_id);
    let r = server
        .http
        .post(server.fn_url("/shop/after-restart"))
        .body("late order")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.invocations("a", CALLS as usize + 1).await;
    let detail = server.get_json("/api/v1/functions/env").await;
    assert_eq!(detail["secrets"], json!(["API_KEY"]));
}

/// The call count of the topology edge `from → to`, if there is one.
fn edge_calls(topology: &Value, from: &str, to: &str) -> Option<i64> {
    topology["edges"]
        .as_array()?
        .iter()
        .find(|e| e["from"] == from && e["to"] == to)
        .and_then(|e| e["stats"]["calls"].as_i64())
}
