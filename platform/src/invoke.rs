//! Invoking a function: find the live version, respect its concurrency limit
//! and its team's room in the sandbox pool and memory budget,
//! run it in a fresh sandbox (with the `*.wisp` hosts wired to this call),
//! and hand the finished report to the recorder off the request's hot path.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt as _;
use model::{InvocationOutcome, InvocationStatus};
use runtime::{InvokeError, RequestBody, ResponseBody};

use crate::call_tree::{CallScope, CallTree};
use crate::registry::LiveFunction;
use crate::time::system_time_ms;
use crate::trace_context::{self, TraceContext};
use crate::{Platform, PlatformError, TriggerKind};

/// Response header carrying the invocation id, for debugging a call.
pub const INVOCATION_ID_HEADER: &str = "x-wisp-invocation-id";

/// A new, time-ordered invocation id.
pub fn new_invocation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Why and from where a call is made.
#[derive(Clone, Debug)]
pub struct CallContext {
    pub trigger: TriggerKind,
    /// The trigger that fired the call, if any.
    pub trigger_id: Option<String>,
    /// The invocation that caused this one.
    pub parent_id: Option<String>,
    /// Nesting depth of function-to-function calls (0 for an entry call).
    pub depth: u32,
    /// Wait for a free concurrency slot (async work) instead of failing
    /// with `TooManyRequests` (synchronous callers get 429).
    pub wait_for_slot: bool,
    /// The call tree this call joins, its depth there, and the cancellation
    /// of its caller; `None` starts a new tree (a root call at `depth`).
    pub scope: Option<CallScope>,
    /// The trace a new tree belongs to; `None`: the request's valid
    /// `traceparent`, else a trace of its own (see [`TraceContext`]).
    pub trace: Option<TraceContext>,
    /// Attempt of queued work (1 = first).
    pub attempt: Option<u32>,
}

impl CallContext {
    pub fn new(trigger: TriggerKind) -> Self {
        Self {
            trigger,
            trigger_id: None,
            parent_id: None,
            depth: 0,
            wait_for_slot: false,
            scope: None,
            trace: None,
            attempt: None,
        }
    }
}

/// The request a non-HTTP delivery (queued job, queue message) makes:
/// `method` `http://localhost<path>` with `headers` and `body`.
pub(crate) fn delivery_request(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: impl Into<Bytes>,
) -> Result<Request<RequestBody>, String> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .header(http::header::HOST, "localhost");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(runtime::full_body(body))
        .map_err(|e| format!("the delivery is not a valid request: {e}"))
}

/// A call run to its end, body read: what queued work needs to decide
/// between done and retry.
#[derive(Clone, Debug)]
pub struct CompletedCall {
    pub invocation_id: String,
    /// The function's status, or the gateway-equivalent status of its failure.
    pub status: u16,
    /// Why the call failed, if the function did not answer cleanly.
    pub error: Option<String>,
}

impl CompletedCall {
    /// Answered without a runtime error and without a 5xx status.
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status < 500
    }
}

/// The result of starting an invocation.
pub struct InvokeOutcome {
    pub invocation_id: String,
    /// The function's response (streaming), or why there is none.
    pub response: Result<http::Response<ResponseBody>, InvokeError>,
}

impl Platform {
    /// Runs the live version of `name` on `request`. The invocation record is
    /// written in the background once the call (and its body) has finished.
    pub async fn invoke(
        &self,
        name: &str,
        request: Request<RequestBody>,
        trigger: TriggerKind,
    ) -> Result<InvokeOutcome, PlatformError> {
        self.invoke_in(
            new_invocation_id(),
            name,
            request,
            CallContext::new(trigger),
        )
        .await
    }

