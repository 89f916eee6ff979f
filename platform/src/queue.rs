//! The durable job queue behind all async work (async invokes, topic
//! events, cron ticks, dead-lettered queue messages). A job is stored before
//! the sender is acknowledged; a worker claims it with a lease, runs it, and
//! marks it done, schedules a retry with exponential backoff, or moves it to
//! the dead letters once its attempts are used up. Delivery is at least once.

use std::time::Duration;

use model::{Job, QueueStats};
use rand::Rng as _;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::invoke::{new_invocation_id, TriggerKind};
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Most jobs one listing returns.
const MAX_LIST: u32 = 1000;
/// Longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// A job to store.
#[derive(Clone, Debug)]
pub(crate) struct NewJob {
    pub function: String,
    pub source: TriggerKind,
    pub trigger_id: Option<String>,
    pub event_id: Option<String>,
    /// Makes the insert idempotent: a second job with the same key is dropped.
    pub dedupe_key: Option<String>,
    pub parent_id: Option<String>,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub max_attempts: u32,
    pub run_at_ms: i64,
}

/// A job a worker owns until its lease ends.
#[derive(Clone, Debug)]
pub(crate) struct ClaimedJob {
    pub id: String,
    pub function: String,
    pub source: String,
    pub trigger_id: Option<String>,
    pub parent_id: Option<String>,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Including the attempt about to run.
    pub attempts: u32,
    pub max_attempts: u32,
    pub first_invocation_id: String,
}

impl ClaimedJob {
    /// The first attempt is recorded under the id the sender was given.
    pub fn invocation_id(&self) -> String {
        if self.attempts <= 1 {
            self.first_invocation_id.clone()
        } else {
            new_invocation_id()
        }
    }
}

/// Stores `job`; its id, or `None` when its dedupe key was already used.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    job: &NewJob,
    now_ms: i64,
) -> Result<Option<String>, PlatformError> {
    let id = new_invocation_id();
    let headers = serde_json::to_string(&job.headers).map_err(anyhow::Error::from)?;
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, function_name, source, trigger_id, event_id, dedupe_key, parent_id, \
         method, path, headers_json, body, state, attempts, max_attempts, run_at, lease_until, \
         first_invocation_id, last_invocation_id, last_error, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued', 0, $12, $13, NULL, $14, \
         NULL, NULL, $15, $16) ON CONFLICT DO NOTHING",
    )
    .bind(id.clone())
    .bind(job.function.clone())
    .bind(job.source.as_str())
    .bind(job.trigger_id.clone())
    .bind(job.event_id.clone())
    .bind(job.dedupe_key.clone())
    .bind(job.parent_id.clone())
    .bind(job.method.clone())
    .bind(job.path.clone())
    .bind(headers)
    .bind(job.body.clone())
    .bind(i64::from(job.max_attempts.max(1)))
    .bind(job.run_at_ms)
    .bind(id.clone())
    .bind(now_ms)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(id))
}

