//! `GET /api/v1/errors`: the team's error groups — failures of a function
//! with the same outcome and shape, counted, with when and in which version
//! they first and last happened (a thin adapter over
//! `Functions::error_groups`).

use axum::extract::{Query, State};
use axum::Json;
use model::ErrorGroups;
use platform::ErrorGroupQuery;
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ErrorGroupParams {
    /// Only this function's groups.
    function: Option<String>,
    /// Only groups that failed at or after this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Groups to list (default 100, at most 500).
    limit: Option<u32>,
}

/// List the team's error groups, most recently seen first.
#[utoipa::path(get, path = "/api/v1/errors", params(ErrorGroupParams),
    responses((status = 200, body = ErrorGroups),
              (status = 400, body = model::ApiError, description = "a filter that does not parse"),
              (status = 404, body = model::ApiError, description = "`function` is not one of the team's")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<ErrorGroupParams>,
) -> Result<Json<ErrorGroups>, AppError> {
    let query = ErrorGroupQuery {
        function: p.function.filter(|f| !f.is_empty()),
        since: p.since,
        limit: p.limit.unwrap_or(0),
    };
    let groups = state
        .platform
        .functions()
        .error_groups(&who, &query)
        .await?;
    Ok(Json(ErrorGroups { groups }))
}
