//! Baseline code first, optimised code after (docs/DECISIONS.md #59): a
//! function served from baseline (Winch) code answers exactly as from its
//! optimised (Cranelift) code; the switch between them fails no call; a
//! restart loads the cached optimised artifact instead of compiling again.
//! And hostile guests are contained on baseline code as on optimised code.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use runtime::{CodeTier, Outcome, PreparedFunction, Runtime, RuntimeConfig, SandboxConfig};

fn runtime_in(dir: &Path, baseline_compiler: bool) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: dir.to_path_buf(),
        max_instances: 16,
        baseline_compiler,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

async fn prepare_on(runtime: &Runtime, name: &str) -> PreparedFunction {
    let bytes = wasm(name);
    runtime
        .prepare(&bytes, &sha256_hex(&bytes))
        .await
        .unwrap_or_else(|e| panic!("{name} must prepare: {e}"))
}

/// What a call answered, minus what differs between any two calls (the
/// report's timings).
async fn call(
    function: &PreparedFunction,
    uri: &str,
) -> (u16, Vec<(String, String)>, String, String) {
    let answer = answer(
        function
            .invoke(
                request("POST", uri, "the same body"),
                SandboxConfig::default(),
            )
            .await,
    )
    .await;
    let mut headers: Vec<(String, String)> = answer
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect();
    headers.sort();
    (
        answer.status,
        headers,
        String::from_utf8_lossy(&answer.body).into_owned(),
        answer.report.logs.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_code_answers_as_optimised_code_does_and_the_switch_fails_no_call() {
    let cache = tempfile::tempdir().expect("tempdir");
    let reference_cache = tempfile::tempdir().expect("tempdir");
    let tiered = runtime_in(cache.path(), true);
    let optimised_only = runtime_in(reference_cache.path(), false);

    for (name, uri) in [
        ("hello", "/hi?x=1"),
        ("echo", "/echo/path?q=%20v"),
        ("cpu", "/?n=3000"),
    ] {
        let reference = prepare_on(&optimised_only, name).await;
        assert_eq!(reference.tier(), CodeTier::Optimized);
        let expected = call(&reference, uri).await;
        assert_eq!(expected.0, 200, "{name}: {expected:?}");

        let function = prepare_on(&tiered, name).await;
        // Nothing optimised is on disk yet: it went live on baseline code,
        // and its first call runs it.
        assert_eq!(
            function.tier(),
            CodeTier::Baseline { optimizing: true },
            "{name}"
        );
        assert_eq!(
            call(&function, uri).await,
            expected,
            "{name} on baseline code"
        );

        // Calls go on while the optimised code is compiled and switched to.
        let mut calls = 1;
        while function.tier() != CodeTier::Optimized {
            assert_eq!(
                function.tier(),
                CodeTier::Baseline { optimizing: true },
                "{name}: the optimising compile failed"
            );
            assert_eq!(call(&function, uri).await, expected, "{name}, call {calls}");
            calls += 1;
            assert!(calls < 100_000, "{name} never switched");
        }
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(60), function.settled())
                .await
                .expect("settled"),
            CodeTier::Optimized
        );
        assert_eq!(
            call(&function, uri).await,
            expected,
            "{name} on optimised code"
        );
    }
    let stats = tiered.cache_stats();
    assert_eq!(
        (stats.baseline_compiles, stats.compiles, stats.hits),
        (3, 3, 0)
    );
    drop(tiered);

    // A restart loads the optimised artifacts the switch cached: no compile
    // of either kind, optimised code from the first call.
    let restarted = runtime_in(cache.path(), true);
    for (name, uri) in [
        ("hello", "/hi?x=1"),
        ("echo", "/echo/path?q=%20v"),
        ("cpu", "/?n=3000"),
    ] {
        let function = prepare_on(&restarted, name).await;
        assert_eq!(function.tier(), CodeTier::Optimized, "{name}");
        assert!(function.from_cache(), "{name}");
        assert_eq!(call(&function, uri).await.0, 200);
    }
    let stats = restarted.cache_stats();
    assert_eq!(
        (stats.baseline_compiles, stats.compiles, stats.hits),
        (0, 0, 3)
    );
}

#[tokio::test]
async fn with_the_baseline_compiler_off_functions_go_live_on_optimised_code() {
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_in(cache.path(), false);
    let function = prepare_on(&runtime, "hello").await;
    assert_eq!(function.tier(), CodeTier::Optimized);
    assert!(!function.from_cache());
    let stats = runtime.cache_stats();
    assert_eq!((stats.baseline_compiles, stats.compiles), (0, 1));
}

/// An infinite loop, a memory bomb and a stack overflow, run on baseline
/// code (held there: the optimising compile of these takes longer than the
/// calls), end as they do on optimised code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_guests_are_contained_on_baseline_code() {
    let cache = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_in(cache.path(), true);
    let sandbox = SandboxConfig {
        timeout: Duration::from_millis(300),
        memory_limit_bytes: 32 << 20,
        ..SandboxConfig::default()
    };

    let spin = prepare_on(&runtime, "infinite-loop").await;
    assert!(matches!(spin.tier(), CodeTier::Baseline { .. }));
    let report = failure(&spin, get("/"), sandbox.clone()).await;
    assert_eq!(report.outcome, Outcome::Timeout, "{:?}", report.outcome);

    let bomb = prepare_on(&runtime, "memory-bomb").await;
    assert!(matches!(bomb.tier(), CodeTier::Baseline { .. }));
    let report = failure(&bomb, get("/"), sandbox.clone()).await;
    assert_eq!(report.outcome, Outcome::OutOfMemory);
    assert!(report.peak_memory_bytes <= 32 << 20);

    let deep = prepare_on(&runtime, "deep-recursion").await;
    assert!(matches!(deep.tier(), CodeTier::Baseline { .. }));
    let report = failure(&deep, get("/"), sandbox).await;
    assert_eq!(report.outcome, Outcome::StackOverflow, "{}", report.logs);
}

/// Both engines run without the component model's concurrent machinery
/// (docs/DECISIONS.md #65): a component that uses the async ABI (here
/// `waitable-set.new`, beside a wasi:http handler export) is refused when it
/// is prepared, with wasmparser's reason, by the baseline compiler and by the
/// optimising one alike.
#[tokio::test]
async fn a_component_using_the_async_abi_is_refused() {
    let wasm = wat::parse_str(
        r#"(component
            (core module $m (func (export "handle")))
            (core instance $i (instantiate $m))
            (core func $set (canon waitable-set.new))
            (func $handle (canon lift (core func $i "handle")))
            (instance $handler (export "handle" (func $handle)))
            (export "wasi:http/incoming-handler@0.2.0" (instance $handler)))"#,
    )
    .expect("WAT");
    assert!(runtime::Runtime::validate(&wasm).is_ok());
    for baseline_compiler in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = runtime_in(dir.path(), baseline_compiler)
            .prepare(&wasm, &sha256_hex(&wasm))
            .await
            .err()
            .expect("the async ABI must be refused");
        assert!(
            matches!(error, runtime::ValidationError::Invalid { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("async"), "{error}");
    }
}
