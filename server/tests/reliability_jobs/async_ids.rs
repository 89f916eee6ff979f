//! Item 7: the id an async invocation was answered with resolves at once
//! (queued, running, then the call's record), and after a SIGKILL too.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::common::TestServer;
use super::TestDatabase;

/// `GET /api/v1/invocations/{id}`: status and JSON.
async fn invocation_status(server: &TestServer, id: &str) -> (u16, Value) {
    let r = server
        .get(&format!("/api/v1/invocations/{id}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Queues `n` async invocations of `function`; their invocation ids.
pub(super) async fn invoke_async(server: &TestServer, function: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let r = server
            .post(&format!("/api/v1/functions/{function}/invoke?async=true"))
            .body("work")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let queued: Value = r.json().await.unwrap();
        ids.push(queued["invocation_id"].as_str().unwrap().to_string());
    }
    ids
}

/// Async ids answer at once (queued, then running, then the record), and
/// still do after a SIGKILL: the interrupted work reruns under the id its
/// caller was given.
async fn async_ids_resolve_at_once(server: &mut TestServer) {
    server.deploy("slow", "relay").await;
    server
        .configure(
            "slow",
            json!({"max_concurrency": 1, "env": {"SLEEP_MS": "1500"}}),
        )
        .await;
    let ids = invoke_async(server, "slow", 3).await;
    let mut seen = HashSet::new();
    for id in &ids {
        let (status, record) = invocation_status(server, id).await;
        assert_eq!(
            status, 200,
            "async id {id} did not resolve at once: {record}"
        );
        assert_eq!(record["id"], id.as_str());
        assert_eq!(record["function"], "slow");
        assert_eq!(record["trigger"], "async");
        seen.insert(record["status"].as_str().unwrap().to_string());
    }
    assert!(seen.contains("queued"), "statuses {seen:?}");
    // The first one runs: "running" before its record.
    eventually!(
        10,
        "the first job shows running",
        async {
            let (_, record) = invocation_status(server, &ids[0]).await;
            match record["status"].as_str() {
                Some("running") => Ok(()),
                _ => Err(record.to_string()),
            }
        }
        .await
    );
    for id in &ids {
        eventually!(
            30,
            "the call's own record",
            async {
                let (_, record) = invocation_status(server, id).await;
                match record["status"].as_str() {
                    Some("success") if record["status_code"] == 200 => Ok(()),
                    _ => Err(record.to_string()),
                }
            }
            .await
        );
    }

    // SIGKILL while async work runs: every id the callers got still resolves
    // at once after the restart, and ends as a record under that same id.
    let ids = invoke_async(server, "slow", 4).await;
    eventually!(
        10,
        "the first job runs",
        async {
            let (_, record) = invocation_status(server, &ids[0]).await;
            match record["status"].as_str() {
                Some("running") => Ok(()),
                _ => Err(record.to_string()),
            }
        }
        .await
    );
    server.kill9_and_restart().await;
    for id in &ids {
        let (status, record) = invocation_status(server, id).await;
        assert_eq!(status, 200, "async id {id} lost by the SIGKILL: {record}");
    }
    for id in &ids {
        eventually!(
            60,
            "the interrupted call recorded under its own id",
            async {
                let (_, record) = invocation_status(server, id).await;
                match record["status"].as_str() {
                    Some("success") if record["status_code"] == 200 => Ok(()),
                    _ => Err(record.to_string()),
                }
            }
            .await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_ids_resolve_at_once_on_sqlite() {
    let mut server = TestServer::start().await;
    async_ids_resolve_at_once(&mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_ids_resolve_at_once_on_postgres() {
    let db = TestDatabase::create("asyncids");
    let mut server = TestServer::start_with(&["--database-url", &db.url]).await;
    async_ids_resolve_at_once(&mut server).await;
}
