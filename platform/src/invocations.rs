//! Reading invocation records: a function's calls (filtered by status and
//! time, paged by cursor) and one record with its logs. The id an async
//! invocation was answered with resolves at once: until its record is
//! stored, its job stands in for it (`queued`, then `running`).

use chrono::{DateTime, Utc};
use model::{InvocationOutcome, InvocationRecord, InvocationStatus, JobState};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::column;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Most records one listing returns.
const MAX_LIMIT: u32 = 1000;
/// How long after its job was delivered an async call's record may still
/// be on its way (the recorder writes every ~50 ms; this allows for a busy
/// database): until then its id shows `running`, after it `record_lost`.
const RECORDING_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Filters for listing a function's invocations (newest first).
#[derive(Clone, Debug, Default)]
pub struct InvocationQuery {
    /// At most this many (default 50, at most 1000).
    pub limit: u32,
    /// `success` or `error`; or an outcome code such as `timeout`.
    pub status: Option<String>,
    /// Only calls that started at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only calls that started before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Page cursor: only calls older than the invocation with this id.
    pub before: Option<String>,
    /// Page cursor: only calls newer than the invocation with this id (the
    /// ones just above it; still returned newest first).
    pub after: Option<String>,
}

pub(crate) fn record_from_row(row: &AnyRow) -> Result<InvocationRecord, PlatformError> {
    let id: String = row.try_get("id")?;
    // A call that started its own trace is stored without it (the recorder's
    // `stored_trace_id`): its id names it.
    let trace_id = stored_trace(&id, row.try_get("trace_id")?);
    Ok(InvocationRecord {
        id,
        function: row.try_get("function_name")?,
        version: row.try_get("version")?,
        trigger: column(row, "trigger_kind")?,
        started_at: from_ms(row.try_get("started_at")?),
        duration_ms: row.try_get::<i64, _>("duration_us")? as f64 / 1000.0,
        billed_ms: row.try_get("billed_ms")?,
        memory_limit_mb: row.try_get("memory_limit_mb")?,
        peak_memory_bytes: row.try_get("peak_memory_bytes")?,
        bytes_in: row.try_get("bytes_in")?,
        bytes_out: row.try_get("bytes_out")?,
        status: column(row, "status")?,
        outcome: column(row, "outcome")?,
        status_code: row.try_get("status_code")?,
        error: row.try_get("error")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        logs: row.try_get("logs")?,
        logs_truncated: row.try_get::<i64, _>("logs_truncated")? != 0,
        parent_id: row.try_get("parent_id")?,
        trigger_id: row.try_get("trigger_id")?,
        trace_id: Some(trace_id),
        parent_span_id: row.try_get("parent_span_id")?,
        attempt: row
            .try_get::<Option<i64>, _>("attempt")?
            .and_then(|a| u32::try_from(a).ok()),
    })
}

/// The trace of invocation `id` from its stored `trace_id` column: a call
/// stored without one started its own (recorded before traces existed, it
/// is named the same way).
pub(crate) fn stored_trace(id: &str, trace_id: Option<String>) -> String {
    trace_id.unwrap_or_else(|| crate::trace_context::trace_id_of(id))
}

impl Platform {
    /// A function's invocations, newest first.
    pub(crate) async fn list_invocations(
        &self,
        function: &str,
        query: InvocationQuery,
    ) -> Result<Vec<InvocationRecord>, PlatformError> {
        let limit = match query.limit {
            0 => 50,
            n => n.min(MAX_LIMIT),
        };
        // The WHERE clause grows with the filters; every value is a bound
        // parameter, numbered in the order it is pushed.
        let mut clauses = vec!["function_name = $1".to_string()];
        let mut texts: Vec<String> = vec![function.to_string()];
        // Text values bind first ($2...), then the numbers, in push order.
        let mut numbers: Vec<i64> = Vec::new();
        let mut next = 2;
        match query.status.as_deref() {
            None | Some("") | Some("all") => {}
            Some(status @ ("success" | "error")) => {
                clauses.push(format!("status = ${next}"));
                texts.push(status.to_string());
                next += 1;
            }
            Some(outcome) => {
                clauses.push(format!("outcome = ${next}"));
                texts.push(outcome.to_string());
                next += 1;
            }
        }
        let mut cursor = |op: &str,
                          id: &str,
                          clauses: &mut Vec<String>,
                          texts: &mut Vec<String>| {
            // Rows ordered by (started_at, id): strictly before or after the cursor row.
            clauses.push(format!(
                "(started_at {op} (SELECT started_at FROM invocations WHERE id = ${next}) \
                 OR (started_at = (SELECT started_at FROM invocations WHERE id = ${next}) AND id {op} ${next}))"
            ));
            texts.push(id.to_string());
            next += 1;
        };
        if let Some(id) = query.before.as_deref().filter(|id| !id.is_empty()) {
            cursor("<", id, &mut clauses, &mut texts);
        }
        let newer_page = query.after.as_deref().filter(|id| !id.is_empty());
        if let Some(id) = newer_page {
            cursor(">", id, &mut clauses, &mut texts);
        }
        if let Some(since) = query.since {
            clauses.push(format!("started_at >= ${next}"));
            numbers.push(since.timestamp_millis());
            next += 1;
        }
        if let Some(until) = query.until {
            clauses.push(format!("started_at < ${next}"));
            numbers.push(until.timestamp_millis());
            next += 1;
        }
        // A newer page is the `limit` rows just above the cursor: read them
        // oldest first, then turn them around.
        let order = if newer_page.is_some() { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT * FROM invocations WHERE {} ORDER BY started_at {order}, id {order} LIMIT ${next}",
            clauses.join(" AND ")
        );
        let mut statement = sqlx::query(&sql);
        for text in &texts {
            statement = statement.bind(text.as_str());
        }
        for number in &numbers {
            statement = statement.bind(*number);
        }
        let rows = statement
            .bind(i64::from(limit))
            .fetch_all(&self.inner.db)
            .await?;
        let mut records = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if newer_page.is_some() {
            records.reverse();
        }
        Ok(records)
    }

