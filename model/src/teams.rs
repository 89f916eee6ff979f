//! Tenancy types shared by the API, the CLI and the dashboard: teams, their
//! members and roles, dashboard sessions and the audit log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

word_enum! {
    /// What a member (or a token) may do in a team; ordered from least to
    /// most (`Viewer < Developer < Owner`: keep the declaration order).
    #[derive(PartialOrd, Ord)]
    pub enum Role ("role", expected "owner, developer or viewer") {
        /// Reads everything of the team, changes nothing.
        Viewer = "viewer",
        /// Deploys, configures, invokes, manages triggers, topics and key-value data.
        Developer = "developer",
        /// Everything, plus members, tokens of any role and the audit log.
        Owner = "owner",
    }
}

/// A team the caller belongs to, with the caller's role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamInfo {
    pub id: i64,
    pub name: String,
    /// `owner`, `developer` or `viewer`.
    pub role: Role,
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
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

/// `PUT /api/v1/team/members/{username}` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberRole {
    /// `owner`, `developer` or `viewer`. Text, not [`Role`]: an unknown role
    /// is refused by the platform with a message naming the roles (400
    /// `invalid_input`), not by the JSON parser.
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