fn claimed_from_row(row: &AnyRow) -> Result<ClaimedJob, PlatformError> {
    let headers: String = row.try_get("headers_json")?;
    Ok(ClaimedJob {
        id: row.try_get("id")?,
        function: row.try_get("function_name")?,
        source: row.try_get("source")?,
        trigger_id: row.try_get("trigger_id")?,
        parent_id: row.try_get("parent_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        headers: serde_json::from_str(&headers).map_err(anyhow::Error::from)?,
        body: row.try_get("body")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
        first_invocation_id: row.try_get("first_invocation_id")?,
    })
}

fn job_from_row(row: &AnyRow) -> Result<Job, PlatformError> {
    Ok(Job {
        id: row.try_get("id")?,
        function: row.try_get("function_name")?,
        source: row.try_get("source")?,
        trigger_id: row.try_get("trigger_id")?,
        event_id: row.try_get("event_id")?,
        state: row.try_get("state")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
        run_at: from_ms(row.try_get("run_at")?),
        first_invocation_id: row.try_get("first_invocation_id")?,
        last_invocation_id: row.try_get("last_invocation_id")?,
        last_error: row.try_get("last_error")?,
        size_bytes: row.try_get("size_bytes")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

/// Columns of a [`Job`] listing (the body's size, not the body).
const JOB_COLUMNS: &str = "id, function_name, source, trigger_id, event_id, state, attempts, \
     max_attempts, run_at, first_invocation_id, last_invocation_id, last_error, \
     length(body) AS size_bytes, created_at, updated_at";

/// Delay before attempt `attempts + 1`: `base × 2^(attempts-1)`, ±20 %
/// jitter, at most ten minutes.
pub(crate) fn backoff(base: Duration, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let raw = base.saturating_mul(1u32 << exp).min(MAX_BACKOFF);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    raw.mul_f64(jitter).min(MAX_BACKOFF)
}

impl Platform {
    /// Due functions and how many of their jobs are due.
    pub(crate) async fn due_functions(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(String, i64)>, PlatformError> {
        let rows = sqlx::query(
            "SELECT function_name, COUNT(*) AS n FROM jobs WHERE state = 'queued' AND run_at <= $1 \
             GROUP BY function_name ORDER BY MIN(run_at) LIMIT 256",
        )
        .bind(now_ms)
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("function_name")?, r.try_get("n")?)))
            .collect()
    }

    /// When the next queued job is due, if any.
    pub(crate) async fn next_due_ms(&self) -> Result<Option<i64>, PlatformError> {
        let row = sqlx::query("SELECT MIN(run_at) AS next FROM jobs WHERE state = 'queued'")
            .fetch_one(&self.inner.db)
            .await?;
        Ok(row.try_get("next")?)
    }

    /// Takes up to `limit` due jobs of `function`, leased until `lease_until_ms`.
    pub(crate) async fn claim_jobs(
        &self,
        function: &str,
        limit: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedJob>, PlatformError> {
        // The outer `state = 'queued'` is re-checked under the row lock on
        // PostgreSQL, so two nodes never claim the same job.
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, \
             updated_at = $2 WHERE state = 'queued' AND id IN (SELECT id FROM jobs \
             WHERE state = 'queued' AND function_name = $3 AND run_at <= $2 \
             ORDER BY run_at, id LIMIT $4) \
             RETURNING id, function_name, source, trigger_id, parent_id, method, path, \
             headers_json, body, attempts, max_attempts, first_invocation_id",
        )
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(function)
        .bind(i64::from(limit))
        .fetch_all(&self.inner.db)
        .await?;
        rows.iter().map(claimed_from_row).collect()
    }

    /// Marks a claimed job delivered.
    pub(crate) async fn complete_job(
        &self,
        id: &str,
        invocation_id: &str,
        now_ms: i64,
    ) -> Result<(), PlatformError> {
        sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, last_invocation_id = $1, \
             last_error = NULL, updated_at = $2 WHERE id = $3",
        )
        .bind(invocation_id)
        .bind(now_ms)
        .bind(id)
        .execute(&self.inner.db)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retry later, or dead letter when no
    /// attempts are left. Whether it went to the dead letters.
    pub(crate) async fn fail_job(
        &self,
        job: &ClaimedJob,
        invocation_id: Option<&str>,
        error: &str,
        now_ms: i64,
    ) -> Result<bool, PlatformError> {
        let dead = job.attempts >= job.max_attempts;
        let run_at = if dead {
            now_ms
        } else {
            now_ms + backoff(self.inner.config.retry_base, job.attempts).as_millis() as i64
        };
        sqlx::query(
            "UPDATE jobs SET state = $1, lease_until = NULL, run_at = $2, \
             last_invocation_id = COALESCE($3, last_invocation_id), last_error = $4, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(if dead { "dead" } else { "queued" })
        .bind(run_at)
        .bind(invocation_id.map(str::to_string))
        .bind(error)
        .bind(now_ms)
        .bind(&job.id)
        .execute(&self.inner.db)
        .await?;
        Ok(dead)
    }

    /// Dead-letters every due job of a function that has no live version.
    pub(crate) async fn dead_letter_function(
        &self,
        function: &str,
        now_ms: i64,
    ) -> Result<u64, PlatformError> {
        Ok(sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $1, updated_at = $2 \
             WHERE state = 'queued' AND function_name = $3 AND run_at <= $2",
        )
        .bind(format!("function {function} has no live version"))
        .bind(now_ms)
        .bind(function)
        .execute(&self.inner.db)
        .await?
        .rows_affected())
    }

    /// Stores a message that failed its last attempt elsewhere (an external
    /// queue) directly as a dead letter, so it can be inspected and redriven.
    pub(crate) async fn store_dead_letter(
        &self,
        job: &NewJob,
        attempts: u32,
        invocation_id: Option<&str>,
        error: &str,
    ) -> Result<(), PlatformError> {
        let now = self.inner.clock.now_ms();
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        if let Some(id) = insert(&mut tx, job, now).await? {
            sqlx::query(
                "UPDATE jobs SET state = 'dead', attempts = $1, last_invocation_id = $2,                  last_error = $3 WHERE id = $4",
            )
            .bind(i64::from(attempts))
            .bind(invocation_id.map(str::to_string))
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Jobs whose lease ran out (their worker died) go back to the queue.
    pub(crate) async fn requeue_expired(&self, now_ms: i64) -> Result<u64, PlatformError> {
        Ok(sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, updated_at = $1 \
             WHERE state = 'running' AND lease_until < $1",
        )
        .bind(now_ms)
        .execute(&self.inner.db)
        .await?
        .rows_affected())
    }

    /// On a single node, every running job belonged to a previous process.
    pub(crate) async fn requeue_all_running(&self, now_ms: i64) -> Result<u64, PlatformError> {
        Ok(sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, updated_at = $1 \
             WHERE state = 'running'",
        )
        .bind(now_ms)
        .execute(&self.inner.db)
        .await?
        .rows_affected())
    }

    /// Forgets delivered jobs older than `older_than_ms`.
    pub(crate) async fn prune_done_jobs(&self, older_than_ms: i64) -> Result<u64, PlatformError> {
        Ok(
            sqlx::query("DELETE FROM jobs WHERE state = 'done' AND updated_at < $1")
                .bind(older_than_ms)
                .execute(&self.inner.db)
                .await?
                .rows_affected(),
        )
    }

    /// Jobs, newest first, optionally of one state and/or function.
    pub async fn list_jobs(
        &self,
        team_id: i64,
        state: Option<&str>,
        function: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Job>, PlatformError> {
        if let Some(s) = state {
            if !matches!(s, "queued" | "running" | "done" | "dead") {
                return Err(PlatformError::invalid(
                    "state must be queued, running, done or dead",
                ));
            }
        }
        let limit = if limit == 0 { 100 } else { limit.min(MAX_LIST) };
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR state = $1) \
             AND ($2 IS NULL OR function_name = $2) \
             AND function_name IN (SELECT name FROM function_owners WHERE team_id = $4) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(state.map(str::to_string))
            .bind(function.map(str::to_string))
            .bind(i64::from(limit))
            .bind(team_id)
            .fetch_all(&self.inner.db)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<Job, PlatformError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("job {id}")))?;
        job_from_row(&row)
    }

    /// Sends a dead letter back to the queue with a fresh set of attempts.
    pub async fn redrive(&self, id: &str) -> Result<Job, PlatformError> {
        let now = self.inner.clock.now_ms();
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, lease_until = NULL, \
             updated_at = $1 WHERE id = $2 AND state = 'dead'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.inner.db)
        .await?
        .rows_affected();
        if updated == 0 {
            let job = self.job(id).await?;
            return Err(PlatformError::Conflict {
                message: format!("job {id} is {}, not dead", job.state),
            });
        }
        self.inner.dispatcher.wake();
        self.job(id).await
    }

    /// How much of a team's async work is in each state.
    pub async fn queue_stats(&self, team_id: i64) -> Result<QueueStats, PlatformError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM jobs \
             WHERE function_name IN (SELECT name FROM function_owners WHERE team_id = $1) \
             GROUP BY state",
        )
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        let mut stats = QueueStats::default();
        for row in &rows {
            let n: i64 = row.try_get("n")?;
            match row.try_get::<String, _>("state")?.as_str() {
                "queued" => stats.queued = n,
                "running" => stats.running = n,
                "done" => stats.done = n,
                "dead" => stats.dead = n,
                _ => {}
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(1);
        let first = backoff(base, 1);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let third = backoff(base, 3);
        assert!(third >= Duration::from_millis(3200) && third <= Duration::from_millis(4800));
        assert!(backoff(base, 40) <= MAX_BACKOFF);
    }
}
