//! Reliability of async work and of the invocation records (issue 29),
//! against the real `wisp serve`: cron ticks fire once per scheduled second
//! and are billed once; redriving a dead letter under load loses no
//! unrelated record; writes work again once a full disk has room; an async
//! invocation id resolves at once and after a SIGKILL; a restarted node
//! reclaims its own job leases at once. Storage cases run on SQLite and on
//! the machine's PostgreSQL (127.0.0.1:5432, a fresh database per test).

mod common;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use common::storage::{psql, TestDatabase};
use common::TestServer;
use model::CostReport;
use serde_json::Value;

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

// Each item's tests live in reliability_jobs/<item>.rs; the helpers they
// share are below.

/// Evaluates `$check` (an `async { .. }.await` giving `Result<(), String>`)
/// every 100 ms until it is `Ok`, failing with its last `Err` once `$secs`
/// seconds have passed.
macro_rules! eventually {
    ($secs:expr, $what:expr, $check:expr) => {{
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs($secs);
        loop {
            let result: Result<(), String> = $check;
            match result {
                Ok(()) => break,
                Err(last) => assert!(std::time::Instant::now() < deadline, "{}: {}", $what, last),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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

#[path = "reliability_jobs/cron.rs"]
mod cron;

#[path = "reliability_jobs/redrive.rs"]
mod redrive;

#[path = "reliability_jobs/transactions.rs"]
mod transactions;

#[path = "reliability_jobs/async_ids.rs"]
mod async_ids;

#[path = "reliability_jobs/leases.rs"]
mod leases;
