//! The one error type of the dashboard's server functions. It crosses the wire
//! as JSON, so the browser can tell "sign in again" from "not found" from "the
//! server failed" and render each its own way. It owns no behaviour beyond the
//! mapping from the platform's error codes (server side only).

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

/// What went wrong in a dashboard server function, as the UI needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No session, or the session has expired: the UI sends the user to `/login`.
    #[error("Your session has ended. Sign in to continue.")]
    Unauthorized,
    /// Wrong username or password at sign in.
    #[error("Wrong username or password.")]
    BadCredentials,
    /// The thing asked for does not exist (a function, a version, an invocation).
    #[error("{0}")]
    NotFound(String),
    /// The caller's role does not allow it (a viewer changing something).
    #[error("{0}")]
    Forbidden(String),
    /// The request was understood but refused (bad name, unknown version, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// The server failed; the message is safe to show, the cause is in the server log.
    #[error("{0}")]
    Server(String),
    /// The request never got a proper answer (network down, server restarting).
    #[error("Could not reach the Wisp server: {0}")]
    Transport(String),
}

impl AppError {
    /// A short title for an error panel.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "Signed out",
            AppError::BadCredentials => "Sign in failed",
            AppError::NotFound(_) => "Not found",
            AppError::Forbidden(_) => "Not allowed",
            AppError::InvalidInput(_) => "Not possible",
            AppError::Server(_) => "Something went wrong",
            AppError::Transport(_) => "Server unreachable",
        }
    }

    /// The HTTP status a server function answers this error with (the
    /// REST API's for the same platform error).
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized | AppError::BadCredentials => 401,
            AppError::NotFound(_) => 404,
            AppError::Forbidden(_) => 403,
            AppError::InvalidInput(_) => 400,
            AppError::Server(_) => 500,
            AppError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(message) | ServerFnErrorErr::Response(message) => {
                AppError::Transport(message)
            }
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                AppError::InvalidInput(message)
            }
            other => AppError::Server(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<platform::PlatformError> for AppError {
    /// Maps the domain's error codes onto what the UI distinguishes. Messages of
    /// internal failures are logged, not shown: they may name files or queries.
    fn from(err: platform::PlatformError) -> Self {
        use platform::PlatformError;
        match (&err, err.status()) {
            (PlatformError::BadCredentials, _) => AppError::BadCredentials,
            (_, 401) => AppError::Unauthorized,
            (_, 404) => AppError::NotFound(capitalize(&err.to_string())),
            (_, 403) => AppError::Forbidden(capitalize(&err.to_string())),
            (_, status) if status < 500 => AppError::InvalidInput(capitalize(&err.to_string())),
            _ => {
                tracing::error!(code = err.code(), error = %err, "dashboard server function failed");
                AppError::Server(format!(
                    "The server could not complete this request ({}); see the server log.",
                    err.code()
                ))
            }
        }
    }
}

/// Platform messages start lowercase (`function x not found`); panels show sentences.
#[cfg(feature = "ssr")]
fn capitalize(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
