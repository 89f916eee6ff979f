//! Wisp's reserved hosts, served in-process for a running function through
//! the runtime's outbound interceptor: `<name>.fn.wisp` (call a function
//! synchronously), `events.wisp/<topic>` (publish), `kv.wisp/<key>` (the
//! application's key-value store). Every such call, and every call the
//! function makes to an external host, is recorded as an edge for the
//! topology graph.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt as _;
use runtime::{BoxBody, Interception, ObservedCall, OutboundInterceptor};

use crate::call_tree::CallScope;
use crate::invoke::{new_invocation_id, CallContext};
use crate::time::now_ms;
use crate::topics::{Publisher, MAX_EVENT_BYTES};
use crate::trace_context::{span_id, traceparent, TRACEPARENT};
use crate::{kv, Platform, PlatformError, TriggerKind};

/// Suffix of the host names served in-process.
const RESERVED_SUFFIX: &str = ".wisp";

/// The function a sandbox runs for.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// The team that owns the function: its key-value data, its topics and
    /// the functions it may call.
    pub team_id: i64,
    pub function: String,
    pub application: String,
    pub invocation_id: String,
    /// The call's place in its call tree (its callees and deliveries join
    /// the tree one level deeper).
    pub scope: CallScope,
}

/// One outbound call a function made, as stored for the topology graph.
#[derive(Clone, Debug)]
pub(crate) struct OutboundCallRecord {
    pub invocation_id: String,
    pub function: String,
    /// `function`, `topic`, `kv` or `host`.
    pub target_kind: &'static str,
    pub target: String,
    pub method: String,
    pub status_code: Option<u16>,
    pub ok: bool,
    pub duration_us: i64,
    pub at_ms: i64,
}

/// The interceptor of one invocation.
pub(crate) struct WispHosts {
    platform: Platform,
    caller: Arc<Caller>,
}

impl WispHosts {
    pub fn new(platform: Platform, caller: Caller) -> Self {
        Self {
            platform,
            caller: Arc::new(caller),
        }
    }
}

impl OutboundInterceptor for WispHosts {
    fn intercept(&self, mut request: http::Request<BoxBody>) -> Interception {
        let host = request
            .uri()
            .host()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !host.ends_with(RESERVED_SUFFIX) {
            // The call's trace goes out with it, unless the function set
            // its own (an instrumented guest names its own span).
            if !request.headers().contains_key(TRACEPARENT) {
                let value = traceparent(
                    &self.caller.scope.tree.trace().trace_id,
                    &span_id(&self.caller.invocation_id),
                );
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    request.headers_mut().insert(TRACEPARENT, value);
                }
            }
            return Interception::Pass(Box::new(request));
        }
        // Served here: an answer that leaves the body unread must not cut
        // the guest's upload short (see `drain_on_drop`).
        let request = request.map(runtime::drain_on_drop);
        let platform = self.platform.clone();
        let caller = self.caller.clone();
        Interception::Handled(Box::pin(async move {
            let started = Instant::now();
            let method = request.method().to_string();
            let (kind, target, response) = serve(&platform, &caller, &host, request).await;
            let status = response.status();
            platform.record_call(OutboundCallRecord {
                invocation_id: caller.invocation_id.clone(),
                function: caller.function.clone(),
                target_kind: kind,
                target,
                method,
                status_code: Some(status.as_u16()),
                ok: !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS,
                duration_us: started.elapsed().as_micros() as i64,
                at_ms: now_ms(),
            });
            Ok(response)
        }))
    }

    fn observe(&self, call: &ObservedCall) {
        self.platform.record_call(OutboundCallRecord {
            invocation_id: self.caller.invocation_id.clone(),
            function: self.caller.function.clone(),
            target_kind: "host",
            target: call.authority.to_ascii_lowercase(),
            method: call.method.clone(),
            status_code: call.status,
            ok: call.error.is_none() && call.status.is_some_and(|s| s < 500),
            duration_us: call.duration.as_micros() as i64,
            at_ms: now_ms(),
        });
    }
}

/// Answers a request to a reserved host: (edge kind, edge target, response).
async fn serve(
    platform: &Platform,
    caller: &Caller,
    host: &str,
    request: http::Request<BoxBody>,
) -> (&'static str, String, Response<BoxBody>) {
    if let Some(name) = host.strip_suffix(".fn.wisp") {
        let name = name.to_string();
        let response = call_function(platform, caller, &name, request).await;
        return ("function", name, response);
    }
    match host {
        "events.wisp" => {
            let topic = request.uri().path().trim_start_matches('/').to_string();
            let response = publish(platform, caller, &topic, request).await;
            ("topic", topic, response)
        }
        "kv.wisp" => {
            let response = key_value(platform, caller, request).await;
            ("kv", caller.application.clone(), response)
        }
        other => (
            "host",
            other.to_string(),
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "{other} is not a Wisp host; use <function>.fn.wisp, events.wisp or kv.wisp"
                ),
            ),
        ),
    }
}

