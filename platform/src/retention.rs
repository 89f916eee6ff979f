//! Retention: how long each team's history is kept (its owners' choice, else
//! the server's: administrators, else `--retention-days`) and the background
//! pass that forgets what is older: invocation records with their logs and
//! log-search entries, outbound calls, replay captures, events, error
//! groups and alert history. Hourly usage rollups stay (old months' cost
//! reports are built from them alone) and so do dead letters (kept until
//! redriven or deleted).
//!
//! A pass deletes in batches of [`BATCH`] rows, each its own short write
//! transaction, with a pause between batches, so the recorder's writes and
//! the calls they belong to never wait long (docs/DECISIONS.md #55). Every
//! node of a cluster runs passes; deletes are idempotent, so two nodes
//! pruning at once only share the work.

use std::time::{Duration, Instant};

use model::{validate_retention_days, PrunePass, RetentionStatus};
use sqlx::Row;

use crate::db::Backend;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Rows one batch deletes.
pub const BATCH: i64 = 500;
/// Pause between two batches: other writers take the database in between.
const PAUSE: Duration = Duration::from_millis(5);
const DAY_MS: i64 = 86_400_000;
/// `server_settings` row holding the administrators' period.
const SERVER_DAYS: &str = "retention_days";

/// This node's pruning state: one pass at a time, and the last one's totals.
#[derive(Default)]
pub(crate) struct Pruner {
    running: tokio::sync::Mutex<()>,
    last_pass: std::sync::Mutex<Option<PrunePass>>,
}

