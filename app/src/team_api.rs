//! Server functions of the Team page: who the session acts as, the user's
//! teams (and switching), the team's members and roles, the user's open
//! sessions, and the audit log for owners. Thin calls into the platform,
//! which checks roles itself.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{AuditEntry, Member, Role, SessionInfo, TeamInfo};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the Team page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamView {
    pub username: String,
    pub team: String,
    pub role: Role,
    pub teams: Vec<TeamInfo>,
    pub members: Vec<Member>,
    pub sessions: Vec<SessionInfo>,
    /// The latest changes; `None` unless the user owns the team.
    pub audit: Option<Vec<AuditEntry>>,
}

/// The Team page's data for the signed-in user.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_team() -> Result<TeamView, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let platform = crate::api::ssr::platform();
    let audit = if who.role == Role::Owner {
        Some(platform.access().audit_log(&who, 50).await?)
    } else {
        None
    };
    Ok(TeamView {
        teams: platform.access().teams(&who).await?,
        members: platform.access().members(&who).await?,
        sessions: platform.access().sessions(&who).await?,
        audit,
        username: who.username,
        team: who.team,
        role: who.role,
    })
}

/// Makes the session act for another of the user's teams.
#[server(prefix = "/rpc")]
pub async fn switch_team(team_id: i64) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    let token = crate::api::ssr::session_token().ok_or(AppError::Unauthorized)?;
    crate::api::ssr::platform()
        .access()
        .switch_team(&who, &token, team_id)
        .await?;
    leptos_axum::redirect("/team");
    Ok(())
}

/// Adds a user to the team or changes their role (owners).
#[server(prefix = "/rpc")]
pub async fn set_member_role(username: String, role: String) -> Result<Member, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let role = Role::parse(&role).map_err(platform::PlatformError::from)?;
    Ok(crate::api::ssr::platform()
        .access()
        .set_member(&who, username.trim(), role)
        .await?)
}

/// Removes a user from the team (owners).
#[server(prefix = "/rpc")]
pub async fn remove_member(username: String) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .access()
        .remove_member(&who, &username)
        .await?)
}

/// Ends one of the user's sessions.
#[server(prefix = "/rpc")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .access()
        .end_session(&who, &id)
        .await?)
}
