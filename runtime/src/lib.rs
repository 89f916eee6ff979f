//! Wisp's WebAssembly runtime: everything that touches wasmtime, and nothing else.
//!
//! This crate owns the engine policy (pooling allocator, epoch interruption,
//! compilation settings), the on-disk cache of compiled artifacts, one
//! `InstancePre` per prepared function, and the per-call sandbox: a fresh
//! store with memory limits, a deadline, captured logs and an outbound-HTTP
//! policy. It knows nothing of HTTP servers, databases or JSON error formats:
//! callers hand it an `http::Request` and get back an `http::Response` plus an
//! [`InvocationReport`] to meter and record.
//!
//! ```no_run
//! # async fn demo(wasm: &[u8], sha: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use runtime::{Runtime, RuntimeConfig, SandboxConfig};
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let function = runtime.prepare(wasm, sha).await?;
//! let request = http::Request::get("http://localhost/hello")
//!     .body(runtime::empty_body())?;
//! let invocation = function.invoke(request, SandboxConfig::default()).await;
//! let response = invocation.response?; // stream its body to the client
//! drop(response);
//! let report = invocation.report.await; // duration, memory, logs, outcome
//! # let _ = report; Ok(()) }
//! ```
//!
//! Module map: [`engine`] (engine settings, epoch ticker), `runtime`
//! ([`Runtime`]), `cache` (compiled artifacts on disk), [`validate`]
//! (structural checks), `prepared` ([`PreparedFunction`]), `component`
//! (wasi:http components), `module` + `cgi` (WAGI/CGI command modules),
//! `limits` (memory limiter, deadlines, trap classification), `capture`
//! (stdout/stderr capture), [`Cancellation`] (of running calls: tokio-util's
//! token tree),
//! `body` (metered request/response bodies),
//! `outbound` (outgoing wasi:http policy), `report` (outcomes and reports),
//! `config` (runtime and sandbox settings), `stats` (instantiation time
//! histogram), `warm` ([`WarmPool`]: sandboxes instantiated ahead of their
//! calls), `background` (the lower-priority pool background optimisation
//! compiles on), `tape` (a call's clocks, random bytes and outbound requests,
//! recorded and replayed: [`TapeMode`]).

mod background;
mod body;
mod cache;
mod capture;
mod cgi;
mod component;
mod config;
pub mod engine;
mod limits;
mod module;
mod outbound;
mod prepared;
mod report;
mod runtime;
mod stats;
mod tape;
pub mod validate;
mod warm;

pub use background::set_thread_nice;
pub use body::{drain_on_drop, ResponseBody};
pub use cache::CacheStats;
pub use capture::LogWatcher;
pub use config::{RuntimeConfig, SandboxConfig};
pub use outbound::{
    host_is_allowed, is_public, post_json, InterceptedResponse, Interception, ObservedCall,
    OutboundError, OutboundInterceptor,
};
pub use prepared::{CodeTier, PreparedFunction};
pub use report::{Invocation, InvocationReport, InvokeError, Outcome};
pub use runtime::{Runtime, RuntimeError, MAX_PENDING_OPTIMIZATIONS};
pub use stats::InstantiationStats;
pub use tape::{
    CallLine, Divergence, PlaybackPlan, PlaybackReport, RawRecording, RecordedCall,
    RecordedMessage, Recording, TapeMode,
};
/// Cancellation of running calls: a token given to a sandbox
/// (`SandboxConfig::cancel`) stops its guest when it fires; cancelling a
/// token cancels every token made from it with `child_token`.
pub use tokio_util::sync::CancellationToken as Cancellation;
pub use validate::{FunctionKind, UnknownFunctionKind, ValidationError};
pub use warm::{WarmPool, MAX_SPARES, SPARES_PER_FUNCTION, SPARE_IDLE};

/// Any error that can cross a body boundary.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed, streaming HTTP body: the request body handed to a guest, and the
/// body type used by an [`OutboundInterceptor`] in both directions.
pub type BoxBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;

/// The request body passed to [`PreparedFunction::invoke`].
pub type RequestBody = BoxBody;

/// An empty [`RequestBody`] (for GET requests, tests, cron ticks without payload).
pub fn empty_body() -> RequestBody {
    full_body(bytes::Bytes::new())
}

/// A [`RequestBody`] holding `bytes` in full.
pub fn full_body(bytes: impl Into<bytes::Bytes>) -> RequestBody {
    use http_body_util::BodyExt as _;
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}

    #[test]
    fn handles_cross_threads() {
        send_sync::<Runtime>();
        send_sync::<PreparedFunction>();
        send_sync::<SandboxConfig>();
        send::<Invocation>();
        send::<ResponseBody>();
        send::<InvocationReport>();
        fn body<B: http_body::Body<Data = bytes::Bytes, Error = BoxError> + Unpin>() {}
        body::<ResponseBody>();
    }
}
