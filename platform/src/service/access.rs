//! Access through the one door: signing in and out, the caller's teams and
//! switching between them, a team's members and their roles (owners),
//! users and teams (server administrators), the caller's sessions and API
//! tokens, and the team's audit log (owners). Sign-in and sign-out are
//! audited as the user they are about.

use model::{ApiTokenInfo, AuditEntry, CreatedApiToken, Member, SessionInfo, TeamInfo, UserInfo};

use super::Change;
use crate::{Platform, PlatformError, Principal, Role, Session};

/// Who may use the control plane (see [`Platform::access`]).
pub struct Access<'a>(pub(super) &'a Platform);

impl Access<'_> {
    /// Checks a username and password and opens a dashboard session (see
    /// [`Platform::login`]'s limits); audited as the user signing in.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
        replaces: Option<&str>,
    ) -> Result<Session, PlatformError> {
        let session = self.0.login(username, password, client, replaces).await?;
        let who = self.0.session_user(&session.token).await?;
        self.0
            .audited(&who, "login", "session", Change::Create, async { Ok(()) })
            .await?;
        Ok(session)
    }

    /// Ends the dashboard session `token` (an unknown or expired one is
    /// already ended); audited as its user.
    pub async fn logout(&self, token: &str) -> Result<(), PlatformError> {
        match self.0.session_user(token).await {
            Ok(who) => {
                self.0
                    .audited(
                        &who,
                        "logout",
                        "session",
                        Change::NoContent,
                        self.0.logout(token),
                    )
                    .await
            }
            Err(PlatformError::Unauthorized) => self.0.logout(token).await,
            Err(e) => Err(e),
        }
    }

    /// The caller's teams, with the caller's role in each.
    pub async fn teams(&self, who: &Principal) -> Result<Vec<TeamInfo>, PlatformError> {
        self.0.list_teams(who).await
    }

    /// Makes the caller's dashboard session (`session_token`) act for
    /// another of the caller's teams.
    pub async fn switch_team(
        &self,
        who: &Principal,
        session_token: &str,
        team_id: i64,
    ) -> Result<(), PlatformError> {
        let target = format!("team {team_id}");
        self.0
            .audited(who, "switch_team", &target, Change::Update, async {
                if who.token_id.is_some() {
                    return Err(PlatformError::invalid(
                        "an API token is bound to its team; sign in to switch teams",
                    ));
                }
                self.0.switch_team(session_token, team_id).await
            })
            .await
    }

    /// Creates a team owned by `owner` (default: the caller). Administrators only.
    pub async fn create_team(
        &self,
        who: &Principal,
        name: &str,
        owner: Option<&str>,
    ) -> Result<TeamInfo, PlatformError> {
        let target = format!("team {}", name.trim());
        self.0
            .audited(
                who,
                "create_team",
                &target,
                Change::Create,
                self.0.create_team(who, name, owner),
            )
            .await
    }

    /// Creates a user (no team yet). Administrators only.
    pub async fn create_user(
        &self,
        who: &Principal,
        username: &str,
        password: &str,
    ) -> Result<UserInfo, PlatformError> {
        let target = format!("user {}", username.trim());
        self.0
            .audited(
                who,
                "create_user",
                &target,
                Change::Create,
                self.0.create_user(who, username, password),
            )
            .await
    }

    /// The members of the caller's team.
    pub async fn members(&self, who: &Principal) -> Result<Vec<Member>, PlatformError> {
        self.0.list_members(who).await
    }

    /// Adds `username` to the team or changes their role (owners).
    pub async fn set_member(
        &self,
        who: &Principal,
        username: &str,
        role: Role,
    ) -> Result<Member, PlatformError> {
        let target = format!("member {username} as {role}");
        self.0
            .audited(who, "set_member_role", &target, Change::Update, async {
                who.require(Role::Owner)?;
                self.0.set_member(who, username, role).await
            })
            .await
    }

    /// Removes `username` from the team (owners).
    pub async fn remove_member(
        &self,
        who: &Principal,
        username: &str,
    ) -> Result<(), PlatformError> {
        let target = format!("member {username}");
        self.0
            .audited(who, "remove_member", &target, Change::NoContent, async {
                who.require(Role::Owner)?;
                self.0.remove_member(who, username).await
            })
            .await
    }

    /// The caller's open dashboard sessions, newest first.
    pub async fn sessions(&self, who: &Principal) -> Result<Vec<SessionInfo>, PlatformError> {
        self.0.list_sessions(who).await
    }

    /// Ends one of the caller's own sessions (any device) at once.
    pub async fn end_session(&self, who: &Principal, id: &str) -> Result<(), PlatformError> {
        let target = format!("session {id}");
        self.0
            .audited(
                who,
                "end_session",
                &target,
                Change::NoContent,
                self.0.revoke_session(who, id),
            )
            .await
    }

    /// The caller's working API tokens for the team.
    pub async fn tokens(&self, who: &Principal) -> Result<Vec<ApiTokenInfo>, PlatformError> {
        self.0.list_api_tokens(who).await
    }

    /// Issues a token for the caller, scoped to the team and a role no
    /// higher than the caller's; the secret is in the answer only.
    pub async fn create_token(
        &self,
        who: &Principal,
        name: &str,
        role: Option<&str>,
        expires_in_days: Option<u32>,
    ) -> Result<CreatedApiToken, PlatformError> {
        let target = format!("token {}", name.trim());
        self.0
            .audited(
                who,
                "create_token",
                &target,
                Change::Create,
                self.0.issue_api_token(who, name, role, expires_in_days),
            )
            .await
    }

    /// Revokes one of the caller's tokens.
    pub async fn revoke_token(&self, who: &Principal, id: i64) -> Result<(), PlatformError> {
        let target = format!("token {id}");
        self.0
            .audited(
                who,
                "revoke_token",
                &target,
                Change::NoContent,
                self.0.revoke_api_token(who, id),
            )
            .await
    }

    /// The team's audit log, newest first (owners).
    pub async fn audit_log(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, PlatformError> {
        self.0.audit_log(who, limit).await
    }
}
