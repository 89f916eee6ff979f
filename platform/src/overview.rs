//! The dashboard's aggregate reads over recent invocation records: the
//! platform-wide overview (counts, calls per minute, latest failures) and the
//! last-24-hours activity of each function. Reads only; it writes nothing and
//! knows nothing of how the numbers are drawn.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use model::{FailureSummary, InvocationCounts, MinuteCount, Overview};
use sqlx::Row;

use crate::db::Backend;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Minutes the overview chart covers.
const CHART_MINUTES: i64 = 60;
/// Failures the overview lists.
const RECENT_FAILURES: i64 = 10;

// The team-wide windows name the team's functions, so that
// `invocations_by_function` serves them (one range per function; there is no
// index on time alone, migration 0008). Parameters: $1 the window's start,
// $2 the team, $3 the application (empty: all of the team's).
/// Calls and failures per minute since $1.
const CALLS_BY_MINUTE: &str = concat!(
    "SELECT started_at / 60000 AS minute, COUNT(*) AS n, \
     COUNT(CASE WHEN status = 'error' THEN 1 END) AS errors \
     FROM invocations WHERE started_at >= $1 \
     AND function_name IN ",
    scoped_functions!("$2", "$3"),
    " \
     GROUP BY started_at / 60000"
);
/// Calls and failures since $1.
const CALLS_SINCE: &str = concat!(
    "SELECT COUNT(*) AS n, \
     COUNT(CASE WHEN status = 'error' THEN 1 END) AS errors \
     FROM invocations WHERE started_at >= $1 \
     AND function_name IN ",
    scoped_functions!("$2", "$3")
);
/// Calls and failures since $1, by function.
const CALLS_BY_FUNCTION: &str = concat!(
    "SELECT function_name, COUNT(*) AS n, \
     COUNT(CASE WHEN status = 'error' THEN 1 END) AS errors \
     FROM invocations WHERE started_at >= $1 \
     AND function_name IN ",
    team_functions!("$2"),
    " \
     GROUP BY function_name"
);

/// The team's latest failures: $1 how many, $2 the team, $3 the
/// application (empty: all). The partial index
/// `invocations_errors` (error rows only, by time) is walked newest first
/// until enough of the team's turn up. SQLite's planner, without
/// statistics, chose `invocations_by_function` instead, which reads every
/// call of the team's functions and sorts the failures among them
/// (1,000,000 calls, 0.1 % of them errors: 506 ms against 0.4 ms through
/// `invocations_errors`, `sqlite3` shell), so SQLite is told which index to
/// use; PostgreSQL's planner has statistics and picks its own.
fn recent_failures_sql(backend: Backend) -> String {
    let hint = match backend {
        Backend::Sqlite => " INDEXED BY invocations_errors",
        Backend::Postgres => "",
    };
    format!(
        concat!(
    "SELECT id, function_name, started_at, outcome, status_code, error FROM invocations{hint} \
         WHERE status = 'error' \
         AND function_name IN ",
    scoped_functions!("$2", "$3"),
    " \
         ORDER BY started_at DESC, id DESC LIMIT $1"
),
        hint = hint
    )
}

/// One function's calls over the last 24 hours.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FunctionActivity {
    pub calls: i64,
    pub errors: i64,
    pub p50_duration_ms: Option<f64>,
    /// The latest failure: (invocation id, trace id).
    pub last_failure: Option<(String, String)>,
}

