//! Log search across a team's functions (`GET /api/v1/logs`): full-text
//! search over every recorded invocation's logs and error text, filtered
//! by function, status, time and JSON log level, newest first, paged by
//! cursor. One query surface over two indexes (migration 0012,
//! docs/DECISIONS.md #47): SQLite FTS5 (`invocations_fts`, fed by the
//! recorder) and PostgreSQL full text (`invocation_words`, a GIN index).
//! It owns the SQL of the search and the shaping of hits; the words are cut
//! in [`terms`], the shown lines chosen in [`lines`].

mod lines;
mod terms;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use model::{InvocationOutcome, InvocationRecord, LogSearchHit, LogSearchPage};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::db::{column, Backend};
use crate::time::from_ms;
use crate::{Platform, PlatformError};
use terms::Terms;

/// Hits per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most hits one page returns.
pub const MAX_LIMIT: u32 = 500;
/// With a `level`, rows are read in batches (the level is checked on the
/// lines) until the page is full or this many were read; the page then
/// ends early with a cursor to go on from.
const MAX_ROWS_READ: usize = 5_000;

/// What to search for (`GET /api/v1/logs`).
#[derive(Clone, Debug, Default)]
pub struct LogSearch {
    /// The search text (see [`terms`]: words, `"phrases"`, `prefix*`,
    /// `-excluded`, `OR`).
    pub q: String,
    /// Only this function's invocations.
    pub function: Option<String>,
    /// Only the invocations of this application's functions.
    pub application: Option<String>,
    /// `success`, `error`, or an outcome such as `timeout`.
    pub status: Option<String>,
    /// Only hits in JSON log lines whose `level` is this (`error`, `warn`, ...).
    pub level: Option<String>,
    /// Only calls that started at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only calls that started before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only invocations of this trace (32 hex digits).
    pub trace_id: Option<String>,
    /// Hits per page (0: [`DEFAULT_LIMIT`]; at most [`MAX_LIMIT`]).
    pub limit: u32,
    /// Page cursor: only invocations after this one in the listing (older).
    pub before: Option<String>,
}

/// Whether the recorder puts a record into the search index: when it has
/// logs or an error to find.
pub(crate) fn indexed(record: &InvocationRecord) -> bool {
    !record.logs.is_empty() || record.error.is_some()
}

/// A bound value of the search's SQL, in placeholder order.
enum Value {
    Text(String),
    Number(i64),
}

/// The parsed and checked filters of one search.
struct Plan {
    terms: Terms,
    level: Option<String>,
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Plan {
    /// Adds `clause`, whose `{}` is the next placeholder, bound to `value`.
    fn push(&mut self, clause: &str, value: Value) {
        self.push_all(clause, [value]);
    }

    /// Adds `clause`, whose `{}`s are the next placeholders in order, bound
    /// to `values`.
    fn push_all(&mut self, clause: &str, values: impl IntoIterator<Item = Value>) {
        let mut parts = clause.split("{}");
        let mut text = parts.next().unwrap_or_default().to_string();
        for (part, value) in parts.zip(values) {
            self.values.push(value);
            text.push_str(&format!("${}{part}", self.values.len()));
        }
        self.clauses.push(text);
    }
}

impl Platform {
    /// One page of the invocations of team `team_id` whose logs or error
    /// text match `search`, newest first. The caller has checked the
    /// `function` filter against the team.
    pub(crate) async fn search_logs(
        &self,
        team_id: i64,
        search: &LogSearch,
    ) -> Result<LogSearchPage, PlatformError> {
        search_page(&self.inner.db, self.backend(), team_id, search).await
    }
}

/// [`Platform::search_logs`] on the database `db`.
async fn search_page(
    db: &AnyPool,
    backend: Backend,
    team_id: i64,
    search: &LogSearch,
) -> Result<LogSearchPage, PlatformError> {
    let limit = match search.limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    } as usize;
    let plan = plan(backend, team_id, search)?;
    let mut hits: Vec<LogSearchHit> = Vec::new();
    let mut cursor = search.before.clone().filter(|id| !id.is_empty());
    let mut read = 0usize;
    loop {
        // One more than needed tells whether another page exists; with a
        // level some rows drop out, so read more at a time.
        let want = limit + 1 - hits.len();
        let batch = if plan.level.is_some() {
            want.max(100)
        } else {
            want
        };
        let sql = rows_sql(backend, &plan, cursor.is_some());
        let mut statement = sqlx::query(&sql);
        for value in &plan.values {
            statement = match value {
                Value::Text(text) => statement.bind(text.as_str()),
                Value::Number(n) => statement.bind(*n),
            };
        }
        if let Some(cursor) = &cursor {
            statement = statement.bind(cursor.as_str());
        }
        let rows = statement.bind(batch as i64).fetch_all(db).await?;
        read += rows.len();
        for row in &rows {
            if hits.len() <= limit {
                if let Some(hit) = hit_from_row(row, &plan)? {
                    hits.push(hit);
                }
            }
            cursor = Some(row.try_get("id")?);
        }
        if hits.len() > limit {
            hits.truncate(limit);
            let next_before = hits.last().map(|h| h.id.clone());
            return Ok(LogSearchPage { hits, next_before });
        }
        if rows.len() < batch {
            return Ok(LogSearchPage {
                hits,
                next_before: None,
            });
        }
        if read >= MAX_ROWS_READ {
            // A short page; the next one goes on after the last row read.
            return Ok(LogSearchPage {
                hits,
                next_before: cursor,
            });
        }
    }
}

