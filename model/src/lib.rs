//! The data shapes Wisp shows to the outside: REST API bodies, CLI output and
//! the dashboard's view models. Serde only, so it builds for the browser
//! (hydrate) as well as the server. It owns no behaviour; `platform` fills
//! these in and `server`/`app` render them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// First: its `word_enum!` declares the enums of the other modules too.
#[macro_use]
mod kinds;
mod alerts;
mod costs;
mod deploy;
mod errors;
mod events;
mod log_search;
mod logs;
mod manifest;
mod nodes;
mod replay;
mod retention;
mod teams;
mod topology;
mod traces;
pub use alerts::*;
pub use costs::*;
pub use deploy::*;
pub use errors::*;
pub use events::*;
pub use kinds::*;
pub use log_search::*;
pub use logs::*;
pub use manifest::*;
pub use nodes::*;
pub use replay::*;
pub use retention::*;
pub use teams::*;
pub use topology::*;
pub use traces::*;

/// Default memory limit of a function, in MiB (as on AWS Lambda's low end).
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Default wall-clock timeout of one invocation, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default number of invocations of one function allowed at once.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 100;
/// Default number of outbound requests one invocation may make.
pub const DEFAULT_MAX_OUTBOUND_CALLS: u32 = 100;

/// A function as listed: name, what serves traffic, how many versions exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionSummary {
    pub name: String,
    /// The application the function belongs to.
    #[serde(default = "default_application")]
    pub application: String,
    /// Version the `live` alias points at (None when no version is live).
    pub live_version: Option<i64>,
    /// `component` or `module` of the live version.
    pub kind: Option<String>,
    pub version_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Start of the most recent recorded invocation, if any.
    pub last_invoked_at: Option<DateTime<Utc>>,
    /// Invocations that started in the last 24 hours.
    #[serde(default)]
    pub calls_24h: i64,
    /// Of those, how many failed.
    #[serde(default)]
    pub errors_24h: i64,
    /// Median wall time of those invocations, in milliseconds.
    #[serde(default)]
    pub p50_duration_ms: Option<f64>,
    /// The latest failed invocation of those, if any.
    #[serde(default)]
    pub last_failure_id: Option<String>,
    /// Its trace id.
    #[serde(default)]
    pub last_failure_trace_id: Option<String>,
}

/// The largest page `GET /api/v1/functions?limit=` gives.
pub const MAX_FUNCTIONS_PAGE: u32 = 1000;

/// Which of a team's functions a list asks for, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionListQuery {
    /// At most this many, 1 to 1000 (none: every match).
    pub limit: Option<u32>,
    /// Names after this one: the previous page's last name.
    pub after: Option<String>,
    /// Only names that contain this text (case-insensitive).
    pub search: Option<String>,
}

impl FunctionListQuery {
    /// Whether it asks for anything but the whole list.
    pub fn is_paged(&self) -> bool {
        self.limit.is_some() || self.after.is_some() || self.search.is_some()
    }

    /// The first problem with it, for a 400 answer.
    pub fn problem(&self) -> Option<String> {
        match self.limit {
            Some(limit) if limit == 0 || limit > MAX_FUNCTIONS_PAGE => Some(format!(
                "limit must be between 1 and {MAX_FUNCTIONS_PAGE} (got {limit})"
            )),
            _ => None,
        }
    }
}

/// One page of a team's functions by name, and where the next one starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionListPage {
    pub functions: Vec<FunctionSummary>,
    /// The `after` of the next page (None: this page is the last).
    pub next_after: Option<String>,
    /// How many of the team's functions match the search, on every page.
    pub total: i64,
}

/// Per-function sandbox configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionConfig {
    pub memory_mb: u32,
    pub timeout_ms: u64,
    pub max_concurrency: u32,
    pub env: BTreeMap<String, String>,
    /// Hosts the function may call over outbound HTTP (`example.com`, `*.example.com`).
    pub allowed_hosts: Vec<String>,
    /// The application the function belongs to: functions of one
    /// application share a key-value store and are reported together.
    #[serde(default = "default_application")]
    pub application: String,
    /// Outbound requests one invocation may make (network and `*.wisp`
    /// hosts); later ones fail and are noted in the invocation's logs.
    #[serde(default = "default_max_outbound_calls")]
    pub max_outbound_calls: u32,
    /// Which calls are recorded for replay (default: failures).
    #[serde(default)]
    pub capture: CaptureMode,
    /// Of the calls `capture` names, the percentage recorded (1–100).
    #[serde(default = "default_capture_sample_percent")]
    pub capture_sample_percent: u32,
}

fn default_capture_sample_percent() -> u32 {
    100
}

fn default_max_outbound_calls() -> u32 {
    DEFAULT_MAX_OUTBOUND_CALLS
}

/// Name of the application a function belongs to unless configured.
pub const DEFAULT_APPLICATION: &str = "default";

