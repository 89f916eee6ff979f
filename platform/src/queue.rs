//! The durable job queue behind all async work (async invokes, topic
//! events, cron ticks, dead-lettered queue messages). A job is stored before
//! the sender is acknowledged; a worker claims it with a lease, runs it, and
//! marks it done, schedules a retry with exponential backoff, or moves it to
//! the dead letters once its attempts are used up. Delivery is at least once.
//!
//! Invocation ids: the id a sender is given (the job's first invocation id)
//! is used by the first attempt that runs, and again by a rerun while no
//! record is stored under it (the process running it was killed), so it
//! ends as a record of its own; every other attempt, a redriven one
//! included, runs under a new id (one id, one record).
//!
//! Leases: a claimed job records which node holds it (`lease_owner`, the
//! node identity, see [`node_identity`]). At start a node takes back its
//! own running jobs at once (they belonged to its previous process); other
//! nodes' leases run their course (the function's timeout plus a minute),
//! unless that node is down or stopped (its heartbeat, `crate::cluster`):
//! then they are taken over at the next housekeeping round.
//! On SQLite, one node owns the file: every running job is taken back.

use std::time::Duration;

use model::{Job, JobState, QueueStats};
use rand::Rng as _;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::invoke::new_invocation_id;
use crate::time::from_ms;
use crate::{Backend, Platform, PlatformConfig, PlatformError, TriggerKind};

/// The file in the data directory that keeps the default node identity.
pub(crate) const NODE_ID_FILE: &str = "node-id";
/// Longest node identity accepted.
const MAX_NODE_ID_BYTES: usize = 128;

/// This node's identity on the job leases it holds: `config.node_id` when
/// set (`--node-id`), else the identity kept in `<data_dir>/node-id`,
/// created on first start as `<host name>-<hash of the data dir>`. A restart with the same data directory (or the
/// same `--node-id`) is the same node and takes its own leases back at once;
/// two live nodes must never share an identity.
pub(crate) fn node_identity(config: &PlatformConfig) -> anyhow::Result<String> {
    use anyhow::Context as _;
    if let Some(id) = config.node_id.as_deref().map(str::trim) {
        if !id.is_empty() {
            anyhow::ensure!(
                id.len() <= MAX_NODE_ID_BYTES,
                "the node id is over {MAX_NODE_ID_BYTES} bytes"
            );
            return Ok(id.to_string());
        }
    }
    let path = config.data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let id = default_node_id(&config.data_dir);
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// A new node's identity: the host name and a hash of the data
/// directory's path (readable in `wisp nodes`, distinct per data directory
/// on one host).
fn default_node_id(data_dir: &std::path::Path) -> String {
    use sha2::Digest as _;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                .take(64)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "wisp".into());
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let hash = sha2::Sha256::digest(dir.to_string_lossy().as_bytes());
    format!("{host}-{}", hex::encode(&hash[..4]))
}

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
    pub source: TriggerKind,
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
    /// No finished attempt and no stored record carries the first
    /// invocation id yet: this attempt runs under it.
    pub first_id_unused: bool,
}

