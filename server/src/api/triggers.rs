//! Trigger routes: list, create (each kind checked, HTTP route conflicts
//! rejected), read (with a cron trigger's next fire times) and delete; and
//! a cron preview for forms that show the next fire times as you type.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use model::{CronPreview, NewTrigger, Trigger};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

/// Every trigger.
#[utoipa::path(get, path = "/api/v1/triggers",
    responses((status = 200, body = [Trigger])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Vec<Trigger>>, AppError> {
    Ok(Json(state.platform.triggers().list(&who).await?))
}

/// Create a trigger: `{"kind": "http"|"cron"|"topic"|"nats"|"redis"|"mqtt", "function": ..., ...}`.
#[utoipa::path(post, path = "/api/v1/triggers", request_body = NewTrigger,
    responses((status = 201, body = Trigger), (status = 400, body = model::ApiError),
              (status = 404, body = model::ApiError), (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Trigger>), AppError> {
    let new: NewTrigger = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("invalid trigger: {e}")))?;
    let trigger = state.platform.triggers().create(&who, new).await?;
    Ok((StatusCode::CREATED, Json(trigger)))
}

/// One trigger (cron: with its next five fire times).
#[utoipa::path(get, path = "/api/v1/triggers/{id}",
    params(("id" = String, Path, description = "trigger id")),
    responses((status = 200, body = Trigger), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Trigger>, AppError> {
    Ok(Json(state.platform.triggers().get(&who, &id).await?))
}

/// Replace a trigger's function and fields (same body as create; same id).
#[utoipa::path(put, path = "/api/v1/triggers/{id}", request_body = NewTrigger,
    params(("id" = String, Path, description = "trigger id")),
    responses((status = 200, body = Trigger), (status = 400, body = model::ApiError),
              (status = 404, body = model::ApiError), (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Trigger>, AppError> {
    let new: NewTrigger = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("invalid trigger: {e}")))?;
    Ok(Json(
        state.platform.triggers().update(&who, &id, new).await?,
    ))
}

/// Delete a trigger (it stops at once).
#[utoipa::path(delete, path = "/api/v1/triggers/{id}",
    params(("id" = String, Path, description = "trigger id")),
    responses((status = 204), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.platform.triggers().delete(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PreviewParams {
    /// 5 or 6 fields, or a shorthand such as `@hourly`.
    schedule: String,
    /// IANA time zone (default UTC).
    timezone: Option<String>,
    /// How many fire times (default 5, at most 50).
    count: Option<usize>,
}

/// The next fire times of a schedule.
#[utoipa::path(get, path = "/api/v1/cron/preview", params(PreviewParams),
    responses((status = 200, body = CronPreview), (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    _auth: Authenticated,
    Query(params): Query<PreviewParams>,
) -> Result<Json<CronPreview>, AppError> {
    let tz = params.timezone.unwrap_or_else(|| "UTC".into());
    Ok(Json(state.platform.cron_preview(
        &params.schedule,
        &tz,
        params.count.unwrap_or(5),
    )?))
}
