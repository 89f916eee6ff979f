//! Alerts (`/api/v1/alerts`, the Alerts page, `wisp alerts`): rules on a
//! function, an application or the whole team; their firing and resolved
//! history; the webhook notification's body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a rule watches. A rule fires when the value goes above its
/// threshold and is resolved when it is back at or below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Failed calls in percent of the calls of the last `window_minutes`
    /// (counted once at least `min_calls` calls were made).
    ErrorRate,
    /// The 95th percentile of call durations over the window, in ms.
    P95Ms,
    /// Dead letters waiting (async work that ran out of attempts).
    DeadLetters,
    /// Age in seconds of the oldest async job due and still waiting.
    QueueAgeSecs,
    /// The month's projected cost (month to date, extrapolated to the
    /// month's end), in the price plan's currency: a budget.
    MonthlyCost,
}

impl AlertMetric {
    pub const ALL: [AlertMetric; 5] = [
        AlertMetric::ErrorRate,
        AlertMetric::P95Ms,
        AlertMetric::DeadLetters,
        AlertMetric::QueueAgeSecs,
        AlertMetric::MonthlyCost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertMetric::ErrorRate => "error_rate",
            AlertMetric::P95Ms => "p95_ms",
            AlertMetric::DeadLetters => "dead_letters",
            AlertMetric::QueueAgeSecs => "queue_age_secs",
            AlertMetric::MonthlyCost => "monthly_cost",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let text = text.replace('-', "_");
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The unit of its values, for people.
    pub fn unit(self) -> &'static str {
        match self {
            AlertMetric::ErrorRate => "%",
            AlertMetric::P95Ms => "ms",
            AlertMetric::DeadLetters => "dead letters",
            AlertMetric::QueueAgeSecs => "s",
            AlertMetric::MonthlyCost => "(currency)",
        }
    }
}

/// Whether a rule's value is above its threshold now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Ok,
    Firing,
}

/// `POST /api/v1/alerts` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAlertRule {
    /// Unique in the team: letters, digits, `-`, `_`, `.`, up to 100.
    pub name: String,
    pub metric: AlertMetric,
    /// Fires above this value (see [`AlertMetric`] for units).
    pub threshold: f64,
    /// Watch this function only.
    #[serde(default)]
    pub function: Option<String>,
    /// Watch the functions of this application only.
    #[serde(default)]
    pub application: Option<String>,
    /// Minutes of calls the error rate and p95 look at (default 5).
    #[serde(default)]
    pub window_minutes: Option<u32>,
    /// Calls the window needs before the error rate or p95 counts
    /// (default 1).
    #[serde(default)]
    pub min_calls: Option<u32>,
    /// Where firing and resolved notifications are POSTed (JSON, signed).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// A rule and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub metric: AlertMetric,
    pub threshold: f64,
    pub function: Option<String>,
    pub application: Option<String>,
    pub window_minutes: u32,
    pub min_calls: u32,
    pub webhook_url: Option<String>,
    pub state: AlertState,
    /// When it started firing (while it fires).
    pub since: Option<DateTime<Utc>>,
    pub last_value: Option<f64>,
    pub evaluated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl AlertRule {
    /// `function hello`, `application shop` or `the team`.
    pub fn scope(&self) -> String {
        match (&self.function, &self.application) {
            (Some(f), _) => format!("function {f}"),
            (None, Some(a)) => format!("application {a}"),
            (None, None) => "the team".to_string(),
        }
    }
}

/// `POST /api/v1/alerts` answer: the rule and its webhook's signing
/// secret, shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedAlertRule {
    pub rule: AlertRule,
    /// HMAC-SHA256 key of the `X-Wisp-Signature` header.
    pub webhook_secret: String,
}

/// `GET /api/v1/alerts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRules {
    pub rules: Vec<AlertRule>,
}

/// A rule started or stopped firing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub value: f64,
    pub threshold: f64,
    pub at: DateTime<Utc>,
    /// `pending`, `delivered (200)`, `failed: …` or `none` (no webhook).
    pub delivery: String,
}

/// `GET /api/v1/alerts/history`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertHistory {
    pub events: Vec<AlertEvent>,
}

/// The JSON body of a webhook notification. Headers: `X-Wisp-Event`
/// (`alert.firing` | `alert.resolved`) and `X-Wisp-Signature: t=<unix
/// seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the rule's secret>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertNotification {
    /// The alert event's id (the same on a retried delivery).
    pub id: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub rule_id: String,
    pub rule: String,
    pub metric: AlertMetric,
    /// `function hello`, `application shop` or `the team`.
    pub scope: String,
    pub team: String,
    pub value: f64,
    pub threshold: f64,
    pub at: DateTime<Utc>,
}
