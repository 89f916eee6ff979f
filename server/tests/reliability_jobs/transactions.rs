//! Item 5: after a full disk (SQLite, a real tmpfs) or failed commits
//! (PostgreSQL), no pooled connection stays inside a failed transaction:
//! every later write works.

use serde_json::json;

use super::common::storage::SmallDisk;
use super::common::{self, TestServer};
use super::{psql, TestDatabase};

/// Publishes `body` to `topic`; the status.
async fn publish(server: &TestServer, topic: &str, body: Vec<u8>) -> u16 {
    server
        .post(&format!("/api/v1/topics/{topic}"))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// After the write failures end, 30 publishes, a deploy and gateway calls
/// all work (no pooled connection is left inside a failed transaction), and
/// the deliveries and records are stored.
async fn every_later_write_works(server: &TestServer) {
    let mut failures = Vec::new();
    for i in 0..30 {
        let status = publish(server, "orders", format!("after {i}").into_bytes()).await;
        if status != 202 {
            failures.push((i, status));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 30 publishes failed after the episode ended: {failures:?}\n{}",
        failures.len(),
        server
            .log()
            .lines()
            .filter(|l| l.contains("transaction depth"))
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
    server.deploy("hello", "hello").await;
    for _ in 0..10 {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        server
            .invocation_eventually(&common::invocation_id(&r))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_work_again_after_the_disk_was_full_on_sqlite() {
    let disk = SmallDisk::mount(24);
    let url = format!("sqlite://{}", disk.path().join("wisp.db").display());
    let server = TestServer::start_with(&["--database-url", &url]).await;
    server.deploy("sink", "hello").await;
    for _ in 0..4 {
        server
            .create_trigger(json!({"kind": "topic", "function": "sink", "topic": "orders"}))
            .await;
    }
    assert_eq!(publish(&server, "orders", b"before".to_vec()).await, 202);

    // Full: large publishes (4 deliveries of 1 MiB each) fail.
    let filler = disk.fill();
    let mut failed = 0;
    for _ in 0..20 {
        if publish(&server, "orders", vec![b'x'; 1024 * 1024]).await == 500 {
            failed += 1;
        }
    }
    assert!(failed > 0, "the full disk never failed a publish");
    std::fs::remove_file(filler).unwrap();

    every_later_write_works(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_work_again_after_failed_commits_on_postgres() {
    let db = TestDatabase::create("commitfail");
    let server = TestServer::start_with(&["--database-url", &db.url]).await;
    server.deploy("sink", "hello").await;
    server
        .create_trigger(json!({"kind": "topic", "function": "sink", "topic": "orders"}))
        .await;
    assert_eq!(publish(&server, "orders", b"before".to_vec()).await, 202);

    // A disk-full episode as PostgreSQL reports it, at COMMIT (a deferred
    // constraint trigger on events), switched by a flag.
    psql(
        &db.url,
        "CREATE TABLE test_disk (full_now BOOLEAN NOT NULL); \
         INSERT INTO test_disk VALUES (true); \
         CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF (SELECT full_now FROM test_disk) THEN \
             RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; \
           END IF; RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER test_disk_full AFTER INSERT ON events \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_disk_full();",
    );
    let mut failed = 0;
    for i in 0..30 {
        if publish(&server, "orders", format!("during {i}").into_bytes()).await == 500 {
            failed += 1;
        }
    }
    assert_eq!(failed, 30, "every publish fails while the disk is full");
    psql(&db.url, "UPDATE test_disk SET full_now = false");

    every_later_write_works(&server).await;
}
