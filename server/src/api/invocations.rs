//! Invocation routes: call a function through the API (sync or async), list
//! a function's invocations, read one record, and stream new records live
//! (server-sent events) for log tails.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::Stream;
use http_body_util::BodyExt;
use model::InvocationRecord;
use platform::InvocationQuery;
use serde::Deserialize;
use tokio_stream::StreamExt;

use super::{AppError, AppState, Authenticated};
use crate::gateway::invoke_error_response;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct InvokeParams {
    /// Return 202 with the invocation id at once instead of waiting.
    #[serde(rename = "async")]
    run_async: Option<bool>,
    /// Path (and query) the function sees; default `/`.
    path: Option<String>,
}

/// Call a function: the request body is passed as a `POST` to the function.
#[utoipa::path(post, path = "/api/v1/functions/{name}/invoke",
    params(("name" = String, Path, description = "function name", example = "hello"), InvokeParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "the function's own response"),
              (status = 202, description = "stored for async execution", body = model::AsyncInvocation),
              (status = 404, body = model::ApiError),
              (status = 413, body = model::ApiError, description = "async body over 10 MiB"), (status = 502, body = model::ApiError),
              (status = 504, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn invoke(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    Query(params): Query<InvokeParams>,
    request: Request,
) -> Result<Response, AppError> {
    let path = params.path.unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return Err(AppError::bad_request("path must start with '/'"));
    }
    let (parts, body) = request.into_parts();
    let forwarded = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != http::header::AUTHORIZATION && *k != http::header::COOKIE);

    if params.run_async.unwrap_or(false) {
        // Durable: stored in the job queue before the 202 is sent.
        let headers: Vec<(String, String)> = forwarded
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let bytes = axum::body::to_bytes(body, platform::MAX_EVENT_BYTES * 10)
            .await
            .map_err(|_| {
                AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the async request body is over the 10 MiB limit",
                )
            })?;
        let queued = state
            .platform
            .functions()
            .enqueue(&who, &name, &path, headers, bytes)
            .await?;
        return Ok((StatusCode::ACCEPTED, Json(queued)).into_response());
    }

    let mut builder = http::Request::builder()
        .method(http::Method::POST)
        .uri(path);
    for (k, v) in forwarded {
        builder = builder.header(k, v);
    }
    let function_request = builder
        .body(body.map_err(platform::BoxError::from).boxed_unsync())
        .map_err(|e| AppError::bad_request(format!("invalid request: {e}")))?;

    let outcome = state
        .platform
        .functions()
        .invoke(&who, &name, function_request)
        .await?;
    Ok(match outcome.response {
        Ok(response) => response.map(Body::new).into_response(),
        Err(e) => invoke_error_response(&outcome.invocation_id, &e),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Most records to return (default 50, max 1000).
    limit: Option<u32>,
    /// `success`, `error`, or an outcome such as `timeout`.
    status: Option<String>,
    /// Only calls started at or after this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only calls started before this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// Next page: calls older than the invocation with this id.
    before: Option<String>,
    /// Previous page: calls newer than the invocation with this id.
    after: Option<String>,
}

/// A function's invocations, newest first.
#[utoipa::path(get, path = "/api/v1/functions/{name}/invocations",
    params(("name" = String, Path, description = "function name", example = "hello"), ListParams),
    responses((status = 200, body = [InvocationRecord]), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<InvocationRecord>>, AppError> {
    let query = InvocationQuery {
        limit: params.limit.unwrap_or(50),
        status: params.status,
        since: params.since,
        until: params.until,
        before: params.before,
        after: params.after,
    };
    Ok(Json(
        state
            .platform
            .functions()
            .invocations(&who, &name, query)
            .await?,
    ))
}

/// One invocation with its logs and error. The id an async invocation was
/// answered with resolves at once: `status` is `queued`, then `running`,
/// until the call's own record is stored.
#[utoipa::path(get, path = "/api/v1/invocations/{id}",
    params(("id" = String, Path, description = "invocation id")),
    responses((status = 200, body = InvocationRecord), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<InvocationRecord>, AppError> {
    Ok(Json(
        state.platform.functions().invocation(&who, &id).await?,
    ))
}

/// The invocations this one caused (functions it called, events it published).
#[utoipa::path(get, path = "/api/v1/invocations/{id}/children",
    params(("id" = String, Path, description = "invocation id")),
    responses((status = 200, body = [InvocationRecord])),
    security(("bearer" = [])))]
pub async fn children(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<InvocationRecord>>, AppError> {
    let children = state.platform.functions().children(&who, &id).await?;
    Ok(Json(children))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct StreamParams {
    /// Only records (and log lines) of this function.
    function: Option<String>,
    /// Only the record (and log lines) of this invocation.
    invocation: Option<String>,
    /// Also send each line running calls write, as it is written (`log`
    /// events), before their records.
    logs: Option<bool>,
}

/// Server-sent events: one `invocation` event (a JSON record) per stored
/// call; with `logs=true` also one `log` event (a [`model::LiveLogLine`])
/// per line a running call writes, while it runs. The stream ends when the
/// server shuts down (so it can stop).
#[utoipa::path(get, path = "/api/v1/invocations/stream", params(StreamParams),
    responses((status = 200, content_type = "text/event-stream", description = "records as they are stored, and with logs=true the lines of running calls")),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(params): Query<StreamParams>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let wanted = std::sync::Arc::new(move |function: &str, invocation: &str| {
        params.function.as_deref().is_none_or(|f| f == function)
            && params.invocation.as_deref().is_none_or(|i| i == invocation)
    });
    let lines = params.logs.unwrap_or(false).then(|| {
        let wanted = wanted.clone();
        let feed = state.platform.functions().log_feed(&who);
        futures::stream::unfold(feed, |mut feed| async move {
            let line = feed.next().await?;
            Some((line, feed))
        })
        .filter_map(move |line| {
            wanted(&line.function, &line.invocation_id)
                .then(|| Event::default().event("log").json_data(&*line).ok())
                .flatten()
                .map(Ok)
        })
    });
    let feed = state.platform.functions().feed(&who);
    let records = futures::stream::unfold(feed, |mut feed| async move {
        let record = feed.next().await?;
        Some((record, feed))
    })
    .filter_map(move |record| {
        wanted(&record.function, &record.id)
            .then(|| Event::default().event("invocation").json_data(&record).ok())
            .flatten()
            .map(Ok)
    });
    let events: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        match lines {
            Some(lines) => Box::pin(futures::stream::select(lines, records)),
            None => Box::pin(records),
        };
    let events = futures::StreamExt::take_until(events, state.platform.stopping());
    Sse::new(events).keep_alive(KeepAlive::default())
}
