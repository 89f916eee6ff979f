//! Who may use the control plane: users with argon2 password hashes, API
//! tokens and dashboard sessions (both stored as SHA-256 hashes, shown to the
//! user only once), and the first-start bootstrap of the `admin` account.

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError, Role};

/// How long a dashboard session lasts.
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;
/// Prefix that makes Wisp tokens recognisable (and greppable in leaks).
const TOKEN_PREFIX: &str = "wisp_";

/// An authenticated caller of the control plane, acting for one team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    /// A server administrator (creates users and teams, sets the price plan).
    pub is_admin: bool,
    /// The team requests act for: every object read or changed is this team's.
    pub team_id: i64,
    pub team: String,
    /// The caller's role in the team (for a token: the token's scope).
    pub role: Role,
    /// The API token used, `None` for a dashboard session.
    pub token_id: Option<i64>,
}

impl Principal {
    /// Wisp itself acting for team `team_id` on its own (`task`, e.g.
    /// `bootstrap`): every role, no user, audited as `system:<task>` with
    /// `via` `system`. Only Wisp's own start-up and background work build one.
    pub(crate) fn system(team_id: i64, team: &str, task: &str) -> Self {
        Self {
            user_id: 0,
            username: format!("system:{task}"),
            is_admin: true,
            team_id,
            team: team.to_string(),
            role: Role::Owner,
            token_id: None,
        }
    }

    /// Whether this is Wisp itself ([`Principal::system`]).
    pub fn is_system(&self) -> bool {
        self.user_id == 0
    }

    /// How the caller authenticated, as the audit log says it:
    /// `token:<id>`, `session` or `system`.
    pub fn via(&self) -> String {
        match self.token_id {
            Some(id) => format!("token:{id}"),
            None if self.is_system() => "system".into(),
            None => "session".into(),
        }
    }

    /// `forbidden` unless the caller's role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), PlatformError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(PlatformError::forbidden(format!(
                "this needs the {needed} role in team {}; you are {}",
                self.team, self.role
            )))
        }
    }

    /// `forbidden` unless the caller is a server administrator.
    pub fn require_admin(&self) -> Result<(), PlatformError> {
        if self.is_admin && self.role == Role::Owner {
            Ok(())
        } else {
            Err(PlatformError::forbidden(
                "this needs a server administrator with an owner-scoped session or token",
            ))
        }
    }
}

/// A freshly opened dashboard session; `token` goes into the cookie.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    pub username: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What the first start created: shown to the operator once.
pub struct AdminBootstrap {
    /// Set when the password was generated (not given in the environment).
    pub generated_password: Option<String>,
    pub token: String,
}

/// The one mapping of a signed-in caller's row (`user_id`, `username`,
/// `is_admin`, `team_id`, `team`); the role is the query's own.
fn principal_from_row(
    row: &sqlx::any::AnyRow,
    role: Role,
    token_id: Option<i64>,
) -> Result<Principal, PlatformError> {
    Ok(Principal {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        team_id: row.try_get("team_id")?,
        team: row.try_get("team")?,
        role,
        token_id,
    })
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The part of a token kept in clear to tell tokens apart: `wisp_` and four
/// characters of the secret (24 of its 256 bits: useless to an attacker).
pub(crate) fn shown_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX.len() + 4).collect()
}

pub(crate) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(crate) fn hash_password(password: &str) -> Result<String, PlatformError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PlatformError::Internal(anyhow::anyhow!("hashing password: {e}")))
}

