//! Invoking a wasi:http component: the per-call store state
//! ([`ComponentHost`]), the linker (WASI 0.2 + wasi:http), and the request
//! flow of `wasmtime serve` — incoming-request and response-outparam
//! resources, the guest on its own task, the response head from the outparam
//! channel — under the sandbox's limits.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures::future::{BoxFuture, FutureExt as _, Shared};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::Store;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::body::{
    declared_length, from_wasi_body, record_unread, MeteredRequestBody, RequestMeter, ResponseBody,
    RestRule, UnreadBody,
};
use crate::capture::{Capture, Overflow};
use crate::config::SandboxConfig;
use crate::limits::{classify, set_deadline, MemoryLimiter, MemoryMeter};
use crate::outbound::OutboundPolicy;
use crate::report::{
    final_outcome, GuestExit, Head, Invocation, InvocationReport, InvokeError, Outcome,
};
use crate::stats::Histogram;
use crate::tape::{Tape, TapedMonotonicClock, TapedRng, TapedWallClock};
use crate::RequestBody;

/// Extra time the host timer gives a guest beyond its timeout, so that
/// CPU-bound guests are stopped by the epoch deadline (precise, with a wasm
/// backtrace) and the timer only catches guests blocked in host I/O.
pub(crate) const HOST_TIMER_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// Host used when a request names none (wasi:http requires an authority).
const FALLBACK_AUTHORITY: &str = "localhost";

/// Store data of one component invocation.
pub(crate) struct ComponentHost {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundPolicy,
    limiter: MemoryLimiter,
}

