//! What a call's tape costs in the runtime alone, without HTTP, a database
//! or the platform around it: `hello` called in-process with the tape off
//! and with `capture = failures` (record, keep the response by its status
//! only), in pairs of adjacent blocks, the order flipping from pair to
//! pair, plus an A/A pair (off against off) for the noise floor. The cost
//! is the median of the pairs' own ratios of CPU time per call (the
//! process's user + system time over the block), quartiles beside it.
//!
//! ```sh
//! functions/build.sh
//! cargo run --release -p runtime --example tape_cost [-- pairs calls-per-block]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use http_body_util::BodyExt as _;
use runtime::{empty_body, Runtime, RuntimeConfig, SandboxConfig, TapeMode, WarmPool};
use sha2::{Digest, Sha256};

/// Calls in flight at once in a block (as a gateway under load has).
const IN_FLIGHT: usize = 4;

#[allow(unsafe_code)]
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let pairs: usize = args.next().map_or(Ok(30), |a| a.parse())?;
    let calls: usize = args.next().map_or(Ok(4000), |a| a.parse())?;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: cache.path().to_path_buf(),
        ..RuntimeConfig::default()
    })?;
    let wasm = std::fs::read(dir.join("hello.wasm"))?;
    let function = runtime
        .prepare(&wasm, &hex::encode(Sha256::digest(&wasm)))
        .await?;
    function.settled().await;
    // As the gateway calls it: through the function's warm pool.
    let function = WarmPool::new(function, SandboxConfig::default());

    let block = |tape: TapeMode| {
        let function = function.clone();
        async move {
            let cpu = cpu_seconds();
            let wall = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for worker in 0..IN_FLIGHT {
                let function = function.clone();
                let tape = tape.clone();
                tasks.spawn(async move {
                    for _ in (worker..calls).step_by(IN_FLIGHT) {
                        let request = http::Request::get("/fn/hello/?name=tape")
                            .header("host", "localhost:8080")
                            .header("user-agent", "tape-cost/1")
                            .header("accept", "*/*")
                            .body(empty_body())
                            .expect("a valid request");
                        let sandbox = SandboxConfig {
                            tape: tape.clone(),
                            ..SandboxConfig::default()
                        };
                        let invocation = function.invoke(request, sandbox).await;
                        let body = invocation.response.expect("hello answers");
                        body.into_body().collect().await.expect("a body");
                        let report = invocation.report.await;
                        assert!(!report.outcome.is_error());
                    }
                });
            }
            while let Some(joined) = tasks.join_next().await {
                joined.expect("a worker");
            }
            let per_call = (cpu_seconds() - cpu) / calls as f64;
            (per_call, wall.elapsed().as_secs_f64() / calls as f64)
        }
    };
    let failures = TapeMode::Record {
        max_body_bytes: 1 << 20,
        failures_only: true,
    };
    // `TAPE_COST_ONLY=off|failures`: run that setting alone, `pairs` blocks
    // (for a profiler).
    if let Ok(only) = std::env::var("TAPE_COST_ONLY") {
        let mode = if only == "off" {
            TapeMode::Off
        } else {
            failures.clone()
        };
        for _ in 0..pairs {
            block(mode.clone()).await;
        }
        return Ok(());
    }
    // Warm-up: pool slots, allocator, caches.
    block(TapeMode::Off).await;
    block(failures.clone()).await;

    for (name, mode) in [("off-again (A/A)", TapeMode::Off), ("failures", failures)] {
        let mut cpu_ratios = Vec::new();
        let mut wall_ratios = Vec::new();
        let (mut cpu_on, mut cpu_off) = (0.0, 0.0);
        for pair in 0..pairs {
            let (on, off) = if pair % 2 == 0 {
                let on = block(mode.clone()).await;
                (on, block(TapeMode::Off).await)
            } else {
                let off = block(TapeMode::Off).await;
                (block(mode.clone()).await, off)
            };
            cpu_ratios.push(on.0 / off.0 - 1.0);
            wall_ratios.push(on.1 / off.1 - 1.0);
            cpu_on += on.0;
            cpu_off += off.0;
        }
        let (c1, c2, c3) = quartiles(cpu_ratios);
        let (w1, w2, w3) = quartiles(wall_ratios);
        println!(
            "{name:>16}: CPU/call {:.2} µs vs off {:.2} µs: {:+.2} % ({:+.2} … {:+.2} %); \
             wall/call {:+.2} % ({:+.2} … {:+.2} %)",
            cpu_on / pairs as f64 * 1e6,
            cpu_off / pairs as f64 * 1e6,
            c2 * 100.0,
            c1 * 100.0,
            c3 * 100.0,
            w2 * 100.0,
            w1 * 100.0,
            w3 * 100.0,
        );
    }
    Ok(())
}