/// The search's SELECT on `backend`: the plan's clauses (placeholders
/// `$1`...), then, with `cursor`, only rows after the cursor's row, then
/// the LIMIT (the last placeholder).
fn rows_sql(backend: Backend, plan: &Plan, cursor: bool) -> String {
    let mut clauses = plan.clauses.clone();
    let mut next = plan.values.len() + 1;
    if cursor {
        clauses.push(match backend {
            // The index lists rows in rowid order (the order they were
            // stored): FTS5 walks its doclists backwards from the cursor.
            Backend::Sqlite => format!(
                "invocations_fts.rowid < (SELECT rowid FROM invocations WHERE id = ${next})"
            ),
            Backend::Postgres => format!(
                "(i.started_at, i.id) < (SELECT started_at, id FROM invocations WHERE id = ${next})"
            ),
        });
        next += 1;
    }
    let (from, order) = match backend {
        // CROSS JOIN: SQLite keeps the index as the outer loop (it would
        // rather walk `invocations_by_function` for a function and a time
        // range, probe the index per row and sort everything it found).
        Backend::Sqlite => (
            "invocations_fts CROSS JOIN invocations i ON i.rowid = invocations_fts.rowid",
            "invocations_fts.rowid DESC",
        ),
        Backend::Postgres => ("invocations i", "i.started_at DESC, i.id DESC"),
    };
    format!(
        "SELECT i.id, i.function_name, i.version, i.started_at, i.status, i.outcome, \
         i.status_code, i.error, i.logs FROM {from} WHERE {} ORDER BY {order} LIMIT ${next}",
        clauses.join(" AND ")
    )
}

/// Parses and checks `search` into the WHERE clauses of `backend`'s query.
fn plan(backend: Backend, team_id: i64, search: &LogSearch) -> Result<Plan, PlatformError> {
    let terms = Terms::parse(&search.q)?;
    // The index's query; `terms` stays what the lines are searched for.
    let mut indexed_terms = terms.clone();
    let level = match search.level.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(level) if !level.is_empty() && level.chars().all(|c| c.is_ascii_alphanumeric()) => {
            // Such a line holds the level's word: the index narrows first.
            indexed_terms.require(level);
            Some(level.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(PlatformError::invalid_field(
                "level",
                "level is a word such as error, warn or info",
            ))
        }
    };
    let mut plan = Plan {
        level,
        clauses: Vec::new(),
        values: Vec::new(),
        terms,
    };
    match backend {
        Backend::Sqlite => plan.push(
            "invocations_fts MATCH {}",
            Value::Text(indexed_terms.fts5()),
        ),
        Backend::Postgres => plan.push(
            // The index holds only rows with logs or an error (migration
            // 0018); the query states it so that the planner can use it.
            "invocation_words(i.logs, i.error) @@ to_tsquery('simple', {}) \
             AND (i.logs <> '' OR i.error IS NOT NULL)",
            Value::Text(indexed_terms.tsquery()),
        ),
    }
    plan.push(
        concat!("i.function_name IN ", team_functions!("{}")),
        Value::Number(team_id),
    );
    if let Some(function) = search.function.as_deref().filter(|f| !f.is_empty()) {
        plan.push("i.function_name = {}", Value::Text(function.to_string()));
    }
    if let Some(app) = search.application.as_deref().filter(|a| !a.is_empty()) {
        plan.push(
            "i.function_name IN (SELECT name FROM functions WHERE application = {})",
            Value::Text(app.to_string()),
        );
    }
    match search.status.as_deref().map(str::trim) {
        None | Some("") | Some("all") => {}
        Some(status @ ("success" | "error")) => {
            plan.push("i.status = {}", Value::Text(status.to_string()))
        }
        Some(outcome) => {
            let outcome = InvocationOutcome::parse(outcome).map_err(|_| {
                PlatformError::invalid_field(
                    "status",
                    format!("unknown status `{outcome}`: use success, error or an outcome such as timeout"),
                )
            })?;
            plan.push("i.outcome = {}", Value::Text(outcome.as_str().to_string()));
        }
    }
    if let Some(since) = search.since {
        plan.push(
            "i.started_at >= {}",
            Value::Number(since.timestamp_millis()),
        );
    }
    if let Some(until) = search.until {
        plan.push("i.started_at < {}", Value::Number(until.timestamp_millis()));
    }
    if let Some(trace_id) = search.trace_id.as_deref().filter(|t| !t.is_empty()) {
        if !crate::trace_context::is_trace_id(trace_id) {
            return Err(PlatformError::invalid_field(
                "trace",
                "a trace id is 32 lowercase hex digits, not all zero",
            ));
        }
        // The call that started the trace is stored without it: its id.
        plan.push_all(
            "(i.trace_id = {} OR i.id = {})",
            [
                Value::Text(trace_id.to_string()),
                Value::Text(crate::trace_context::first_invocation(trace_id)),
            ],
        );
    }
    // Further filters on the invocation row go here, one `plan.push` each.
    Ok(plan)
}

/// The hit a row makes: its matching lines (and, with a level, `None` when
/// no line of that level holds a hit).
fn hit_from_row(row: &AnyRow, plan: &Plan) -> Result<Option<LogSearchHit>, PlatformError> {
    let logs: String = row.try_get("logs")?;
    let error: Option<String> = row.try_get("error")?;
    let Some(found) = lines::matched(&plan.terms, &logs, error.as_deref(), plan.level.as_deref())
    else {
        return Ok(None);
    };
    Ok(Some(LogSearchHit {
        id: row.try_get("id")?,
        function: row.try_get("function_name")?,
        version: row.try_get("version")?,
        started_at: from_ms(row.try_get("started_at")?),
        status: column(row, "status")?,
        outcome: column(row, "outcome")?,
        status_code: row.try_get("status_code")?,
        lines: found.lines,
        more_lines: found.more_lines,
        error: found.error,
    }))
}