    /// Runs `name` under `invocation_id` in the given call context (trigger,
    /// parent, depth); the general form of [`Platform::invoke`].
    pub async fn invoke_in(
        &self,
        invocation_id: String,
        name: &str,
        mut request: Request<RequestBody>,
        context: CallContext,
    ) -> Result<InvokeOutcome, PlatformError> {
        let live = self
            .inner
            .registry
            .get(name)
            .ok_or_else(|| PlatformError::not_found(format!("function {name}")))?;
        // Its place in its call tree: refused (and recorded) past the tree's
        // depth or budget, or once its caller has ended.
        let limits = self.inner.config.call_limits;
        let scope = context.scope.clone().unwrap_or_else(|| {
            let trace = context
                .trace
                .clone()
                .or_else(|| {
                    TraceContext::from_headers(
                        request
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_bytes())),
                    )
                })
                .unwrap_or_else(|| TraceContext::starting_at(&invocation_id));
            CallScope {
                tree: CallTree::new(invocation_id.clone(), trace, limits.max_calls),
                depth: context.depth,
                cancel: runtime::Cancellation::new(),
            }
        });
        // The function sees its own place in the trace.
        let trace_id = scope.tree.trace().trace_id.clone();
        if let Ok(value) = http::HeaderValue::from_str(&trace_context::traceparent(
            &trace_id,
            &trace_context::span_id(&invocation_id),
        )) {
            request
                .headers_mut()
                .insert(trace_context::TRACEPARENT, value);
        }
        // Only the trace's first call continues an outside caller's span.
        let parent_span_id = if context.parent_id.is_none() {
            scope.tree.trace().parent_span_id.clone()
        } else {
            None
        };
        let traced = Traced {
            trace_id,
            parent_span_id,
            attempt: context.attempt,
        };
        if let Err(outcome) = crate::call_tree::admit(&limits, &scope) {
            return Ok(self.refuse(invocation_id, live, request, context, traced, outcome));
        }
        // Cancelled when its caller's is, and when it ends itself (a root
        // call's token is its own already).
        let own = if context.scope.is_some() {
            CallScope {
                cancel: scope.cancel.child_token(),
                ..scope
            }
        } else {
            scope
        };
        let permit = if context.wait_for_slot {
            Arc::clone(&live.permits)
                .acquire_owned()
                .await
                .map_err(|_| PlatformError::not_found(format!("function {name}")))?
        } else {
            Arc::clone(&live.permits).try_acquire_owned().map_err(|_| {
                self.inner.metrics.throttled(name);
                PlatformError::TooManyRequests {
                    message: format!(
                        "function {name} is at its concurrency limit ({})",
                        live.max_concurrency
                    ),
                }
            })?
        };
        let admission = &self.inner.registry.admission;
        let admitted = if context.wait_for_slot {
            admission.admit(live.team_id, live.memory_mb).await
        } else {
            admission.try_admit(live.team_id, live.memory_mb)
        }
        .map_err(|refusal| {
            self.inner.metrics.throttled(name);
            PlatformError::TooManyRequests {
                message: refusal.message(),
            }
        })?;
        let in_flight = self.inner.metrics.started(name);
        // Kept for the record: the method without an allocation (a standard
        // method is a constant), the path as the one string the record adds.
        let method = request.method().clone();
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let mut sandbox = live.warm.sandbox().clone();
        sandbox.allow_private_destinations = self.inner.config.allow_private_destinations;
        sandbox.cancel = Some(own.cancel.clone());
        sandbox.log_watcher = self.inner.live_logs.watcher(&live, &invocation_id);
        if self.inner.config.record_invocations && crate::replay::records(&live) {
            sandbox.tape = runtime::TapeMode::Record {
                max_body_bytes: crate::replay::CAPTURE_BODY_LIMIT,
                failures_only: live.capture == model::CaptureMode::Failures,
            };
        }
        sandbox.interceptor = Some(Arc::new(crate::hosts::WispHosts::new(
            self.clone(),
            crate::hosts::Caller {
                team_id: live.team_id,
                function: live.name.clone(),
                application: live.application.clone(),
                invocation_id: invocation_id.clone(),
                scope: own.clone(),
            },
        )));
        // The call runs (and is recorded) on its own task: a caller that
        // goes away before the response head (a caller that timed out) does
        // not leave it running unrecorded; it is cancelled with its caller.
        let platform = self.inner.config.record_invocations.then(|| self.clone());
        let capturing = self.clone();
        let id = invocation_id.clone();
        let (head_sender, head) = tokio::sync::oneshot::channel();
        // Boxed: a pointer moves through tokio's spawn, not the whole future
        // (docs/DECISIONS.md #70).
        tokio::spawn(Box::pin(async move {
            let invocation = live.warm.invoke(request, sandbox).await;
            let _ = head_sender.send(invocation.response);
            // The concurrency permit is held until the guest and its
            // response body are done. The recorder is then handed what the
            // call already owns (moved, not copied: no string is built on
            // this worker, and every allocation the record needs is made and
            // freed on the recorder's writer, docs/DECISIONS.md #31).
            let mut report = invocation.report.await;
            in_flight.finish(context.trigger, report.outcome.code(), report.duration);
            let recording = report
                .recording
                .take()
                .filter(|_| crate::replay::keeps(&live, &report));
            // Calls it started that still run are stopped.
            own.cancel.cancel();
            drop(admitted);
            drop(permit);
            // Stored before the record is handed on: a replay asked for as
            // soon as the record shows finds its capture.
            if let Some(recording) = recording {
                let failed = report.failed();
                capturing
                    .store_capture(&id, &live, recording.into_recording(), failed)
                    .await;
            }
            if let Some(platform) = platform {
                let call = FinishedCall {
                    id,
                    live,
                    trigger: context.trigger,
                    parent_id: context.parent_id,
                    trigger_id: context.trigger_id,
                    traced,
                    method,
                    path,
                    report,
                };
                platform.inner.recorder.record(call).await;
            }
        }));
        let mut response = head.await.unwrap_or_else(|_| {
            Err(InvokeError {
                outcome: runtime::Outcome::Trap {
                    message: "the host task running the call ended without an answer".into(),
                },
            })
        });
        if let Ok(resp) = &mut response {
            if let Ok(value) = http::HeaderValue::from_str(&invocation_id) {
                resp.headers_mut().insert(INVOCATION_ID_HEADER, value);
            }
        }
        Ok(InvokeOutcome {
            invocation_id,
            response,
        })
    }

    /// A call refused before it ran (see [`crate::call_tree::admit`]): its
    /// record says why, and the caller gets the outcome as its error.
    fn refuse(
        &self,
        invocation_id: String,
        live: Arc<LiveFunction>,
        request: Request<RequestBody>,
        context: CallContext,
        traced: Traced,
        outcome: runtime::Outcome,
    ) -> InvokeOutcome {
        tracing::debug!(function = %live.name, invocation = %invocation_id, code = outcome.code(), "call refused");
        self.inner
            .metrics
            .refused(&live.name, context.trigger, outcome.code());
        if self.inner.config.record_invocations {
            let call = FinishedCall {
                id: invocation_id.clone(),
                trigger: context.trigger,
                parent_id: context.parent_id,
                trigger_id: context.trigger_id,
                traced,
                method: request.method().clone(),
                path: request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into()),
                live,
                report: runtime::InvocationReport {
                    started_at: std::time::SystemTime::now(),
                    duration: std::time::Duration::ZERO,
                    peak_memory_bytes: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                    status_code: None,
                    outcome: outcome.clone(),
                    logs: String::new(),
                    logs_truncated: false,
                    recording: None,
                    playback: None,
                },
            };
            let platform = self.clone();
            tokio::spawn(async move { platform.inner.recorder.record(call).await });
        }
        InvokeOutcome {
            invocation_id,
            response: Err(InvokeError { outcome }),
        }
    }

    /// Runs a call to its end, reading its response body through: how
    /// queued work, cron ticks and queue messages call.
    pub(crate) async fn invoke_to_completion(
        &self,
        invocation_id: String,
        name: &str,
        request: Request<RequestBody>,
        context: CallContext,
    ) -> Result<CompletedCall, PlatformError> {
        let outcome = self
            .invoke_in(invocation_id, name, request, context)
            .await?;
        let invocation_id = outcome.invocation_id;
        let response = match outcome.response {
            Ok(response) => response,
            Err(e) => {
                let status = match e.outcome {
                    runtime::Outcome::Timeout => 504,
                    runtime::Outcome::RequestTooLarge => 413,
                    runtime::Outcome::Refused { .. } => 508,
                    _ => 502,
                };
                return Ok(CompletedCall {
                    invocation_id,
                    status,
                    error: Some(e.outcome.message()),
                });
            }
        };
        let status = response.status().as_u16();
        // Read to the end (the call and its record finish with its body);
        // what queued work decides on is the status and any failure.
        let mut body = response.into_body();
        let mut error = None;
        while let Some(frame) = body.frame().await {
            if let Err(e) = frame {
                error = Some(format!("response body failed: {e}"));
                break;
            }
        }
        Ok(CompletedCall {
            invocation_id,
            status,
            error,
        })
    }
}

