//! Retention on a real platform (SQLite, the echo function, a clock the
//! test moves by hand; calls are recorded at the real time, so "old" calls
//! are made now and the clock goes forward): a pass removes every row older than the team's
//! period — invocations with their search index entries, outbound calls,
//! events, captures — keeps newer ones, leaves the old month's cost report
//! exactly as it was, and calls keep being served while a million old
//! records go.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http_body_util::BodyExt as _;
use model::RetentionUpdate;
use platform::{LogSearch, ManualClock, Platform, PlatformConfig, Principal};

const OLD_ROWS: i64 = 1_000_000;

fn echo_wasm() -> Vec<u8> {
    let dir = std::env::var_os("WISP_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions"));
    std::fs::read(dir.join("echo.wasm")).expect("functions/echo.wasm: run functions/build.sh")
}

async fn start(dir: &Path, clock: Arc<ManualClock>) -> Platform {
    let mut config = PlatformConfig::new(dir);
    if let Some(cache) = std::env::var_os("WISP_TEST_CACHE_DIR") {
        config.cache_dir = Some(cache.into());
    }
    config.clock = clock;
    // The test runs the passes itself.
    config.retention_every = Duration::from_secs(3600);
    Platform::start(config).await.expect("platform starts")
}

async fn admin(platform: &Platform) -> Principal {
    let token = platform
        .bootstrap_admin(Some("retention-test-password"))
        .await
        .unwrap()
        .expect("first start makes the administrator")
        .token;
    platform.authenticate_token(&token).await.unwrap()
}

/// Calls echo at `path`; returns the invocation id (the answer is checked).
async fn call(platform: &Platform, who: &Principal, path: &str) -> String {
    call_function(platform, who, "echo", path).await
}

/// Calls `function` (an echo) at `path`; returns the invocation id.
async fn call_function(platform: &Platform, who: &Principal, function: &str, path: &str) -> String {
    let request = http::Request::post(path)
        .body(platform::full_body(b"payload".to_vec()))
        .unwrap();
    let outcome = platform
        .functions()
        .invoke(who, function, request)
        .await
        .expect("the call is served");
    let response = outcome.response.expect("a response");
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains(path),
        "echo answers"
    );
    outcome.invocation_id
}

/// Waits until invocation `id`'s record is stored (a call's record is
/// handed to the recorder after its response, so `flush` alone may come
/// first).
async fn recorded(platform: &Platform, who: &Principal, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while platform.functions().invocation(who, id).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "invocation {id} was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many of the team's calls' logs contain `word`.
async fn log_hits(platform: &Platform, who: &Principal, word: &str) -> usize {
    let search = LogSearch {
        q: word.to_string(),
        limit: 500,
        ..Default::default()
    };
    platform
        .functions()
        .search_logs(who, &search)
        .await
        .unwrap()
        .hits
        .len()
}

fn sql_count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// Stores `OLD_ROWS` invocation records of echo from `start_ms` on (one in
/// ten with logs, indexed for search as the recorder does) and an outbound
/// call for each of the first thousand, straight into the database.
fn insert_old_rows(db: &Path, start_ms: i64) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO invocations (id, function_name, version, trigger_kind, started_at, \
         duration_us, billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, \
         status, outcome, status_code, error, method, path, logs, logs_truncated) \
         SELECT 'ancient-' || i, 'echo', 1, 'http', ?2 + i, 900, 1, 128, 65536, 7, 100, \
         'success', 'success', 200, NULL, 'POST', '/ancient', \
         CASE WHEN i % 10 = 0 THEN 'echo: POST /ancient' ELSE '' END, 0 FROM n",
        rusqlite::params![OLD_ROWS, start_ms],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO invocations_fts (rowid, logs, error) SELECT rowid, logs, error \
         FROM invocations WHERE id LIKE 'ancient-%' AND (logs <> '' OR error IS NOT NULL)",
        [],
    )
    .unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
         INSERT INTO outbound_calls (invocation_id, function_name, target_kind, target, method, \
         status_code, ok, duration_us, at) \
         SELECT 'ancient-' || i, 'echo', 'host', 'example.com', 'GET', 200, 1, 100, ?1 + i FROM n",
        [start_ms],
    )
    .unwrap();
    tx.commit().unwrap();
}

