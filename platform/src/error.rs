//! The one error type of the domain layer. Each variant maps to a stable
//! machine-readable code that the REST API and the dashboard show; internal
//! causes are kept for the logs and never shown to clients.

use thiserror::Error;

/// Everything a platform operation can fail with.
#[derive(Debug, Error)]
pub enum PlatformError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{message}")]
    InvalidInput { message: String },
    #[error("{message}")]
    InvalidWasm { message: String },
    #[error("the upload is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("{message}")]
    Conflict { message: String },
    #[error("authentication required")]
    Unauthorized,
    /// Authenticated, but the role (or the token's scope) does not allow it.
    #[error("{message}")]
    Forbidden { message: String },
    /// Too many sign-in attempts; try again after this many seconds.
    #[error("too many sign-in attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("wrong username or password")]
    BadCredentials,
    /// A concurrency limit or the memory budget is reached (answered 429
    /// with `Retry-After`): the function's `max_concurrency`, its team's
    /// share of the instance pool, the pool itself, or the server's memory
    /// budget for running sandboxes. The message says which.
    #[error("{message}")]
    TooManyRequests { message: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl PlatformError {
    /// Stable code for API clients (`{"error":{"code": ...}}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::InvalidInput { .. } => "invalid_input",
            Self::InvalidWasm { .. } => "invalid_wasm",
            Self::TooLarge { .. } => "too_large",
            Self::Conflict { .. } => "conflict",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::BadCredentials => "bad_credentials",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Internal(_) => "internal",
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for PlatformError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}