/// The record's outcome of how a run ended: its [`runtime::Outcome::code`]
/// as a word of [`InvocationOutcome`], which lists every code. A refusal
/// code is one of the call tree's, built from [`InvocationOutcome::as_str`];
/// should a new runtime code ever be missing from the enum, the record
/// says `trap` (still an error) and the gap is logged.
fn record_outcome(outcome: &runtime::Outcome) -> InvocationOutcome {
    InvocationOutcome::parse(outcome.code()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "outcome code missing from model::InvocationOutcome");
        InvocationOutcome::Trap
    })
}

/// A finished call as the recorder is handed it: what the call owned, not
/// yet turned into its [`model::InvocationRecord`].
pub(crate) struct FinishedCall {
    pub id: String,
    pub live: Arc<LiveFunction>,
    pub trigger: TriggerKind,
    pub parent_id: Option<String>,
    pub trigger_id: Option<String>,
    pub traced: Traced,
    pub method: http::Method,
    pub path: String,
    pub report: runtime::InvocationReport,
}

/// Where a call sits in its trace, as its record keeps it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Traced {
    pub trace_id: String,
    /// The outside caller's span (the trace's first call only).
    pub parent_span_id: Option<String>,
    pub attempt: Option<u32>,
}

impl FinishedCall {
    /// The record as stored and shown (secrets redacted from the logs and
    /// the error).
    pub fn into_record(self) -> model::InvocationRecord {
        let FinishedCall {
            id,
            live,
            trigger,
            parent_id,
            trigger_id,
            traced,
            method,
            path,
            report,
        } = self;
        let micros = report.duration.as_micros() as i64;
        // Billed time: wall time rounded up to the next whole millisecond, at least 1.
        let billed_ms = ((micros + 999) / 1000).max(1);
        let mut error = report.outcome.is_error().then(|| report.outcome.message());
        let mut logs = report.logs;
        if !live.secret_values.is_empty() {
            // What the function printed (or a trap message) may hold a secret.
            logs = crate::secrets::redact(&logs, &live.secret_values);
            error = error.map(|e| crate::secrets::redact(&e, &live.secret_values));
        }
        model::InvocationRecord {
            id,
            function: live.name.clone(),
            version: live.version,
            trigger,
            started_at: crate::time::from_ms(system_time_ms(report.started_at)),
            duration_ms: micros as f64 / 1000.0,
            billed_ms,
            memory_limit_mb: i64::from(live.memory_mb),
            peak_memory_bytes: report.peak_memory_bytes as i64,
            bytes_in: report.bytes_in as i64,
            bytes_out: report.bytes_out as i64,
            status: if report.outcome.is_error() {
                InvocationStatus::Error
            } else {
                InvocationStatus::Success
            },
            outcome: record_outcome(&report.outcome),
            status_code: report.status_code.map(i64::from),
            error,
            method: method.to_string(),
            path,
            logs,
            logs_truncated: report.logs_truncated,
            parent_id,
            trigger_id,
            trace_id: Some(traced.trace_id),
            parent_span_id: traced.parent_span_id,
            attempt: traced.attempt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::Outcome;

    #[test]
    fn every_runtime_code_is_an_invocation_outcome() {
        let m = || "x".to_string();
        for outcome in [
            Outcome::Success,
            Outcome::Trap { message: m() },
            Outcome::Timeout,
            Outcome::OutOfMemory,
            Outcome::StackOverflow,
            Outcome::RequestTooLarge,
            Outcome::ResponseTooLarge,
            Outcome::BadResponse { message: m() },
            Outcome::Cancelled,
            Outcome::Refused {
                code: InvocationOutcome::CallDepthExceeded.as_str(),
                message: m(),
            },
            Outcome::Refused {
                code: InvocationOutcome::CallBudgetExceeded.as_str(),
                message: m(),
            },
        ] {
            assert_eq!(record_outcome(&outcome).as_str(), outcome.code());
        }
    }
}
