//! Accounts and tenancy routes: sign in over the API (a session cookie, rate
//! limited), who am I, the caller's teams and switching between them, team
//! members and roles (owners), users and teams (administrators), open
//! sessions and their revocation, and the team's audit log (owners).

use std::net::SocketAddr;

use app::api::door;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::{AuditEntry, Member, MemberRole, NewTeam, NewUser, SessionInfo, TeamInfo, UserInfo};
use platform::Role;
use serde::{Deserialize, Serialize};

use super::{AppError, AppState, Authenticated};

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, AppError> {
    serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("expected {expected}: {e}")))
}

/// `POST /api/v1/login` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Who a session or token acts as.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    username: String,
    is_admin: bool,
    team: String,
    team_id: i64,
    /// `owner`, `developer` or `viewer`.
    role: Role,
    /// `session` or `token`.
    via: String,
}

fn whoami_of(who: &platform::Principal) -> WhoAmI {
    WhoAmI {
        username: who.username.clone(),
        is_admin: who.is_admin,
        team: who.team.clone(),
        team_id: who.team_id,
        role: who.role,
        via: if who.token_id.is_some() {
            "token"
        } else {
            "session"
        }
        .into(),
    }
}

/// Sign in: sets the HttpOnly session cookie (the same session the dashboard
/// uses). Failed attempts are limited per user name and client address.
#[utoipa::path(post, path = "/api/v1/login", request_body = Credentials,
    responses((status = 204, description = "signed in; the cookie is set"),
              (status = 401, body = model::ApiError),
              (status = 403, body = model::ApiError, description = "sent by a page of another origin"),
              (status = 415, body = model::ApiError, description = "not JSON"),
              (status = 429, body = model::ApiError)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    // Login CSRF: a page on another origin (a function on the gateway, say)
    // can post a form or a no-cors `text/plain` fetch, but cannot send JSON
    // without a preflight, and its browser names its origin.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the credentials as JSON (Content-Type: application/json)",
        ));
    }
    if door::cross_site(&headers) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "sign-in from a page of another origin is refused",
        ));
    }
    let credentials: Credentials = parse(&body, r#"{"username": "...", "password": "..."}"#)?;
    let cookie = door::sign_in(
        &state.platform,
        state.session_cookie,
        &headers,
        Some(client.ip()),
        &credentials.username,
        &credentials.password,
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The caller: user, team and role.
#[utoipa::path(get, path = "/api/v1/whoami",
    responses((status = 200, body = WhoAmI)), security(("bearer" = [])))]
pub async fn whoami(Authenticated(who): Authenticated) -> Json<WhoAmI> {
    Json(whoami_of(&who))
}

/// The caller's teams and role in each.
#[utoipa::path(get, path = "/api/v1/teams",
    responses((status = 200, body = [TeamInfo])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Vec<TeamInfo>>, AppError> {
    Ok(Json(state.platform.access().teams(&who).await?))
}

/// Create a team (administrators only); its owner is `owner` or the caller.
#[utoipa::path(post, path = "/api/v1/teams", request_body = NewTeam,
    responses((status = 201, body = TeamInfo), (status = 403, body = model::ApiError),
              (status = 404, body = model::ApiError, description = "no such owner"),
              (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<TeamInfo>), AppError> {
    let new: NewTeam = parse(&body, r#"{"name": "...", "owner": "..."}"#)?;
    let team = state
        .platform
        .access()
        .create_team(&who, &new.name, new.owner.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// `POST /api/v1/session/team` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTeam {
    team_id: i64,
}

/// Make the dashboard session act for another of the user's teams (tokens
/// are bound to their team and cannot switch).
#[utoipa::path(post, path = "/api/v1/session/team", request_body = SwitchTeam,
    responses((status = 200, body = WhoAmI), (status = 400, body = model::ApiError),
              (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn switch(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<WhoAmI>, AppError> {
    let target: SwitchTeam = parse(&body, r#"{"team_id": N}"#)?;
    let session = state.session_cookie.token_in(&headers).unwrap_or_default();
    state
        .platform
        .access()
        .switch_team(&who, session, target.team_id)
        .await?;
    let now = state.platform.session_user(session).await?;
    Ok(Json(whoami_of(&now)))
}

/// Create a user (administrators only); an owner then adds them to a team.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser,
    responses((status = 201, body = UserInfo), (status = 400, body = model::ApiError),
              (status = 403, body = model::ApiError), (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<UserInfo>), AppError> {
    let new: NewUser = parse(&body, r#"{"username": "...", "password": "..."}"#)?;
    let user = state
        .platform
        .access()
        .create_user(&who, &new.username, &new.password)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The members of the caller's team.
#[utoipa::path(get, path = "/api/v1/team/members",
    responses((status = 200, body = [Member])), security(("bearer" = [])))]
pub async fn members(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Vec<Member>>, AppError> {
    Ok(Json(state.platform.access().members(&who).await?))
}

/// Add a user to the caller's team or change their role (owners only).
#[utoipa::path(put, path = "/api/v1/team/members/{username}", request_body = MemberRole,
    params(("username" = String, Path, description = "user name")),
    responses((status = 200, body = Member), (status = 403, body = model::ApiError),
              (status = 404, body = model::ApiError), (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn set_member(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(username): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Member>, AppError> {
    let change: MemberRole = parse(&body, r#"{"role": "owner|developer|viewer"}"#)?;
    let role = Role::parse(&change.role).map_err(platform::PlatformError::from)?;
    Ok(Json(
        state
            .platform
            .access()
            .set_member(&who, &username, role)
            .await?,
    ))
}

/// Remove a user from the caller's team (owners only): their sessions in the
/// team end and their tokens for it are revoked.
#[utoipa::path(delete, path = "/api/v1/team/members/{username}",
    params(("username" = String, Path, description = "user name")),
    responses((status = 204), (status = 403, body = model::ApiError),
              (status = 404, body = model::ApiError), (status = 409, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(username): Path<String>,
) -> Result<StatusCode, AppError> {
    state
        .platform
        .access()
        .remove_member(&who, &username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's open dashboard sessions.
#[utoipa::path(get, path = "/api/v1/sessions",
    responses((status = 200, body = [SessionInfo])), security(("bearer" = [])))]
pub async fn sessions(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<Json<Vec<SessionInfo>>, AppError> {
    Ok(Json(state.platform.access().sessions(&who).await?))
}

/// End one of the caller's sessions at once.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}",
    params(("id" = String, Path, description = "session id from the list")),
    responses((status = 204), (status = 404, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.platform.access().end_session(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// Default 100, at most 1000.
    limit: Option<u32>,
}

/// The team's audit log, newest first (owners only).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams),
    responses((status = 200, body = [AuditEntry]), (status = 403, body = model::ApiError)),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    Ok(Json(
        state
            .platform
            .access()
            .audit_log(&who, p.limit.unwrap_or(100))
            .await?,
    ))
}
