//! Reading invocation records: a function's latest calls (filtered by
//! status) and one record with its logs.

use model::InvocationRecord;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Most records one listing returns.
const MAX_LIMIT: u32 = 1000;

/// Filters for listing a function's invocations (newest first).
#[derive(Clone, Debug, Default)]
pub struct InvocationQuery {
    /// At most this many (default 50, at most 1000).
    pub limit: u32,
    /// `success` or `error`; or an outcome code such as `timeout`.
    pub status: Option<String>,
}

fn record_from_row(row: &AnyRow) -> Result<InvocationRecord, PlatformError> {
    Ok(InvocationRecord {
        id: row.try_get("id")?,
        function: row.try_get("function_name")?,
        version: row.try_get("version")?,
        trigger: row.try_get("trigger_kind")?,
        started_at: from_ms(row.try_get("started_at")?),
        duration_ms: row.try_get::<i64, _>("duration_us")? as f64 / 1000.0,
        billed_ms: row.try_get("billed_ms")?,
        memory_limit_mb: row.try_get("memory_limit_mb")?,
        peak_memory_bytes: row.try_get("peak_memory_bytes")?,
        bytes_in: row.try_get("bytes_in")?,
        bytes_out: row.try_get("bytes_out")?,
        status: row.try_get("status")?,
        outcome: row.try_get("outcome")?,
        status_code: row.try_get("status_code")?,
        error: row.try_get("error")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        logs: row.try_get("logs")?,
        logs_truncated: row.try_get::<i64, _>("logs_truncated")? != 0,
        parent_id: row.try_get("parent_id")?,
        trigger_id: row.try_get("trigger_id")?,
    })
}

impl Platform {
    /// A function's invocations, newest first.
    pub async fn list_invocations(
        &self,
        function: &str,
        query: InvocationQuery,
    ) -> Result<Vec<InvocationRecord>, PlatformError> {
        let limit = match query.limit {
            0 => 50,
            n => n.min(MAX_LIMIT),
        };
        let rows = match query.status.as_deref() {
            None | Some("") | Some("all") => {
                sqlx::query(
                    "SELECT * FROM invocations WHERE function_name = $1 \
                     ORDER BY started_at DESC, id DESC LIMIT $2",
                )
                .bind(function)
                .bind(i64::from(limit))
                .fetch_all(&self.inner.db)
                .await?
            }
            Some(status @ ("success" | "error")) => {
                sqlx::query(
                    "SELECT * FROM invocations WHERE function_name = $1 AND status = $2 \
                     ORDER BY started_at DESC, id DESC LIMIT $3",
                )
                .bind(function)
                .bind(status)
                .bind(i64::from(limit))
                .fetch_all(&self.inner.db)
                .await?
            }
            Some(outcome) => {
                sqlx::query(
                    "SELECT * FROM invocations WHERE function_name = $1 AND outcome = $2 \
                     ORDER BY started_at DESC, id DESC LIMIT $3",
                )
                .bind(function)
                .bind(outcome)
                .bind(i64::from(limit))
                .fetch_all(&self.inner.db)
                .await?
            }
        };
        rows.iter().map(record_from_row).collect()
    }

    /// One invocation record, with logs and error.
    pub async fn invocation(&self, id: &str) -> Result<InvocationRecord, PlatformError> {
        let row = sqlx::query("SELECT * FROM invocations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("invocation {id}")))?;
        record_from_row(&row)
    }

    /// Invocations caused by `id` (calls it made, events it published), oldest first.
    pub async fn invocation_children(
        &self,
        id: &str,
    ) -> Result<Vec<InvocationRecord>, PlatformError> {
        let rows = sqlx::query(
            "SELECT * FROM invocations WHERE parent_id = $1 ORDER BY started_at, id LIMIT 1000",
        )
        .bind(id)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter().map(record_from_row).collect()
    }
}
