//! Function routes: upload a version, list, describe, configure, move the
//! live alias, delete.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::{BodyExt, Limited};
use model::{
    AliasUpdate, DeployEvent, DeployedVersion, FunctionConfigPatch, FunctionDetail,
    FunctionListQuery, FunctionSummary,
};
use platform::DeployProgress;
use serde::Deserialize;
use tokio_stream::StreamExt as _;

use super::{AppError, AppState, Authenticated};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UploadParams {
    /// Make the new version live (default true).
    activate: Option<bool>,
}

/// Upload a `.wasm` file as a new version (creates the function if new).
///
/// With `Accept: application/x-ndjson` the answer is `200` with one JSON
/// line per event as the upload goes through its stages (`started` /
/// `done` for upload, validate, compile, live), ending in a `deployed` line
/// (the version, as `201` would answer it) or a `failed` line (the status
/// and error the plain form would answer). The upload goes on if the client
/// leaves.
#[utoipa::path(post, path = "/api/v1/functions/{name}/versions",
    params(("name" = String, Path, description = "function name", example = "hello"), UploadParams),
    request_body(content(
        (Vec<u8> = "application/wasm"),
        (Vec<u8> = "application/octet-stream")),
        description = "the .wasm file; any content type is accepted"),
    responses((status = 201, body = DeployedVersion),
              (status = 200, body = model::DeployEvent, content_type = "application/x-ndjson",
               description = "the streamed form: one event per line"),
              (status = 413, body = model::ApiError),
              (status = 422, body = model::ApiError, description = "not a valid function")),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(name): Path<String>,
    Query(params): Query<UploadParams>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let receiving = std::time::Instant::now();
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
    let received_ms = u64::try_from(receiving.elapsed().as_millis()).unwrap_or(u64::MAX);
    let received = format!("{} received", app::format::bytes(bytes.len() as i64));
    let activate = params.activate.unwrap_or(true);
    if !wants_stream(&headers) {
        let progress = DeployProgress::default();
        progress.record("upload", received_ms, received);
        let deployed = state
            .platform
            .functions()
            .deploy(&who, &name, bytes, activate, &progress)
            .await?;
        tracing::info!(user = %who.username, function = %name, version = deployed.version, "upload");
        return Ok((StatusCode::CREATED, Json(deployed)).into_response());
    }
    let (events, lines) = tokio::sync::mpsc::unbounded_channel();
    let progress = DeployProgress::streamed(events.clone());
    progress.record("upload", received_ms, received);
    // Its own task: a client that leaves mid-compile does not stop the
    // upload, whose version is then listed like any other.
    tokio::spawn(async move {
        let result = state
            .platform
            .functions()
            .deploy(&who, &name, bytes, activate, &progress)
            .await;
        let last = match result {
            Ok(deployed) => {
                tracing::info!(user = %who.username, function = %name, version = deployed.version, "upload");
                DeployEvent::Deployed(deployed)
            }
            Err(error) => {
                let error = AppError::from(error);
                DeployEvent::Failed {
                    status: error.status.as_u16(),
                    error: model::ApiErrorBody {
                        code: error.code.to_string(),
                        message: error.message,
                    },
                }
            }
        };
        let _ = events.send(last);
    });
    let body = tokio_stream::wrappers::UnboundedReceiverStream::new(lines).map(|event| {
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/x-ndjson"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// Whether the client asked for the streamed form of an upload's answer.
fn wants_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|kind| {
            kind.split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/x-ndjson"))
        })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Page size, 1 to 1000 (without `limit`, `after` or `search` every
    /// function is listed).
    limit: Option<u32>,
    /// List names after this one (the last name of the previous page).
    after: Option<String>,
    /// Only names containing this text (case-insensitive).
    search: Option<String>,
}

/// List functions, by name. With `limit`, `after` or `search` one page
/// is answered: the `Link` header holds the next page's URL
/// (`rel="next"`, absent on the last page) and `X-Total-Count` how many
/// functions match on all pages.
#[utoipa::path(get, path = "/api/v1/functions", params(ListParams),
    responses((status = 200, body = [FunctionSummary],
        headers(("Link" = String, description = "the next page (rel=\"next\")"),
                ("X-Total-Count" = i64, description = "functions matching on all pages"))),
        (status = 400, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let query = FunctionListQuery {
        limit: params.limit,
        after: params.after,
        search: params.search,
    };
    if !query.is_paged() {
        return Ok(Json(state.platform.functions().list(&who).await?).into_response());
    }
    let page = state.platform.functions().page(&who, &query).await?;
    let mut response = Json(page.functions).into_response();
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(after) = page.next_after {
        let mut next = format!("/api/v1/functions?after={after}");
        if let Some(limit) = query.limit {
            next.push_str(&format!("&limit={limit}"));
        }
        if let Some(search) = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // A search that matched holds only name characters: no escaping.
            next.push_str(&format!("&search={}", search.to_ascii_lowercase()));
        }
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            headers.insert(http::header::LINK, link);
        }
    }
    Ok(response)
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
