//! Trace shapes: one trace (W3C trace id) as the tree of invocations it
//! holds — each a span with its offset and duration, its outbound calls and
//! the events it published — and the queued deliveries of the trace that
//! have no finished invocation yet (waiting, or dead letters).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{InvocationOutcome, InvocationStatus, JobState, TriggerKind};

/// `GET /api/v1/traces/{trace_id}`: every invocation of the caller's team in
/// one trace, as a tree in depth-first order (a span follows its parent,
/// siblings by start time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trace {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// When the first span started.
    pub started_at: DateTime<Utc>,
    /// From the first span's start to the last span's (or call's) end.
    pub duration_ms: f64,
    pub spans: Vec<TraceSpan>,
    /// Queued work of the trace that has not run to a record: deliveries
    /// still waiting and dead letters.
    pub deliveries: Vec<TraceDelivery>,
}

/// One invocation in a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceSpan {
    pub invocation_id: String,
    /// The span id this invocation has in the trace (16 hex digits), as
    /// passed on in `traceparent`.
    pub span_id: String,
    /// The invocation that caused this one (a function-to-function call, a
    /// published event), if it is in the trace.
    pub parent_id: Option<String>,
    /// The parent's span id; for the trace's first call, the span of the
    /// outside caller whose `traceparent` it continued (if any).
    pub parent_span_id: Option<String>,
    /// Level in the tree: 0 for a root.
    pub level: u32,
    pub function: String,
    pub version: i64,
    pub trigger: TriggerKind,
    pub trigger_id: Option<String>,
    /// Attempt of queued work (1 = first); none for direct calls.
    pub attempt: Option<u32>,
    pub status: InvocationStatus,
    pub outcome: InvocationOutcome,
    pub status_code: Option<i64>,
    /// Ended in an error, or answered with a 5xx status.
    pub failed: bool,
    pub error: Option<String>,
    pub method: String,
    pub path: String,
    pub started_at: DateTime<Utc>,
    /// Start, relative to the trace's start.
    pub offset_ms: f64,
    pub duration_ms: f64,
    /// Outbound requests it made (functions, topics, kv, external hosts).
    pub calls: Vec<TraceCall>,
    /// Events it published.
    pub publishes: Vec<TracePublish>,
}

/// An outbound request of a span.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceCall {
    /// `function`, `topic`, `kv` or `host`.
    pub target_kind: String,
    pub target: String,
    pub method: String,
    pub status_code: Option<i64>,
    pub ok: bool,
    /// Start, relative to the trace's start.
    pub offset_ms: f64,
    pub duration_ms: f64,
}

/// An event a span published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TracePublish {
    pub event_id: String,
    pub topic: String,
    /// Subscriptions it was delivered to (one job each).
    pub deliveries: i64,
    pub offset_ms: f64,
}

/// Queued work of a trace without a finished record: waiting, running or
/// in the dead letters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceDelivery {
    pub job_id: String,
    pub function: String,
    pub source: TriggerKind,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    /// The invocation whose publish (or call) queued it.
    pub parent_id: Option<String>,
    pub last_error: Option<String>,
}
