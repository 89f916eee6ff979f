//! Item 2: redriving a dead letter under load loses no unrelated record
//! (a redriven attempt reused its first invocation id, and the duplicate
//! rolled its whole recorder batch back).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::common::{self, TestServer};
use super::{billed_requests, parse_time, recorded_ids, TestDatabase};

/// Dead letters (whose first attempt is recorded) are redriven while hello
/// answers a steady load: every answered call keeps its record and its
/// billing, and each redriven attempt is recorded under an id of its own.
async fn redrive_under_load_loses_no_record(server: &TestServer) {
    server.deploy("hello", "hello").await;
    server.deploy("failing", "relay").await;
    server
        .configure("failing", json!({"env": {"STATUS": "500"}}))
        .await;

    let mut dead = Vec::new();
    for _ in 0..4 {
        let r = server
            .post("/api/v1/functions/failing/invoke?async=true")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let queued: Value = r.json().await.unwrap();
        dead.push(queued["job_id"].as_str().unwrap().to_string());
    }
    for id in &dead {
        let job = server
            .wait_json(&format!("/api/v1/jobs/{id}"), "dead letter", |j| {
                j["state"] == "dead"
            })
            .await;
        // The first attempt's record is stored: a redrive must not reuse its id.
        server
            .final_invocation(job["first_invocation_id"].as_str().unwrap())
            .await;
    }

    // Steady load on hello while the dead letters are redriven.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (http, url, stop) = (
            server.http.clone(),
            server.fn_url("/fn/hello/"),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = http.get(&url).send().await.unwrap();
                if r.status() == 200 {
                    answered.push(common::invocation_id(&r));
                }
            }
            answered
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // (job id, when its redrive was sent)
    let mut redriven = Vec::new();
    for id in &dead {
        // Milliseconds, as the server stores them.
        let sent = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        let r = server
            .post(&format!("/api/v1/dead-letters/{id}/redrive"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "redrive {id}");
        redriven.push((id.clone(), sent));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answered = HashSet::new();
    for c in clients {
        answered.extend(c.await.unwrap());
    }
    assert!(
        answered.len() > 100,
        "only {} calls answered",
        answered.len()
    );

    // The redriven attempts ran (and failed again): dead, and updated since
    // the redrive was sent (the first deaths were well before).
    let mut ended = Vec::new();
    for (id, sent) in &redriven {
        let job = server
            .wait_json(
                &format!("/api/v1/jobs/{id}"),
                "redriven job dead again",
                |j| j["state"] == "dead" && parse_time(&j["updated_at"]) >= *sent,
            )
            .await;
        ended.push(job);
    }

    // Every answered call is recorded, and billed once.
    let expected = answered.len();
    eventually!(
        30,
        "every answered hello call recorded",
        async {
            let recorded = recorded_ids(server, "hello").await;
            let missing = answered.difference(&recorded).count();
            if missing == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{missing} of {expected} answered calls have no record"
                ))
            }
        }
        .await
    );
    assert_eq!(billed_requests(server, "hello").await, expected as i64);

    // Each redriven attempt is recorded under an id of its own.
    for job in &ended {
        let last = job["last_invocation_id"].as_str().unwrap();
        assert_ne!(last, job["first_invocation_id"].as_str().unwrap(), "{job}");
        let record = server.invocation_eventually(last).await;
        assert_eq!(record.status_code, Some(500));
    }
    assert_eq!(recorded_ids(server, "failing").await.len(), 8);
    assert_eq!(billed_requests(server, "failing").await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_under_load_loses_no_record_on_sqlite() {
    let server = TestServer::start_with(&["--max-attempts", "1"]).await;
    redrive_under_load_loses_no_record(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_under_load_loses_no_record_on_postgres() {
    let db = TestDatabase::create("redrive");
    let server = TestServer::start_with(&["--max-attempts", "1", "--database-url", &db.url]).await;
    redrive_under_load_loses_no_record(&server).await;
}
