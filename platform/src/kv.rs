//! The key-value store: one namespace per team and application, durable in the
//! platform database, reached by functions at `http://kv.wisp/<key>` and by
//! people through the API and dashboard. Keys and values have size limits.

use model::KvEntry;
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Most entries one listing returns.
const MAX_LIST: u32 = 1000;
/// Characters of a value shown in listings.
const PREVIEW_CHARS: usize = 1024;

/// A stored value and its content type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvValue {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

fn check_key(key: &str) -> Result<(), PlatformError> {
    if key.is_empty() {
        return Err(PlatformError::invalid("the key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(PlatformError::invalid(format!(
            "the key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(PlatformError::invalid(
            "the key contains control characters",
        ));
    }
    Ok(())
}

impl Platform {
    /// The value under `key` in `application`'s store.
    pub(crate) async fn kv_get(
        &self,
        team_id: i64,
        application: &str,
        key: &str,
    ) -> Result<Option<KvValue>, PlatformError> {
        check_key(key)?;
        let row = sqlx::query(
            "SELECT value, content_type FROM kv_entries WHERE application = $1 AND key = $2 \
             AND team_id = $3",
        )
        .bind(application)
        .bind(key)
        .bind(team_id)
        .fetch_optional(&self.inner.db)
        .await?;
        Ok(match row {
            Some(row) => Some(KvValue {
                bytes: row.try_get("value")?,
                content_type: row.try_get("content_type")?,
            }),
            None => None,
        })
    }

    /// Stores `value` under `key` (replacing what was there).
    pub(crate) async fn kv_put(
        &self,
        team_id: i64,
        application: &str,
        key: &str,
        value: &[u8],
        content_type: Option<&str>,
    ) -> Result<(), PlatformError> {
        check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(PlatformError::TooLarge {
                size: value.len() as u64,
                limit: MAX_VALUE_BYTES as u64,
            });
        }
        sqlx::query(
            "INSERT INTO kv_entries (application, key, value, content_type, updated_at, team_id) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (team_id, application, key) DO UPDATE SET \
             value = excluded.value, content_type = excluded.content_type, updated_at = excluded.updated_at",
        )
        .bind(application)
        .bind(key)
        .bind(value.to_vec())
        .bind(content_type.map(str::to_string))
        .bind(self.inner.clock.now_ms())
        .bind(team_id)
        .execute(&self.inner.db)
        .await?;
        Ok(())
    }

    /// Removes `key`; whether it existed.
    pub(crate) async fn kv_delete(
        &self,
        team_id: i64,
        application: &str,
        key: &str,
    ) -> Result<bool, PlatformError> {
        check_key(key)?;
        let deleted = sqlx::query(
            "DELETE FROM kv_entries WHERE application = $1 AND key = $2 AND team_id = $3",
        )
        .bind(application)
        .bind(key)
        .bind(team_id)
        .execute(&self.inner.db)
        .await?
        .rows_affected();
        Ok(deleted > 0)
    }

    /// Entries whose key starts with `prefix`, in key order (at most `limit`, ≤ 1000).
    pub(crate) async fn kv_list(
        &self,
        team_id: i64,
        application: &str,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<KvEntry>, PlatformError> {
        let limit = if limit == 0 { 100 } else { limit.min(MAX_LIST) };
        let rows = sqlx::query(
            "SELECT application, key, value, content_type, updated_at FROM kv_entries \
             WHERE application = $1 AND substr(key, 1, CAST($2 AS INTEGER)) = $3 AND team_id = $5 \
             ORDER BY key LIMIT $4",
        )
        .bind(application)
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .bind(i64::from(limit))
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|row| {
                let value: Vec<u8> = row.try_get("value")?;
                Ok(KvEntry {
                    application: row.try_get("application")?,
                    key: row.try_get("key")?,
                    size_bytes: value.len() as i64,
                    content_type: row.try_get("content_type")?,
                    preview: String::from_utf8_lossy(&value)
                        .chars()
                        .take(PREVIEW_CHARS)
                        .collect(),
                    updated_at: from_ms(row.try_get("updated_at")?),
                })
            })
            .collect()
    }

    /// A team's applications that have key-value entries or functions.
    pub(crate) async fn kv_applications(&self, team_id: i64) -> Result<Vec<String>, PlatformError> {
        let rows = sqlx::query(
            "SELECT f.application FROM functions f JOIN function_owners o ON o.name = f.name \
             WHERE o.team_id = $1 UNION SELECT application FROM kv_entries WHERE team_id = $1 \
             ORDER BY 1",
        )
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(PlatformError::from))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_limits() {
        assert!(super::check_key("a/b c").is_ok());
        assert!(super::check_key("").is_err());
        assert!(super::check_key(&"k".repeat(513)).is_err());
        assert!(super::check_key("a\nb").is_err());
    }
}
