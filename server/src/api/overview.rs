//! `GET /api/v1/overview`: the platform at a glance (function count, calls and
//! failures over the last hour and day, calls per minute, latest failures),
//! of the whole team or of one application.

use axum::extract::{Query, State};
use axum::Json;
use model::Overview;
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OverviewParams {
    /// Only this application's functions.
    application: Option<String>,
}

/// Counts over the last hour and day, the last 60 minutes per minute, and the latest failures.
#[utoipa::path(get, path = "/api/v1/overview", params(OverviewParams),
    responses((status = 200, body = Overview)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(params): Query<OverviewParams>,
) -> Result<Json<Overview>, AppError> {
    let metering = state.platform.metering();
    Ok(Json(match params.application.as_deref() {
        Some(app) => metering.application_overview(&who, app).await?,
        None => metering.overview(&who).await?,
    }))
}