impl WasiView for ComponentHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The linker components are instantiated against: all of WASI 0.2 (what
/// real toolchains import — Rust std and CPython import wasi:filesystem and
/// wasi:sockets even when unused) plus wasi:http. Capabilities are then
/// withheld per store: no preopens, no sockets, no inherited environment.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<ComponentHost>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// A WASI context with nothing but `env` and the log capture.
pub(crate) fn wasi_builder(env: &[(String, String)], logs: &Capture) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .envs(env)
        .stderr(logs.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    builder
}

/// Puts `tape` between the sandbox and its clocks and random generators.
fn taped(builder: &mut WasiCtxBuilder, tape: &Tape) {
    builder
        .wall_clock(TapedWallClock(tape.clone()))
        .monotonic_clock(TapedMonotonicClock {
            tape: tape.clone(),
            clock: wasmtime_wasi::clocks::MonotonicClock::new(),
        })
        .secure_random(TapedRng::new(tape.clone(), false))
        .insecure_random(TapedRng::new(tape.clone(), true))
        .insecure_random_seed(tape.insecure_seed());
}

/// One call's sandbox: a fresh store (WASI context with the function's
/// environment and the log capture, memory limiter, outbound policy) and,
/// once instantiated, the component's instance in it. Used for exactly one
/// call, then dropped; [`crate::warm`] may instantiate it ahead of the call.
pub(crate) struct Sandbox {
    store: Store<ComponentHost>,
    logs: Capture,
    memory: Arc<MemoryMeter>,
    tape: Tape,
    proxy: Option<Proxy>,
}

impl Sandbox {
    /// A fresh, not yet instantiated store configured by `sandbox`.
    pub(crate) fn new(
        engine: &wasmtime::Engine,
        sandbox: &SandboxConfig,
        memory_limit: u64,
    ) -> Self {
        let logs = Capture::new(sandbox.max_log_bytes, Overflow::Truncate);
        logs.watch(sandbox.log_watcher.clone());
        let memory = Arc::new(MemoryMeter::default());
        let tape = Tape::new(&sandbox.tape);
        let mut wasi = wasi_builder(&sandbox.env, &logs);
        wasi.stdout(logs.clone());
        taped(&mut wasi, &tape);
        let host = ComponentHost {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            outbound: outbound_policy(sandbox, &logs, &tape),
            limiter: MemoryLimiter::new(memory_limit, memory.clone()),
        };
        let mut store = Store::new(engine, host);
        store.limiter(|host| &mut host.limiter);
        Sandbox {
            store,
            logs,
            memory,
            tape,
            proxy: None,
        }
    }

    /// Instantiates the component in this store (its start-up code runs
    /// here, under the deadline already set on the store).
    pub(crate) async fn instantiate(
        &mut self,
        pre: &ProxyPre<ComponentHost>,
        instantiation: &Histogram,
    ) -> wasmtime::Result<()> {
        let instantiating = Instant::now();
        let proxy = pre.instantiate_async(&mut self.store).await?;
        instantiation.record(instantiating.elapsed());
        self.proxy = Some(proxy);
        Ok(())
    }

    /// Bounds the guest code run from now on (start-up or call) to `timeout`.
    pub(crate) fn set_timeout(&mut self, timeout: std::time::Duration) {
        set_deadline(&mut self.store, Instant::now() + timeout);
    }
}

/// The outbound-HTTP policy of one call; its refusals are noted in `logs`.
fn outbound_policy(sandbox: &SandboxConfig, logs: &Capture, tape: &Tape) -> OutboundPolicy {
    OutboundPolicy::new(
        &sandbox.allowed_hosts,
        sandbox.allow_private_destinations,
        sandbox.interceptor.clone(),
    )
    .with_call_limit(sandbox.max_outbound_calls)
    .with_notes(logs.clone())
    .with_tape(tape.clone())
}

/// Runs one request through the component, in `ready` (a sandbox
/// instantiated ahead of the call for this function and these settings) or
/// else in a sandbox made and instantiated now.
pub(crate) async fn invoke(
    pre: &ProxyPre<ComponentHost>,
    request: http::Request<RequestBody>,
    sandbox: SandboxConfig,
    memory_limit: u64,
    instantiation: Arc<Histogram>,
    ready: Option<Sandbox>,
) -> Invocation {
    let started_at = SystemTime::now();
    if declared_length(request.headers()).is_some_and(|len| len > sandbox.max_request_body) {
        return Invocation::rejected(Outcome::RequestTooLarge, started_at, 0);
    }

    let request_meter = Arc::new(RequestMeter::default());
    let head_request = request.method() == http::Method::HEAD;
    let mut guest_sandbox = match ready {
        Some(mut ready) => {
            // The call's own outbound policy (its interceptor knows this
            // invocation's id and depth).
            ready.store.data_mut().outbound = outbound_policy(&sandbox, &ready.logs, &ready.tape);
            ready.logs.watch(sandbox.log_watcher.clone());
            ready
        }
        None => Sandbox::new(pre.engine(), &sandbox, memory_limit),
    };
    let logs = guest_sandbox.logs.clone();
    let memory = guest_sandbox.memory.clone();
    // What start-up read is kept when the call records, forgotten if not.
    let tape = guest_sandbox.tape.clone();
    tape.begin(&sandbox.tape);

    let request = with_authority(request);
    // A recorded call's request body is teed as the guest reads it.
    let request_tee = tape
        .records()
        .then(|| tape.request(&request))
        .flatten()
        .map(|sink| (sink, UnreadBody::default()));
    let unread_request = request_tee.clone();
    let request = request.map(|body| {
        MeteredRequestBody::new(
            body,
            sandbox.max_request_body,
            request_meter.clone(),
            request_tee,
        )
    });
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let resources = (|| -> wasmtime::Result<_> {
        let mut http = guest_sandbox.store.data_mut().http();
        let request = http.new_incoming_request(Scheme::Http, request)?;
        let outparam = http.new_response_outparam(sender)?;
        Ok((request, outparam))
    })();
    let (guest_request, outparam) = match resources {
        Ok(resources) => resources,
        Err(error) => {
            let outcome = Outcome::Trap {
                message: format!("the request could not be handed to the function: {error:#}"),
            };
            return Invocation::rejected(outcome, started_at, 0);
        }
    };

    let start = Instant::now();
    guest_sandbox.set_timeout(sandbox.timeout);

    let pre = pre.clone();
    let guest_memory = memory.clone();
    let timeout = sandbox.timeout;
    let cancel = sandbox.cancel.clone();
    // Boxed before it is spawned: tokio moves a future it is handed by value
    // through several calls into the task's cell, and writes a whole stage
    // of its size again when the task ends (it boxes only futures over
    // 16 KiB itself); a box moves as a pointer (docs/DECISIONS.md #70).
    let task = tokio::spawn(Box::pin(async move {
        let mut guest = guest_sandbox;
        let run = async {
            if guest.proxy.is_none() {
                guest.instantiate(&pre, &instantiation).await?;
            }
            let proxy = guest.proxy.take().expect("instantiated above");
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut guest.store, guest_request, outparam)
                .await
        };
        let bounded = tokio::time::timeout(timeout + HOST_TIMER_GRACE, run);
        // A cancelled call stops here: its future (and with it the guest's
        // pending host calls, such as the calls it is waiting on) is dropped.
        let result = match cancel {
            Some(cancel) => tokio::select! {
                result = bounded => Some(result),
                _ = cancel.cancelled() => None,
            },
            None => Some(bounded.await),
        };
        // Free the pool slot before anyone looks at the result.
        drop(guest);
        let outcome = match result {
            None => Outcome::Cancelled,
            Some(Err(_elapsed)) => Outcome::Timeout,
            Some(Ok(Ok(()))) => Outcome::Success,
            Some(Ok(Err(error))) => {
                let outcome = classify(&error, &guest_memory);
                tracing::debug!(code = outcome.code(), "component guest failed: {error:?}");
                outcome
            }
        };
        GuestExit {
            outcome,
            finished_at: Instant::now(),
        }
    }));
    let guest: Shared<BoxFuture<'static, GuestExit>> = task
        .map(|joined| {
            joined.unwrap_or_else(|panic| GuestExit {
                outcome: Outcome::Trap {
                    message: format!("the host task running the function failed: {panic}"),
                },
                finished_at: Instant::now(),
            })
        })
        .boxed()
        .shared();

    let max_response_body = sandbox.max_response_body;
    // A response still streaming at the deadline (a slow or stalled reader)
    // is cut there, so that the call's slots are not held past its timeout.
    let body_deadline = start + sandbox.timeout + HOST_TIMER_GRACE;
    let (response, head, body_end) = match receiver.await {
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            let response = response.map(from_wasi_body);
            let response_tee = if tape.records() {
                tape.response(&response)
            } else {
                None
            };
            let (parts, body) = response.into_parts();
            let rest_rule = RestRule::of(head_request, status, &parts.headers);
            let (body, end) = ResponseBody::new(body, max_response_body, response_tee, rest_rule);
            (
                Ok(http::Response::from_parts(parts, body)),
                Head::Sent(status),
                Some(end),
            )
        }
        Ok(Err(code)) => {
            let head = Head::GuestError(format!("{code:?}"));
            let exit = guest.clone().await;
            let outcome = final_outcome(request_meter.too_large(), &exit.outcome, &head, None);
            (Err(InvokeError { outcome }), head, None)
        }
        // The guest finished (or died) without setting a response.
        Err(_) => {
            let exit = guest.clone().await;
            let outcome = final_outcome(
                request_meter.too_large(),
                &exit.outcome,
                &Head::Missing,
                None,
            );
            (Err(InvokeError { outcome }), Head::Missing, None)
        }
    };

    let report = async move {
        let (mut end, cut, rest) = match body_end {
            Some(watch) => {
                let watched = watch.until(body_deadline).await;
                (Some(watched.end), watched.cut, watched.rest)
            }
            None => (None, false, None),
        };
        // A rest nobody reads is drained while the guest finishes it (its
        // end, or the guest's own, ends the drain); past the response limit
        // the call is over it, read or not.
        let exit = match rest {
            Some(rest) => {
                let (exit, over_limit) = tokio::join!(guest, rest.drain());
                if let Some(end) = end.as_mut().filter(|_| over_limit) {
                    end.too_large = true;
                }
                exit
            }
            None => guest.await,
        };
        let finished = end
            .as_ref()
            .map_or(exit.finished_at, |e| e.at.max(exit.finished_at));
        let status_code = match head {
            Head::Sent(status) => Some(status),
            _ => None,
        };
        let outcome = match final_outcome(
            request_meter.too_large(),
            &exit.outcome,
            &head,
            end.as_ref(),
        ) {
            Outcome::Success if cut => Outcome::Timeout,
            outcome => outcome,
        };
        // A kept recording holds the request body the guest left unread.
        if let Some((sink, unread)) = unread_request {
            let rest = unread.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(rest) = rest.filter(|_| tape.keeps(outcome.failed_with(status_code))) {
                record_unread(rest, &sink, body_deadline).await;
            }
        }
        let (logs, logs_truncated) = logs.take_logs();
        let (recording, playback) = tape.finish();
        InvocationReport {
            started_at,
            duration: finished.saturating_duration_since(start),
            peak_memory_bytes: memory.peak(),
            bytes_in: request_meter.bytes_in(),
            bytes_out: end.as_ref().map_or(0, |e| e.bytes_out),
            status_code,
            outcome,
            logs,
            logs_truncated,
            recording,
            playback,
        }
    };

    Invocation {
        response,
        report: Box::pin(report),
    }
}

/// wasi:http needs an authority: take it from the URI, else the Host header,
/// else use a placeholder host.
fn with_authority(mut request: http::Request<RequestBody>) -> http::Request<RequestBody> {
    if request.uri().authority().is_none() && !request.headers().contains_key(http::header::HOST) {
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_static(FALLBACK_AUTHORITY),
        );
    }
    request
}
