//! Error groups (`GET /api/v1/errors`, the Errors page, `wisp errors`):
//! failures of a function with the same outcome and shape, counted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::InvocationOutcome;

/// Failures of one function that share an outcome and a shape (the error's
/// first line with numbers and ids masked, and its backtrace's frame names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorGroup {
    pub function: String,
    /// Names the group within its function (16 hex digits, stable across
    /// versions and restarts).
    pub fingerprint: String,
    pub outcome: InvocationOutcome,
    /// The shape the failures share: masked first line (numbers as `N`,
    /// hex ids as `X`), then one frame name per line.
    pub signature: String,
    /// The error text of the latest failure.
    pub sample_error: Option<String>,
    /// Failures in the group.
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The version that failed this way first (where the group appeared).
    pub first_version: i64,
    /// The version of the latest failure.
    pub last_version: i64,
    /// The latest failure, to open.
    pub last_invocation_id: String,
}

/// The team's error groups, most recently seen first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorGroups {
    pub groups: Vec<ErrorGroup>,
}
