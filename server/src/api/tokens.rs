//! API token routes for the caller's team: list (never the secrets), create
//! (scoped to the team and a role; the secret is in the answer once), revoke
//! (the token stops working at once).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use model::{ApiTokenInfo, CreatedApiToken, NewApiToken};

use super::{AppError, AppState, Authenticated};

/// The caller's active tokens, newest first.
#[utoipa::path(get, path = "/api/v1/tokens",
    responses((status = 200, body = [ApiTokenInfo])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Vec<ApiTokenInfo>>, AppError> {
    Ok(Json(state.platform.access().tokens(&who).await?))
}

/// Create a named token; `token` in the answer is the secret, shown only now.
/// `expires_in_days` (1 to 365) makes it expire; without it, it never does.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<CreatedApiToken>), AppError> {
    let request: NewApiToken = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request(format!(
            "expected {{\"name\": \"...\", \"role\": \"...\", \"expires_in_days\": N}}: {e}"
        ))
    })?;
    let created = state
        .platform
        .access()
        .create_token(
            &who,
            &request.name,
            request.role.as_deref(),
            request.expires_in_days,
        )
        .await?;
    tracing::info!(user = %who.username, token = created.info.id, "API token created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}",
    params(("id" = i64, Path, description = "token id")),
    responses((status = 204), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    state.platform.access().revoke_token(&who, id).await?;
    tracing::info!(user = %who.username, token = id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}
