//! Prints the runtime's key numbers: the optimising compile, the baseline
//! compile (and when its optimised code took over) and the cached load of a
//! function, and per-call latency of `hello`.
//!
//! ```sh
//! functions/build.sh
//! cargo run --release -p runtime --example measure [-- functions-dir]
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;
use runtime::{empty_body, Runtime, RuntimeConfig, SandboxConfig};
use sha2::{Digest, Sha256};

/// Sequential calls measured for latency percentiles.
const CALLS: usize = 500;
/// Calls before measuring (warm pool slots, caches).
const WARMUP: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions"));
    let cache = tempfile::tempdir()?;
    let config = || RuntimeConfig {
        cache_dir: cache.path().to_path_buf(),
        ..RuntimeConfig::default()
    };

    for name in ["hello", "python-hello"] {
        let wasm = std::fs::read(dir.join(format!("{name}.wasm")))?;
        let sha = hex::encode(Sha256::digest(&wasm));
        // Optimised code before going live, on a cache of its own.
        let direct_cache = tempfile::tempdir()?;
        let direct = Runtime::new(RuntimeConfig {
            cache_dir: direct_cache.path().to_path_buf(),
            baseline_compiler: false,
            ..RuntimeConfig::default()
        })?;
        let started = Instant::now();
        direct.prepare(&wasm, &sha).await?;
        let compile = started.elapsed();
        drop(direct);
        // As shipped: baseline code first, optimised code in the background.
        let tiered = Runtime::new(config())?;
        let started = Instant::now();
        let prepared = tiered.prepare(&wasm, &sha).await?;
        let baseline = started.elapsed();
        let tier = prepared.settled().await;
        let optimised_after = started.elapsed();
        drop(prepared);
        let warm = Runtime::new(config())?;
        let started = Instant::now();
        let prepared = warm.prepare(&wasm, &sha).await?;
        let load = started.elapsed();
        assert!(prepared.from_cache());
        println!(
            "{name:>13}: {:>6.1} MB  optimising compile {compile:>10.2?}  baseline compile \
             {baseline:>10.2?} ({tier} after {optimised_after:.2?})  cached load {load:>9.2?}",
            wasm.len() as f64 / 1e6
        );
    }

    let runtime = Runtime::new(config())?;
    for name in ["hello", "python-hello"] {
        let wasm = std::fs::read(dir.join(format!("{name}.wasm")))?;
        let function = runtime
            .prepare(&wasm, &hex::encode(Sha256::digest(&wasm)))
            .await?;
        let call = || async {
            let request = http::Request::get("/")
                .header("host", "x")
                .body(empty_body())?;
            let invocation = function.invoke(request, SandboxConfig::default()).await;
            let body = invocation
                .response?
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            let report = invocation.report.await;
            assert!(!report.outcome.is_error());
            Ok::<_, Box<dyn std::error::Error>>((body.to_bytes().len(), report))
        };
        for _ in 0..WARMUP {
            call().await?;
        }
        let mut times = Vec::with_capacity(CALLS);
        let mut peak = 0;
        for _ in 0..CALLS {
            let started = Instant::now();
            let (_, report) = call().await?;
            times.push(started.elapsed());
            peak = report.peak_memory_bytes;
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / CALLS as u32;
        println!(
            "{name:>13}: per call mean {mean:.2?}  p50 {:.2?}  p99 {:.2?}  peak memory {:.1} MiB",
            times[CALLS / 2],
            times[CALLS * 99 / 100],
            peak as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(())
}
