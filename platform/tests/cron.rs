//! Cron triggers on a real platform (SQLite, the relay function) with a
//! clock the test moves by hand: ticks fire on schedule, a long downtime
//! fires the missed tick once, and a restart never fires a tick twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use model::{NewTrigger, TriggerSpec};
use platform::{ManualClock, Platform, PlatformConfig, Principal};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn relay_wasm() -> Vec<u8> {
    let dir = std::env::var_os("WISP_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions"));
    std::fs::read(dir.join("relay.wasm")).expect("functions/relay.wasm: run functions/build.sh")
}

async fn start(dir: &std::path::Path, clock: Arc<ManualClock>) -> Platform {
    let mut config = PlatformConfig::new(dir);
    if let Some(cache) = std::env::var_os("WISP_TEST_CACHE_DIR") {
        config.cache_dir = Some(cache.into());
    }
    config.clock = clock;
    Platform::start(config).await.expect("platform starts")
}

/// The bootstrap administrator, the caller of every operation here.
async fn admin(platform: &Platform) -> Principal {
    let token = match platform.bootstrap_admin(Some("cron-test-password")).await {
        Ok(Some(boot)) => boot.token,
        other => panic!("bootstrap once: {:?}", other.map(|b| b.is_some())),
    };
    platform
        .authenticate_token(&token)
        .await
        .expect("admin token")
}

/// Waits until `n` cron jobs exist (or fails after 10 s), then a little
/// longer to catch any extra one.
async fn cron_jobs(platform: &Platform, who: &Principal, n: usize) -> Vec<model::Job> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let jobs = platform
            .events()
            .jobs(who, None, Some("tick"), 100)
            .await
            .unwrap();
        if jobs.len() >= n {
            tokio::time::sleep(Duration::from_millis(600)).await;
            return platform
                .events()
                .jobs(who, None, Some("tick"), 100)
                .await
                .unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} ticks fired",
            jobs.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn ticks_fire_once_on_schedule_after_downtime_and_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-03-02T10:01:30Z")));
    let platform = start(dir.path(), clock.clone()).await;
    let who = admin(&platform).await;
    platform
        .functions()
        .deploy(&who, "tick", relay_wasm().into(), true, &Default::default())
        .await
        .expect("deploy");
    let trigger = platform
        .triggers()
        .create(
            &who,
            NewTrigger {
                function: "tick".into(),
                spec: TriggerSpec::Cron {
                    schedule: "*/5 * * * *".into(),
                    timezone: "UTC".into(),
                },
                max_attempts: None,
            },
        )
        .await
        .expect("create cron trigger");
    assert_eq!(
        trigger.next_fires,
        vec![
            at("2026-03-02T10:05:00Z"),
            at("2026-03-02T10:10:00Z"),
            at("2026-03-02T10:15:00Z"),
            at("2026-03-02T10:20:00Z"),
            at("2026-03-02T10:25:00Z"),
        ]
    );

    // Nothing is due yet.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(platform
        .events()
        .jobs(&who, None, Some("tick"), 10)
        .await
        .unwrap()
        .is_empty());

    // 10:05 arrives: exactly one tick, delivered to the function.
    clock.set(at("2026-03-02T10:05:00Z"));
    let jobs = cron_jobs(&platform, &who, 1).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].source, model::TriggerKind::Cron);
    assert_eq!(
        jobs[0].event_id.as_deref(),
        Some(
            format!(
                "{}:{}",
                trigger.id,
                at("2026-03-02T10:05:00Z").timestamp_millis()
            )
            .as_str()
        )
    );

    // An hour of "downtime" (12 missed ticks) fires only the latest, once.
    clock.set(at("2026-03-02T11:07:10Z"));
    let jobs = cron_jobs(&platform, &who, 2).await;
    assert_eq!(jobs.len(), 2, "missed ticks fire once, not once each");
    assert_eq!(
        jobs[0].event_id.as_deref(),
        Some(
            format!(
                "{}:{}",
                trigger.id,
                at("2026-03-02T11:05:00Z").timestamp_millis()
            )
            .as_str()
        )
    );
    let shown = platform.triggers().get(&who, &trigger.id).await.unwrap();
    assert_eq!(shown.last_fired, Some(at("2026-03-02T11:05:00Z")));
    assert_eq!(shown.next_fires[0], at("2026-03-02T11:10:00Z"));

    // A restart at the same instant does not fire 11:05 again.
    platform.shutdown();
    drop(platform);
    let platform = start(dir.path(), clock.clone()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        platform
            .events()
            .jobs(&who, None, Some("tick"), 100)
            .await
            .unwrap()
            .len(),
        2
    );

    clock.set(at("2026-03-02T11:10:00Z"));
    let jobs = cron_jobs(&platform, &who, 3).await;
    assert_eq!(jobs.len(), 3);

    // Every tick was delivered as a call of the function with CloudEvents headers.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = platform
            .events()
            .jobs(&who, Some("done"), Some("tick"), 100)
            .await
            .unwrap();
        if done.len() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "ticks not delivered: {done:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    platform.flush().await;
    let calls = platform
        .functions()
        .invocations(
            &who,
            "tick",
            platform::InvocationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.trigger == model::TriggerKind::Cron
        && c.method == "POST"
        && c.status_code == Some(200)));
}
