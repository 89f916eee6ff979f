//! Tenancy types shared by the API, the CLI and the dashboard: teams, their
//! members and roles, dashboard sessions and the audit log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A team the caller belongs to, with the caller's role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamInfo {
    pub id: i64,
    pub name: String,
    /// `owner`, `developer` or `viewer`.
    pub role: String,
    /// Whether requests of this session or token act for this team.
    pub current: bool,
}

/// `POST /api/v1/teams` body (server administrators only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub name: String,
    /// The user who owns the new team (default: the caller).
    #[serde(default)]
    pub owner: Option<String>,
}

/// `POST /api/v1/users` body (server administrators only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
}

/// A user as listed (never with a password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A member of the caller's team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub username: String,
    pub role: String,
    pub added_at: DateTime<Utc>,
}

/// `PUT /api/v1/team/members/{username}` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    /// `owner`, `developer` or `viewer`.
    pub role: String,
}

/// One of the caller's open dashboard sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// A public handle (not the secret) to revoke the session with.
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub team: String,
}

/// One state-changing control-plane request: who, what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub username: String,
    /// `session` or `token:<id>`.
    pub via: String,
    /// HTTP method (or dashboard action) of the change.
    pub action: String,
    /// The path (or object) changed.
    pub target: String,
    /// The response status.
    pub status: u16,
}
