//! Issue 29, item 6: a failing recorder is never silent, and it loses
//! nothing while the process lives. With the SQLite file on a real, full
//! tmpfs the gateway keeps answering 200, `/healthz` (both listeners) says
//! `degraded` (still 200: the node serves calls), `/api/v1/status` shows the
//! recorder's failures, queue and last error, and once there is room again
//! every call made during the episode has its record. On SQLite (a real
//! tmpfs) and on PostgreSQL (the machine's server; the disk-full error
//! raised by a trigger while a flag is set).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::storage::{psql, SmallDisk, TestDatabase};
use common::TestServer;
use serde_json::Value;

/// `GET {base}/healthz`: the status code and the state it reports (the
/// JSON `status`, or the plain-text body).
async fn health(server: &TestServer, base: &str) -> (u16, String, Value) {
    let r = server
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    let state = body["status"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.trim().to_string());
    (code, state, body)
}

/// Polls until both listeners' `/healthz` report `want` (60 s at most).
async fn wait_for_health(server: &TestServer, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (api_code, api_state, body) = health(server, &server.api).await;
        let (gw_code, gw_state, _) = health(server, &server.gateway).await;
        // Degraded or not, a node that still serves calls answers 200.
        assert_eq!((api_code, gw_code), (200, 200), "healthz status codes");
        if api_state == want && gw_state == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never said {want:?}: the API said {api_state:?} ({body}), the gateway \
             {gw_state:?}; status: {}",
            server.get_json("/api/v1/status").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ids of the stored records of `name` (up to 1000).
async fn stored_ids(server: &TestServer, name: &str) -> HashSet<String> {
    let list = server
        .get_json(&format!("/api/v1/functions/{name}/invocations?limit=1000"))
        .await;
    list.as_array()
        .expect("a list of invocations")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_degrades_health_and_loses_no_record_on_sqlite() {
    const CALLS: usize = 300;
    let disk = SmallDisk::mount(24);
    let url = format!("sqlite://{}", disk.path().join("wisp.db").display());
    let server = TestServer::start_with(&["--database-url", &url]).await;
    server.deploy("hello", "hello").await;
    let first = server
        .http
        .get(server.fn_url("/fn/hello/"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    server
        .invocation_eventually(&common::invocation_id(&first))
        .await;
    let healthy = wait_for_health(&server, "ok").await;

    // The disk fills up: calls still answer 200, their records cannot be written.
    let filler = disk.fill();
    let mut ids = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let r = server
            .http
            .get(server.fn_url(&format!("/fn/hello/during/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "call {i} on a full disk");
        ids.push(common::invocation_id(&r));
    }
    let degraded = wait_for_health(&server, "degraded").await;
    let status = server.get_json("/api/v1/status").await;
    let recorder = &status["recorder"];
    assert_eq!(recorder["degraded"], true, "status: {status}");
    assert!(
        recorder["failures"].as_u64().unwrap_or(0) > 0,
        "no failed write counted: {status}"
    );
    assert!(
        recorder["queued"].as_u64().unwrap_or(0) > 0,
        "nothing queued: {status}"
    );
    assert_eq!(recorder["dropped"], 0, "status: {status}");
    let error = recorder["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("full"),
        "last error {error:?} does not say the disk is full"
    );
    assert!(
        recorder["failing_since"].is_string(),
        "no failing_since: {status}"
    );
    assert!(
        server.log().contains("writing invocation records failed"),
        "the failure is not logged"
    );
    let missing_during = {
        let stored = stored_ids(&server, "hello").await;
        ids.iter().filter(|id| !stored.contains(*id)).count()
    };

    // Room again: every record of the episode is written.
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = stored_ids(&server, "hello").await;
        let missing: Vec<&String> = ids.iter().filter(|id| !stored.contains(*id)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {CALLS} records made on the full disk were never stored (e.g. {}); \
             status: {}",
            missing.len(),
            missing[0],
            server.get_json("/api/v1/status").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = wait_for_health(&server, "ok").await;
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["recorder"]["queued"], 0, "status: {status}");
    assert_eq!(status["recorder"]["dropped"], 0, "status: {status}");
    eprintln!(
        "healthy: {healthy}\ndegraded: {degraded}\n{missing_during} of {CALLS} records waiting \
         while full\nrecovered: {recovered}\nstatus after: {}",
        status["recorder"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_writes_degrade_health_and_lose_no_record_on_postgres() {
    const CALLS: usize = 200;
    let db = TestDatabase::create("recorder_health");
    let server = TestServer::start_with(&["--database-url", &db.url]).await;
    server.deploy("hello", "hello").await;
    let first = server
        .http
        .get(server.fn_url("/fn/hello/"))
        .send()
        .await
        .unwrap();
    server
        .invocation_eventually(&common::invocation_id(&first))
        .await;
    wait_for_health(&server, "ok").await;

    // A disk-full episode as PostgreSQL reports it, switched by a flag.
    psql(
        &db.url,
        "CREATE TABLE test_disk (full_now BOOLEAN NOT NULL); \
         INSERT INTO test_disk VALUES (true); \
         CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF (SELECT full_now FROM test_disk) THEN \
             RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; \
           END IF; RETURN NEW; END $$; \
         CREATE TRIGGER test_disk_full BEFORE INSERT ON invocations \
           FOR EACH ROW EXECUTE FUNCTION test_disk_full();",
    );
    let mut ids = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let r = server
            .http
            .get(server.fn_url(&format!("/fn/hello/during/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "call {i} while writes fail");
        ids.push(common::invocation_id(&r));
    }
    wait_for_health(&server, "degraded").await;
    let status = server.get_json("/api/v1/status").await;
    let recorder = &status["recorder"];
    assert!(
        recorder["failures"].as_u64().unwrap_or(0) > 0,
        "no failed write counted: {status}"
    );
    assert!(
        recorder["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("No space left"),
        "status: {status}"
    );

    psql(&db.url, "UPDATE test_disk SET full_now = false");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = stored_ids(&server, "hello").await;
        let missing = ids.iter().filter(|id| !stored.contains(*id)).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {CALLS} records made while writes failed were never stored; status: {}",
            server.get_json("/api/v1/status").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for_health(&server, "ok").await;
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["recorder"]["dropped"], 0, "status: {status}");
    eprintln!("postgres, after: {}", status["recorder"]);
}