impl ClaimedJob {
    /// The id this attempt is recorded under: the one the sender was given
    /// while nothing is recorded under it, else a new one.
    pub fn invocation_id(&self) -> String {
        if self.first_id_unused {
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
        // Every stored source is a trigger kind; should one not be, the
        // work still runs (as async work) rather than fail its claim.
        source: TriggerKind::parse(&row.try_get::<String, _>("source")?)
            .unwrap_or(TriggerKind::Async),
        trigger_id: row.try_get("trigger_id")?,
        parent_id: row.try_get("parent_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        headers: serde_json::from_str(&headers).map_err(anyhow::Error::from)?,
        body: row.try_get("body")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
        first_invocation_id: row.try_get("first_invocation_id")?,
        // An attempt that finished named its invocation; the stored
        // records are looked at after the claim.
        first_id_unused: row
            .try_get::<Option<String>, _>("last_invocation_id")?
            .is_none(),
    })
}

fn job_from_row(row: &AnyRow) -> Result<Job, PlatformError> {
    Ok(Job {
        id: row.try_get("id")?,
        function: row.try_get("function_name")?,
        source: crate::db::column(row, "source")?,
        trigger_id: row.try_get("trigger_id")?,
        event_id: row.try_get("event_id")?,
        state: crate::db::column(row, "state")?,
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
             lease_owner = $5, updated_at = $2 WHERE state = 'queued' AND id IN (SELECT id FROM jobs \
             WHERE state = 'queued' AND function_name = $3 AND run_at <= $2 \
             ORDER BY run_at, id LIMIT $4) \
             RETURNING id, function_name, source, trigger_id, parent_id, method, path, \
             headers_json, body, attempts, max_attempts, first_invocation_id, last_invocation_id",
        )
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(function)
        .bind(i64::from(limit))
        .bind(&self.inner.node_id)
        .fetch_all(&self.inner.db)
        .await?;
        let mut jobs = rows
            .iter()
            .map(claimed_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.mark_recorded_first_ids(&mut jobs).await?;
        Ok(jobs)
    }

    /// Clears [`ClaimedJob::first_id_unused`] of the jobs whose first
    /// invocation id already has a stored record (a redriven dead letter, an
    /// attempt whose process died after its record was written).
    async fn mark_recorded_first_ids(&self, jobs: &mut [ClaimedJob]) -> Result<(), PlatformError> {
        let unused: Vec<&str> = jobs
            .iter()
            .filter(|j| j.first_id_unused)
            .map(|j| j.first_invocation_id.as_str())
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=unused.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id FROM invocations WHERE id IN ({})",
            placeholders.join(",")
        );
        let mut query = sqlx::query(&sql);
        for id in &unused {
            query = query.bind(*id);
        }
        let recorded: std::collections::HashSet<String> = query
            .fetch_all(&self.inner.db)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        for job in jobs.iter_mut() {
            if recorded.contains(&job.first_invocation_id) {
                job.first_id_unused = false;
            }
        }
        Ok(())
    }

    /// Marks a claimed job delivered.
    pub(crate) async fn complete_job(
        &self,
        id: &str,
        invocation_id: &str,
        now_ms: i64,
    ) -> Result<(), PlatformError> {
        sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, lease_owner = NULL, \
             last_invocation_id = $1, \
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
            "UPDATE jobs SET state = $1, lease_until = NULL, lease_owner = NULL, run_at = $2, \
             last_invocation_id = COALESCE($3, last_invocation_id), last_error = $4, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(if dead { JobState::Dead } else { JobState::Queued }.as_str())
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

    /// Jobs whose lease ran out (their worker died), and jobs leased by
    /// another node that is down (no heartbeat for
    /// [`crate::cluster::DOWN_AFTER`], by the wall clock) or stopped, go
    /// back to the queue.
    pub(crate) async fn requeue_expired(&self, now_ms: i64) -> Result<u64, PlatformError> {
        let down_before = crate::cluster::wall_ms() - crate::cluster::DOWN_AFTER.as_millis() as i64;
        // The worker that held the lease may still be alive (a paused or
        // cut-off node) and record under the first invocation id: the
        // rerun then runs under a new one, so both calls keep a record.
        Ok(sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, lease_owner = NULL, \
             last_invocation_id = COALESCE(last_invocation_id, first_invocation_id), \
             updated_at = $1 WHERE state = 'running' AND (lease_until < $1 OR lease_owner IN \
             (SELECT id FROM nodes WHERE id <> $2 AND (stopped_at IS NOT NULL OR last_seen < $3)))",
        )
        .bind(now_ms)
        .bind(&self.inner.node_id)
        .bind(down_before)
        .execute(&self.inner.db)
        .await?
        .rows_affected())
    }

    /// At start, before this process claims anything: jobs left running by
    /// this node's previous process go back to the queue at once. On SQLite
    /// (one node owns the file) that is every running job; on PostgreSQL
    /// the jobs leased under this node's identity. How many.
    pub(crate) async fn reclaim_interrupted_jobs(&self) -> Result<u64, PlatformError> {
        let now_ms = self.inner.clock.now_ms();
        let reclaimed = sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_until = NULL, lease_owner = NULL, \
             updated_at = $1 WHERE state = 'running' AND ($2 = 1 OR lease_owner = $3)",
        )
        .bind(now_ms)
        .bind(i64::from(self.inner.backend == Backend::Sqlite))
        .bind(&self.inner.node_id)
        .execute(&self.inner.db)
        .await?
        .rows_affected();
        if reclaimed > 0 {
            tracing::warn!(
                jobs = reclaimed,
                node = %self.inner.node_id,
                "requeued jobs interrupted by this node's last shutdown"
            );
        }
        Ok(reclaimed)
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
    pub(crate) async fn list_jobs(
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
            concat!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR state = $1) \
             AND ($2 IS NULL OR function_name = $2) \
             AND function_name IN ",
                team_functions!("$4"),
                " \
             ORDER BY created_at DESC, id DESC LIMIT $3"
            ),
            JOB_COLUMNS = JOB_COLUMNS
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
    pub(crate) async fn job(&self, id: &str) -> Result<Job, PlatformError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("job {id}")))?;
        job_from_row(&row)
    }

    /// Sends a dead letter back to the queue with a fresh set of attempts.
    pub(crate) async fn redrive(&self, id: &str) -> Result<Job, PlatformError> {
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
    pub(crate) async fn queue_stats(&self, team_id: i64) -> Result<QueueStats, PlatformError> {
        let rows = sqlx::query(concat!(
            "SELECT state, COUNT(*) AS n FROM jobs \
             WHERE function_name IN ",
            team_functions!("$1"),
            " \
             GROUP BY state"
        ))
        .bind(team_id)
        .fetch_all(&self.inner.db)
        .await?;
        let mut stats = QueueStats::default();
        for row in &rows {
            let n: i64 = row.try_get("n")?;
            match crate::db::column::<JobState>(row, "state")? {
                JobState::Queued => stats.queued = n,
                JobState::Running => stats.running = n,
                JobState::Done => stats.done = n,
                JobState::Dead => stats.dead = n,
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

    #[test]
    fn a_new_node_is_named_after_its_host_and_data_dir() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let id = default_node_id(a.path());
        assert_eq!(id, default_node_id(a.path()), "stable for one data dir");
        assert_ne!(id, default_node_id(b.path()), "distinct per data dir");
        let (host, hash) = id.rsplit_once('-').unwrap();
        assert!(!host.is_empty() && hash.len() == 8, "{id}");
        // Kept in the data dir from the first start on.
        let config = PlatformConfig::new(a.path());
        assert_eq!(node_identity(&config).unwrap(), id);
        assert_eq!(
            std::fs::read_to_string(a.path().join(NODE_ID_FILE))
                .unwrap()
                .trim(),
            id
        );
    }
}
