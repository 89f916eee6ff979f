//! Invoking a function: find the live version, respect its concurrency limit,
//! run it in a fresh sandbox, and hand the finished report to the recorder
//! off the request's hot path.

use std::sync::Arc;

use http::Request;
use runtime::{InvokeError, RequestBody, ResponseBody};

use crate::registry::LiveFunction;
use crate::time::system_time_ms;
use crate::{Platform, PlatformError};

/// Response header carrying the invocation id, for debugging a call.
pub const INVOCATION_ID_HEADER: &str = "x-wisp-invocation-id";

/// A new, time-ordered invocation id.
pub fn new_invocation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// What caused an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerKind {
    /// The gateway's `/fn/{name}/...` or an HTTP route.
    Http,
    /// `POST /api/v1/functions/{name}/invoke`.
    Api,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Api => "api",
        }
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
        self.invoke_with_id(new_invocation_id(), name, request, trigger)
            .await
    }

    /// [`Platform::invoke`] under an id chosen beforehand (async invokes
    /// answer with the id before the call runs).
    pub async fn invoke_with_id(
        &self,
        invocation_id: String,
        name: &str,
        request: Request<RequestBody>,
        trigger: TriggerKind,
    ) -> Result<InvokeOutcome, PlatformError> {
        let live = self
            .inner
            .registry
            .get(name)
            .ok_or_else(|| PlatformError::not_found(format!("function {name}")))?;
        let permit = Arc::clone(&live.permits).try_acquire_owned().map_err(|_| {
            PlatformError::TooManyRequests {
                function: name.to_string(),
                limit: live.max_concurrency,
            }
        })?;
        let method = request.method().to_string();
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let invocation = live.prepared.invoke(request, live.sandbox.clone()).await;
        let mut response = invocation.response;
        if let Ok(resp) = &mut response {
            if let Ok(value) = http::HeaderValue::from_str(&invocation_id) {
                resp.headers_mut().insert(INVOCATION_ID_HEADER, value);
            }
        }
        let recorder = self.inner.recorder.clone();
        let id = invocation_id.clone();
        let report = invocation.report;
        tokio::spawn(async move {
            let report = report.await;
            drop(permit);
            recorder
                .record(to_record(id, &live, trigger, method, path, report))
                .await;
        });
        Ok(InvokeOutcome {
            invocation_id,
            response,
        })
    }
}

fn to_record(
    id: String,
    live: &LiveFunction,
    trigger: TriggerKind,
    method: String,
    path: String,
    report: runtime::InvocationReport,
) -> model::InvocationRecord {
    let micros = report.duration.as_micros() as i64;
    // Billed time: wall time rounded up to the next whole millisecond, at least 1.
    let billed_ms = ((micros + 999) / 1000).max(1);
    let error = report.outcome.is_error().then(|| report.outcome.message());
    model::InvocationRecord {
        id,
        function: live.name.clone(),
        version: live.version,
        trigger: trigger.as_str().to_string(),
        started_at: crate::time::from_ms(system_time_ms(report.started_at)),
        duration_ms: micros as f64 / 1000.0,
        billed_ms,
        memory_limit_mb: i64::from(live.memory_mb),
        peak_memory_bytes: report.peak_memory_bytes as i64,
        bytes_in: report.bytes_in as i64,
        bytes_out: report.bytes_out as i64,
        status: if report.outcome.is_error() {
            "error"
        } else {
            "success"
        }
        .to_string(),
        outcome: report.outcome.code().to_string(),
        status_code: report.status_code.map(i64::from),
        error,
        method,
        path,
        logs: report.logs,
        logs_truncated: report.logs_truncated,
    }
}