fn default_application() -> String {
    DEFAULT_APPLICATION.to_string()
}

impl Default for FunctionConfig {
    fn default() -> Self {
        Self {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            env: BTreeMap::new(),
            allowed_hosts: Vec::new(),
            application: default_application(),
            max_outbound_calls: DEFAULT_MAX_OUTBOUND_CALLS,
            capture: CaptureMode::default(),
            capture_sample_percent: default_capture_sample_percent(),
        }
    }
}

/// A partial update of [`FunctionConfig`] (`PATCH /api/v1/functions/{name}`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FunctionConfigPatch {
    pub memory_mb: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub max_concurrency: Option<u32>,
    pub env: Option<BTreeMap<String, String>>,
    pub allowed_hosts: Option<Vec<String>>,
    pub application: Option<String>,
    pub max_outbound_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_sample_percent: Option<u32>,
    /// Secrets to set or replace (`"NAME": "value"`) or delete
    /// (`"NAME": null`); others are kept. Values are stored encrypted, given
    /// to the function as environment variables, and never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<BTreeMap<String, Option<String>>>,
}

impl std::fmt::Debug for FunctionConfigPatch {
    // Hand-written so secret values never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_names = self.env.as_ref().map(|e| e.keys().collect::<Vec<_>>());
        let secret_names = self.secrets.as_ref().map(|s| s.keys().collect::<Vec<_>>());
        f.debug_struct("FunctionConfigPatch")
            .field("memory_mb", &self.memory_mb)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_concurrency", &self.max_concurrency)
            .field("env", &env_names)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("application", &self.application)
            .field("max_outbound_calls", &self.max_outbound_calls)
            .field("capture", &self.capture)
            .field("capture_sample_percent", &self.capture_sample_percent)
            .field("secrets", &secret_names)
            .finish()
    }
}

/// One immutable uploaded version of a function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionVersion {
    pub version: i64,
    pub sha256: String,
    pub kind: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
    pub live: bool,
}

/// Everything about one function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionDetail {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub live_version: Option<i64>,
    pub config: FunctionConfig,
    /// Names of the function's secrets (values are never returned).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Newest first.
    pub versions: Vec<FunctionVersion>,
    /// Triggers wired to this function.
    pub triggers: Vec<Trigger>,
    /// Path of the function on the gateway, e.g. `/fn/hello/`.
    pub gateway_path: String,
    /// Which compiler's code the live version runs on the node that
    /// answered (none without a live version).
    #[serde(default)]
    pub live_code: Option<CodeTier>,
}

/// Answer to an upload (`POST /api/v1/functions/{name}/versions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployedVersion {
    pub name: String,
    pub version: i64,
    pub sha256: String,
    pub kind: String,
    pub size_bytes: i64,
    /// Whether the `live` alias now points at this version.
    pub live: bool,
    /// The stages the server went through, with their times.
    #[serde(default)]
    pub stages: Vec<DeployStage>,
    /// Which compiler's code the version runs on now (a version not made
    /// live is compiled all the same).
    #[serde(default = "optimized")]
    pub code: CodeTier,
}

fn optimized() -> CodeTier {
    CodeTier::Optimized
}

/// `POST /api/v1/functions/{name}/alias` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AliasUpdate {
    pub version: i64,
}

/// What a recorded call looked like: the debugging record of one invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvocationRecord {
    pub id: String,
    pub function: String,
    pub version: i64,
    /// What caused the call: `http`, `api`, ...
    pub trigger: TriggerKind,
    pub started_at: DateTime<Utc>,
    /// Wall time of the guest run, in milliseconds (fractional).
    pub duration_ms: f64,
    /// Wall time rounded up to the next whole millisecond.
    pub billed_ms: i64,
    pub memory_limit_mb: i64,
    pub peak_memory_bytes: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
    /// `success` or `error`; for an async invocation not yet recorded,
    /// `queued` or `running` (answered from its job).
    pub status: InvocationStatus,
    /// Precise outcome: `success`, `trap`, `timeout`, `out_of_memory`, ...;
    /// for an async invocation answered from its job: `queued`, `running`,
    /// `recording` (ran, its record is being stored), `dead_letter` or
    /// `record_lost` (delivered, but a crash lost its record).
    pub outcome: InvocationOutcome,
    /// HTTP status the function answered with, if it answered.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub method: String,
    pub path: String,
    pub logs: String,
    pub logs_truncated: bool,
    /// The invocation that caused this one (a function-to-function call, an
    /// event published by a function).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The trigger that fired this invocation, if any.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// The trace it belongs to (32 hex digits, W3C trace id): the caller's
    /// when a `traceparent` came with the call, else its root call's.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// For a call that continued an outside caller's trace, that caller's
    /// span id (16 hex digits).
    #[serde(default)]
    pub parent_span_id: Option<String>,
    /// Attempt of queued work (1 = first); none for direct calls.
    #[serde(default)]
    pub attempt: Option<u32>,
}

