//! Invocation records as OpenTelemetry messages: one span per invocation
//! (the ids the trace API shows, so a span found in a tracing tool is the
//! bar on the Trace page) and one log record per log line, both grouped
//! into one resource per function (`service.name` = the function).

use std::collections::BTreeMap;

use model::{InvocationRecord, InvocationStatus, StructuredLog, TriggerKind};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// W3C trace flag "sampled": Wisp records every call.
const SAMPLED: u32 = 1;

/// The spans of `records`, one resource per function.
pub fn trace_request(records: &[InvocationRecord]) -> ExportTraceServiceRequest {
    let mut by_function: BTreeMap<&str, Vec<Span>> = BTreeMap::new();
    for record in records {
        by_function
            .entry(&record.function)
            .or_default()
            .push(span(record));
    }
    ExportTraceServiceRequest {
        resource_spans: by_function
            .into_iter()
            .map(|(function, spans)| ResourceSpans {
                resource: Some(resource(function)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// The log lines of `records`, one resource per function; records without
/// logs add nothing.
pub fn logs_request(records: &[InvocationRecord]) -> ExportLogsServiceRequest {
    let mut by_function: BTreeMap<&str, Vec<LogRecord>> = BTreeMap::new();
    for record in records {
        let lines = log_records(record);
        if !lines.is_empty() {
            by_function
                .entry(&record.function)
                .or_default()
                .extend(lines);
        }
    }
    ExportLogsServiceRequest {
        resource_logs: by_function
            .into_iter()
            .map(|(function, log_records)| ResourceLogs {
                resource: Some(resource(function)),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// The invocation as a span: trace id, span id and parent exactly as
/// `GET /api/v1/traces/{id}` gives them.
fn span(record: &InvocationRecord) -> Span {
    let (start, end) = times(record);
    let mut attributes = vec![
        text("faas.invocation_id", &record.id),
        text("faas.trigger", faas_trigger(record.trigger)),
        int("faas.version", record.version),
        text("wisp.trigger", record.trigger.as_str()),
        text("wisp.outcome", record.outcome.as_str()),
        int("wisp.billed_ms", record.billed_ms),
        int("wisp.peak_memory_bytes", record.peak_memory_bytes),
        int("wisp.memory_limit_mb", record.memory_limit_mb),
    ];
    if !record.method.is_empty() {
        attributes.push(text("http.request.method", &record.method));
    }
    if !record.path.is_empty() {
        attributes.push(text("url.path", &record.path));
    }
    if let Some(code) = record.status_code {
        attributes.push(int("http.response.status_code", code));
    }
    if let Some(trigger_id) = &record.trigger_id {
        attributes.push(text("wisp.trigger_id", trigger_id));
    }
    if let Some(attempt) = record.attempt {
        attributes.push(int("wisp.attempt", i64::from(attempt)));
    }
    let failed =
        record.status == InvocationStatus::Error || record.status_code.is_some_and(|c| c >= 500);
    let status = if failed {
        Status {
            code: StatusCode::Error as i32,
            message: record
                .error
                .clone()
                .unwrap_or_else(|| match record.status_code {
                    Some(code) => format!("answered HTTP {code}"),
                    None => record.outcome.as_str().to_string(),
                }),
        }
    } else {
        Status {
            code: StatusCode::Ok as i32,
            message: String::new(),
        }
    };
    Span {
        trace_id: trace_id(record),
        span_id: id_bytes(&platform::span_id(&record.id)),
        parent_span_id: parent_span_id(record)
            .map(|id| id_bytes(&id))
            .unwrap_or_default(),
        flags: SAMPLED,
        name: record.function.clone(),
        kind: span_kind(record.trigger) as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        status: Some(status),
        ..Default::default()
    }
}

/// Each non-empty log line, with its call's trace and span. Lines carry no
/// clock of their own: line `i` is stamped at the call's start plus `i`
/// nanoseconds so that a log tool keeps them in the order written.
fn log_records(record: &InvocationRecord) -> Vec<LogRecord> {
    let (start, end) = times(record);
    let trace_id = trace_id(record);
    let span_id = id_bytes(&platform::span_id(&record.id));
    record
        .logs
        .lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let mut attributes = vec![text("faas.invocation_id", &record.id)];
            let (severity, severity_text, body) = match StructuredLog::parse(line) {
                Some(structured) => {
                    for (key, value) in &structured.fields {
                        attributes.push(json(key, value));
                    }
                    let level = structured.level.unwrap_or_default();
                    (
                        severity(&level),
                        level,
                        structured.message.unwrap_or_else(|| line.to_string()),
                    )
                }
                None => (SeverityNumber::Unspecified, String::new(), line.to_string()),
            };
            LogRecord {
                time_unix_nano: start.saturating_add(i as u64),
                observed_time_unix_nano: end,
                severity_number: severity as i32,
                severity_text,
                body: Some(string_value(body)),
                attributes,
                flags: SAMPLED,
                trace_id: trace_id.clone(),
                span_id: span_id.clone(),
                ..Default::default()
            }
        })
        .collect()
}

/// The span's parent: the calling invocation's span, else the outside
/// caller's span from its `traceparent`.
fn parent_span_id(record: &InvocationRecord) -> Option<String> {
    match &record.parent_id {
        Some(parent) => Some(platform::span_id(parent)),
        None => record.parent_span_id.clone(),
    }
}

fn trace_id(record: &InvocationRecord) -> Vec<u8> {
    match &record.trace_id {
        Some(id) if platform::is_trace_id(id) => id_bytes(id),
        _ => id_bytes(&platform::trace_id_of(&record.id)),
    }
}

/// Start and end of the call in Unix nanoseconds.
fn times(record: &InvocationRecord) -> (u64, u64) {
    let start = record
        .started_at
        .timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or_default();
    let duration = (record.duration_ms.max(0.0) * 1_000_000.0) as u64;
    (start, start.saturating_add(duration))
}

/// Hex ids (trace 32 digits, span 16) as the bytes OTLP carries.
fn id_bytes(hex_id: &str) -> Vec<u8> {
    hex::decode(hex_id).unwrap_or_default()
}

fn span_kind(trigger: TriggerKind) -> SpanKind {
    match trigger {
        TriggerKind::Http | TriggerKind::Api | TriggerKind::Function => SpanKind::Server,
        TriggerKind::Async
        | TriggerKind::Topic
        | TriggerKind::Nats
        | TriggerKind::Redis
        | TriggerKind::Mqtt => SpanKind::Consumer,
        TriggerKind::Cron | TriggerKind::Replay => SpanKind::Internal,
    }
}

/// The OpenTelemetry FaaS convention's `faas.trigger` value.
fn faas_trigger(trigger: TriggerKind) -> &'static str {
    match trigger {
        TriggerKind::Http | TriggerKind::Api | TriggerKind::Function => "http",
        TriggerKind::Async
        | TriggerKind::Topic
        | TriggerKind::Nats
        | TriggerKind::Redis
        | TriggerKind::Mqtt => "pubsub",
        TriggerKind::Cron => "timer",
        TriggerKind::Replay => "other",
    }
}

fn severity(level: &str) -> SeverityNumber {
    match level {
        "trace" => SeverityNumber::Trace,
        "debug" => SeverityNumber::Debug,
        "info" | "notice" => SeverityNumber::Info,
        "warn" | "warning" => SeverityNumber::Warn,
        "error" | "err" => SeverityNumber::Error,
        "fatal" | "critical" | "crit" | "panic" => SeverityNumber::Fatal,
        _ => SeverityNumber::Unspecified,
    }
}

fn resource(function: &str) -> Resource {
    Resource {
        attributes: vec![
            text("service.name", function),
            text("service.namespace", "wisp"),
            text("faas.name", function),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "wisp".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

fn string_value(value: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(value)),
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_string()))
}

fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

/// A structured log field: numbers and booleans keep their type, anything
/// else is sent as its JSON text.
fn json(key: &str, value: &serde_json::Value) -> KeyValue {
    let value = match value {
        serde_json::Value::String(s) => any_value::Value::StringValue(s.clone()),
        serde_json::Value::Bool(b) => any_value::Value::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        other => any_value::Value::StringValue(other.to_string()),
    };
    attribute(key, value)
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::InvocationOutcome;

    fn record(id: &str, parent: Option<&str>) -> InvocationRecord {
        InvocationRecord {
            id: id.to_string(),
            function: "relay".to_string(),
            version: 3,
            trigger: TriggerKind::Topic,
            started_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            duration_ms: 2.5,
            billed_ms: 3,
            memory_limit_mb: 128,
            peak_memory_bytes: 1024,
            bytes_in: 0,
            bytes_out: 0,
            status: InvocationStatus::Error,
            outcome: InvocationOutcome::Trap,
            status_code: None,
            error: Some("unreachable".to_string()),
            method: "POST".to_string(),
            path: "/".to_string(),
            logs: "plain line\n\n{\"level\":\"WARN\",\"msg\":\"slow\",\"ms\":12}\n".to_string(),
            logs_truncated: false,
            parent_id: parent.map(str::to_string),
            trigger_id: None,
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_string()),
            parent_span_id: Some("00f067aa0ba902b7".to_string()),
            attempt: Some(2),
        }
    }

    #[test]
    fn a_record_becomes_the_span_the_trace_api_shows() {
        let parent = "0190b5d2-8f6e-7c4a-9b1e-2d3c4b5a6f70";
        let child = record("0190b5d2-8f6e-7c4a-9b1e-aabbccddeeff", Some(parent));
        let request = trace_request(&[child.clone(), record(parent, None)]);
        assert_eq!(request.resource_spans.len(), 1, "one resource per function");
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        let span = &spans[0];
        assert_eq!(
            hex::encode(&span.trace_id),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(hex::encode(&span.span_id), platform::span_id(&child.id));
        assert_eq!(hex::encode(&span.parent_span_id), platform::span_id(parent));
        // The root continues the outside caller's span.
        assert_eq!(hex::encode(&spans[1].parent_span_id), "00f067aa0ba902b7");
        assert_eq!(span.kind, SpanKind::Consumer as i32);
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            2_500_000
        );
        let status = span.status.as_ref().unwrap();
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "unreachable");
        assert!(span.attributes.iter().any(|kv| kv.key == "wisp.attempt"
            && kv.value.as_ref().unwrap().value == Some(any_value::Value::IntValue(2))));
    }

    #[test]
    fn log_lines_keep_their_order_structure_and_span() {
        let r = record("0190b5d2-8f6e-7c4a-9b1e-aabbccddeeff", None);
        let request = logs_request(std::slice::from_ref(&r));
        let logs = &request.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(logs.len(), 2, "the empty line is skipped");
        assert_eq!(logs[0].body, Some(string_value("plain line".to_string())));
        assert_eq!(logs[0].severity_number, SeverityNumber::Unspecified as i32);
        assert_eq!(logs[1].body, Some(string_value("slow".to_string())));
        assert_eq!(logs[1].severity_number, SeverityNumber::Warn as i32);
        assert_eq!(logs[1].severity_text, "warn");
        assert!(logs[1].attributes.iter().any(|kv| kv.key == "ms"));
        assert!(logs[0].time_unix_nano < logs[1].time_unix_nano);
        assert_eq!(hex::encode(&logs[1].span_id), platform::span_id(&r.id));
        // A record without logs sends no log resource.
        let quiet = InvocationRecord {
            logs: String::new(),
            ..r
        };
        assert!(logs_request(&[quiet]).resource_logs.is_empty());
    }
}
