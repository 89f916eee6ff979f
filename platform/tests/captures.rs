//! Replay captures at rest on a real platform (SQLite, the echo function, a
//! clock the test moves by hand): the housekeeping drops a team's oldest
//! captures once it holds more than its cap, and every capture once it is
//! older than the retention period.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http_body_util::BodyExt as _;
use model::{CaptureMode, FunctionConfigPatch};
use platform::{ManualClock, Platform, PlatformConfig, Principal};

const CAP_BYTES: i64 = 60_000;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn echo_wasm() -> Vec<u8> {
    let dir = std::env::var_os("WISP_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions"));
    std::fs::read(dir.join("echo.wasm")).expect("functions/echo.wasm: run functions/build.sh")
}

async fn start(dir: &std::path::Path, clock: Arc<ManualClock>) -> Platform {
    let mut config = PlatformConfig::new(dir);
    if let Some(cache) = std::env::var_os("WISP_TEST_CACHE_DIR") {
        config.cache_dir = Some(cache.into());
    }
    config.clock = clock;
    config.capture_cap_bytes = CAP_BYTES;
    Platform::start(config).await.expect("platform starts")
}

async fn admin(platform: &Platform) -> Principal {
    let token = platform
        .bootstrap_admin(Some("captures-test-password"))
        .await
        .unwrap()
        .expect("first start makes the administrator")
        .token;
    platform.authenticate_token(&token).await.unwrap()
}

async fn captured(platform: &Platform, who: &Principal, id: &str) -> bool {
    platform
        .functions()
        .capture_status(who, id)
        .await
        .unwrap()
        .captured
}

/// Waits (the housekeeping runs every 5 s) until `done` holds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_drops_the_oldest_captures_and_old_ones_expire() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-03-02T10:00:00Z")));
    let platform = start(dir.path(), clock.clone()).await;
    let who = admin(&platform).await;
    platform
        .functions()
        .deploy(&who, "echo", echo_wasm().into(), true, &Default::default())
        .await
        .expect("deploy");
    let patch = FunctionConfigPatch {
        capture: Some(CaptureMode::All),
        ..Default::default()
    };
    platform
        .functions()
        .configure(&who, "echo", patch)
        .await
        .unwrap();

    // Six calls with 8 KiB bodies, a second apart: about 30 KB stored each.
    let mut ids = Vec::new();
    for i in 0..6u8 {
        clock.advance(chrono::Duration::seconds(1));
        let request = http::Request::post("/")
            .body(platform::full_body(vec![b'a' + i; 8 * 1024]))
            .unwrap();
        let outcome = platform
            .functions()
            .invoke(&who, "echo", request)
            .await
            .unwrap();
        let body = outcome.response.unwrap().into_body().collect().await;
        assert!(
            body.unwrap().to_bytes().len() >= 8 * 1024,
            "echo answers the body"
        );
        ids.push(outcome.invocation_id);
    }
    for id in &ids {
        eventually("the call is recorded", async || {
            platform.functions().invocation(&who, id).await.is_ok()
        })
        .await;
    }
    let newest = ids.last().unwrap().clone();
    eventually("the newest call is captured", async || {
        captured(&platform, &who, &newest).await
    })
    .await;

    // Over the cap: the oldest go until the team is under it; the newest stay.
    let oldest = ids[0].clone();
    eventually("the oldest capture is dropped", async || {
        !captured(&platform, &who, &oldest).await
    })
    .await;
    let mut kept = Vec::new();
    for id in &ids {
        kept.push(captured(&platform, &who, id).await);
    }
    let first_kept = kept.iter().position(|k| *k).expect("the newest is kept");
    assert!(
        kept[first_kept..].iter().all(|k| *k),
        "only the oldest are dropped: {kept:?}"
    );
    let mut total = 0;
    for id in &ids[first_kept..] {
        total += platform
            .functions()
            .capture(&who, id)
            .await
            .unwrap()
            .size_bytes;
    }
    assert!(total <= CAP_BYTES, "{total} bytes kept, cap {CAP_BYTES}");

    // Past the retention period (30 days by default): none is left.
    clock.set(at("2026-04-02T10:00:00Z"));
    eventually("old captures are pruned", async || {
        !captured(&platform, &who, &newest).await
    })
    .await;
}
