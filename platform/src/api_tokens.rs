//! Managing API tokens: issuing one scoped to the caller's team and a role
//! no higher than the caller's, listing the caller's active tokens in the
//! team (never their secrets) and revoking one. Checking tokens stays in
//! `auth`; a revoked token fails `authenticate_token` from the next request on.

use model::{ApiTokenInfo, CreatedApiToken, Role};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError, Principal};

/// The listed columns of a token (`k`) with its team's name.
const TOKEN_COLUMNS: &str = "SELECT k.id AS id, k.name AS name, k.created_at AS created_at, \
     k.last_used_at AS last_used_at, k.token_prefix AS token_prefix, k.role AS role, \
     k.expires_at AS expires_at, t.name AS team FROM api_tokens k JOIN teams t ON t.id = k.team_id";

/// Longest token name accepted.
const MAX_NAME_CHARS: usize = 100;
/// Longest lifetime a token can be given, in days (or it never expires).
pub const MAX_TOKEN_DAYS: u32 = 365;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn info_from_row(row: &AnyRow) -> Result<ApiTokenInfo, PlatformError> {
    Ok(ApiTokenInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
        prefix: row.try_get("token_prefix")?,
        role: crate::db::column(row, "role")?,
        team: row.try_get("team")?,
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
    })
}

impl Platform {
    /// The caller's tokens for the current team that still work, newest first.
    pub(crate) async fn list_api_tokens(
        &self,
        who: &Principal,
    ) -> Result<Vec<ApiTokenInfo>, PlatformError> {
        sqlx::query(&format!(
            "{TOKEN_COLUMNS} WHERE k.user_id = $1 AND k.team_id = $2 AND k.revoked_at IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $3) \
             ORDER BY k.created_at DESC, k.id DESC"
        ))
        .bind(who.user_id)
        .bind(who.team_id)
        .bind(self.inner.clock.now_ms())
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(info_from_row)
        .collect()
    }

    /// Creates a named token for a user and describes it; the secret is in
    /// the answer this once and never again. `expires_in_days` (1 to
    /// [`MAX_TOKEN_DAYS`]) ends it that many days from now; none: never.
    pub(crate) async fn issue_api_token(
        &self,
        who: &Principal,
        name: &str,
        role: Option<&str>,
        expires_in_days: Option<u32>,
    ) -> Result<CreatedApiToken, PlatformError> {
        let expires_at = match expires_in_days {
            None => None,
            Some(days @ 1..=MAX_TOKEN_DAYS) => {
                Some(self.inner.clock.now_ms() + i64::from(days) * DAY_MS)
            }
            Some(days) => {
                return Err(PlatformError::invalid(format!(
                    "expires_in_days must be 1 to {MAX_TOKEN_DAYS} (or left out: never), not {days}"
                )))
            }
        };
        let role = match role {
            Some(role) => Role::parse(role)?,
            None => who.role,
        };
        if role > who.role {
            return Err(PlatformError::forbidden(format!(
                "a token cannot have more rights than its creator ({})",
                who.role
            )));
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(PlatformError::invalid("give the token a name"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(PlatformError::invalid(format!(
                "a token name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        let token = self
            .create_api_token(who.user_id, who.team_id, role, name, expires_at)
            .await?;
        let row = sqlx::query(&format!("{TOKEN_COLUMNS} WHERE k.token_hash = $1"))
            .bind(crate::auth::hash_secret(&token))
            .fetch_one(&self.inner.db)
            .await?;
        Ok(CreatedApiToken {
            token,
            info: info_from_row(&row)?,
        })
    }

    /// Revokes one of the caller's tokens in the current team (an owner may
    /// revoke any token of the team); it stops working at once. Any other
    /// token, or one already revoked, is `not_found`.
    pub(crate) async fn revoke_api_token(
        &self,
        who: &Principal,
        id: i64,
    ) -> Result<(), PlatformError> {
        let any_member = who.role == Role::Owner;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND team_id = $3 \
             AND (user_id = $4 OR $5 = 1) AND revoked_at IS NULL",
        )
        .bind(self.inner.clock.now_ms())
        .bind(id)
        .bind(who.team_id)
        .bind(who.user_id)
        .bind(i64::from(any_member))
        .execute(&self.inner.db)
        .await?;
        if done.rows_affected() == 0 {
            return Err(PlatformError::not_found(format!("API token {id}")));
        }
        Ok(())
    }
}
