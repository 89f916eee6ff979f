//! Warm pools: calls served from sandboxes instantiated ahead of them still
//! each get a fresh instance, their own logs and the settings they ask for.

mod common;

use std::time::{Duration, Instant};

use common::*;
use runtime::{Runtime, RuntimeConfig, SandboxConfig, WarmPool, SPARES_PER_FUNCTION};

/// A runtime of its own, so that the prewarmed-call count is this test's.
fn own_runtime(name: &str) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("warm-test-artifacts-{name}")),
        max_instances: 16,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

async fn pool(runtime: &Runtime, function: &str, sandbox: SandboxConfig) -> WarmPool {
    let bytes = wasm(function);
    let prepared = runtime
        .prepare(&bytes, &sha256_hex(&bytes))
        .await
        .expect("prepares");
    WarmPool::new(prepared, sandbox)
}

/// Waits until `pool` holds `n` ready sandboxes (they are made in the
/// background after a call).
async fn until_ready(pool: &WarmPool, n: usize) {
    let start = Instant::now();
    while pool.ready() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "spares never became ready: {} of {n}",
            pool.ready()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_from_a_warm_pool_runs_in_a_fresh_instance() {
    let runtime = own_runtime("fresh");
    let counter = pool(&runtime, "counter", SandboxConfig::default()).await;
    assert_eq!(counter.ready(), 0, "no spares before the first call");

    for call in 0..6 {
        let answer = answer(counter.invoke(get("/"), SandboxConfig::default()).await).await;
        assert_eq!(answer.status, 200);
        // A reused instance would count 2, 3, ...
        assert_eq!(
            String::from_utf8_lossy(&answer.body),
            "calls handled by this instance: 1\n",
            "call {call}"
        );
        until_ready(&counter, SPARES_PER_FUNCTION).await;
    }
    let stats = runtime.instantiation_stats();
    assert_eq!(
        stats.prewarmed, 5,
        "every call after the first found a spare"
    );
    // One instantiation per call, plus the spares waiting now.
    assert_eq!(stats.count, 6 + SPARES_PER_FUNCTION as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_call_keeps_only_its_own_logs() {
    let runtime = own_runtime("logs");
    let hello = pool(&runtime, "hello", SandboxConfig::default()).await;
    answer(hello.invoke(get("/first"), SandboxConfig::default()).await).await;
    until_ready(&hello, 1).await;

    let answer = answer(hello.invoke(get("/second"), SandboxConfig::default()).await).await;
    assert_eq!(answer.status, 200);
    assert_eq!(runtime.instantiation_stats().prewarmed, 1);
    let logs = &answer.report.logs;
    assert_eq!(logs.matches("hello: GET").count(), 1, "logs: {logs:?}");
    assert!(logs.contains("hello: GET /second"), "logs: {logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_other_settings_gets_its_own_sandbox() {
    let runtime = own_runtime("settings");
    let with = |value: &str| SandboxConfig {
        env: vec![("GREETING".into(), value.into())],
        ..SandboxConfig::default()
    };
    let env = pool(&runtime, "env", with("made ahead")).await;
    let first = answer(env.invoke(get("/?name=GREETING"), with("made ahead")).await).await;
    assert_eq!(String::from_utf8_lossy(&first.body), "made ahead");
    until_ready(&env, 1).await;

    // The spares were made with the template's environment; a call that
    // asks for another one must not get them.
    let other = answer(env.invoke(get("/?name=GREETING"), with("changed")).await).await;
    assert_eq!(String::from_utf8_lossy(&other.body), "changed");
    assert_eq!(runtime.instantiation_stats().prewarmed, 0);

    let warm = answer(env.invoke(get("/?name=GREETING"), with("made ahead")).await).await;
    assert_eq!(String::from_utf8_lossy(&warm.body), "made ahead");
    assert_eq!(runtime.instantiation_stats().prewarmed, 1);
}

/// A call that dirties more scattered pages than one `PAGEMAP_SCAN` reports
/// (the patched reset in vendor/wasmtime resumes the scan): the next
/// instance in the same pool slot must still start from pristine memory,
/// both in the memory image and past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_is_pristine_after_a_call_dirtied_hundreds_of_scattered_pages() {
    let runtime = own_runtime("scatter");
    let counter = pool(&runtime, "counter", SandboxConfig::default()).await;
    for call in 0..8 {
        let answer = answer(
            counter
                .invoke(get("/scatter"), SandboxConfig::default())
                .await,
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            String::from_utf8_lossy(&answer.body),
            "stale pages: 0 of 400\n",
            "call {call}"
        );
    }
    // The calls ran in reused pool slots, the case the reset is for.
    assert!(runtime.instantiation_stats().count >= 8);
}
