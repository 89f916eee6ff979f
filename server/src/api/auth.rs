//! Authentication of control-plane requests as an extractor: a bearer API
//! token, or the dashboard's session cookie. Cookie-authenticated requests
//! that change state must carry `X-Wisp-Csrf: 1` (a header a cross-site form
//! cannot set), on top of the cookie's SameSite=Strict. The audit middleware
//! records who made each state-changing request and how it ended.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use platform::Principal;

use super::{AppError, AppState};

/// Header the dashboard adds to its own state-changing API calls.
const CSRF_HEADER: &str = "x-wisp-csrf";

/// The authenticated caller of a control-plane route.
pub struct Authenticated(pub Principal);

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
            let principal = state
                .platform
                .authenticate_token(token)
                .await
                .map_err(|_| unauthorized())?;
            remember(parts, &principal);
            return Ok(Authenticated(principal));
        }
        if let Some(session) = state.session_cookie.token_in(&parts.headers) {
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
            remember(parts, &principal);
            return Ok(Authenticated(principal));
        }
        Err(unauthorized())
    }
}

/// Where the extractor leaves the caller for the audit middleware.
#[derive(Clone, Default)]
struct AuditSlot(Arc<Mutex<Option<Principal>>>);

fn remember(parts: &Parts, principal: &Principal) {
    if let Some(slot) = parts.extensions.get::<AuditSlot>() {
        *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(principal.clone());
    }
}

/// Records every authenticated state-changing request (method, path,
/// response status) in the caller's team's audit log. Reads are not logged.
pub async fn audit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe {
        return next.run(request).await;
    }
    let slot = AuditSlot::default();
    request.extensions_mut().insert(slot.clone());
    let action = request.method().to_string();
    let target = request.uri().path().to_string();
    let response = next.run(request).await;
    let who = slot.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(who) = who {
        let status = response.status().as_u16();
        if let Err(e) = state
            .platform
            .record_audit(&who, &action, &target, status)
            .await
        {
            tracing::error!(error = %e, %action, %target, "writing the audit log");
        }
    }
    response
}
