//! Authentication of control-plane requests as an extractor: a bearer API
//! token, or the dashboard's session cookie. Cookie-authenticated requests
//! that change state must carry `X-Wisp-Csrf: 1` (a header a cross-site form
//! cannot set), on top of the cookie's SameSite=Strict.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use platform::Principal;

use super::{AppError, AppState};

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "wisp_session";
/// Header the dashboard adds to its own state-changing API calls.
const CSRF_HEADER: &str = "x-wisp-csrf";

/// The authenticated caller of a control-plane route.
pub struct Authenticated(pub Principal);

/// The value of cookie `name` in a request, if present.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let unauthorized = || {
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send an API token as `Authorization: Bearer <token>`",
            )
        };
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(unauthorized)?;
            return state
                .platform
                .authenticate_token(token)
                .await
                .map(Authenticated)
                .map_err(|_| unauthorized());
        }
        if let Some(session) = cookie(parts, SESSION_COOKIE) {
            let principal = state
                .platform
                .session_user(session)
                .await
                .map_err(|_| unauthorized())?;
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && parts.headers.get(CSRF_HEADER).is_none() {
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "cookie-authenticated changes must send the X-Wisp-Csrf header",
                ));
            }
            return Ok(Authenticated(principal));
        }
        Err(unauthorized())
    }
}
