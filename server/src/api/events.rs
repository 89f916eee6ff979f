//! Event routes: publish to a topic, inspect queued async work and its dead
//! letters (and redrive them), and read or edit the key-value store.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::{Job, KvEntry, PublishReceipt, QueueStats};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Publish an event: the body is the payload; every subscribed function gets it.
/// A valid `traceparent` header makes each delivery continue the caller's trace.
#[utoipa::path(post, path = "/api/v1/topics/{topic}",
    params(("topic" = String, Path, description = "topic name")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 202, body = PublishReceipt), (status = 400, body = model::ApiError),
              (status = 413, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<PublishReceipt>), AppError> {
    let receipt = state
        .platform
        .events()
        .publish(
            &who,
            &topic,
            body,
            content_type(&headers).as_deref(),
            platform::TraceContext::from_headers(
                headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
            ),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct JobParams {
    /// `queued`, `running`, `done` or `dead`.
    state: Option<String>,
    function: Option<String>,
    /// Default 100, at most 1000.
    limit: Option<u32>,
}

/// Async work (async invokes, topic deliveries, cron ticks), newest first.
#[utoipa::path(get, path = "/api/v1/jobs", params(JobParams),
    responses((status = 200, body = [Job])), security(("bearer" = [])))]
pub async fn jobs(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<JobParams>,
) -> Result<Json<Vec<Job>>, AppError> {
    Ok(Json(
        state
            .platform
            .events()
            .jobs(
                &who,
                p.state.as_deref(),
                p.function.as_deref(),
                p.limit.unwrap_or(0),
            )
            .await?,
    ))
}

/// How much async work is in each state.
#[utoipa::path(get, path = "/api/v1/jobs/stats",
    responses((status = 200, body = QueueStats)), security(("bearer" = [])))]
pub async fn stats(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<QueueStats>, AppError> {
    Ok(Json(state.platform.events().stats(&who).await?))
}

/// One job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = Job), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn job(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Job>, AppError> {
    Ok(Json(state.platform.events().job(&who, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeadParams {
    function: Option<String>,
    limit: Option<u32>,
}

/// Dead letters: work that failed every attempt.
#[utoipa::path(get, path = "/api/v1/dead-letters", params(DeadParams),
    responses((status = 200, body = [Job])), security(("bearer" = [])))]
pub async fn dead_letters(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<DeadParams>,
) -> Result<Json<Vec<Job>>, AppError> {
    Ok(Json(
        state
            .platform
            .events()
            .dead_letters(&who, p.function.as_deref(), p.limit.unwrap_or(0))
            .await?,
    ))
}

/// Send a dead letter back to the queue with fresh attempts.
#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/redrive",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = Job), (status = 404, body = model::ApiError),
              (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn redrive(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Job>, AppError> {
    Ok(Json(state.platform.events().redrive(&who, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct KvParams {
    /// Default `default`.
    application: Option<String>,
    prefix: Option<String>,
    limit: Option<u32>,
}

/// Key-value entries of an application, by key prefix.
#[utoipa::path(get, path = "/api/v1/kv", params(KvParams),
    responses((status = 200, body = [KvEntry])), security(("bearer" = [])))]
pub async fn kv_list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<KvParams>,
) -> Result<Json<Vec<KvEntry>>, AppError> {
    let app = p
        .application
        .unwrap_or_else(|| model::DEFAULT_APPLICATION.into());
    Ok(Json(
        state
            .platform
            .events()
            .kv_list(
                &who,
                &app,
                p.prefix.as_deref().unwrap_or(""),
                p.limit.unwrap_or(0),
            )
            .await?,
    ))
}

/// The raw value of a key, with the content type it was stored with (a
/// download: it never renders on the control plane's origin).
#[utoipa::path(get, path = "/api/v1/kv/{application}/{key}",
    params(("application" = String, Path), ("key" = String, Path)),
    responses((status = 200, content_type = "*/*", description = "the value, as stored"),
              (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn kv_get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path((app, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let value = state.platform.events().kv_get(&who, &app, &key).await?;
    let ct = value
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    // Values are written by functions: a `text/html` one opened in the
    // browser must not run as a page of the dashboard's origin.
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CONTENT_DISPOSITION, "attachment".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        value.bytes,
    )
        .into_response())
}

/// Set a key (body = value).
#[utoipa::path(put, path = "/api/v1/kv/{application}/{key}",
    params(("application" = String, Path), ("key" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 204), (status = 400, body = model::ApiError),
              (status = 413, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn kv_put(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path((app, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    state
        .platform
        .events()
        .kv_put(&who, &app, &key, &body, content_type(&headers).as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a key.
#[utoipa::path(delete, path = "/api/v1/kv/{application}/{key}",
    params(("application" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn kv_delete(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path((app, key)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    state.platform.events().kv_delete(&who, &app, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
