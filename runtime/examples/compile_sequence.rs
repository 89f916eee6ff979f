//! Times the baseline compile (the code an upload goes live on) of distinct
//! copies of one component in a row, in one fresh process: the first
//! compile of a process against the ones after it (docs/BENCHMARKS.md,
//! "hello's first upload"). Each copy differs by a custom section, so none
//! is cached; each waits for its background optimisation before the next.
//!
//! ```sh
//! functions/build.sh --no-python
//! cargo run --release -p runtime --example compile_sequence -- functions/hello.wasm 12
//! ```
//!
//! `WISP_NO_COMPILER_WARM_UP=1` leaves out the start-up warm-up compile;
//! `WAIT_MS` (default 1000) is the pause between the start and the first copy;
//! `SETTLE=0` prints each baseline compile without waiting for its
//! optimised code (the process then exits with it unfinished: for counting
//! the baseline compile alone, e.g. under callgrind, where the compile
//! budget is lifted to an hour).

use std::time::{Duration, Instant};

use runtime::{Runtime, RuntimeConfig};
use sha2::{Digest, Sha256};

/// The server's allocator (server/src/main.rs), so a compile here touches
/// memory as the server's does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "functions/hello.wasm".into());
    let copies: u8 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(12);
    let wait = std::env::var("WAIT_MS")
        .ok()
        .map(|ms| ms.parse())
        .transpose()?
        .unwrap_or(1000);
    let settle = std::env::var("SETTLE").as_deref() != Ok("0");
    let original = std::fs::read(&path)?;
    let cache = tempfile::tempdir()?;
    let defaults = RuntimeConfig::default();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: cache.path().to_path_buf(),
        warm_up_compilers: std::env::var_os("WISP_NO_COMPILER_WARM_UP").is_none(),
        compile_budget: if settle {
            defaults.compile_budget
        } else {
            Duration::from_secs(3600)
        },
        ..defaults
    })?;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let mut kept = Vec::new();
    for copy in 0..copies {
        // A custom section (id 0): size 3, name length 2, name "c" + copy.
        let mut wasm = original.clone();
        wasm.extend_from_slice(&[0, 3, 2, b'c', copy]);
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let started = Instant::now();
        let prepared = runtime.prepare(&wasm, &sha256).await?;
        let compiled = started.elapsed();
        let compiled_ms = compiled.as_secs_f64() * 1000.0;
        if settle {
            let tier = prepared.settled().await;
            println!(
                "copy {copy:>2}: baseline compile {compiled_ms:>6.1} ms ({tier} after {:.0} ms)",
                started.elapsed().as_secs_f64() * 1000.0
            );
        } else {
            println!("copy {copy:>2}: baseline compile {compiled_ms:>6.1} ms");
        }
        // Kept, so no copy's code is freed while the next one compiles.
        kept.push(prepared);
    }
    Ok(())
}
