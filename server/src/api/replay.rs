//! Replay routes: a call's capture, the replay of one recorded call, and
//! the replay of a function's latest failures on one version.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use model::{
    CaptureInfo, ReplayFailuresRequest, ReplayFailuresResult, ReplayRequest, ReplayResult,
};
use serde::de::DeserializeOwned;

use super::{AppError, AppState, Authenticated};

/// A JSON body, or the defaults when the body is empty.
fn json_or_default<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let invalid =
        |e: serde_json::Error| AppError::bad_request(format!("the request body is not valid: {e}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    if !value.is_object() {
        return Err(AppError::bad_request(
            "the request body must be a JSON object (or empty)",
        ));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// What is kept of a recorded call (request, outbound calls, environment
/// names; secret values are never stored). Developers and owners only.
#[utoipa::path(get, path = "/api/v1/invocations/{id}/capture",
    params(("id" = String, Path, description = "invocation id")),
    responses((status = 200, body = CaptureInfo), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn capture(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<CaptureInfo>, AppError> {
    Ok(Json(state.platform.functions().capture(&who, &id).await?))
}

/// Runs a recorded call again in a fresh sandbox, on its own version or
/// another (`version`: a number or `"live"`), with its outbound requests
/// answered from the capture (`outbound`: `recorded`, the default) or sent
/// for real (`live`); answers both records and their diff.
#[utoipa::path(post, path = "/api/v1/invocations/{id}/replay",
    params(("id" = String, Path, description = "invocation id")),
    request_body(content = ReplayRequest, description = "may be empty: the original version, recorded outbound"),
    responses((status = 200, body = ReplayResult),
              (status = 404, body = model::ApiError, description = "no such invocation, no capture, or no such version"),
              (status = 409, body = model::ApiError, description = "the capture is incomplete (a body over the capture limit)")),
    security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ReplayResult>, AppError> {
    let request: ReplayRequest = json_or_default(&body)?;
    Ok(Json(
        state
            .platform
            .functions()
            .replay(&who, &id, &request)
            .await?,
    ))
}

/// Replays the function's latest captured failures (`last`, default 10) on
/// one version (default: the live one) and says of each whether it is
/// fixed, still failing or diverged.
#[utoipa::path(post, path = "/api/v1/functions/{name}/replay",
    params(("name" = String, Path, description = "function name")),
    request_body(content = ReplayFailuresRequest, description = "may be empty"),
    responses((status = 200, body = ReplayFailuresResult), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn replay_failures(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ReplayFailuresResult>, AppError> {
    let request: ReplayFailuresRequest = json_or_default(&body)?;
    Ok(Json(
        state
            .platform
            .functions()
            .replay_failures(&who, &name, &request)
            .await?,
    ))
}
