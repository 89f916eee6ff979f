//! The shapes of log search (`GET /api/v1/logs`): a page of matching
//! invocations, each with the log lines that hold a hit and where in them
//! the hits are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{InvocationOutcome, InvocationStatus};

/// One page of a log search, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogSearchPage {
    /// The matching invocations, newest first.
    pub hits: Vec<LogSearchHit>,
    /// Pass as `before` for the next (older) page; `null` when no older
    /// invocation matches.
    pub next_before: Option<String>,
}

/// An invocation whose logs or error text match the search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogSearchHit {
    /// The invocation's id (`GET /api/v1/invocations/{id}` has all of it).
    pub id: String,
    pub function: String,
    pub version: i64,
    pub started_at: DateTime<Utc>,
    pub status: InvocationStatus,
    pub outcome: InvocationOutcome,
    /// HTTP status the function answered with, if it answered.
    pub status_code: Option<i64>,
    /// The log lines that hold a hit, in log order (at most a few; see
    /// `more_lines`).
    pub lines: Vec<LogLine>,
    /// Further matching lines not shown here.
    pub more_lines: u32,
    /// The invocation's error text, when the hit is there (`number` 0).
    pub error: Option<LogLine>,
}

/// A line of an invocation's logs (or its error text) that holds a hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    /// 1 for the logs' first line; 0 for the error text.
    pub number: u32,
    /// The line; a long one is cut around its first hit, with `…` where
    /// text was left out.
    pub text: String,
    /// Where the hits are in `text`: `[start, end)` byte offsets (UTF-8),
    /// in order, not overlapping.
    pub highlights: Vec<[u32; 2]>,
}
