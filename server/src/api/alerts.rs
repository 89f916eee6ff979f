//! Alert routes: the team's rules (list, one, create, delete) and their
//! firing/resolved history. Thin: the platform evaluates, records and sends
//! the signed webhooks.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use model::{AlertHistory, AlertRule, AlertRules, CreatedAlertRule, NewAlertRule};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

/// The team's alert rules, firing ones first.
#[utoipa::path(get, path = "/api/v1/alerts",
    responses((status = 200, body = AlertRules)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<AlertRules>, AppError> {
    Ok(Json(AlertRules {
        rules: state.platform.alerts().rules(&who).await?,
    }))
}

/// Create an alert rule (developers). The answer holds the webhook's
/// signing secret; it is not shown again.
#[utoipa::path(post, path = "/api/v1/alerts", request_body = NewAlertRule,
    responses((status = 201, body = CreatedAlertRule),
              (status = 400, body = model::ApiError),
              (status = 404, body = model::ApiError, description = "no such function in the team"),
              (status = 409, body = model::ApiError, description = "a rule of that name exists")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Json(new): Json<NewAlertRule>,
) -> Result<(StatusCode, Json<CreatedAlertRule>), AppError> {
    let created = state.platform.alerts().create(&who, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One alert rule and where it stands.
#[utoipa::path(get, path = "/api/v1/alerts/{id}",
    params(("id" = String, Path, description = "rule id")),
    responses((status = 200, body = AlertRule), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AlertRule>, AppError> {
    Ok(Json(state.platform.alerts().rule(&who, &id).await?))
}

/// Delete an alert rule (developers); its history stays.
#[utoipa::path(delete, path = "/api/v1/alerts/{id}",
    params(("id" = String, Path, description = "rule id")),
    responses((status = 204), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.platform.alerts().delete(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HistoryParams {
    /// Events to return, newest first (1-1000, default 100).
    limit: Option<u32>,
}

/// The team's alerts that fired and were resolved, newest first, with
/// what became of each webhook notification.
#[utoipa::path(get, path = "/api/v1/alerts/history", params(HistoryParams),
    responses((status = 200, body = AlertHistory)), security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(params): Query<HistoryParams>,
) -> Result<Json<AlertHistory>, AppError> {
    Ok(Json(AlertHistory {
        events: state
            .platform
            .alerts()
            .history(&who, params.limit.unwrap_or(100))
            .await?,
    }))
}
