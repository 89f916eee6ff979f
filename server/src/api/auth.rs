//! Authentication of control-plane requests as an extractor, over the one
//! implementation shared with the dashboard ([`app::api::door`]): a bearer
//! API token, or the dashboard's session cookie (a cookie-authenticated
//! change must carry `X-Wisp-Csrf: 1`, on top of the cookie's
//! SameSite=Strict). Auditing is the platform's: every change a handler
//! asks of a service is recorded there.

use app::api::door::{self, Door, Refusal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use platform::Principal;

use super::{AppError, AppState};

/// The authenticated caller of a control-plane route.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        door::authenticate(
            &state.platform,
            state.session_cookie,
            Door::Rest,
            &parts.method,
            &parts.headers,
        )
        .await
        .map(Authenticated)
        .map_err(refusal)
    }
}

/// The REST answer to a request refused at the door.
pub fn refusal(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::Unauthorized => {
            AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", refusal.message())
        }
        Refusal::Csrf => AppError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "cookie-authenticated changes must send the X-Wisp-Csrf header",
        ),
    }
}