impl Platform {
    /// On an empty database, creates `admin` and its first API token.
    /// Returns `None` when users already exist.
    pub async fn bootstrap_admin(
        &self,
        password: Option<&str>,
    ) -> Result<Option<AdminBootstrap>, PlatformError> {
        let db = &self.inner.db;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(db)
            .await?
            .try_get("n")?;
        if count > 0 {
            return Ok(None);
        }
        let generated = password
            .is_none()
            .then(|| random_secret()[..20].to_string());
        let password = password.map(str::to_string).or_else(|| generated.clone());
        let password = password.unwrap_or_default();
        if password.len() < 8 {
            return Err(PlatformError::invalid(
                "the admin password must be at least 8 characters",
            ));
        }
        let hash = hash_password(&password)?;
        let now = self.inner.clock.now_ms();
        sqlx::query(
            "INSERT INTO users (username, password_hash, is_admin, created_at) VALUES ($1, $2, 1, $3)",
        )
        .bind("admin")
        .bind(hash)
        .bind(now)
        .execute(db)
        .await?;
        let user_id: i64 = sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind("admin")
            .fetch_one(db)
            .await?
            .try_get("id")?;
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (1, $1, 'owner', $2)",
        )
        .bind(user_id)
        .bind(now)
        .execute(db)
        .await?;
        let token = self
            .create_api_token(user_id, 1, Role::Owner, "admin (bootstrap)", None)
            .await?;
        let system = Principal::system(1, "default", "bootstrap");
        self.record_audit(&system, "create_user", "user admin", 201)
            .await?;
        self.record_audit(&system, "create_token", "token admin (bootstrap)", 201)
            .await?;
        Ok(Some(AdminBootstrap {
            generated_password: generated,
            token,
        }))
    }

    /// Creates an API token for a user, scoped to a team and a role; the
    /// secret is returned once.
    pub(crate) async fn create_api_token(
        &self,
        user_id: i64,
        team_id: i64,
        role: Role,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<String, PlatformError> {
        let token = format!("{TOKEN_PREFIX}{}", random_secret());
        sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, token_prefix, team_id, \
             role, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user_id)
        .bind(name)
        .bind(hash_secret(&token))
        .bind(self.inner.clock.now_ms())
        .bind(shown_prefix(&token))
        .bind(team_id)
        .bind(role.as_str())
        .bind(expires_at)
        .execute(&self.inner.db)
        .await?;
        Ok(token)
    }

    /// Resolves a bearer token to its user (not revoked, not expired);
    /// records its last use.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, PlatformError> {
        let hash = hash_secret(token);
        // The token's role is capped by the user's current role in the team:
        // a member removed from the team (or demoted) loses the token's rights.
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.role AS token_role, u.id AS user_id, u.username AS username, \
             u.is_admin AS is_admin, m.team_id AS team_id, m.role AS member_role, tm.name AS team \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             JOIN team_members m ON m.team_id = t.team_id AND m.user_id = t.user_id \
             JOIN teams tm ON tm.id = t.team_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(&hash)
        .bind(self.inner.clock.now_ms())
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or(PlatformError::Unauthorized)?;
        let token_id: i64 = row.try_get("token_id")?;
        // Last-used is informational: a failure to write it must not fail the call.
        let db = self.inner.db.clone();
        let clock = self.inner.clock.clone();
        tokio::spawn(async move {
            let _ = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(clock.now_ms())
                .bind(token_id)
                .execute(&db)
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "recording token use"));
        });
        let token_role: Role = crate::db::column(&row, "token_role")?;
        let member_role: Role = crate::db::column(&row, "member_role")?;
        principal_from_row(&row, token_role.min(member_role), Some(token_id))
    }

    /// Checks a username and password and opens a dashboard session acting
    /// for the user's first team. Failed attempts are rate-limited per user
    /// name and per client address; `replaces` (the session cookie the
    /// browser still had) is ended, so a login always rotates the session.
    pub(crate) async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
        replaces: Option<&str>,
    ) -> Result<Session, PlatformError> {
        let limiter = &self.inner.login_limiter;
        // Counted as failed from here until the password is known to be right.
        let attempt = limiter.reserve(username, client)?;
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.inner.db)
            .await?;
        let (user_id, stored) = match row {
            Some(row) => (
                Some(row.try_get::<i64, _>("id")?),
                Some(row.try_get::<String, _>("password_hash")?),
            ),
            None => (None, None),
        };
        // An unknown user spends the same time as a real check, so user
        // names don't leak by timing.
        let ok = match limiter.verify_password(stored, password).await {
            Ok(ok) => ok,
            Err(busy) => {
                limiter.not_checked(attempt);
                return Err(busy);
            }
        };
        let Some(user_id) = user_id.filter(|_| ok) else {
            return Err(PlatformError::BadCredentials);
        };
        limiter.succeeded(attempt);
        let team_id: i64 = sqlx::query(
            "SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or_else(|| {
            PlatformError::forbidden(
                "you are not a member of any team yet; ask a team owner to add you",
            )
        })?
        .try_get("team_id")?;
        let token = random_secret();
        let now = self.inner.clock.now_ms();
        let expires = now + SESSION_TTL_MS;
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(hash_secret(old))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, team_id) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_secret(&token))
        .bind(user_id)
        .bind(now)
        .bind(expires)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Session {
            token,
            username: username.to_string(),
            expires_at: from_ms(expires),
        })
    }

    /// Resolves a session cookie to its user, acting for the session's team.
    pub async fn session_user(&self, token: &str) -> Result<Principal, PlatformError> {
        let row = sqlx::query(
            "SELECT u.id AS user_id, u.username AS username, u.is_admin AS is_admin, \
             m.team_id AS team_id, m.role AS role, tm.name AS team FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN team_members m ON m.team_id = s.team_id AND m.user_id = s.user_id \
             JOIN teams tm ON tm.id = s.team_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(hash_secret(token))
        .bind(self.inner.clock.now_ms())
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or(PlatformError::Unauthorized)?;
        let role: Role = crate::db::column(&row, "role")?;
        principal_from_row(&row, role, None)
    }

    /// Ends a dashboard session.
    pub(crate) async fn logout(&self, token: &str) -> Result<(), PlatformError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash_secret(token))
            .execute(&self.inner.db)
            .await?;
        Ok(())
    }
}
