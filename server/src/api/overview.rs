//! `GET /api/v1/overview`: the platform at a glance (function count, calls and
//! failures over the last hour and day, calls per minute, latest failures).

use axum::extract::State;
use axum::Json;
use model::Overview;

use super::{AppError, AppState, Authenticated};

/// Counts over the last hour and day, the last 60 minutes per minute, and the latest failures.
#[utoipa::path(get, path = "/api/v1/overview",
    responses((status = 200, body = Overview)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Overview>, AppError> {
    Ok(Json(state.platform.metering().overview(&who).await?))
}