    /// One invocation record, with logs and error; for the id an async
    /// invocation was answered with, before its record is stored, what its
    /// job says (`queued`, `running`, ...).
    pub(crate) async fn invocation(&self, id: &str) -> Result<InvocationRecord, PlatformError> {
        if let Some(record) = self.stored_invocation(id).await? {
            return Ok(record);
        }
        match self.job_invocation(id).await? {
            // The record may have been stored since the first look.
            Some(pending) => Ok(self.stored_invocation(id).await?.unwrap_or(pending)),
            None => Err(PlatformError::not_found(format!("invocation {id}"))),
        }
    }

    pub(crate) async fn stored_invocation(
        &self,
        id: &str,
    ) -> Result<Option<InvocationRecord>, PlatformError> {
        sqlx::query("SELECT * FROM invocations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?
            .as_ref()
            .map(record_from_row)
            .transpose()
    }

    /// The stand-in record of queued work whose first invocation id is `id`
    /// and has no stored record. `status` is `queued` or `running` while the
    /// work is pending, and stays `running` (outcome `recording`) for
    /// [`RECORDING_GRACE`] after the job's last attempt ran under this id,
    /// while that call's own record is on its way. Final stand-ins: `error`
    /// (outcome `dead_letter`, with the job's last error) for a dead letter,
    /// and `success` (outcome `record_lost`) for a delivered job whose
    /// record a crash lost. Nothing measured is known: durations and sizes
    /// are zero.
    pub(crate) async fn job_invocation(
        &self,
        id: &str,
    ) -> Result<Option<InvocationRecord>, PlatformError> {
        let Some(row) = sqlx::query(
            "SELECT function_name, source, trigger_id, parent_id, method, path, state, \
             last_invocation_id, last_error, created_at, updated_at FROM jobs \
             WHERE id = $1 AND first_invocation_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.inner.db)
        .await?
        else {
            return Ok(None);
        };
        let function: String = row.try_get("function_name")?;
        let state: JobState = column(&row, "state")?;
        let updated_at: i64 = row.try_get("updated_at")?;
        // The last attempt ran under this id: its record is on its way.
        let ran_under_id = row
            .try_get::<Option<String>, _>("last_invocation_id")?
            .as_deref()
            == Some(id);
        let recording = ran_under_id
            && self.inner.clock.now_ms() - updated_at < RECORDING_GRACE.as_millis() as i64;
        let (status, outcome) = match state {
            JobState::Done | JobState::Dead if recording => {
                (InvocationStatus::Running, InvocationOutcome::Recording)
            }
            JobState::Done => (InvocationStatus::Success, InvocationOutcome::RecordLost),
            JobState::Dead => (InvocationStatus::Error, InvocationOutcome::DeadLetter),
            JobState::Running => (InvocationStatus::Running, InvocationOutcome::Running),
            JobState::Queued => (InvocationStatus::Queued, InvocationOutcome::Queued),
        };
        // A running job's attempt started when it was claimed (its last update).
        let started_at: i64 = if state == JobState::Queued {
            row.try_get("created_at")?
        } else {
            updated_at
        };
        let live = self.inner.registry.get(&function);
        Ok(Some(InvocationRecord {
            id: id.to_string(),
            version: live.as_ref().map_or(0, |l| l.version),
            memory_limit_mb: live.as_ref().map_or(0, |l| i64::from(l.memory_mb)),
            function,
            trigger: column(&row, "source")?,
            started_at: from_ms(started_at),
            duration_ms: 0.0,
            billed_ms: 0,
            peak_memory_bytes: 0,
            bytes_in: 0,
            bytes_out: 0,
            status,
            outcome,
            status_code: None,
            error: if state == JobState::Dead {
                row.try_get("last_error")?
            } else {
                None
            },
            method: row.try_get("method")?,
            path: row.try_get("path")?,
            logs: String::new(),
            logs_truncated: false,
            parent_id: row.try_get("parent_id")?,
            trigger_id: row.try_get("trigger_id")?,
            trace_id: None,
            parent_span_id: None,
            attempt: None,
        }))
    }

    /// Invocations caused by `id` (calls it made, events it published) that
    /// belong to team `team_id`, oldest first.
    pub(crate) async fn invocation_children(
        &self,
        team_id: i64,
        id: &str,
    ) -> Result<Vec<InvocationRecord>, PlatformError> {
        let rows = sqlx::query(concat!(
            "SELECT * FROM invocations WHERE parent_id = $1 \
             AND function_name IN ",
            team_functions!("$2"),
            " \
             ORDER BY started_at, id LIMIT 1000"
        ))
        .bind(id)
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter().map(record_from_row).collect()
    }
}
