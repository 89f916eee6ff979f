//! `GET /api/v1/logs`: full-text search over the logs and error text of
//! every invocation of the caller's team, newest first, with the matching
//! lines (a thin adapter over `Functions::search_logs`).

use axum::extract::{Query, State};
use axum::Json;
use model::LogSearchPage;
use platform::LogSearch;
use serde::Deserialize;

use super::{AppError, AppState, Authenticated};

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LogSearchParams {
    /// What to find: words (all of them), `"a phrase"`, `prefix*`,
    /// `-excluded`, `a OR b`. Words are runs of letters and digits,
    /// case-insensitive; punctuation inside a term makes it a phrase
    /// (`user_id=42` finds `user id 42`).
    #[param(example = "timeout")]
    q: String,
    /// Only this function's invocations.
    function: Option<String>,
    /// Only the invocations of this application's functions.
    application: Option<String>,
    /// `success`, `error`, or an outcome such as `timeout`.
    status: Option<String>,
    /// Only hits in JSON log lines whose `level` (or `lvl`, `severity`) is
    /// this, such as `error`.
    level: Option<String>,
    /// Only calls started at or after this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only calls started before this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only invocations of this trace (32 hex digits).
    trace: Option<String>,
    /// Hits per page (default 50, at most 500).
    limit: Option<u32>,
    /// Next page: the `next_before` of the previous one.
    before: Option<String>,
}

/// Search the logs of the team's invocations: the matching invocations,
/// newest first, each with the log lines that hold a hit (at most 5, the
/// hits marked) and its error text when the hit is there.
#[utoipa::path(get, path = "/api/v1/logs", params(LogSearchParams),
    responses((status = 200, body = LogSearchPage),
              (status = 400, body = model::ApiError, description = "no words to look for, or a filter that does not parse"),
              (status = 404, body = model::ApiError, description = "`function` is not one of the team's")),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    Query(p): Query<LogSearchParams>,
) -> Result<Json<LogSearchPage>, AppError> {
    let search = LogSearch {
        q: p.q,
        function: p.function,
        application: p.application,
        status: p.status,
        level: p.level,
        since: p.since,
        until: p.until,
        trace_id: p.trace,
        limit: p.limit.unwrap_or(0),
        before: p.before,
    };
    Ok(Json(
        state
            .platform
            .functions()
            .search_logs(&who, &search)
            .await?,
    ))
}
