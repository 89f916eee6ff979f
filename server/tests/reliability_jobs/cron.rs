//! Item 1: cron ticks fire once per scheduled second (croner kept the
//! sub-second part of "now"), previews are whole seconds, and the cost
//! report bills each tick once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{Timelike as _, Utc};
use serde_json::{json, Value};

use super::common::TestServer;
use super::{billed_requests, jobs_of, parse_time, tick_ms};

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