/// The month (`YYYY-MM`, UTC) `at` falls in.
fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_history_goes_new_stays_and_old_reports_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wisp.db");
    // Calls are recorded at the real time; the pruning's "now" is this
    // clock, moved 40 days ahead below.
    let now = Utc::now();
    let clock = Arc::new(ManualClock::new(now));
    let platform = start(dir.path(), clock.clone()).await;
    let who = admin(&platform).await;
    platform
        .functions()
        .deploy(&who, "echo", echo_wasm().into(), true, &Default::default())
        .await
        .expect("deploy");

    // Today: twenty calls and an event.
    let mut old_ids = Vec::new();
    for i in 0..20 {
        old_ids.push(call(&platform, &who, &format!("/today-{i}")).await);
    }
    platform
        .events()
        .publish(&who, "orders", "old".into(), None, None)
        .await
        .unwrap();
    for id in &old_ids {
        recorded(&platform, &who, id).await;
    }
    let month = month_of(now);
    let report_before = platform
        .metering()
        .cost_report(&who, Some(&month))
        .await
        .unwrap();
    assert_eq!(report_before.totals.requests, 20, "{report_before:?}");
    assert_eq!(log_hits(&platform, &who, "today").await, 20);

    // A million older records, as a busy month leaves.
    let insert_started = Instant::now();
    let db_path = db.clone();
    let start_ms = (now - chrono::Duration::days(3)).timestamp_millis();
    tokio::task::spawn_blocking(move || insert_old_rows(&db_path, start_ms))
        .await
        .unwrap();
    println!(
        "stored {OLD_ROWS} old invocation records in {:.1} s",
        insert_started.elapsed().as_secs_f64()
    );

    // 40 days later. Five records of calls from five days before that
    // (stored as the recorder stores them), and a new event.
    let later = now + chrono::Duration::days(40);
    clock.set(later);
    let recent_ms = (later - chrono::Duration::days(5)).timestamp_millis();
    let db_path = db.clone();
    tokio::task::spawn_blocking(move || insert_recent_rows(&db_path, recent_ms))
        .await
        .unwrap();
    platform
        .events()
        .publish(&who, "orders", "new".into(), None, None)
        .await
        .unwrap();

    // Another team's calls keep coming while the pass runs.
    let other = other_team(&platform, &who).await;
    platform
        .functions()
        .deploy(
            &other,
            "echo-b",
            echo_wasm().into(),
            true,
            &Default::default(),
        )
        .await
        .expect("deploy for the other team");
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let (platform, other, stop) = (platform.clone(), other.clone(), stop.clone());
        tokio::spawn(async move {
            let mut calls = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                call_function(&platform, &other, "echo-b", "/during").await;
                calls.push((started, started.elapsed()));
            }
            calls
        })
    };
    // Two seconds of calls alone, then the pass.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pass_started = Instant::now();
    let pass = platform.prune_expired().await.unwrap();
    let pass_ended = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let calls = stream.await.expect("every call during the pass succeeded");
    let quantiles = |mut latencies: Vec<Duration>| {
        latencies.sort();
        let p =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        format!(
            "{} calls, p50 {:?}, p99 {:?}, max {:?}",
            latencies.len(),
            p(0.5),
            p(0.99),
            latencies.last().unwrap()
        )
    };
    let before: Vec<_> = calls
        .iter()
        .filter(|(at, _)| *at < pass_started)
        .map(|c| c.1)
        .collect();
    let during: Vec<_> = calls
        .iter()
        .filter(|(at, _)| *at >= pass_started && *at < pass_ended)
        .map(|c| c.1)
        .collect();
    assert!(!before.is_empty() && !during.is_empty());
    println!(
        "pruned {} invocations, {} outbound calls, {} events in {} ms\n\
         hello-sized calls before the pass: {}\n\
         during the pass: {}",
        pass.invocations,
        pass.outbound_calls,
        pass.events,
        pass.duration_ms,
        quantiles(before),
        quantiles(during)
    );

    // Everything of echo's older than 30 days is gone; the recent stays.
    // (The other team's calls are old by this clock too: some of them go.)
    assert!(
        pass.invocations >= OLD_ROWS as u64 + 20,
        "echo's old rows at least: {pass:?}"
    );
    assert_eq!(pass.outbound_calls, 1000, "{pass:?}");
    assert_eq!(pass.events, 1, "{pass:?}");
    let cutoff = (later - chrono::Duration::days(30)).timestamp_millis();
    let echo_rows = |when: &str| {
        format!("SELECT COUNT(*) FROM invocations WHERE function_name = 'echo' AND {when}")
    };
    assert_eq!(
        sql_count(&db, &echo_rows(&format!("started_at < {cutoff}"))),
        0
    );
    assert_eq!(
        sql_count(&db, &echo_rows(&format!("started_at >= {cutoff}"))),
        5
    );
    assert_eq!(sql_count(&db, "SELECT COUNT(*) FROM outbound_calls"), 0);
    assert_eq!(
        sql_count(
            &db,
            &format!("SELECT COUNT(*) FROM events WHERE published_at < {cutoff}")
        ),
        0
    );
    assert_eq!(sql_count(&db, "SELECT COUNT(*) FROM events"), 1);
    for id in &old_ids {
        assert!(platform.functions().invocation(&who, id).await.is_err());
    }
    for i in 0..5 {
        platform
            .functions()
            .invocation(&who, &format!("recent-{i}"))
            .await
            .unwrap();
    }

    // The search index lost exactly the removed rows.
    assert_eq!(log_hits(&platform, &who, "today").await, 0);
    assert_eq!(log_hits(&platform, &who, "ancient").await, 0);
    assert_eq!(log_hits(&platform, &who, "recent").await, 5);
    // The other team's last calls are recorded just after their responses:
    // let them land, then prune them too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    platform.flush().await;
    platform.prune_expired().await.unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO invocations_fts (invocations_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("the search index matches the table");

    // The month's report is built from the hourly rollups: unchanged, to
    // the decimal.
    let report_after = platform
        .metering()
        .cost_report(&who, Some(&month))
        .await
        .unwrap();
    assert_eq!(report_after.totals, report_before.totals);
    assert_eq!(report_after.functions, report_before.functions);
    assert_eq!(report_after.daily, report_before.daily);

    // The overview tells the oldest record kept and the database size.
    let status = platform.retention().status(&who).await.unwrap();
    assert_eq!(status.days, 30);
    let oldest = status
        .oldest_record_at
        .expect("the recent records are kept");
    assert_eq!(oldest.timestamp_millis(), recent_ms);
    assert!(status.database_bytes.unwrap() > 0);
    assert!(status.last_pass.is_some());

    // A further pass finds nothing more.
    let again = platform.prune_expired().await.unwrap();
    assert_eq!((again.invocations, again.events), (0, 0), "{again:?}");
}

