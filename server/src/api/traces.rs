//! `GET /api/v1/traces/{trace_id}`: one trace of the caller's team as a
//! tree of invocations with their calls, publishes and pending deliveries.

use axum::extract::{Path, State};
use axum::Json;
use model::Trace;

use super::{AppError, AppState, Authenticated};

/// The whole tree of one trace (W3C trace id, 32 hex digits): the team's
/// invocations in it, depth first with start offsets and durations, each
/// with its outbound calls and published events, plus queued deliveries
/// that have no finished record (waiting or dead letters).
#[utoipa::path(get, path = "/api/v1/traces/{trace_id}",
    params(("trace_id" = String, Path, description = "W3C trace id: 32 lowercase hex digits")),
    responses((status = 200, body = Trace), (status = 400, body = model::ApiError),
        (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(trace_id): Path<String>,
) -> Result<Json<Trace>, AppError> {
    Ok(Json(
        state.platform.functions().trace(&who, &trace_id).await?,
    ))
}
