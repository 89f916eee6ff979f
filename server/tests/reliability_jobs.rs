//! Reliability of async work and of the invocation records (issue 29),
//! against the real `wisp serve`: cron ticks fire once per scheduled second
//! and are billed once; redriving a dead letter under load loses no
//! unrelated record; writes work again once a full disk has room; an async
//! invocation id resolves at once and after a SIGKILL; a restarted node
//! reclaims its own job leases at once. Storage cases run on SQLite and on
//! the machine's PostgreSQL (127.0.0.1:5432, a fresh database per test).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike as _, Utc};
use common::TestServer;
use model::CostReport;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The maintenance database test databases are created from
/// (`WISP_TEST_POSTGRES` overrides it).
fn admin_url() -> String {
    std::env::var("WISP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs SQL with `psql` on the database at `url`; what it printed.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An empty PostgreSQL database of the test's own, dropped with the value.
struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    fn create(test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("wisp_rel_{test}_{}_{nanos}", std::process::id());
        psql(&admin_url(), &format!("CREATE DATABASE {name}"));
        let base = admin_url();
        let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
        let url = format!("{server}/{name}");
        Self { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &admin_url(),
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// The jobs of `function`, newest first.
async fn jobs_of(server: &TestServer, function: &str) -> Vec<Value> {
    server
        .get_json(&format!("/api/v1/jobs?function={function}&limit=1000"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// Every recorded invocation id of `function` (all pages).
async fn recorded_ids(server: &TestServer, function: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/functions/{function}/invocations?limit=1000");
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let page = server.get_json(&path).await;
        let page = page.as_array().unwrap();
        for r in page {
            ids.insert(r["id"].as_str().unwrap().to_string());
        }
        match page.last() {
            Some(last) if page.len() == 1000 => before = Some(last["id"].as_str().unwrap().into()),
            _ => return ids,
        }
    }
}

/// Requests the month's cost report bills for `function`.
async fn billed_requests(server: &TestServer, function: &str) -> i64 {
    let report: CostReport =
        serde_json::from_value(server.get_json("/api/v1/costs").await).unwrap();
    report
        .functions
        .iter()
        .find(|f| f.name == function)
        .map_or(0, |f| f.usage.requests)
}

/// Evaluates `$check` (an `async { .. }.await` giving `Result<(), String>`)
/// every 100 ms until it is `Ok`, failing with its last `Err` once `$secs`
/// seconds have passed.
macro_rules! eventually {
    ($secs:expr, $what:expr, $check:expr) => {{
        let deadline = Instant::now() + Duration::from_secs($secs);
        loop {
            let result: Result<(), String> = $check;
            match result {
                Ok(()) => break,
                Err(last) => assert!(Instant::now() < deadline, "{}: {}", $what, last),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The tick (ms since the epoch) a cron job was fired for (`<trigger>:<ms>`).
fn tick_ms(job: &Value) -> i64 {
    let event = job["event_id"].as_str().unwrap();
    event.rsplit_once(':').unwrap().1.parse().unwrap()
}

// ---------------------------------------------------------------------------
// 1. Cron ticks fire once
// ---------------------------------------------------------------------------

/// On the real clock: a 2-second schedule fires once per tick (5–8 times in
/// ~13 s, never twice for one second), a minute schedule once at the minute,
/// previews are whole seconds, and the cost report bills each tick once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_ticks_fire_once_per_scheduled_second_and_are_billed_once() {
    let server = TestServer::start().await;
    server.deploy("every-two", "hello").await;
    server.deploy("every-minute", "hello").await;
    let fast = server
        .create_trigger(
            json!({"kind": "cron", "function": "every-two", "schedule": "*/2 * * * * *"}),
        )
        .await;
    let created = Instant::now();
    let minute = server
        .create_trigger(
            json!({"kind": "cron", "function": "every-minute", "schedule": "* * * * *"}),
        )
        .await;
    let preview = server
        .get_json("/api/v1/cron/preview?schedule=*/2%20*%20*%20*%20*%20*&count=5")
        .await;

    // ~13 s of the 2-second schedule.
    tokio::time::sleep(Duration::from_secs(13).saturating_sub(created.elapsed())).await;
    let r = server
        .http
        .delete(server.api_url(&format!(
            "/api/v1/triggers/{}",
            fast["id"].as_str().unwrap()
        )))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "deleting the trigger: {}",
        r.status()
    );
    // A tick being fired while the trigger was deleted is in by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let jobs = jobs_of(&server, "every-two").await;
    let ticks: Vec<i64> = jobs.iter().map(tick_ms).collect();
    assert!(
        (5..=8).contains(&jobs.len()),
        "a 2-second schedule fired {} times in ~13 s; ticks {ticks:?}",
        jobs.len()
    );
    let distinct: HashSet<i64> = ticks.iter().copied().collect();
    assert_eq!(distinct.len(), ticks.len(), "a tick fired twice: {ticks:?}");
    assert!(
        ticks.iter().all(|t| t % 2000 == 0),
        "ticks off the schedule's whole seconds: {ticks:?}"
    );

    // Previews: whole seconds, on the triggers and from the preview route.
    let mut shown: Vec<Value> = preview["next"].as_array().unwrap().clone();
    shown.extend(fast["next_fires"].as_array().unwrap().iter().cloned());
    shown.extend(minute["next_fires"].as_array().unwrap().iter().cloned());
    assert!(shown.len() >= 5, "{preview} {fast}");
    for t in &shown {
        assert_eq!(
            parse_time(t).nanosecond(),
            0,
            "preview {t} is not a whole second"
        );
    }

    // Billing: one request per tick, no more.
    let fired = jobs.len();
    eventually!(
        30,
        "every tick delivered and recorded",
        async {
            let recorded = server
                .get_json("/api/v1/functions/every-two/invocations?limit=1000")
                .await
                .as_array()
                .unwrap()
                .len();
            if recorded == fired {
                Ok(())
            } else {
                Err(format!("{recorded} records for {fired} ticks"))
            }
        }
        .await
    );
    eventually!(
        30,
        "the cost report bills each tick once",
        async {
            let billed = billed_requests(&server, "every-two").await;
            if billed == fired as i64 {
                Ok(())
            } else {
                Err(format!("{billed} requests billed for {fired} ticks"))
            }
        }
        .await
    );

    // The minute schedule: once at the first minute after its creation.
    let boundary = parse_time(&minute["created_at"])
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
        + chrono::Duration::minutes(1);
    let wait = (boundary - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(3);
    tokio::time::sleep(wait).await;
    let jobs = jobs_of(&server, "every-minute").await;
    let ticks: Vec<i64> = jobs.iter().map(tick_ms).collect();
    assert_eq!(
        ticks,
        vec![boundary.timestamp_millis()],
        "a minute schedule must fire exactly once at {boundary}"
    );
}

// ---------------------------------------------------------------------------
// 2. Redrive keeps every unrelated record
// ---------------------------------------------------------------------------

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
    let mut redriven = Vec::new();
    for id in &dead {
        let r = server
            .post(&format!("/api/v1/dead-letters/{id}/redrive"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "redrive {id}");
        let job: Value = r.json().await.unwrap();
        redriven.push(job);
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

    // The redriven attempts ran (and failed again).
    let mut ended = Vec::new();
    for queued in &redriven {
        let id = queued["id"].as_str().unwrap();
        let redriven_at = parse_time(&queued["updated_at"]);
        let job = server
            .wait_json(
                &format!("/api/v1/jobs/{id}"),
                "redriven job dead again",
                |j| j["state"] == "dead" && parse_time(&j["updated_at"]) > redriven_at,
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

// ---------------------------------------------------------------------------
// 5. Writes work again after a failed transaction
// ---------------------------------------------------------------------------

/// A small tmpfs (the test runs as root), unmounted and removed on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wisp-small-disk-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "mounting a {megabytes} MiB tmpfs (the test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a file of zeros until the disk is full; its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc_enospc()) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last, partial pages too.
        while file.write(&[0u8; 512]).map(|n| n > 0).unwrap_or(false) {}
        let _ = file.sync_all();
        path
    }
}

/// ENOSPC on Linux.
fn libc_enospc() -> i32 {
    28
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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

// ---------------------------------------------------------------------------
// 7. Async invocation ids resolve at once
// ---------------------------------------------------------------------------

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
async fn invoke_async(server: &TestServer, function: &str, n: usize) -> Vec<String> {
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

// ---------------------------------------------------------------------------
// 8. A restarted node reclaims its own leases
// ---------------------------------------------------------------------------

/// Jobs running at a SIGKILL resume as soon as the node is back (same data
/// directory, so the same node identity), long before their leases (the
/// function's timeout plus a minute) run out.
async fn own_leases_are_reclaimed_at_restart(server: &mut TestServer) {
    server.deploy("slow", "relay").await;
    server
        .configure(
            "slow",
            json!({"max_concurrency": 3, "env": {"SLEEP_MS": "3000"}}),
        )
        .await;
    let ids = invoke_async(server, "slow", 3).await;
    eventually!(
        20,
        "all three jobs running",
        async {
            let jobs = jobs_of(server, "slow").await;
            let running = jobs.iter().filter(|j| j["state"] == "running").count();
            if running == 3 {
                Ok(())
            } else {
                Err(format!("{running} running"))
            }
        }
        .await
    );
    server.kill9_and_restart().await;
    let restarted = Instant::now();
    // The leases last over a minute; the node's own jobs must not wait them out.
    eventually!(
        40,
        "jobs of the killed node done after the restart",
        async {
            let jobs = jobs_of(server, "slow").await;
            let done = jobs.iter().filter(|j| j["state"] == "done").count();
            if done == 3 {
                Ok(())
            } else {
                let states: Vec<&str> = jobs.iter().map(|j| j["state"].as_str().unwrap()).collect();
                Err(format!(
                    "after {:?}: states {states:?}",
                    restarted.elapsed()
                ))
            }
        }
        .await
    );
    for id in &ids {
        let record = server.final_invocation(id).await;
        assert_eq!(record.status_code, Some(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_leases_are_reclaimed_at_restart_on_postgres() {
    let db = TestDatabase::create("leases");
    let mut server = TestServer::start_with(&["--database-url", &db.url]).await;
    own_leases_are_reclaimed_at_restart(&mut server).await;

    // Another node's lease is left alone: a job leased by "node-b" for an
    // hour stays running across this node's restart.
    let job = jobs_of(&server, "slow").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hour_ahead = Utc::now().timestamp_millis() + 3_600_000;
    psql(
        &db.url,
        &format!(
            "UPDATE jobs SET state = 'running', lease_owner = 'node-b', \
             lease_until = {hour_ahead} WHERE id = '{job}'"
        ),
    );
    server.kill9_and_restart().await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let state = server.get_json(&format!("/api/v1/jobs/{job}")).await;
    assert_eq!(
        state["state"], "running",
        "another node's job was taken: {state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_leases_are_reclaimed_at_restart_on_sqlite() {
    let mut server = TestServer::start().await;
    own_leases_are_reclaimed_at_restart(&mut server).await;
}