impl Platform {
    /// Everything the overview page shows for a team, as of `now`.
    pub(crate) async fn overview_at(
        &self,
        team_id: i64,
        application: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Overview, PlatformError> {
        let db = &self.inner.db;
        let now_ms = now.timestamp_millis();
        let app = application.unwrap_or_default();
        let functions = sqlx::query(concat!(
            "SELECT COUNT(*) AS n, COUNT(live_version) AS live FROM functions \
             WHERE name IN ",
            scoped_functions!("$1", "$2")
        ))
        .bind(team_id)
        .bind(app)
        .fetch_one(db)
        .await?;
        let last_hour = self.counts_since(team_id, app, now_ms - HOUR_MS).await?;
        let last_day = self.counts_since(team_id, app, now_ms - DAY_MS).await?;

        // The current minute is the last bar; the chart starts 59 minutes before it.
        let current_minute = now_ms.div_euclid(MINUTE_MS);
        let first_minute = current_minute - (CHART_MINUTES - 1);
        let rows = sqlx::query(CALLS_BY_MINUTE)
            .bind(first_minute * MINUTE_MS)
            .bind(team_id)
            .bind(app)
            .fetch_all(db)
            .await?;
        let mut by_minute = HashMap::new();
        for row in &rows {
            let minute: i64 = row.try_get("minute")?;
            by_minute.insert(
                minute,
                (
                    row.try_get::<i64, _>("n")?,
                    row.try_get::<i64, _>("errors")?,
                ),
            );
        }
        let per_minute = (first_minute..=current_minute)
            .map(|minute| {
                let (invocations, errors) = by_minute.get(&minute).copied().unwrap_or_default();
                MinuteCount {
                    minute: from_ms(minute * MINUTE_MS),
                    invocations,
                    errors,
                }
            })
            .collect();

        let recent_failures = sqlx::query(&recent_failures_sql(self.inner.backend))
            .bind(RECENT_FAILURES)
            .bind(team_id)
            .bind(app)
            .fetch_all(db)
            .await?
            .iter()
            .map(|row| {
                Ok(FailureSummary {
                    id: row.try_get("id")?,
                    function: row.try_get("function_name")?,
                    started_at: from_ms(row.try_get("started_at")?),
                    outcome: crate::db::column(row, "outcome")?,
                    status_code: row.try_get("status_code")?,
                    error: row.try_get("error")?,
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;

        Ok(Overview {
            generated_at: now,
            functions: functions.try_get("n")?,
            live_functions: functions.try_get("live")?,
            last_hour,
            last_day,
            per_minute,
            recent_failures,
            retention: self.retention_status(team_id).await?,
        })
    }

    /// [`Platform::overview_at`] now, of the team or of one application.
    pub(crate) async fn overview(
        &self,
        team_id: i64,
        application: Option<&str>,
    ) -> Result<Overview, PlatformError> {
        self.overview_at(team_id, application, Utc::now()).await
    }

    async fn counts_since(
        &self,
        team_id: i64,
        application: &str,
        since_ms: i64,
    ) -> Result<InvocationCounts, PlatformError> {
        let row = sqlx::query(CALLS_SINCE)
            .bind(since_ms)
            .bind(team_id)
            .bind(application)
            .fetch_one(&self.inner.db)
            .await?;
        Ok(InvocationCounts {
            invocations: row.try_get("n")?,
            errors: row.try_get("errors")?,
        })
    }

    /// Calls, failures and median duration of every function of the team
    /// called in the 24 hours before `now_ms`, by function name.
    pub(crate) async fn activity_last_day(
        &self,
        team_id: i64,
        now_ms: i64,
    ) -> Result<HashMap<String, FunctionActivity>, PlatformError> {
        let since = now_ms - DAY_MS;
        let rows = sqlx::query(CALLS_BY_FUNCTION)
            .bind(since)
            .bind(team_id)
            .fetch_all(&self.inner.db)
            .await?;
        self.activity_from(&rows, since).await
    }

    /// [`Self::activity_last_day`] of the functions `names` only (one page
    /// of a list): their own calls are read, nobody else's.
    pub(crate) async fn activity_of(
        &self,
        names: &[String],
        now_ms: i64,
    ) -> Result<HashMap<String, FunctionActivity>, PlatformError> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let since = now_ms - DAY_MS;
        let placeholders: Vec<String> = (0..names.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT function_name, COUNT(*) AS n, \
             COUNT(CASE WHEN status = 'error' THEN 1 END) AS errors \
             FROM invocations WHERE started_at >= $1 AND function_name IN ({}) \
             GROUP BY function_name",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(since);
        for name in names {
            query = query.bind(name);
        }
        let rows = query.fetch_all(&self.inner.db).await?;
        self.activity_from(&rows, since).await
    }

    /// Each counted function's median duration and latest failure since
    /// `since`, from rows of (function_name, n, errors).
    async fn activity_from(
        &self,
        rows: &[sqlx::any::AnyRow],
        since: i64,
    ) -> Result<HashMap<String, FunctionActivity>, PlatformError> {
        let db = &self.inner.db;
        let mut activity = HashMap::new();
        for row in rows {
            let name: String = row.try_get("function_name")?;
            let calls: i64 = row.try_get("n")?;
            // The median by rank: one indexed range scan per function, the
            // same SQL on SQLite and PostgreSQL (no percentile functions there).
            let median = sqlx::query(
                "SELECT duration_us FROM invocations WHERE function_name = $1 AND started_at >= $2 \
                 ORDER BY duration_us LIMIT 1 OFFSET $3",
            )
            .bind(&name)
            .bind(since)
            .bind((calls - 1) / 2)
            .fetch_optional(db)
            .await?
            .map(|row| row.try_get::<i64, _>("duration_us"))
            .transpose()?;
            let errors: i64 = row.try_get("errors")?;
            let last_failure = if errors > 0 {
                sqlx::query(
                    "SELECT id, trace_id FROM invocations WHERE function_name = $1 \
                     AND started_at >= $2 AND status = 'error' \
                     ORDER BY started_at DESC, id DESC LIMIT 1",
                )
                .bind(&name)
                .bind(since)
                .fetch_optional(db)
                .await?
                .map(|row| -> Result<_, sqlx::Error> {
                    let id: String = row.try_get("id")?;
                    let trace = crate::invocations::stored_trace(&id, row.try_get("trace_id")?);
                    Ok((id, trace))
                })
                .transpose()?
            } else {
                None
            };
            activity.insert(
                name,
                FunctionActivity {
                    calls,
                    errors,
                    p50_duration_ms: median.map(|us| us as f64 / 1000.0),
                    last_failure,
                },
            );
        }
        Ok(activity)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    /// Every query over a window of invocations across a team's functions
    /// finds its rows through an index: none scans the table (there is no
    /// index on time alone since migration 0008).
    /// The steps of SQLite's plan for `sql` with `params` bound.
    async fn plan(db: &sqlx::AnyPool, sql: &str, params: &[i64]) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query(&explain);
        for p in params {
            query = query.bind(*p);
        }
        let rows = query.fetch_all(db).await.unwrap();
        rows.iter().map(|row| row.get::<String, _>(3)).collect()
    }

    #[tokio::test]
    async fn windowed_reads_search_an_index_not_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("wisp.db").display());
        let (db, _) = crate::db::connect(&url).await.unwrap();
        let queries = [
            ("calls by minute", super::CALLS_BY_MINUTE),
            ("calls since", super::CALLS_SINCE),
            ("calls by function", super::CALLS_BY_FUNCTION),
            ("topology calls", crate::topology::CALLS_IN_WINDOW),
            ("topology children", crate::topology::CHILD_CALLS_IN_WINDOW),
        ];
        for (name, sql) in queries {
            let steps = plan(&db, sql, &[0, 1, 100, 1]).await;
            assert!(
                steps
                    .iter()
                    .any(|s| s.starts_with("SEARCH") && s.contains("invocations_by_function")),
                "{name}: {steps:?}"
            );
            assert!(
                !steps.iter().any(|s| s.starts_with("SCAN")),
                "{name} scans: {steps:?}"
            );
        }
        // The latest failures walk the error rows' own index newest first:
        // no read of the team's successful calls, no sort of all failures.
        let sql = super::recent_failures_sql(crate::db::Backend::Sqlite);
        let steps = plan(&db, &sql, &[10, 1]).await;
        assert!(
            steps.iter().any(|s| s.contains("invocations_errors")),
            "recent failures: {steps:?}"
        );
        assert!(
            !steps
                .iter()
                .any(|s| s.contains("invocations_by_function")
                    || s == "USE TEMP B-TREE FOR ORDER BY"),
            "recent failures: {steps:?}"
        );
    }
}
