//! Test-only builders shared by the unit tests of several modules.

use model::{InvocationOutcome, InvocationRecord, InvocationStatus, TriggerKind};

/// A successful 1 ms HTTP call `id` of `function` (version 1) started at
/// `started_ms`, without logs; tests change the fields they are about.
pub(crate) fn successful_call(id: &str, function: &str, started_ms: i64) -> InvocationRecord {
    InvocationRecord {
        id: id.into(),
        function: function.into(),
        version: 1,
        trigger: TriggerKind::Http,
        started_at: crate::time::from_ms(started_ms),
        duration_ms: 1.0,
        billed_ms: 1,
        memory_limit_mb: 128,
        peak_memory_bytes: 0,
        bytes_in: 0,
        bytes_out: 0,
        status: InvocationStatus::Success,
        outcome: InvocationOutcome::Success,
        status_code: Some(200),
        error: None,
        method: "GET".into(),
        path: "/".into(),
        logs: String::new(),
        logs_truncated: false,
        parent_id: None,
        trigger_id: None,
        trace_id: None,
        parent_span_id: None,
        attempt: None,
    }
}
