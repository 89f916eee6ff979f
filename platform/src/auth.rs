//! Who may use the control plane: users with argon2 password hashes, API
//! tokens and dashboard sessions (both stored as SHA-256 hashes, shown to the
//! user only once), and the first-start bootstrap of the `admin` account.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::time::{from_ms, now_ms};
use crate::{Platform, PlatformError};

/// How long a dashboard session lasts.
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;
/// Prefix that makes Wisp tokens recognisable (and greppable in leaks).
const TOKEN_PREFIX: &str = "wisp_";

/// An authenticated caller of the control plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
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

fn hash_password(password: &str) -> Result<String, PlatformError> {
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
        let now = now_ms();
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
        let token = self.create_api_token(user_id, "admin (bootstrap)").await?;
        Ok(Some(AdminBootstrap {
            generated_password: generated,
            token,
        }))
    }

    /// Creates an API token for a user; the secret is returned once.
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
    ) -> Result<String, PlatformError> {
        let token = format!("{TOKEN_PREFIX}{}", random_secret());
        sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, token_prefix) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(name)
        .bind(hash_secret(&token))
        .bind(now_ms())
        .bind(shown_prefix(&token))
        .execute(&self.inner.db)
        .await?;
        Ok(token)
    }

    /// Resolves a bearer token to its user; records its last use.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, PlatformError> {
        let hash = hash_secret(token);
        let row = sqlx::query(
            "SELECT t.id AS token_id, u.id AS user_id, u.username AS username \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or(PlatformError::Unauthorized)?;
        let token_id: i64 = row.try_get("token_id")?;
        // Last-used is informational: a failure to write it must not fail the call.
        let db = self.inner.db.clone();
        tokio::spawn(async move {
            let _ = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(token_id)
                .execute(&db)
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "recording token use"));
        });
        Ok(Principal {
            user_id: row.try_get("user_id")?,
            username: row.try_get("username")?,
        })
    }

    /// Checks a username and password and opens a dashboard session.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session, PlatformError> {
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.inner.db)
            .await?;
        let Some(row) = row else {
            // Spend the same time as a real check so user names don't leak by timing.
            let _ = hash_password(password);
            return Err(PlatformError::BadCredentials);
        };
        let stored: String = row.try_get("password_hash")?;
        let user_id: i64 = row.try_get("id")?;
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| PlatformError::Internal(e.into()))?;
        if !ok {
            return Err(PlatformError::BadCredentials);
        }
        let token = random_secret();
        let now = now_ms();
        let expires = now + SESSION_TTL_MS;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash_secret(&token))
        .bind(user_id)
        .bind(now)
        .bind(expires)
        .execute(&self.inner.db)
        .await?;
        Ok(Session {
            token,
            username: username.to_string(),
            expires_at: from_ms(expires),
        })
    }

    /// Resolves a session cookie to its user.
    pub async fn session_user(&self, token: &str) -> Result<Principal, PlatformError> {
        let row = sqlx::query(
            "SELECT u.id AS user_id, u.username AS username FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(hash_secret(token))
        .bind(now_ms())
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or(PlatformError::Unauthorized)?;
        Ok(Principal {
            user_id: row.try_get("user_id")?,
            username: row.try_get("username")?,
        })
    }

    /// Ends a dashboard session.
    pub async fn logout(&self, token: &str) -> Result<(), PlatformError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash_secret(token))
            .execute(&self.inner.db)
            .await?;
        Ok(())
    }
}
