//! Capture and replay (`POST /api/v1/invocations/{id}/replay`, the Replay
//! panel of an invocation, `wisp replay`): what a function records of its
//! calls, what a replay is asked for, and the diff of a replay against the
//! original call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::InvocationRecord;

word_enum! {
    /// Which of a function's calls are recorded for replay (its `capture`
    /// setting).
    #[derive(Default)]
    pub enum CaptureMode ("capture mode", expected "off, failures or all") {
        /// None.
        Off = "off",
        /// Failed calls (an error outcome or a 5xx status); the default.
        #[default]
        Failures = "failures",
        /// Every call.
        All = "all",
    }
}

/// Which version a replay runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ReplayVersion {
    /// A version number.
    Number(i64),
    /// `"live"`: the version the `live` alias points at.
    Named(String),
}

word_enum! {
    /// Where a replay's outbound requests go.
    pub enum ReplayOutbound ("outbound", expected "recorded or live") {
        /// Answered from the capture in order; nothing leaves the sandbox.
        Recorded = "recorded",
        /// Sent for real (topics, key-value data and outside servers are
        /// touched).
        Live = "live",
    }
}

/// `POST /api/v1/invocations/{id}/replay`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// A version number or `"live"`; default: the original call's version.
    #[serde(default)]
    pub version: Option<ReplayVersion>,
    /// Default `recorded`.
    #[serde(default)]
    pub outbound: Option<ReplayOutbound>,
}

/// The answer of a replay: both calls' records and what differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayResult {
    /// The replay's own invocation record (trigger `replay`, `parent_id` the
    /// original's id).
    pub replay: InvocationRecord,
    pub original: InvocationRecord,
    pub diff: ReplayDiff,
}

/// The original call against its replay, part by part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayDiff {
    /// Nothing differs (status, headers, body, logs, outbound calls).
    pub same: bool,
    pub status: StatusDiff,
    /// Response headers that differ (present in one only, or other values).
    pub headers: Vec<HeaderDiff>,
    pub body: TextDiff,
    pub logs: TextDiff,
    /// The outbound requests of both, position by position.
    pub outbound: Vec<OutboundDiff>,
    /// Replayed requests the capture could not answer (recorded outbound).
    pub divergences: Vec<ReplayDivergence>,
}

/// The response status of both calls (`None`: no response).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusDiff {
    pub same: bool,
    pub original: Option<u16>,
    pub replay: Option<u16>,
}

/// One response header that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeaderDiff {
    pub name: String,
    pub original: Option<String>,
    pub replay: Option<String>,
}

/// A text (body or logs) of both calls, with a line diff when they differ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TextDiff {
    pub same: bool,
    /// The texts (bodies not in UTF-8 are shown as `[N bytes, not UTF-8]`).
    pub original: String,
    pub replay: String,
    /// The lines of both in order, each kept, removed (original only) or
    /// added (replay only); empty when the texts are the same.
    pub lines: Vec<DiffLine>,
}

word_enum! {
    /// How a line of a [`TextDiff`] compares.
    pub enum DiffTag ("diff tag", expected "same, removed or added") {
        /// In both.
        Same = "same",
        /// In the original only.
        Removed = "removed",
        /// In the replay only.
        Added = "added",
    }
}

/// One line of a [`TextDiff`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    pub tag: DiffTag,
    pub text: String,
}

/// The outbound request at one position in both calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboundDiff {
    pub index: usize,
    pub same: bool,
    /// `METHOD URL -> STATUS` (or `-> error: ...`) of each, if it made one.
    pub original: Option<String>,
    pub replay: Option<String>,
}

/// A replayed outbound request that differs from the recorded one (it was
/// not sent; the function got an error for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayDivergence {
    /// Position among the call's outbound requests (0-based).
    pub index: usize,
    /// The recorded request line (`None`: the original made fewer requests).
    pub recorded: Option<String>,
    pub replay: String,
    /// What differs: `method`, `uri`, `body` or `extra request`.
    pub differs: Vec<String>,
}

/// What is kept of a recorded call (`GET /api/v1/invocations/{id}/capture`).
/// Secret values are not stored: they are named and read again by a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureInfo {
    pub invocation_id: String,
    pub function: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// Stored size (encrypted), counted against the team's capture cap.
    pub size_bytes: i64,
    /// Why a replay would not be exact (a body over the capture limit);
    /// such a capture is not replayed.
    pub incomplete: Option<String>,
    /// `METHOD path?query` of the recorded request.
    pub request: String,
    /// Request body size as recorded.
    pub request_body_bytes: usize,
    /// Its outbound requests, `METHOD URL -> STATUS`.
    pub outbound: Vec<String>,
    /// Clock readings and random bytes it drew.
    pub clock_readings: usize,
    pub random_bytes: usize,
    /// Environment variable names; those holding secrets are listed apart.
    pub env: Vec<String>,
    pub secrets: Vec<String>,
}

/// Whether a call was recorded (what the invocation page needs to offer a
/// replay; readable by every member of the team).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureStatus {
    pub captured: bool,
    /// Why a replay would not be exact; such a capture is not replayed.
    pub incomplete: Option<String>,
}

/// `POST /api/v1/functions/{name}/replay`: replay the function's last
/// failures (recorded ones) on one version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReplayFailuresRequest {
    #[serde(default)]
    pub version: Option<ReplayVersion>,
    /// How many of the latest captured failures (default 10, at most 50).
    #[serde(default)]
    pub last: Option<u32>,
    #[serde(default)]
    pub outbound: Option<ReplayOutbound>,
}

word_enum! {
    /// How a replayed failure did.
    pub enum ReplayVerdict ("replay verdict", expected "fixed, still_failing or diverged") {
        /// The replay succeeded (no error, status below 500).
        Fixed = "fixed",
        /// It failed again.
        StillFailing = "still_failing",
        /// It made outbound requests the capture could not answer.
        Diverged = "diverged",
    }
}

/// One failure replayed by [`ReplayFailuresRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplaySummary {
    pub original_id: String,
    /// The replay's invocation id (none when it could not run).
    pub replay_id: Option<String>,
    pub verdict: Option<ReplayVerdict>,
    pub original_status: Option<u16>,
    pub replay_status: Option<u16>,
    /// The replay's error, or why it could not run.
    pub error: Option<String>,
}

/// The answer of [`ReplayFailuresRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayFailuresResult {
    /// The version replayed on.
    pub version: i64,
    pub fixed: usize,
    pub still_failing: usize,
    pub diverged: usize,
    /// Captures that could not be replayed (incomplete, or gone).
    pub skipped: usize,
    pub results: Vec<ReplaySummary>,
}