async fn call_function(
    platform: &Platform,
    caller: &Caller,
    name: &str,
    request: http::Request<BoxBody>,
) -> Response<BoxBody> {
    // Another team's function does not exist from here (not even by name).
    if platform
        .inner
        .registry
        .get(name)
        .is_some_and(|live| live.team_id != caller.team_id)
    {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("function {name} not found"),
        );
    }
    let (mut parts, body) = request.into_parts();
    // The callee sees a relative URI, as on the gateway.
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                "invalid path".into(),
            )
        }
    };
    let context = CallContext {
        trigger: TriggerKind::Function,
        trigger_id: None,
        parent_id: Some(caller.invocation_id.clone()),
        depth: caller.scope.depth + 1,
        wait_for_slot: false,
        // Past the tree's depth or budget the callee is refused (508).
        scope: Some(CallScope {
            depth: caller.scope.depth + 1,
            ..caller.scope.clone()
        }),
        trace: None,
        attempt: None,
    };
    let request = http::Request::from_parts(parts, body);
    match platform
        .invoke_in(new_invocation_id(), name, request, context)
        .await
    {
        Ok(outcome) => match outcome.response {
            Ok(response) => response.map(|b| b.boxed_unsync()),
            Err(e) => {
                let status = match e.outcome {
                    runtime::Outcome::Timeout => StatusCode::GATEWAY_TIMEOUT,
                    runtime::Outcome::Refused { .. } => StatusCode::LOOP_DETECTED,
                    _ => StatusCode::BAD_GATEWAY,
                };
                let mut response = error(
                    status,
                    e.outcome.code(),
                    format!("function {name} failed: {}", e.outcome.message()),
                );
                if let Ok(v) = http::HeaderValue::from_str(&outcome.invocation_id) {
                    response
                        .headers_mut()
                        .insert(crate::INVOCATION_ID_HEADER, v);
                }
                response
            }
        },
        Err(e) => platform_error(e),
    }
}

async fn publish(
    platform: &Platform,
    caller: &Caller,
    topic: &str,
    request: http::Request<BoxBody>,
) -> Response<BoxBody> {
    if request.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "publish with POST http://events.wisp/<topic>".into(),
        );
    }
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let payload = match read_body(request.into_body(), MAX_EVENT_BYTES).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let publisher = Publisher {
        function: caller.function.clone(),
        invocation_id: caller.invocation_id.clone(),
        scope: Some(caller.scope.clone()),
    };
    match platform
        .publish(
            caller.team_id,
            topic,
            payload,
            content_type.as_deref(),
            Some(publisher),
            None,
        )
        .await
    {
        Ok(receipt) => json(StatusCode::ACCEPTED, &receipt),
        Err(e) => platform_error(e),
    }
}

async fn key_value(
    platform: &Platform,
    caller: &Caller,
    request: http::Request<BoxBody>,
) -> Response<BoxBody> {
    let app = caller.application.as_str();
    let raw_key = request.uri().path().trim_start_matches('/');
    let key = match percent_decode(raw_key) {
        Some(k) => k,
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                "the key is not valid percent-encoded UTF-8".into(),
            )
        }
    };
    let method = request.method().clone();
    if key.is_empty() {
        if method != Method::GET {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "list keys with GET http://kv.wisp/?prefix=".into(),
            );
        }
        let prefix = request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("prefix="))
            .and_then(percent_decode)
            .unwrap_or_default();
        return match platform.kv_list(caller.team_id, app, &prefix, 1000).await {
            Ok(entries) => {
                let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
                json(StatusCode::OK, &serde_json::json!({ "keys": keys }))
            }
            Err(e) => platform_error(e),
        };
    }
    match method {
        Method::GET => match platform.kv_get(caller.team_id, app, &key).await {
            Ok(Some(value)) => {
                let mut response = Response::new(runtime::full_body(value.bytes));
                if let Some(ct) = value
                    .content_type
                    .and_then(|c| http::HeaderValue::from_str(&c).ok())
                {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_TYPE, ct);
                }
                response
            }
            Ok(None) => error(StatusCode::NOT_FOUND, "not_found", format!("no key {key}")),
            Err(e) => platform_error(e),
        },
        Method::PUT => {
            let content_type = request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let value = match read_body(request.into_body(), kv::MAX_VALUE_BYTES).await {
                Ok(b) => b,
                Err(response) => return response,
            };
            match platform
                .kv_put(caller.team_id, app, &key, &value, content_type.as_deref())
                .await
            {
                Ok(()) => empty(StatusCode::NO_CONTENT),
                Err(e) => platform_error(e),
            }
        }
        Method::DELETE => match platform.kv_delete(caller.team_id, app, &key).await {
            Ok(true) => empty(StatusCode::NO_CONTENT),
            Ok(false) => error(StatusCode::NOT_FOUND, "not_found", format!("no key {key}")),
            Err(e) => platform_error(e),
        },
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use GET, PUT or DELETE on http://kv.wisp/<key>".into(),
        ),
    }
}

/// Reads a body of at most `limit` bytes, or the 413 answer.
async fn read_body(mut body: BoxBody, limit: usize) -> Result<Bytes, Response<BoxBody>> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("reading the body failed: {e}"),
            )
        })?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > limit {
                return Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the body is over the {limit}-byte limit"),
                ));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(Bytes::from(buf))
}

/// `%XX` decoding of a URL path or query part (`+` is kept as is).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn platform_error(e: PlatformError) -> Response<BoxBody> {
    if let PlatformError::Internal(cause) = &e {
        tracing::error!(error = ?cause, "serving a wisp host failed");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error(status, e.code(), e.to_string());
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    response
}

fn error(status: StatusCode, code: &str, message: String) -> Response<BoxBody> {
    json(status, &model::ApiError::new(code, message))
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<BoxBody> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(runtime::full_body(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn empty(status: StatusCode) -> Response<BoxBody> {
    let mut response = Response::new(runtime::empty_body());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding() {
        assert_eq!(super::percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(super::percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(super::percent_decode("bad%zz"), None);
    }
}
