//! The one error type of the domain layer and its one mapping: each variant
//! has a stable machine-readable code and the HTTP status every door answers
//! it with (the REST API, the gateway, the in-guest hosts and the
//! dashboard's server functions), and invalid input names the field it is
//! about. Internal causes are kept for the logs and never shown to clients.

use thiserror::Error;

/// Everything a platform operation can fail with.
#[derive(Debug, Error)]
pub enum PlatformError {
    /// `message`: what is missing, as a sentence (`function x not found`).
    #[error("{message}")]
    NotFound { message: String },
    /// `field`: the input the message is about (`memory_mb`, `env`, ...),
    /// when it is one field.
    #[error("{message}")]
    InvalidInput {
        message: String,
        field: Option<String>,
    },
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

    /// The HTTP status this error is answered with, wherever it is answered.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::InvalidInput { .. } => 400,
            Self::InvalidWasm { .. } => 422,
            Self::TooLarge { .. } => 413,
            Self::Conflict { .. } => 409,
            Self::Unauthorized | Self::BadCredentials => 401,
            Self::TooManyRequests { .. } | Self::RateLimited { .. } => 429,
            Self::Forbidden { .. } => 403,
            Self::Internal(_) => 500,
        }
    }

    /// The input field an invalid-input error is about, if it is one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidInput { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound {
            message: format!("{} not found", what.into()),
        }
    }

    /// Not found, said in the caller's own words (`no key k in application a`).
    pub(crate) fn missing(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
            field: None,
        }
    }

    /// Invalid input about one named field.
    pub(crate) fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl From<sqlx::Error> for PlatformError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("database"))
    }
}

/// A word of user input that names no value ("unknown role `admin`: use
/// owner, developer or viewer"): invalid input. Words read from the
/// database go through `db::column` instead, where they are internal errors.
impl From<model::UnknownValue> for PlatformError {
    fn from(e: model::UnknownValue) -> Self {
        Self::invalid(e.to_string())
    }
}
