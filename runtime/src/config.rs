//! Settings: [`RuntimeConfig`] (once per process: where artifacts live, how big
//! the instance pool is) and [`SandboxConfig`] (once per call: the limits and
//! capabilities one invocation gets). Plain data; no behaviour lives here.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::capture::LogWatcher;
use crate::outbound::OutboundInterceptor;
use crate::tape::TapeMode;
use crate::Cancellation;

/// 1 MiB, the unit most limits are written in.
const MIB: u64 = 1024 * 1024;

/// Process-wide runtime settings, fixed when the [`crate::Runtime`] is built.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Compiled artifacts live here; created if missing.
    pub cache_dir: PathBuf,
    /// Pooling allocator capacity: how many sandboxes can run at once.
    pub max_instances: u32,
    /// Largest per-function memory limit allowed (the size of one pool slot).
    pub max_memory_bytes: u64,
    /// Longest one compilation may take: past it, `prepare` gives up with
    /// [`crate::ValidationError::CompileBudget`]. The compiler cannot be
    /// stopped mid-function, so the abandoned compilation finishes in the
    /// background, still holding its compile slot.
    pub compile_budget: Duration,
    /// Compilations that run at once; more wait for a slot (waiting does not
    /// count against the budget).
    pub max_concurrent_compiles: usize,
    /// Show the source file and line of each frame of a trap when the
    /// module carries DWARF debug info (a debug build). Off by default: a
    /// trap then costs wasmtime a DWARF parse per frame (tens of ms, more
    /// for large debug info: docs/DECISIONS.md #49); successful calls are
    /// unaffected. Compiled artifacts are kept apart per setting.
    pub backtrace_details: bool,
    /// Let a new function go live on baseline (Winch) code while its
    /// optimised (Cranelift) code compiles in the background, instead of
    /// waiting for the optimised code (docs/DECISIONS.md #59). On by
    /// default; without effect where Winch cannot run.
    pub baseline_compiler: bool,
    /// Compile a tiny component on each engine when the runtime starts (on
    /// a thread of its own), so that the first upload does not pay for the
    /// compilers' one-time set-up. Off by default (tests build many
    /// runtimes); the server turns it on.
    pub warm_up_compilers: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            // Callers normally put this under their data directory; the
            // default only has to be somewhere writable.
            cache_dir: std::env::temp_dir().join("wisp-artifacts"),
            // wasmtime's own pooling default, and what `wasmtime serve` uses.
            max_instances: 1000,
            // 4 GiB: the whole 32-bit wasm address space.
            max_memory_bytes: 4 * 1024 * MIB,
            // An 18 MB Python component compiles in ~10 s on 2 cores; a
            // compile bomb can take minutes.
            compile_budget: Duration::from_secs(60),
            // Half the cores (at least one): compiles use several cores each
            // (parallel compilation), and calls need the rest.
            max_concurrent_compiles: std::thread::available_parallelism()
                .map_or(1, |n| n.get() / 2)
                .max(1),
            backtrace_details: false,
            baseline_compiler: true,
            warm_up_compilers: false,
        }
    }
}

/// Limits and capabilities of one invocation.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Total linear memory the guest may use (all of its memories together).
    /// Clamped to [`RuntimeConfig::max_memory_bytes`].
    pub memory_limit_bytes: u64,
    /// Wall-clock limit for the guest run, enforced by epoch interruption
    /// (CPU-bound code) and by a host timer (guests waiting on I/O).
    pub timeout: Duration,
    /// Largest request body the guest may read.
    pub max_request_body: u64,
    /// Largest response body the guest may send.
    pub max_response_body: u64,
    /// Captured log size (component stdout + stderr, module stderr); output
    /// beyond this is dropped and a marker line is appended.
    pub max_log_bytes: usize,
    /// Environment variables visible to the guest (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Outbound wasi:http allow-list: an exact host (`api.example.com`,
    /// optionally with `:port`), `*.suffix` for any subdomain, or `*` for any
    /// host. Empty = deny everything (the guest gets `HTTP-request-denied`).
    pub allowed_hosts: Vec<String>,
    /// Allow outbound requests to loopback, private, link-local and other
    /// non-public addresses. Off by default; an administrator's switch.
    pub allow_private_destinations: bool,
    /// Outbound requests one invocation may make (to the network and to the
    /// in-process `*.wisp` hosts alike); later ones fail with an error and a
    /// note in the invocation's logs.
    pub max_outbound_calls: u32,
    /// In-process handler consulted before the allow-list for every outbound
    /// request (function-to-function calls, events, kv on `*.wisp` hosts).
    pub interceptor: Option<Arc<dyn OutboundInterceptor>>,
    /// Stops the guest when it fires (the call it belongs to has ended):
    /// the invocation then ends with [`crate::Outcome::Cancelled`].
    /// Components only; a WAGI module runs to its own end or deadline.
    pub cancel: Option<Cancellation>,
    /// Sees the call's log output as it is written (live logs).
    pub log_watcher: Option<Arc<dyn LogWatcher>>,
    /// Record the call for replay, or replay a recording (components only;
    /// see [`crate::TapeMode`]).
    pub tape: TapeMode,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            // 128 MiB, the platform's default per function (`model::DEFAULT_MEMORY_MB`,
            // README "Limits and defaults"), so a sandbox without a function's
            // settings is limited like a newly deployed function.
            memory_limit_bytes: 128 * MIB,
            // 30 s, the platform's default per function (`model::DEFAULT_TIMEOUT_MS`,
            // README "Limits and defaults"), for the same reason.
            timeout: Duration::from_secs(30),
            // 10 MiB, a common API-gateway request limit.
            max_request_body: 10 * MIB,
            // 64 MiB: generous for downloads, bounded for the host.
            max_response_body: 64 * MIB,
            // 64 KiB of logs per call is plenty to debug, cheap to store.
            max_log_bytes: 64 * 1024,
            env: Vec::new(),
            allowed_hosts: Vec::new(),
            allow_private_destinations: false,
            // Cloudflare Workers allow 50 subrequests (free) to 1000 (paid).
            max_outbound_calls: 100,
            interceptor: None,
            cancel: None,
            log_watcher: None,
            tape: TapeMode::Off,
        }
    }
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values may be secrets: show the names only.
        let env_names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("SandboxConfig")
            .field("memory_limit_bytes", &self.memory_limit_bytes)
            .field("timeout", &self.timeout)
            .field("max_request_body", &self.max_request_body)
            .field("max_response_body", &self.max_response_body)
            .field("max_log_bytes", &self.max_log_bytes)
            .field("env", &env_names)
            .field("allowed_hosts", &self.allowed_hosts)
            .field(
                "allow_private_destinations",
                &self.allow_private_destinations,
            )
            .field("max_outbound_calls", &self.max_outbound_calls)
            .field("interceptor", &self.interceptor.as_ref().map(|_| ".."))
            .field("cancel", &self.cancel)
            .field("log_watcher", &self.log_watcher.as_ref().map(|_| ".."))
            .field("tape", &self.tape)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_env_values() {
        let config = SandboxConfig {
            env: vec![("API_KEY".into(), "s3cr3t".into())],
            ..SandboxConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("API_KEY"));
        assert!(!shown.contains("s3cr3t"));
    }
}
