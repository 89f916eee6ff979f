//! Invoking a WASI preview 1 command module the CGI/WAGI way: the request
//! body is buffered into stdin, request metadata goes into the environment,
//! `_start` runs to completion under the sandbox's limits, and stdout is
//! parsed into the response (see `cgi`). stderr is the log.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use wasmtime::{InstancePre, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

use crate::body::{declared_length, read_limited, ReadBodyError, ResponseBody, RestRule};
use crate::capture::{Capture, Overflow};
use crate::cgi;
use crate::component::{wasi_builder, HOST_TIMER_GRACE};
use crate::config::SandboxConfig;
use crate::limits::{classify, set_deadline, MemoryLimiter, MemoryMeter};
use crate::report::{Invocation, InvocationReport, InvokeError, Outcome};
use crate::stats::Histogram;
use crate::RequestBody;

/// The WASI command entry point.
const START: &str = "_start";

/// Store data of one module invocation.
pub(crate) struct ModuleHost {
    wasi: WasiP1Ctx,
    limiter: MemoryLimiter,
}

/// The linker modules are instantiated against: WASI preview 1 only.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<ModuleHost>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |host: &mut ModuleHost| &mut host.wasi)?;
    Ok(linker)
}

/// Runs one request through the module.
pub(crate) async fn invoke(
    pre: &InstancePre<ModuleHost>,
    request: http::Request<RequestBody>,
    sandbox: SandboxConfig,
    memory_limit: u64,
    instantiation: Arc<Histogram>,
) -> Invocation {
    let started_at = SystemTime::now();
    if declared_length(request.headers()).is_some_and(|len| len > sandbox.max_request_body) {
        return Invocation::rejected(Outcome::RequestTooLarge, started_at, 0);
    }
    let (parts, body) = request.into_parts();
    let body = match read_limited(body, sandbox.max_request_body).await {
        Ok(body) => body,
        Err(ReadBodyError::TooLarge { read }) => {
            return Invocation::rejected(Outcome::RequestTooLarge, started_at, read);
        }
        Err(ReadBodyError::Failed(message)) => {
            let outcome = Outcome::Trap {
                message: format!("the request body could not be read: {message}"),
            };
            return Invocation::rejected(outcome, started_at, 0);
        }
    };
    let bytes_in = body.len() as u64;

    let logs = Capture::new(sandbox.max_log_bytes, Overflow::Truncate);
    logs.watch(sandbox.log_watcher.clone());
    // The response is buffered whole (CGI has no streaming), so the stdout
    // cap is the response limit.
    let stdout_cap = usize::try_from(sandbox.max_response_body).unwrap_or(usize::MAX);
    let stdout = Capture::new(stdout_cap, Overflow::Fail);
    let memory = Arc::new(MemoryMeter::default());

    let env = cgi::environment(&parts, body.len(), &sandbox.env);
    let mut wasi = wasi_builder(&env, &logs);
    wasi.stdin(MemoryInputPipe::new(body))
        .stdout(stdout.clone())
        .args(&["main.wasm"]);
    let host = ModuleHost {
        wasi: wasi.build_p1(),
        limiter: MemoryLimiter::new(memory_limit, memory.clone()),
    };
    let mut store = Store::new(pre.module().engine(), host);
    store.limiter(|host| &mut host.limiter);

    let start = Instant::now();
    set_deadline(&mut store, start + sandbox.timeout);

    let pre = pre.clone();
    let guest_memory = memory.clone();
    let timeout = sandbox.timeout;
    let task = tokio::spawn(async move {
        let run = async {
            let instantiating = Instant::now();
            let instance = pre.instantiate_async(&mut store).await?;
            instantiation.record(instantiating.elapsed());
            let main = instance.get_typed_func::<(), ()>(&mut store, START)?;
            main.call_async(&mut store, ()).await
        };
        let result = tokio::time::timeout(timeout + HOST_TIMER_GRACE, run).await;
        drop(store);
        match result {
            Err(_elapsed) => Outcome::Timeout,
            Ok(Ok(())) => Outcome::Success,
            Ok(Err(error)) => {
                let outcome = classify(&error, &guest_memory);
                tracing::debug!(code = outcome.code(), "module guest failed: {error:?}");
                outcome
            }
        }
    });
    let outcome = task.await.unwrap_or_else(|panic| Outcome::Trap {
        message: format!("the host task running the function failed: {panic}"),
    });
    let finished_at = Instant::now();

    // A strict capture that overflowed means the guest wrote too much, even
    // if it then swallowed the write error and exited cleanly.
    let outcome = if stdout.overflowed() {
        Outcome::ResponseTooLarge
    } else {
        outcome
    };

    let parsed = match outcome {
        Outcome::Success => {
            cgi::parse_output(stdout.take()).map_err(|message| Outcome::BadResponse { message })
        }
        failed => Err(failed),
    };

    let report_base = move |outcome: Outcome, status_code: Option<u16>| {
        let (logs, logs_truncated) = logs.take_logs();
        InvocationReport {
            started_at,
            duration: finished_at.saturating_duration_since(start),
            peak_memory_bytes: memory.peak(),
            bytes_in,
            bytes_out: 0,
            status_code,
            outcome,
            logs,
            logs_truncated,
            // Command modules are not recorded for replay.
            recording: None,
            playback: None,
        }
    };

    match parsed {
        Err(outcome) => Invocation {
            response: Err(InvokeError {
                outcome: outcome.clone(),
            }),
            report: Box::pin(std::future::ready(report_base(outcome, None))),
        },
        Ok(cgi_response) => {
            let status = cgi_response.status.as_u16();
            let (body, end) = ResponseBody::new(
                crate::full_body(cgi_response.body),
                sandbox.max_response_body,
                None,
                // The whole body is made before the response: no writer to wait for.
                RestRule::Streamed,
            );
            let mut response = http::Response::new(body);
            *response.status_mut() = cgi_response.status;
            *response.headers_mut() = cgi_response.headers;
            // A slow or stalled reader still reading at the deadline is cut
            // off there, so that the call's slots are not held past it.
            let body_deadline = start + sandbox.timeout + HOST_TIMER_GRACE;
            let report = async move {
                let watched = end.until(body_deadline).await;
                let (end, cut) = (watched.end, watched.cut);
                let outcome = if cut {
                    Outcome::Timeout
                } else {
                    Outcome::Success
                };
                let mut report = report_base(outcome, Some(status));
                report.bytes_out = end.bytes_out;
                report
            };
            Invocation {
                response: Ok(response),
                report: Box::pin(report),
            }
        }
    }
}
