//! The compiled-artifact cache across runtime restarts.

mod common;

use common::*;
use runtime::{CacheStats, Runtime, RuntimeConfig, SandboxConfig};

fn runtime_in(dir: &std::path::Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: dir.to_path_buf(),
        // Small pools: these tests run several runtimes side by side.
        max_instances: 8,
        // The optimised artifact is what is cached: compile it before going
        // live (baseline code first is tests/tiers.rs).
        baseline_compiler: false,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

#[tokio::test]
async fn a_restarted_runtime_loads_instead_of_compiling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = wasm("hello");
    let sha = sha256_hex(&wasm);

    let first = runtime_in(dir.path());
    let compiled = first.prepare(&wasm, &sha).await.expect("prepare");
    assert!(!compiled.from_cache());
    assert_eq!(
        first.cache_stats(),
        CacheStats {
            hits: 0,
            compiles: 1,
            baseline_compiles: 0,
        }
    );
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // The artifact and, beside it, the checksum verified before it loads.
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].starts_with(&format!("{sha}-")));
    assert!(files[0].ends_with(".cwasm"), "{files:?}");
    assert_eq!(files[1], format!("{}.sha256", files[0]), "{files:?}");
    drop(compiled);
    drop(first);

    let second = runtime_in(dir.path());
    let loaded = second.prepare(&wasm, &sha).await.expect("prepare");
    assert!(loaded.from_cache());
    assert_eq!(
        second.cache_stats(),
        CacheStats {
            hits: 1,
            compiles: 0,
            baseline_compiles: 0,
        }
    );

    // The loaded artifact really runs.
    let answer = answer(loaded.invoke(get("/"), SandboxConfig::default()).await).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "Hello from Wisp!\n");
}

#[tokio::test]
async fn a_corrupt_artifact_is_recompiled_and_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = wat::parse_str(r#"(module (func (export "_start")))"#).expect("WAT");
    let sha = sha256_hex(&wasm);

    let first = runtime_in(dir.path());
    first.prepare(&wasm, &sha).await.expect("prepare");
    let artifact = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .next()
        .expect("one artifact")
        .expect("entry")
        .path();
    std::fs::write(&artifact, b"not an artifact").expect("corrupt it");

    let second = runtime_in(dir.path());
    let prepared = second.prepare(&wasm, &sha).await.expect("prepare");
    assert!(!prepared.from_cache());
    assert_eq!(
        second.cache_stats(),
        CacheStats {
            hits: 0,
            compiles: 1,
            baseline_compiles: 0,
        }
    );
    assert_ne!(
        std::fs::read(&artifact).expect("artifact"),
        b"not an artifact"
    );

    let third = runtime_in(dir.path());
    assert!(third
        .prepare(&wasm, &sha)
        .await
        .expect("prepare")
        .from_cache());
}

#[tokio::test]
async fn validation_errors_surface_from_prepare() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = runtime_in(dir.path());
    let error = runtime.prepare(b"", "").await.err().expect("empty file");
    assert_eq!(error, runtime::ValidationError::Empty);
    let component = wat::parse_str("(component)").expect("WAT");
    let error = runtime
        .prepare(&component, &sha256_hex(&component))
        .await
        .err()
        .expect("no handler");
    assert!(matches!(
        error,
        runtime::ValidationError::MissingHttpExport { .. }
    ));
    assert_eq!(runtime.cache_stats(), CacheStats::default());
}

#[test]
fn the_default_configuration_pools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: dir.path().join("nested/artifacts"),
        ..RuntimeConfig::default()
    })
    .expect("the default pool (1000 × 4 GiB slots) fits in the address space");
    assert!(runtime.is_pooling());
    assert!(dir.path().join("nested/artifacts").is_dir());
}
