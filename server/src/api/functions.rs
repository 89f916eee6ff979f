//! Function routes: upload a version, list, describe, configure, move the
//! live alias, delete.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use http_body_util::{BodyExt, Limited};
use model::{AliasUpdate, DeployedVersion, FunctionConfigPatch, FunctionDetail, FunctionSummary};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadParams {
    /// Make the new version live (default true).
    activate: Option<bool>,
}

/// Upload a `.wasm` file as a new version (creates the function if new).
#[utoipa::path(post, path = "/api/v1/functions/{name}/versions",
    params(("name" = String, Path, description = "function name", example = "hello"), UploadParams),
    request_body(content(
        (Vec<u8> = "application/wasm"),
        (Vec<u8> = "application/octet-stream")),
        description = "the .wasm file; any content type is accepted"),
    responses((status = 201, body = DeployedVersion), (status = 413, body = model::ApiError),
              (status = 422, body = model::ApiError, description = "not a valid function")),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    Query(params): Query<UploadParams>,
    body: Body,
) -> Result<(StatusCode, Json<DeployedVersion>), AppError> {
    let limit = state.max_upload_bytes;
    let bytes = match Limited::new(body, limit as usize).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the upload is larger than the limit of {limit} bytes"),
            ))
        }
        Err(e) => return Err(AppError::bad_request(format!("reading the upload: {e}"))),
    };
    let deployed = state
        .platform
        .functions()
        .deploy(&who, &name, bytes, params.activate.unwrap_or(true))
        .await?;
    tracing::info!(user = %who.username, function = %name, version = deployed.version, "upload");
    Ok((StatusCode::CREATED, Json(deployed)))
}

/// List functions.
#[utoipa::path(get, path = "/api/v1/functions",
    responses((status = 200, body = [FunctionSummary])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Vec<FunctionSummary>>, AppError> {
    Ok(Json(state.platform.functions().list(&who).await?))
}

/// A function's configuration, versions, live version and triggers.
#[utoipa::path(get, path = "/api/v1/functions/{name}",
    params(("name" = String, Path, description = "function name", example = "hello")),
    responses((status = 200, body = FunctionDetail), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<FunctionDetail>, AppError> {
    Ok(Json(state.platform.functions().detail(&who, &name).await?))
}

/// Change memory, timeout, concurrency, environment, allowed hosts, the
/// outbound call limit or secrets (`"secrets": {"NAME": "value" | null}`;
/// values are write-only: the answer lists secret names).
#[utoipa::path(patch, path = "/api/v1/functions/{name}",
    params(("name" = String, Path, description = "function name", example = "hello")),
    request_body = FunctionConfigPatch,
    responses((status = 200, body = FunctionDetail), (status = 400, body = model::ApiError),
              (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn update_config(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<FunctionDetail>, AppError> {
    let patch: FunctionConfigPatch = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("invalid configuration: {e}")))?;
    Ok(Json(
        state
            .platform
            .functions()
            .configure(&who, &name, patch)
            .await?,
    ))
}

/// Point the `live` alias at a version (rollback / roll forward).
#[utoipa::path(post, path = "/api/v1/functions/{name}/alias",
    params(("name" = String, Path, description = "function name", example = "hello")),
    request_body = AliasUpdate,
    responses((status = 200, body = FunctionDetail), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn set_alias(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<FunctionDetail>, AppError> {
    let update: AliasUpdate = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("expected {{\"version\": N}}: {e}")))?;
    Ok(Json(
        state
            .platform
            .functions()
            .set_alias(&who, &name, update.version)
            .await?,
    ))
}

/// Delete a function and its versions.
#[utoipa::path(delete, path = "/api/v1/functions/{name}",
    params(("name" = String, Path, description = "function name", example = "hello")),
    responses((status = 204), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    state.platform.functions().delete(&who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