/// An API token as listed (the secret itself is shown only once, at creation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The token's first characters (`wisp_AbCd`), to tell tokens apart;
    /// None for tokens created before prefixes were kept.
    #[serde(default)]
    pub prefix: Option<String>,
    /// What the token may do in its team: `owner`, `developer` or `viewer`.
    pub role: Role,
    /// The team the token acts for.
    #[serde(default)]
    pub team: String,
    /// When the token stops working; none: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/tokens` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    pub name: String,
    /// `owner`, `developer` or `viewer`; at most the creator's role
    /// (default: the creator's role). Text, not [`Role`]: an unknown role
    /// is refused by the platform with a message naming the roles (400
    /// `invalid_input`), not by the JSON parser.
    #[serde(default)]
    pub role: Option<String>,
    /// Days until the token expires (1 to 365); none: it never expires.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A token just created: the secret is in `token`, shown this once only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiTokenInfo,
}

/// Invocations and failures over a window of time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvocationCounts {
    pub invocations: i64,
    pub errors: i64,
}

/// One minute of the overview chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteCount {
    /// Start of the UTC minute.
    pub minute: DateTime<Utc>,
    pub invocations: i64,
    pub errors: i64,
}

/// A recent failed invocation, as the overview lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureSummary {
    pub id: String,
    pub function: String,
    pub started_at: DateTime<Utc>,
    pub outcome: InvocationOutcome,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// `GET /api/v1/overview`: the state of the whole platform at a glance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    pub generated_at: DateTime<Utc>,
    pub functions: i64,
    /// Functions with a live version.
    pub live_functions: i64,
    pub last_hour: InvocationCounts,
    pub last_day: InvocationCounts,
    /// The last 60 minutes, oldest first, one entry per minute (zeros included).
    pub per_minute: Vec<MinuteCount>,
    /// Newest first.
    pub recent_failures: Vec<FailureSummary>,
    /// How long the team's history is kept and how much the server stores.
    #[serde(default)]
    pub retention: RetentionStatus,
}

/// A problem with one field of a function's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigProblem {
    /// `memory_mb`, `timeout_ms`, `max_concurrency`, `env`, `allowed_hosts`.
    pub field: String,
    pub message: String,
}

/// Upper bound of `memory_mb`.
pub const MAX_MEMORY_MB: u32 = 4096;
/// Upper bound of `timeout_ms` (Lambda's 15-minute ceiling).
pub const MAX_TIMEOUT_MS: u64 = 15 * 60 * 1000;
/// Upper bound of `max_concurrency`.
pub const MAX_CONCURRENCY: u32 = 10_000;
/// Upper bound of `max_outbound_calls`.
pub const MAX_OUTBOUND_CALLS: u32 = 10_000;

/// Whether `name` is a valid environment variable (or secret) name: letters,
/// digits and `_`, not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|ch: char| ch.is_ascii_digit())
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Whether `entry` is a valid outbound allow-list entry: `*` (any host),
/// `*.example.com`, `host` or `host:port`, a bare IPv6 literal, or a
/// bracketed one with an optional port (`[::1]:8080`).
pub fn is_allowed_host_entry(entry: &str) -> bool {
    if entry == "*" || entry.parse::<std::net::Ipv6Addr>().is_ok() {
        return true;
    }
    let port_ok = |port: &str| port.parse::<u16>().is_ok_and(|p| p > 0);
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((v6, "")) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            Some((v6, tail)) => {
                v6.parse::<std::net::Ipv6Addr>().is_ok()
                    && tail.strip_prefix(':').is_some_and(port_ok)
            }
            None => false,
        };
    }
    let bare = entry.strip_prefix("*.").unwrap_or(entry);
    let (name, port) = match bare.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (bare, None),
    };
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
        && port.is_none_or(port_ok)
}

