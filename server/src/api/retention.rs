//! Retention routes: how long the caller's team's history is kept and how
//! much the server stores (any member); the team's period (owners) and the
//! server's (administrators). Thin: the platform checks and prunes.

use axum::extract::State;
use axum::Json;
use model::{RetentionStatus, RetentionUpdate};

use super::{AppError, AppState, Authenticated};

/// The team's retention period, its oldest record kept, the database size
/// and the last pruning pass.
#[utoipa::path(get, path = "/api/v1/retention",
    responses((status = 200, body = RetentionStatus)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<RetentionStatus>, AppError> {
    Ok(Json(state.platform.retention().status(&who).await?))
}

/// Set the team's own retention period in days (1–3650), or `null` for
/// the server's (team owners).
#[utoipa::path(put, path = "/api/v1/retention/team", request_body = RetentionUpdate,
    responses((status = 200, body = RetentionStatus),
              (status = 400, body = model::ApiError),
              (status = 403, body = model::ApiError, description = "not an owner of the team")),
    security(("bearer" = [])))]
pub async fn set_team(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Json(update): Json<RetentionUpdate>,
) -> Result<Json<RetentionStatus>, AppError> {
    Ok(Json(
        state.platform.retention().set_team(&who, update).await?,
    ))
}

/// Set the server's retention period in days (1–3650) for teams that set
/// none (server administrators).
#[utoipa::path(put, path = "/api/v1/retention/server", request_body = RetentionUpdate,
    responses((status = 200, body = RetentionStatus),
              (status = 400, body = model::ApiError),
              (status = 403, body = model::ApiError, description = "not a server administrator")),
    security(("bearer" = [])))]
pub async fn set_server(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Json(update): Json<RetentionUpdate>,
) -> Result<Json<RetentionStatus>, AppError> {
    Ok(Json(
        state.platform.retention().set_server(&who, update).await?,
    ))
}
