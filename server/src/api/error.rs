//! `AppError`: the API's one error response, `{"error":{"code","message"}}`
//! with a fitting status. Internal causes are logged, never sent. Plus the
//! layer that gives axum's own rejections the same JSON shape.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::ApiError;
use platform::PlatformError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }
}

impl From<PlatformError> for AppError {
    /// The platform's own status for the error (see [`PlatformError::status`]).
    fn from(e: PlatformError) -> Self {
        if let PlatformError::Internal(cause) = &e {
            tracing::error!(error = ?cause, "internal error");
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(ApiError::new(self.code, self.message))).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wisp\""),
            );
        }
        response
    }
}

/// Largest plain-text rejection body turned into a JSON message.
const REJECTION_TEXT_BYTES: usize = 16 * 1024;

/// axum's own rejections (a query string or JSON body that does not parse, a
/// missing or wrong content type, a body over the limit, a method not
/// allowed) are plain text; the API promises `{"error": ...}` for every
/// failure. This layer rewrites such answers. A function's own answer to
/// `invoke` (it carries the invocation id header) passes untouched.
pub(crate) async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || response
            .headers()
            .contains_key(platform::INVOCATION_ID_HEADER)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let mut json = AppError::new(status, code, message).into_response();
    for name in [
        header::ALLOW,
        header::CONNECTION,
        header::RETRY_AFTER,
        header::WWW_AUTHENTICATE,
    ] {
        if let Some(value) = parts.headers.get(&name) {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}
