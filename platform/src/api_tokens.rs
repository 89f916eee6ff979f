//! Managing API tokens after their creation: listing a user's active tokens
//! (never their secrets) and revoking one. Creating and checking tokens stays
//! in `auth`; a revoked token fails `authenticate_token` from the next request on.

use model::{ApiTokenInfo, CreatedApiToken};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::{from_ms, now_ms};
use crate::{Platform, PlatformError};

/// Longest token name accepted.
const MAX_NAME_CHARS: usize = 100;

fn info_from_row(row: &AnyRow) -> Result<ApiTokenInfo, PlatformError> {
    Ok(ApiTokenInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
        prefix: row.try_get("token_prefix")?,
    })
}

impl Platform {
    /// A user's tokens that still work, newest first.
    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenInfo>, PlatformError> {
        sqlx::query(
            "SELECT id, name, created_at, last_used_at, token_prefix FROM api_tokens \
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(info_from_row)
        .collect()
    }

    /// Creates a named token for a user and describes it; the secret is in
    /// the answer this once and never again.
    pub async fn issue_api_token(
        &self,
        user_id: i64,
        name: &str,
    ) -> Result<CreatedApiToken, PlatformError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(PlatformError::invalid("give the token a name"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(PlatformError::invalid(format!(
                "a token name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        let token = self.create_api_token(user_id, name).await?;
        let row = sqlx::query(
            "SELECT id, name, created_at, last_used_at, token_prefix FROM api_tokens \
             WHERE token_hash = $1",
        )
        .bind(crate::auth::hash_secret(&token))
        .fetch_one(&self.inner.db)
        .await?;
        Ok(CreatedApiToken {
            token,
            info: info_from_row(&row)?,
        })
    }

    /// Revokes one of a user's tokens; it stops working at once. A token of
    /// another user, or one already revoked, is `not_found`.
    pub async fn revoke_api_token(&self, user_id: i64, id: i64) -> Result<(), PlatformError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(user_id)
        .execute(&self.inner.db)
        .await?;
        if done.rows_affected() == 0 {
            return Err(PlatformError::not_found(format!("API token {id}")));
        }
        Ok(())
    }
}