impl Platform {
    /// Runs a pruning pass every `retention_every` until shutdown.
    pub(crate) fn spawn_retention(&self) {
        let platform = self.clone();
        let every = self.inner.config.retention_every;
        let mut stop = self.inner.shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|stopping| *stopping) => return,
                }
                match platform.prune_expired().await {
                    Ok(pass) if pass.invocations + pass.events + pass.captures > 0 => {
                        tracing::info!(
                            invocations = pass.invocations,
                            outbound_calls = pass.outbound_calls,
                            events = pass.events,
                            captures = pass.captures,
                            ms = pass.duration_ms,
                            "pruned history older than the retention period"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "pruning old history failed"),
                }
            }
        });
    }

    /// Forgets every team's history older than its retention period, as
    /// of the platform clock's now, in small batches; returns what went.
    /// A pass already running on this node is waited for first. Public for
    /// tests and tools; the server runs it every `retention_every`.
    pub async fn prune_expired(&self) -> Result<PrunePass, PlatformError> {
        let _one_at_a_time = self.inner.retention.running.lock().await;
        let started = Instant::now();
        let now_ms = self.inner.clock.now_ms();
        let server_days = self.server_retention_days().await?;
        let teams = sqlx::query("SELECT id, retention_days FROM teams")
            .fetch_all(&self.inner.db)
            .await?;
        let mut pass = PrunePass::default();
        let mut longest = server_days;
        for row in &teams {
            if self.is_stopping() {
                break;
            }
            let team_id: i64 = row.try_get("id")?;
            let days = row
                .try_get::<Option<i64>, _>("retention_days")?
                .map(|d| d as u32)
                .unwrap_or(server_days);
            longest = longest.max(days);
            let cutoff = now_ms - i64::from(days) * DAY_MS;
            self.prune_team(team_id, cutoff, &mut pass).await?;
        }
        // What no team holds: events published before events had a team,
        // outbound calls whose invocation record is gone.
        pass.events += self
            .delete_batches(
                "DELETE FROM events WHERE id IN (SELECT id FROM events \
                 WHERE team_id IS NULL AND published_at < $1 LIMIT $2)",
                &[now_ms - i64::from(server_days) * DAY_MS],
            )
            .await?;
        let row = match self.inner.backend {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "ctid",
        };
        pass.outbound_calls += self
            .delete_batches(
                &format!(
                    "DELETE FROM outbound_calls WHERE {row} IN (SELECT {row} FROM outbound_calls \
                     WHERE at < $1 LIMIT $2)"
                ),
                &[now_ms - i64::from(longest) * DAY_MS],
            )
            .await?;
        pass.finished_at = self.now();
        pass.duration_ms = started.elapsed().as_millis() as u64;
        // Kept: the last pass that removed something (a pass that found
        // nothing would hide it minutes later), or the first one.
        {
            let mut last = self.inner.retention.last_pass.lock().unwrap();
            if last.is_none() || pass.invocations + pass.events + pass.captures > 0 {
                *last = Some(pass.clone());
            }
        }
        Ok(pass)
    }

    /// Prunes one team's rows older than `cutoff_ms`.
    async fn prune_team(
        &self,
        team_id: i64,
        cutoff_ms: i64,
        pass: &mut PrunePass,
    ) -> Result<(), PlatformError> {
        let functions: Vec<String> =
            sqlx::query_scalar("SELECT name FROM function_owners WHERE team_id = $1")
                .bind(team_id)
                .fetch_all(&self.inner.db)
                .await?;
        for function in &functions {
            loop {
                if self.is_stopping() {
                    return Ok(());
                }
                let (invocations, outbound) =
                    self.prune_invocation_batch(function, cutoff_ms).await?;
                pass.invocations += invocations;
                pass.outbound_calls += outbound;
                if invocations < BATCH as u64 {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
            pass.error_groups +=
                sqlx::query("DELETE FROM error_groups WHERE function_name = $1 AND last_seen < $2")
                    .bind(function)
                    .bind(cutoff_ms)
                    .execute(&self.inner.db)
                    .await?
                    .rows_affected();
        }
        pass.captures += self
            .delete_batches(
                "DELETE FROM captures WHERE invocation_id IN (SELECT invocation_id FROM captures \
                 WHERE team_id = $1 AND created_at < $2 LIMIT $3)",
                &[team_id, cutoff_ms],
            )
            .await?;
        pass.events += self
            .delete_batches(
                "DELETE FROM events WHERE id IN (SELECT id FROM events \
                 WHERE team_id = $1 AND published_at < $2 LIMIT $3)",
                &[team_id, cutoff_ms],
            )
            .await?;
        self.delete_batches(
            "DELETE FROM alert_events WHERE id IN (SELECT id FROM alert_events \
             WHERE team_id = $1 AND at < $2 LIMIT $3)",
            &[team_id, cutoff_ms],
        )
        .await?;
        Ok(())
    }

    /// Deletes up to [`BATCH`] of `function`'s invocation records started
    /// before `cutoff_ms`, their outbound calls and (SQLite) their search
    /// index entries, in one transaction: (invocations, outbound calls).
    async fn prune_invocation_batch(
        &self,
        function: &str,
        cutoff_ms: i64,
    ) -> Result<(u64, u64), PlatformError> {
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        let counts = match self.inner.backend {
            Backend::Postgres => {
                let row = sqlx::query(
                    "WITH gone AS (DELETE FROM invocations WHERE id IN (SELECT id FROM invocations \
                     WHERE function_name = $1 AND started_at < $2 LIMIT $3) RETURNING id), \
                     calls AS (DELETE FROM outbound_calls WHERE invocation_id IN \
                     (SELECT id FROM gone) RETURNING 1) \
                     SELECT (SELECT COUNT(*) FROM gone) AS invocations, \
                     (SELECT COUNT(*) FROM calls) AS outbound",
                )
                .bind(function)
                .bind(cutoff_ms)
                .bind(BATCH)
                .fetch_one(&mut *tx)
                .await?;
                (
                    row.try_get::<i64, _>("invocations")? as u64,
                    row.try_get::<i64, _>("outbound")? as u64,
                )
            }
            Backend::Sqlite => {
                // The batch by rowid (read through `invocations_by_function`),
                // then the three deletes name those rows; rowids are
                // integers from the database, written into the statements.
                let rowids: Vec<i64> = sqlx::query_scalar(
                    "SELECT rowid FROM invocations WHERE function_name = $1 AND started_at < $2 \
                     LIMIT $3",
                )
                .bind(function)
                .bind(cutoff_ms)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
                if rowids.is_empty() {
                    return Ok((0, 0));
                }
                let list = rowids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                // External-content FTS: an entry is removed by giving back
                // the text it was made from; only indexed rows have one.
                sqlx::query(&format!(
                    "INSERT INTO invocations_fts (invocations_fts, rowid, logs, error) \
                     SELECT 'delete', rowid, logs, error FROM invocations \
                     WHERE rowid IN ({list}) AND (logs <> '' OR error IS NOT NULL)"
                ))
                .execute(&mut *tx)
                .await?;
                let outbound = sqlx::query(&format!(
                    "DELETE FROM outbound_calls WHERE invocation_id IN \
                     (SELECT id FROM invocations WHERE rowid IN ({list}))"
                ))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let invocations =
                    sqlx::query(&format!("DELETE FROM invocations WHERE rowid IN ({list})"))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                (invocations, outbound)
            }
        };
        tx.commit().await?;
        Ok(counts)
    }

    /// Runs `sql` (a delete of at most `$N = BATCH` rows, `binds` before it)
    /// until it deletes fewer than a batch; returns the rows deleted.
    async fn delete_batches(&self, sql: &str, binds: &[i64]) -> Result<u64, PlatformError> {
        let mut total = 0;
        loop {
            let mut query = sqlx::query(sql);
            for value in binds {
                query = query.bind(*value);
            }
            let n = query
                .bind(BATCH)
                .execute(&self.inner.db)
                .await?
                .rows_affected();
            total += n;
            if n < BATCH as u64 || self.is_stopping() {
                return Ok(total);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    fn is_stopping(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// The period of teams that set none: the administrators' setting, else
    /// `--retention-days`.
    pub(crate) async fn server_retention_days(&self) -> Result<u32, PlatformError> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_settings WHERE name = $1")
                .bind(SERVER_DAYS)
                .fetch_optional(&self.inner.db)
                .await?;
        Ok(value
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.inner.config.retention_days))
    }

    /// Sets the server's period (the caller checked the role).
    pub(crate) async fn set_server_retention_days(&self, days: u32) -> Result<(), PlatformError> {
        validate_retention_days(days).map_err(PlatformError::invalid)?;
        sqlx::query(
            "INSERT INTO server_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(SERVER_DAYS)
        .bind(days.to_string())
        .bind(self.inner.clock.now_ms())
        .execute(&self.inner.db)
        .await?;
        Ok(())
    }

    /// Sets team `team_id`'s own period, or clears it (the caller checked
    /// the role).
    pub(crate) async fn set_team_retention_days(
        &self,
        team_id: i64,
        days: Option<u32>,
    ) -> Result<(), PlatformError> {
        if let Some(days) = days {
            validate_retention_days(days).map_err(PlatformError::invalid)?;
        }
        sqlx::query("UPDATE teams SET retention_days = $1 WHERE id = $2")
            .bind(days.map(i64::from))
            .bind(team_id)
            .execute(&self.inner.db)
            .await?;
        Ok(())
    }

    /// Team `team_id`'s retention, its oldest record and the database size.
    pub(crate) async fn retention_status(
        &self,
        team_id: i64,
    ) -> Result<RetentionStatus, PlatformError> {
        let server_days = self.server_retention_days().await?;
        let team_days: Option<i64> =
            sqlx::query_scalar("SELECT retention_days FROM teams WHERE id = $1")
                .bind(team_id)
                .fetch_optional(&self.inner.db)
                .await?
                .flatten();
        let team_days = team_days.map(|d| d as u32);
        // One index probe per function (`invocations_by_function`); there
        // is no index on time alone.
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(oldest) FROM (SELECT (SELECT MIN(started_at) FROM invocations \
             WHERE function_name = o.name) AS oldest FROM function_owners o \
             WHERE o.team_id = $1) AS per_function",
        )
        .bind(team_id)
        .fetch_one(&self.inner.db)
        .await?;
        Ok(RetentionStatus {
            days: team_days.unwrap_or(server_days),
            team_days,
            server_days,
            oldest_record_at: oldest.map(from_ms),
            database_bytes: self.database_bytes().await?,
            last_pass: self.inner.retention.last_pass.lock().unwrap().clone(),
        })
    }

    /// The database's size on disk: SQLite's pages (plus its write-ahead
    /// log), PostgreSQL's `pg_database_size`.
    pub(crate) async fn database_bytes(&self) -> Result<Option<u64>, PlatformError> {
        Ok(match self.inner.backend {
            Backend::Sqlite => {
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(&self.inner.db)
                    .await?;
                let size: i64 = sqlx::query_scalar("PRAGMA page_size")
                    .fetch_one(&self.inner.db)
                    .await?;
                let wal = std::fs::metadata(self.inner.config.data_dir.join("wisp.db-wal"))
                    .map(|m| m.len())
                    .unwrap_or(0);
                Some((pages * size) as u64 + wal)
            }
            Backend::Postgres => {
                let bytes: i64 =
                    sqlx::query_scalar("SELECT pg_database_size(current_database())::BIGINT")
                        .fetch_one(&self.inner.db)
                        .await?;
                Some(bytes as u64)
            }
        })
    }
}
