//! The function gateway: a separate origin from the dashboard. `ANY
//! /fn/{name}/{*rest}` runs the live version of `name`; the function sees
//! `/{rest}?query` as the caller sent it (escapes kept) with the caller's
//! method, headers and streaming body, and
//! its response streams back as it is produced. Every other path is looked
//! up in the HTTP trigger routes; the function then sees the whole path, and
//! the route and its parameters as `x-wisp-route` / `x-wisp-param-<name>`
//! headers. No auth by default. Wisp's own cookies (the dashboard session,
//! which a browser also sends to the gateway on another port of the same
//! host) are removed from every request before a function sees it.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use http_body_util::BodyExt;
use model::ApiError;
use platform::{
    CallContext, InvokeError, Outcome, Platform, RouteLookup, TriggerKind, INVOCATION_ID_HEADER,
};

use crate::api::AppError;

pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/fn/{name}", any(call_root))
        .route("/fn/{name}/", any(call_root))
        .route("/fn/{name}/{*rest}", any(call_rest))
        .route(
            "/healthz",
            axum::routing::get(|State(platform): State<Platform>| async move {
                crate::api::health(&platform)
            }),
        )
        .fallback(routed)
        .with_state(platform)
        .layer(axum::middleware::from_fn(
            crate::api::close_after_unread_body,
        ))
}

async fn call_root(
    State(platform): State<Platform>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    call(platform, name, request).await
}

async fn call_rest(
    State(platform): State<Platform>,
    Path((name, _rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    call(platform, name, request).await
}

/// The path after `/fn/{name}/` as the caller sent it: percent-escapes
/// stay escaped (`%3F` is not a query, `%2F` not a separator), unlike the
/// router's decoded `{*rest}`.
fn raw_rest(path: &str) -> &str {
    path.strip_prefix("/fn/")
        .and_then(|p| p.split_once('/'))
        .map_or("", |(_name, rest)| rest)
}

/// A request outside `/fn/`: an HTTP trigger route, or a JSON 404/405.
async fn routed(State(platform): State<Platform>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let found = match platform.match_route(request.method().as_str(), &path) {
        RouteLookup::Found(found) => found,
        RouteLookup::MethodNotAllowed(allowed) => {
            let mut response = AppError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{path} accepts {}", allowed.join(", ")),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, v);
            }
            return response;
        }
        RouteLookup::NotFound => {
            return AppError::not_found(
                "no function is routed here; call /fn/{name}/... or add an HTTP trigger",
            )
            .into_response()
        }
    };
    let (mut parts, body) = request.into_parts();
    strip_wisp_cookies(&mut parts.headers);
    // Only the gateway sets these; a caller's own copies are dropped.
    let spoofed: Vec<_> = parts
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-wisp-"))
        .cloned()
        .collect();
    for k in spoofed {
        parts.headers.remove(k);
    }
    if let Ok(v) = HeaderValue::from_str(&found.route) {
        parts.headers.insert("x-wisp-route", v);
    }
    for (name, value) in &found.params {
        let header_name = format!("x-wisp-param-{}", name.to_ascii_lowercase());
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(header_name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            parts.headers.insert(n, v);
        }
    }
    if !parts.headers.contains_key(header::HOST) {
        parts
            .headers
            .insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    let body = body.map_err(platform::BoxError::from).boxed_unsync();
    let request = http::Request::from_parts(parts, body);
    let mut context = CallContext::new(TriggerKind::Http);
    context.trigger_id = Some(found.trigger_id.clone());
    respond(
        platform
            .invoke_in(
                platform::new_invocation_id(),
                &found.function,
                request,
                context,
            )
            .await,
    )
}

fn respond(result: Result<platform::InvokeOutcome, platform::PlatformError>) -> Response {
    match result {
        Ok(outcome) => match outcome.response {
            Ok(response) => response.map(Body::new),
            Err(e) => invoke_error_response(&outcome.invocation_id, &e),
        },
        Err(e) => AppError::from(e).into_response(),
    }
}

async fn call(platform: Platform, name: String, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    strip_wisp_cookies(&mut parts.headers);
    let rest = raw_rest(parts.uri.path());
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    parts.uri = match path_and_query.parse() {
        Ok(uri) => uri,
        Err(_) => return AppError::bad_request("invalid request path").into_response(),
    };
    if !parts.headers.contains_key(header::HOST) {
        parts
            .headers
            .insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    let body = body.map_err(platform::BoxError::from).boxed_unsync();
    let request = http::Request::from_parts(parts, body);
    respond(platform.invoke(&name, request, TriggerKind::Http).await)
}

/// Removes Wisp's own cookies from a request's `Cookie` headers, keeping the
/// others in their order; a header left empty is dropped. Browsers send the
/// dashboard's session cookie to every port of its host, so without this a
/// function (or a page it serves) would see the session of whoever opens it.
pub fn strip_wisp_cookies(headers: &mut http::HeaderMap) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let kept: Vec<Vec<u8>> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(|value| {
            value
                .as_bytes()
                .split(|b| *b == b';')
                .map(<[u8]>::trim_ascii)
                .filter(|pair| {
                    let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
                    !pair.is_empty() && !app::api::SessionCookie::is_wisp_cookie(name.trim_ascii())
                })
                .collect::<Vec<_>>()
                .join(&b"; "[..])
        })
        .filter(|value| !value.is_empty())
        .collect();
    headers.remove(header::COOKIE);
    for value in kept {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.append(header::COOKIE, value);
        }
    }
}

/// The JSON answer when a function produced no response: 504 for timeouts,
/// 413 for oversized requests, 502 for everything else the function did.
pub fn invoke_error_response(invocation_id: &str, error: &InvokeError) -> Response {
    let status = match error.outcome {
        Outcome::Timeout => StatusCode::GATEWAY_TIMEOUT,
        Outcome::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut body = serde_json::to_value(ApiError::new(
        error.outcome.code(),
        format!("the function failed: {}", error.outcome.message()),
    ))
    .unwrap_or_default();
    body["invocation_id"] = serde_json::Value::String(invocation_id.to_string());
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(invocation_id) {
        response.headers_mut().insert(INVOCATION_ID_HEADER, v);
    }
    response
}
