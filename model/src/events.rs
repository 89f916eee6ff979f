//! Shapes of the event half of Wisp: triggers (HTTP routes, cron, topics,
//! external queues), published events, queued async work and its dead
//! letters, and key-value entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::TriggerKind;

word_enum! {
    /// Where a unit of async work ([`Job`]) is.
    pub enum JobState ("job state", expected "queued, running, done or dead") {
        /// Waiting for its next attempt (`run_at`).
        Queued = "queued",
        /// A worker holds it and runs an attempt.
        Running = "running",
        /// Delivered.
        Done = "done",
        /// Failed every attempt: a dead letter (it can be redriven).
        Dead = "dead",
    }
}

/// Attempts an async delivery gets before it becomes a dead letter.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// What fires a trigger; the `kind` field selects the variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TriggerSpec {
    /// A route at the gateway root: `/orders/:id`, `/files/*rest`.
    Http {
        route: String,
        /// Upper-case methods; empty = any method.
        #[serde(default)]
        methods: Vec<String>,
    },
    /// A schedule: 5 fields, 6 with seconds, or `@hourly`-style shorthands.
    Cron {
        schedule: String,
        #[serde(default = "utc")]
        timezone: String,
    },
    /// Every event published to `topic`.
    Topic { topic: String },
    /// Messages on a NATS subject (a JetStream consumer when `stream` is set
    /// or a stream captures the subject).
    Nats {
        url: String,
        subject: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<String>,
    },
    /// Entries of a Redis stream, read through a consumer group.
    Redis {
        url: String,
        stream: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// Messages on an MQTT topic filter (QoS 1).
    Mqtt { url: String, topic: String },
}

fn utc() -> String {
    "UTC".to_string()
}

impl TriggerSpec {
    /// `http`, `cron`, `topic`, `nats`, `redis` or `mqtt`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Cron { .. } => "cron",
            Self::Topic { .. } => "topic",
            Self::Nats { .. } => "nats",
            Self::Redis { .. } => "redis",
            Self::Mqtt { .. } => "mqtt",
        }
    }

    /// One line saying what fires the trigger (`GET /orders/:id`, `*/5 * * * * UTC`).
    pub fn describe(&self) -> String {
        match self {
            Self::Http { route, methods } if methods.is_empty() => format!("ANY {route}"),
            Self::Http { route, methods } => format!("{} {route}", methods.join(",")),
            Self::Cron { schedule, timezone } => format!("{schedule} ({timezone})"),
            Self::Topic { topic } => format!("topic {topic}"),
            Self::Nats { url, subject, .. } => format!("{subject} on {url}"),
            Self::Redis { url, stream, .. } => format!("stream {stream} on {url}"),
            Self::Mqtt { url, topic } => format!("{topic} on {url}"),
        }
    }
}

/// Body of `POST /api/v1/triggers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTrigger {
    pub function: String,
    #[serde(flatten)]
    pub spec: TriggerSpec,
    /// Delivery attempts for async kinds before a dead letter (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

/// A configured trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trigger {
    pub id: String,
    pub function: String,
    #[serde(flatten)]
    pub spec: TriggerSpec,
    pub max_attempts: u32,
    pub created_at: DateTime<Utc>,
    /// Cron: the next fire times (UTC).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_fires: Vec<DateTime<Utc>>,
    /// Cron: the scheduled time of the last tick fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired: Option<DateTime<Utc>>,
    /// External queues: `connected`, `connecting`, or the last connection
    /// error (free text, so not an enum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Next fire times of a schedule (the dashboard's preview as you type).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CronPreview {
    pub schedule: String,
    pub timezone: String,
    pub next: Vec<DateTime<Utc>>,
}

/// Answer to a publish: the event's id and how many subscribers will get it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishReceipt {
    pub event_id: String,
    pub topic: String,
    pub deliveries: u32,
}

/// Answer to `POST /api/v1/functions/{name}/invoke?async=true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AsyncInvocation {
    /// The id the first attempt is recorded under.
    pub invocation_id: String,
    /// The queued work item (retries and dead letters are tracked here).
    pub job_id: String,
}

/// One unit of async work: a delivery of an event, tick or async invoke.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    pub function: String,
    /// `async`, `topic`, `cron`, `nats`, `redis` or `mqtt`.
    pub source: TriggerKind,
    pub trigger_id: Option<String>,
    pub event_id: Option<String>,
    /// `queued`, `running`, `done` or `dead`.
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    /// When the next attempt is due (queued jobs).
    pub run_at: DateTime<Utc>,
    pub first_invocation_id: String,
    pub last_invocation_id: Option<String>,
    pub last_error: Option<String>,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Counts of async work by state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueStats {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

/// A key-value entry (values are returned as UTF-8 text, lossily, when
/// listed; `GET /api/v1/kv/{key}` returns the raw bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KvEntry {
    pub application: String,
    pub key: String,
    pub size_bytes: i64,
    pub content_type: Option<String>,
    /// The value as text, cut at 1 KiB, for listings.
    pub preview: String,
    pub updated_at: DateTime<Utc>,
}
