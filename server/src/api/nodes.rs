//! `GET /api/v1/nodes`: the cluster's members (every `wisp serve` on the
//! same database), from their heartbeats: up, down or stopped, with their
//! addresses, version and load; `GET /api/v1/server`: this server's facts.
//! Server administrators only.

use axum::extract::State;
use axum::Json;
use model::Nodes;

use super::{AppError, AppState, Authenticated};

/// List the cluster's nodes, up ones first.
#[utoipa::path(get, path = "/api/v1/nodes",
    responses((status = 200, body = Nodes),
              (status = 403, body = model::ApiError, description = "not a server administrator")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Nodes>, AppError> {
    Ok(Json(state.platform.nodes(&who).await?))
}

/// What this server is: version, uptime, data directory, database and its
/// size, nodes, the server's retention period, scheduled backups.
#[utoipa::path(get, path = "/api/v1/server",
    responses((status = 200, body = model::ServerInfo),
              (status = 403, body = model::ApiError, description = "not a server administrator")),
    security(("bearer" = [])))]
pub async fn server(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<model::ServerInfo>, AppError> {
    Ok(Json(state.platform.server_info(&who).await?))
}