/// Five invocation records of echo (`recent-0`..`recent-4`, logs
/// `echo: POST /recent-N`) from `at_ms` on, indexed for search.
fn insert_recent_rows(db: &Path, at_ms: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.execute_batch(&format!(
        "BEGIN; \
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4) \
         INSERT INTO invocations (id, function_name, version, trigger_kind, started_at, \
         duration_us, billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, \
         status, outcome, status_code, error, method, path, logs, logs_truncated) \
         SELECT 'recent-' || i, 'echo', 1, 'http', {at_ms} + i, 900, 1, 128, 65536, 7, 100, \
         'success', 'success', 200, NULL, 'POST', '/recent-' || i, \
         'echo: POST /recent-' || i, 0 FROM n; \
         INSERT INTO invocations_fts (rowid, logs, error) SELECT rowid, logs, error \
         FROM invocations WHERE id LIKE 'recent-%'; \
         COMMIT;"
    ))
    .unwrap();
}

/// A second team owned by the administrator, acting as its owner.
async fn other_team(platform: &Platform, admin: &Principal) -> Principal {
    let team = platform
        .access()
        .create_team(admin, "other", None)
        .await
        .unwrap();
    Principal {
        team_id: team.id,
        team: team.name,
        ..admin.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_own_period_wins_over_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let clock = Arc::new(ManualClock::new(now));
    let platform = start(dir.path(), clock.clone()).await;
    let who = admin(&platform).await;
    platform
        .functions()
        .deploy(&who, "echo", echo_wasm().into(), true, &Default::default())
        .await
        .expect("deploy");
    let first = call(&platform, &who, "/first").await;
    recorded(&platform, &who, &first).await;

    // 10 days later: within the server's 30 days.
    clock.set(now + chrono::Duration::days(10));
    assert_eq!(platform.prune_expired().await.unwrap().invocations, 0);

    // The team keeps 7 days: the call goes.
    let status = platform
        .retention()
        .set_team(&who, RetentionUpdate { days: Some(7) })
        .await
        .unwrap();
    assert_eq!(
        (status.days, status.team_days, status.server_days),
        (7, Some(7), 30)
    );
    assert_eq!(platform.prune_expired().await.unwrap().invocations, 1);
    assert!(platform.functions().invocation(&who, &first).await.is_err());

    // Back to the server's period (30 days: the new call stays), then the
    // administrators set it to 2 days (it goes).
    let second = call(&platform, &who, "/second").await;
    recorded(&platform, &who, &second).await;
    let status = platform
        .retention()
        .set_team(&who, RetentionUpdate { days: None })
        .await
        .unwrap();
    assert_eq!((status.days, status.team_days), (30, None));
    assert_eq!(platform.prune_expired().await.unwrap().invocations, 0);
    let status = platform
        .retention()
        .set_server(&who, RetentionUpdate { days: Some(2) })
        .await
        .unwrap();
    assert_eq!(
        (status.days, status.team_days, status.server_days),
        (2, None, 2)
    );
    assert_eq!(platform.prune_expired().await.unwrap().invocations, 1);
    assert!(platform
        .functions()
        .invocation(&who, &second)
        .await
        .is_err());

    // Out of range is refused.
    for days in [Some(0), Some(3651)] {
        let e = platform
            .retention()
            .set_team(&who, RetentionUpdate { days })
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400, "{e}");
    }
}
