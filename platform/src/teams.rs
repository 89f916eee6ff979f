//! Tenancy: teams own functions (and through them triggers, invocations,
//! jobs, costs and key-value data); users are members with a role. This
//! module owns role checks, team and member management, user creation, session
//! listing and revocation, function ownership checks and the audit log.

use model::{AuditEntry, Member, Role, SessionInfo, TeamInfo, UserInfo};
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError, Principal};

/// Longest user or team name accepted.
const MAX_NAME_CHARS: usize = 64;

fn validate_name(what: &str, name: &str) -> Result<(), PlatformError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(PlatformError::invalid(format!(
            "a {what} name is 1-{MAX_NAME_CHARS} letters, digits, '-', '_' or '.'"
        )))
    }
}

/// A session's public handle: the start of the hash of its secret.
fn session_handle(token_hash: &str) -> String {
    token_hash.chars().take(16).collect()
}

impl Platform {
    /// The team that owns function `name` (also after the function was
    /// deleted), if any.
    pub(crate) async fn function_owner(&self, name: &str) -> Result<Option<i64>, PlatformError> {
        Ok(
            sqlx::query("SELECT team_id FROM function_owners WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.inner.db)
                .await?
                .map(|row| row.try_get::<i64, _>("team_id"))
                .transpose()?,
        )
    }

    /// Checks that the caller's team owns function `name` and that the caller
    /// has at least role `needed`. Another team's function is `not_found`:
    /// the control plane never confirms what other teams have.
    pub(crate) async fn authorize_function(
        &self,
        who: &Principal,
        name: &str,
        needed: Role,
    ) -> Result<(), PlatformError> {
        if self.function_owner(name).await? != Some(who.team_id) {
            return Err(PlatformError::not_found(format!("function {name}")));
        }
        who.require(needed)
    }

    /// Like [`Platform::authorize_function`] for an object (`what`, e.g.
    /// `invocation 01J...`) that belongs to `function`: another team's object
    /// is `not_found` under its own name.
    pub(crate) async fn authorize_object(
        &self,
        who: &Principal,
        function: &str,
        needed: Role,
        what: &str,
    ) -> Result<(), PlatformError> {
        if self.function_owner(function).await? != Some(who.team_id) {
            return Err(PlatformError::not_found(what));
        }
        who.require(needed)
    }

    /// Invocation `id` when it belongs to `who`'s team, else `not_found`.
    pub(crate) async fn invocation_for(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<model::InvocationRecord, PlatformError> {
        let record = self.invocation(id).await?;
        let what = format!("invocation {id}");
        self.authorize_object(who, &record.function, Role::Viewer, &what)
            .await?;
        Ok(record)
    }

    /// Job `id` when it belongs to `who`'s team and `who` has `needed`.
    pub(crate) async fn job_for(
        &self,
        who: &Principal,
        id: &str,
        needed: Role,
    ) -> Result<model::Job, PlatformError> {
        let job = self.job(id).await?;
        self.authorize_object(who, &job.function, needed, &format!("job {id}"))
            .await?;
        Ok(job)
    }

    /// Trigger `id` when it belongs to `who`'s team and `who` has `needed`.
    pub(crate) async fn trigger_for(
        &self,
        who: &Principal,
        id: &str,
        needed: Role,
    ) -> Result<model::Trigger, PlatformError> {
        let trigger = self.trigger(id).await?;
        let what = format!("trigger {id}");
        self.authorize_object(who, &trigger.function, needed, &what)
            .await?;
        Ok(trigger)
    }

    /// Claims `name` for `team_id` on first deploy; `conflict` when another
    /// team owns it (names are global: they are gateway URLs).
    pub(crate) async fn claim_function_name(
        &self,
        team_id: i64,
        name: &str,
    ) -> Result<(), PlatformError> {
        sqlx::query(
            "INSERT INTO function_owners (name, team_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(team_id)
        .bind(self.inner.clock.now_ms())
        .execute(&self.inner.db)
        .await?;
        match self.function_owner(name).await? {
            Some(owner) if owner == team_id => Ok(()),
            _ => Err(PlatformError::Conflict {
                message: format!(
                    "the function name {name} belongs to another team; choose another name"
                ),
            }),
        }
    }

    /// The caller's teams, with the caller's role in each.
    pub(crate) async fn list_teams(&self, who: &Principal) -> Result<Vec<TeamInfo>, PlatformError> {
        sqlx::query(
            "SELECT t.id AS id, t.name AS name, m.role AS role FROM team_members m \
             JOIN teams t ON t.id = m.team_id WHERE m.user_id = $1 ORDER BY t.name",
        )
        .bind(who.user_id)
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            // A token never acts above its scope, whatever the membership says.
            let role = if id == who.team_id {
                who.role
            } else {
                crate::db::column(row, "role")?
            };
            Ok(TeamInfo {
                id,
                name: row.try_get("name")?,
                role,
                current: id == who.team_id,
            })
        })
        .collect()
    }

    /// Creates a team owned by `owner` (default: the caller). Administrators only.
    pub(crate) async fn create_team(
        &self,
        who: &Principal,
        name: &str,
        owner: Option<&str>,
    ) -> Result<TeamInfo, PlatformError> {
        who.require_admin()?;
        let name = name.trim();
        validate_name("team", name)?;
        let owner_id = match owner {
            Some(username) => self.user_id(username).await?,
            None => who.user_id,
        };
        let now = self.inner.clock.now_ms();
        // BEGIN IMMEDIATE on SQLite: a read-then-write transaction must hold
        // the write lock from the start, or a concurrent writer makes it fail.
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        let taken = sqlx::query("SELECT 1 FROM teams WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if taken {
            return Err(PlatformError::Conflict {
                message: format!("a team named {name} exists"),
            });
        }
        sqlx::query("INSERT INTO teams (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query("SELECT id FROM teams WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(id)
        .bind(owner_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(TeamInfo {
            id,
            name: name.to_string(),
            role: Role::Owner,
            current: false,
        })
    }

    /// Creates a user (no team yet: an owner adds them). Administrators only.
    pub(crate) async fn create_user(
        &self,
        who: &Principal,
        username: &str,
        password: &str,
    ) -> Result<UserInfo, PlatformError> {
        who.require_admin()?;
        let username = username.trim();
        validate_name("user", username)?;
        if password.chars().count() < 8 {
            return Err(PlatformError::invalid(
                "a password must be at least 8 characters",
            ));
        }
        if self.user_id(username).await.is_ok() {
            return Err(PlatformError::Conflict {
                message: format!("a user named {username} exists"),
            });
        }
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
            .await
            .map_err(|e| PlatformError::Internal(e.into()))??;
        let now = self.inner.clock.now_ms();
        sqlx::query(
            "INSERT INTO users (username, password_hash, is_admin, created_at) VALUES ($1, $2, 0, $3)",
        )
        .bind(username)
        .bind(hash)
        .bind(now)
        .execute(&self.inner.db)
        .await?;
        Ok(UserInfo {
            id: self.user_id(username).await?,
            username: username.to_string(),
            is_admin: false,
            created_at: from_ms(now),
        })
    }

    async fn user_id(&self, username: &str) -> Result<i64, PlatformError> {
        Ok(sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("user {username}")))?
            .try_get("id")?)
    }

    /// The members of the caller's team.
    pub(crate) async fn list_members(&self, who: &Principal) -> Result<Vec<Member>, PlatformError> {
        sqlx::query(
            "SELECT u.username AS username, m.role AS role, m.created_at AS created_at \
             FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 \
             ORDER BY u.username",
        )
        .bind(who.team_id)
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(|row| {
            Ok(Member {
                username: row.try_get("username")?,
                role: crate::db::column(row, "role")?,
                added_at: from_ms(row.try_get("created_at")?),
            })
        })
        .collect()
    }

    /// Adds `username` to the caller's team with `role`, or changes their
    /// role. Owners only; the last owner cannot be demoted.
    pub(crate) async fn set_member(
        &self,
        who: &Principal,
        username: &str,
        role: Role,
    ) -> Result<Member, PlatformError> {
        who.require(Role::Owner)?;
        let user_id = self.user_id(username).await?;
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        let current: Option<Role> =
            sqlx::query("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(who.team_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| crate::db::column(&row, "role"))
                .transpose()?;
        let now = self.inner.clock.now_ms();
        match current {
            Some(old) => {
                if old == Role::Owner && role != Role::Owner {
                    self.ensure_another_owner(&mut tx, who.team_id, user_id)
                        .await?;
                }
                sqlx::query(
                    "UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3",
                )
                .bind(role.as_str())
                .bind(who.team_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(who.team_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.list_members(who)
            .await?
            .into_iter()
            .find(|m| m.username == username)
            .ok_or_else(|| PlatformError::not_found(format!("member {username}")))
    }

    /// Removes `username` from the caller's team (their sessions there end,
    /// their tokens stop working). Owners only; never the last owner.
    pub(crate) async fn remove_member(
        &self,
        who: &Principal,
        username: &str,
    ) -> Result<(), PlatformError> {
        who.require(Role::Owner)?;
        let user_id = self.user_id(username).await?;
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        self.ensure_another_owner(&mut tx, who.team_id, user_id)
            .await?;
        let removed = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(who.team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(PlatformError::not_found(format!("member {username}")));
        }
        sqlx::query("DELETE FROM sessions WHERE team_id = $1 AND user_id = $2")
            .bind(who.team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE team_id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(self.inner.clock.now_ms())
        .bind(who.team_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `conflict` when `user_id` is the team's only owner.
    async fn ensure_another_owner(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        team_id: i64,
        user_id: i64,
    ) -> Result<(), PlatformError> {
        let others: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM team_members WHERE team_id = $1 AND role = 'owner' AND user_id <> $2",
        )
        .bind(team_id)
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
        let is_owner = sqlx::query(
            "SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2 AND role = 'owner'",
        )
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
        if is_owner && others == 0 {
            return Err(PlatformError::Conflict {
                message: "a team needs at least one owner; make someone else owner first".into(),
            });
        }
        Ok(())
    }

    /// Makes the dashboard session act for another of its user's teams.
    pub(crate) async fn switch_team(
        &self,
        session_token: &str,
        team_id: i64,
    ) -> Result<(), PlatformError> {
        let who = self.session_user(session_token).await?;
        let member = sqlx::query("SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(who.user_id)
            .fetch_optional(&self.inner.db)
            .await?
            .is_some();
        if !member {
            return Err(PlatformError::not_found(format!("team {team_id}")));
        }
        sqlx::query("UPDATE sessions SET team_id = $1 WHERE token_hash = $2")
            .bind(team_id)
            .bind(crate::auth::hash_secret(session_token))
            .execute(&self.inner.db)
            .await?;
        Ok(())
    }

    /// The caller's open dashboard sessions, newest first.
    pub(crate) async fn list_sessions(
        &self,
        who: &Principal,
    ) -> Result<Vec<SessionInfo>, PlatformError> {
        sqlx::query(
            "SELECT s.token_hash AS token_hash, s.created_at AS created_at, s.expires_at AS expires_at, \
             t.name AS team FROM sessions s JOIN teams t ON t.id = s.team_id \
             WHERE s.user_id = $1 AND s.expires_at > $2 ORDER BY s.created_at DESC",
        )
        .bind(who.user_id)
        .bind(self.inner.clock.now_ms())
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(|row| {
            Ok(SessionInfo {
                id: session_handle(&row.try_get::<String, _>("token_hash")?),
                created_at: from_ms(row.try_get("created_at")?),
                expires_at: from_ms(row.try_get("expires_at")?),
                team: row.try_get("team")?,
            })
        })
        .collect()
    }

    /// Ends one of the caller's sessions (any device) at once.
    pub(crate) async fn revoke_session(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<(), PlatformError> {
        let valid = id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(PlatformError::not_found(format!("session {id}")));
        }
        let deleted = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND substr(token_hash, 1, 16) = $2",
        )
        .bind(who.user_id)
        .bind(id)
        .execute(&self.inner.db)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(PlatformError::not_found(format!("session {id}")));
        }
        Ok(())
    }

    /// Records one state-changing request of `who` in the team's audit log.
    pub(crate) async fn record_audit(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        status: u16,
    ) -> Result<(), PlatformError> {
        sqlx::query(
            "INSERT INTO audit_log (team_id, user_id, username, via, action, target, status, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(who.team_id)
        .bind((!who.is_system()).then_some(who.user_id))
        .bind(&who.username)
        .bind(who.via())
        .bind(action)
        .bind(target)
        .bind(i64::from(status))
        .bind(self.inner.clock.now_ms())
        .execute(&self.inner.db)
        .await?;
        Ok(())
    }

    /// The team's audit log, newest first. Owners only.
    pub(crate) async fn audit_log(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, PlatformError> {
        who.require(Role::Owner)?;
        sqlx::query(
            "SELECT id, at, username, via, action, target, status FROM audit_log \
             WHERE team_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(who.team_id)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: from_ms(row.try_get("at")?),
                username: row.try_get("username")?,
                via: row.try_get("via")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                status: row.try_get::<i64, _>("status")? as u16,
            })
        })
        .collect()
    }
}
