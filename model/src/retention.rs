//! Retention (`GET /api/v1/retention`, the Settings and Overview pages,
//! `wisp retention`): how long a team's history is kept, how much the server
//! stores, and what the background pruning last removed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Days a team's history is kept when neither the team nor the server's
/// administrators chose otherwise (`--retention-days`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest retention period that may be set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// `GET /api/v1/retention`: the caller's team's retention and storage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionStatus {
    /// Days the team's invocations, logs, outbound calls, captures and
    /// events are kept: `team_days`, else `server_days`.
    pub days: u32,
    /// The team's own period, set by its owners (`None`: the server's).
    pub team_days: Option<u32>,
    /// The server's period for teams that set none (administrators).
    pub server_days: u32,
    /// The team's oldest invocation record still kept.
    pub oldest_record_at: Option<DateTime<Utc>>,
    /// The database's size on disk, in bytes (every team's data).
    pub database_bytes: Option<u64>,
    /// The last pruning pass of the node that answered that removed
    /// anything (else its first pass).
    pub last_pass: Option<PrunePass>,
}

/// What one pruning pass removed (every team's rows).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrunePass {
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Invocation records (with their logs and search index entries).
    pub invocations: u64,
    pub outbound_calls: u64,
    pub events: u64,
    pub captures: u64,
    pub error_groups: u64,
}

/// `PUT /api/v1/retention/team` and `PUT /api/v1/retention/server` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionUpdate {
    /// Days to keep, 1 to 3650. For a team, `null` returns it to the
    /// server's period; the server's period cannot be `null`.
    pub days: Option<u32>,
}

/// Checks a retention period: 1 to [`MAX_RETENTION_DAYS`] days.
pub fn validate_retention_days(days: u32) -> Result<(), String> {
    if (1..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(format!(
            "a retention period is 1 to {MAX_RETENTION_DAYS} days, not {days}"
        ))
    }
}
