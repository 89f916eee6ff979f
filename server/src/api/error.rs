//! `AppError`: the API's one error response, `{"error":{"code","message"}}`
//! with a fitting status. Internal causes are logged, never sent.

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
    fn from(e: PlatformError) -> Self {
        let status = match &e {
            PlatformError::NotFound { .. } => StatusCode::NOT_FOUND,
            PlatformError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
            PlatformError::InvalidWasm { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PlatformError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PlatformError::Conflict { .. } => StatusCode::CONFLICT,
            PlatformError::Unauthorized | PlatformError::BadCredentials => StatusCode::UNAUTHORIZED,
            PlatformError::TooManyRequests { .. } | PlatformError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            PlatformError::Forbidden { .. } => StatusCode::FORBIDDEN,
            PlatformError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
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
