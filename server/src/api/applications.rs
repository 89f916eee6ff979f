//! Applications as code over REST: plan and apply a resolved manifest
//! (`wisp apply` sends one), the manifest of what is deployed (`wisp
//! export`), a version's wasm file, and the manifest's JSON Schema. Thin:
//! the platform plans, checks roles and audits.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use model::{AppSpec, ApplyPlan};
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

/// The JSON Schema of `wisp.toml` (docs/MANIFEST.md describes each field).
pub const MANIFEST_SCHEMA: &str = include_str!("../../../docs/manifest.schema.json");

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ApplyParams {
    /// Also delete the application's functions the manifest does not name.
    prune: Option<bool>,
}

fn spec_from(body: &[u8]) -> Result<AppSpec, AppError> {
    serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("invalid application spec: {e}")))
}

/// What applying a resolved manifest would change, its problems (by their
/// place in the manifest) and the wasm still to upload (developers; audited
/// as `plan`). Changes nothing.
#[utoipa::path(post, path = "/api/v1/applications/{name}/plan",
    params(("name" = String, Path, description = "application name", example = "shop"), ApplyParams),
    request_body = AppSpec,
    responses((status = 200, body = ApplyPlan), (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    Query(params): Query<ApplyParams>,
    body: axum::body::Bytes,
) -> Result<Json<ApplyPlan>, AppError> {
    let spec = spec_from(&body)?;
    let prune = params.prune.unwrap_or(false);
    Ok(Json(
        state
            .platform
            .applications()
            .plan(&who, &name, &spec, prune)
            .await?,
    ))
}

/// Converge the application to a resolved manifest in one audited change
/// set (developers). Refused, changing nothing, when the manifest has
/// problems or a function's wasm was not uploaded (`?activate=false`).
#[utoipa::path(post, path = "/api/v1/applications/{name}/apply",
    params(("name" = String, Path, description = "application name", example = "shop"), ApplyParams),
    request_body = AppSpec,
    responses((status = 200, body = ApplyPlan), (status = 400, body = model::ApiError),
              (status = 403, body = model::ApiError, description = "not a developer of the team"),
              (status = 409, body = model::ApiError, description = "stopped part way (apply again)")),
    security(("bearer" = [])))]
pub async fn apply(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    Query(params): Query<ApplyParams>,
    body: axum::body::Bytes,
) -> Result<Json<ApplyPlan>, AppError> {
    let spec = spec_from(&body)?;
    let prune = params.prune.unwrap_or(false);
    Ok(Json(
        state
            .platform
            .applications()
            .apply(&who, &name, &spec, prune)
            .await?,
    ))
}

/// The application as deployed: each function's live code by SHA-256,
/// every setting, secret names and triggers.
#[utoipa::path(get, path = "/api/v1/applications/{name}/manifest",
    params(("name" = String, Path, description = "application name", example = "shop")),
    responses((status = 200, body = AppSpec), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<AppSpec>, AppError> {
    Ok(Json(
        state.platform.applications().export(&who, &name).await?,
    ))
}

/// The wasm file of one version of a function.
#[utoipa::path(get, path = "/api/v1/functions/{name}/versions/{version}/wasm",
    params(("name" = String, Path, description = "function name", example = "hello"),
           ("version" = i64, Path, description = "version number", example = 1)),
    responses((status = 200, content_type = "application/wasm", body = Vec<u8>),
              (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn wasm(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path((name, version)): Path<(String, i64)>,
) -> Result<impl IntoResponse, AppError> {
    let bytes = state
        .platform
        .functions()
        .wasm(&who, &name, version)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/wasm".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-v{version}.wasm\""),
            ),
        ],
        bytes,
    ))
}

/// The JSON Schema of `wisp.toml`, for editors (public: it holds nothing
/// of any team; like `/api/v1/openapi.json`, a document about the API
/// rather than an operation of it, so not listed in the OpenAPI paths).
pub async fn schema() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        MANIFEST_SCHEMA,
    )
}
