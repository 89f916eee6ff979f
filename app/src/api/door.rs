//! How a control-plane request proves who sends it, written once for both
//! doors (the REST API and the dashboard's server functions): a bearer API
//! token, or the dashboard's session cookie ([`SessionCookie`]); a change
//! made with the cookie must come from the dashboard's own pages (CSRF);
//! and signing in, which sets the cookie. Server side only.

use http::{header, HeaderMap, HeaderValue, Method};
use platform::{Platform, PlatformError, Principal};

use super::SessionCookie;

/// Header the dashboard's own REST calls add to cookie-authenticated
/// changes (a header a cross-site form cannot set).
pub const CSRF_HEADER: &str = "x-wisp-csrf";

/// Which door a request came through: the CSRF proof differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// `/api/v1/...`: a cookie-authenticated change carries [`CSRF_HEADER`].
    Rest,
    /// `/rpc/...`: the browser's fetch metadata says the page is ours.
    Dashboard,
}

/// Why a request was refused before it reached the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials, or they are wrong, revoked or expired (401).
    Unauthorized,
    /// A cookie-authenticated change without proof it comes from our page (403).
    Csrf,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Unauthorized => 401,
            Refusal::Csrf => 403,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "send an API token as `Authorization: Bearer <token>`",
            Refusal::Csrf => {
                "cookie-authenticated changes must come from the dashboard's own pages"
            }
        }
    }
}

/// Whether `method` changes state (everything but GET, HEAD, OPTIONS).
pub fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller of a request: its bearer token if it has one (a wrong one is
/// refused, never ignored), else its session cookie, checked for CSRF
/// when the request changes state.
pub async fn authenticate(
    platform: &Platform,
    cookie: SessionCookie,
    door: Door,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Principal, Refusal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(Refusal::Unauthorized)?;
        return platform
            .authenticate_token(token)
            .await
            .map_err(|_| Refusal::Unauthorized);
    }
    let session = cookie.token_in(headers).ok_or(Refusal::Unauthorized)?;
    let principal = platform
        .session_user(session)
        .await
        .map_err(|_| Refusal::Unauthorized)?;
    if changes(method) && csrf_refused(door, headers) {
        return Err(Refusal::Csrf);
    }
    Ok(principal)
}

/// Whether a cookie-carrying change fails its door's CSRF proof.
pub fn csrf_refused(door: Door, headers: &HeaderMap) -> bool {
    match door {
        Door::Rest => headers.get(CSRF_HEADER).is_none(),
        Door::Dashboard => cross_site(headers),
    }
}

/// Whether the browser says the request comes from another site or origin
/// (`Sec-Fetch-Site`, `Origin`). Clients that are not browsers send
/// neither and cannot carry a victim's cookie anyway.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    origin_host != host
}

/// Checks `username` and `password` (limited per user and per client),
/// ends the session the browser still had, and answers the `Set-Cookie`
/// value of the new session.
pub async fn sign_in(
    platform: &Platform,
    cookie: SessionCookie,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
    username: &str,
    password: &str,
) -> Result<HeaderValue, PlatformError> {
    let previous = cookie.token_in(headers);
    let session = platform
        .access()
        .login(username.trim(), password, client, previous)
        .await?;
    let max_age = (session.expires_at - platform.now()).num_seconds().max(0);
    HeaderValue::from_str(&cookie.set_cookie(&session.token, max_age))
        .map_err(|e| PlatformError::Internal(e.into()))
}

/// Ends the request's session, if any (an unknown or expired one is as
/// good as ended), and answers the `Set-Cookie` value that clears it.
pub async fn sign_out(
    platform: &Platform,
    cookie: SessionCookie,
    headers: &HeaderMap,
) -> Result<HeaderValue, PlatformError> {
    if let Some(token) = cookie.token_in(headers) {
        platform.access().logout(token).await?;
    }
    Ok(HeaderValue::from_str(&cookie.set_cookie("", 0)).expect("a cookie is a header value"))
}