/// Every problem of a configuration, in field order (empty when valid). The
/// platform refuses a configuration with problems; the dashboard shows them
/// beside the fields before it sends anything.
pub fn config_problems(c: &FunctionConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(ConfigProblem {
            field: field.into(),
            message,
        })
    };
    if c.memory_mb == 0 || c.memory_mb > MAX_MEMORY_MB {
        problem(
            "memory_mb",
            format!("memory_mb must be between 1 and {MAX_MEMORY_MB}"),
        );
    }
    if c.timeout_ms == 0 || c.timeout_ms > MAX_TIMEOUT_MS {
        problem(
            "timeout_ms",
            format!("timeout_ms must be between 1 and {MAX_TIMEOUT_MS}"),
        );
    }
    if c.max_concurrency == 0 || c.max_concurrency > MAX_CONCURRENCY {
        problem(
            "max_concurrency",
            format!("max_concurrency must be between 1 and {MAX_CONCURRENCY}"),
        );
    }
    if c.max_outbound_calls > MAX_OUTBOUND_CALLS {
        problem(
            "max_outbound_calls",
            format!("max_outbound_calls must be between 0 and {MAX_OUTBOUND_CALLS}"),
        );
    }
    if !(1..=100).contains(&c.capture_sample_percent) {
        problem(
            "capture_sample_percent",
            "capture_sample_percent must be between 1 and 100".to_string(),
        );
    }
    for (key, value) in &c.env {
        if value.contains('\0') {
            problem(
                "env",
                format!(
                    "the value of {key:?} holds a NUL character, which an environment cannot carry"
                ),
            );
        }
        if !is_env_name(key) {
            problem("env", format!(
                "environment variable name {key:?} must be letters, digits and '_', not starting with a digit"
            ));
        }
    }
    for host in &c.allowed_hosts {
        if !is_allowed_host_entry(host) {
            problem(
                "allowed_hosts",
                format!(
                "allowed host {host:?} must be a host name like api.example.com or *.example.com, \
                 an IP address (IPv6 as 2001:db8::1 or [2001:db8::1]:8080), or * for any host"
            ),
            );
        }
    }
    if !is_application_name(&c.application) {
        problem(
            "application",
            "application must be 1-64 letters, digits, '-' or '_'".to_string(),
        );
    }
    problems
}

/// The error body of every failed API call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub error: ApiErrorBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `invalid_wasm`.
    pub code: String,
    /// A sentence for humans.
    pub message: String,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ApiErrorBody {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// Checks a function name: 1–64 characters of `a-z`, `0-9` and `-`, starting
/// with a letter. Names appear in URLs and host names (`<name>.fn.wisp`).
/// Whether `name` can name an application: 1-64 letters, digits, `-` or `_`.
pub fn is_application_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn validate_function_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a function name must be 1 to 64 characters long".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("a function name must start with a lowercase letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "a function name may only hold lowercase letters, digits and '-' (found {bad:?})"
        ));
    }
    if name.ends_with('-') {
        return Err("a function name must not end with '-'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        assert!(validate_function_name("hello").is_ok());
        assert!(validate_function_name("order-api2").is_ok());
        for bad in ["", "Hello", "1abc", "a_b", "a-", "a b", &"x".repeat(65)] {
            assert!(validate_function_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn config_problems_name_their_field() {
        assert!(config_problems(&FunctionConfig::default()).is_empty());
        let bad = FunctionConfig {
            memory_mb: 0,
            env: BTreeMap::from([("1X".to_string(), String::new())]),
            allowed_hosts: vec!["bad host".into()],
            ..FunctionConfig::default()
        };
        let fields: Vec<_> = config_problems(&bad).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["memory_mb", "env", "allowed_hosts"]);
    }

    #[test]
    fn allowed_host_entries() {
        for ok in [
            "*",
            "*.example.com",
            "api.example.com",
            "localhost:8443",
            "10.0.0.1",
            "::1",
            "2001:db8::1",
            "[::1]",
            "[2001:db8::1]:8080",
        ] {
            assert!(is_allowed_host_entry(ok), "{ok:?} refused");
        }
        for bad in [
            "",
            "bad host",
            "*.",
            "**",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[nothost]",
            "a:b:c",
            "host:0",
            "host:99999",
        ] {
            assert!(!is_allowed_host_entry(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn config_patch_rejects_unknown_fields() {
        let err = serde_json::from_str::<FunctionConfigPatch>(r#"{"memory":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}

/// How the invocation recorder is doing (`/healthz`, `/api/v1/status`, the
/// dashboard's banner): records waiting to be written, failed writes and
/// records lost. `degraded` when the last write failed, when the oldest
/// waiting record is older than the lag limit, or when any record was
/// dropped since start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecorderHealth {
    /// Whether recording is degraded (see the type's description).
    pub degraded: bool,
    /// Why, in a few words each (`last write failed`, `lagging`, `records dropped`).
    pub reasons: Vec<String>,
    /// Age of the oldest record not yet written, in seconds (0 when none waits).
    pub lag_secs: f64,
    /// Records not yet written: queued, being written, or kept after a failed write.
    pub queued: u64,
    /// Of `queued`, records kept after a failed write, waiting for a retry.
    pub spilled: u64,
    /// Failed writes (batches) since start.
    pub failures: u64,
    /// Records lost since start (beyond the spill bound, or at exit).
    pub dropped: u64,
    /// The last write error (the database's message), if any write failed.
    pub last_error: Option<String>,
    /// When the current run of failed writes began (`None` once a write succeeds).
    pub failing_since: Option<DateTime<Utc>>,
    /// When records were last written.
    pub last_written_at: Option<DateTime<Utc>>,
}
