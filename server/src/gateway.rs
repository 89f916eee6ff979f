//! The function gateway: a separate origin from the dashboard. `ANY
//! /fn/{name}/{*rest}` runs the live version of `name`; the function sees
//! `/{rest}?query` with the caller's method, headers and streaming body, and
//! its response streams back as it is produced. No auth by default.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use http_body_util::BodyExt;
use model::ApiError;
use platform::{InvokeError, Outcome, Platform, TriggerKind, INVOCATION_ID_HEADER};

use crate::api::AppError;

pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/fn/{name}", any(call_root))
        .route("/fn/{name}/", any(call_root))
        .route("/fn/{name}/{*rest}", any(call_rest))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async {
            AppError::not_found("no function is routed here; call /fn/{name}/...")
        })
        .with_state(platform)
}

async fn call_root(
    State(platform): State<Platform>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    call(platform, name, String::new(), request).await
}

async fn call_rest(
    State(platform): State<Platform>,
    Path((name, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    call(platform, name, rest, request).await
}

async fn call(platform: Platform, name: String, rest: String, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
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
    match platform.invoke(&name, request, TriggerKind::Http).await {
        Ok(outcome) => match outcome.response {
            Ok(response) => response.map(Body::new),
            Err(e) => invoke_error_response(&outcome.invocation_id, &e),
        },
        Err(e) => AppError::from(e).into_response(),
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
