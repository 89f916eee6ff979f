//! Cost shapes: price plans (and their updates), a month's cost report
//! with its per-function, per-application and per-day lines, the month's
//! projection and the always-on server comparison.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A price plan: what each unit of work costs from `effective_from` on.
/// Prices are decimal strings (exact; never floats).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricePlan {
    /// None for the built-in default plan (AWS Lambda x86 list prices).
    pub id: Option<i64>,
    pub effective_from: DateTime<Utc>,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    pub per_million_requests: String,
    pub per_gb_second: String,
    pub per_gb_egress: String,
    /// Monthly price of an always-on server, for the "on a server" comparison.
    pub server_monthly: String,
}

/// `PUT /api/v1/price-plan` body: a new plan from `effective_from` (default now).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PricePlanUpdate {
    pub effective_from: Option<DateTime<Utc>>,
    pub currency: String,
    pub per_million_requests: String,
    pub per_gb_second: String,
    pub per_gb_egress: String,
    pub server_monthly: String,
}

/// `GET /api/v1/price-plan`: the plan in force now and every plan, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricePlans {
    pub current: PricePlan,
    pub history: Vec<PricePlan>,
}

/// Usage and cost of one function (or of everything) over a period. Amounts
/// are decimal strings at full precision; `cost_display` is rounded to cents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageCost {
    pub requests: i64,
    pub errors: i64,
    pub billed_ms: i64,
    pub gb_seconds: String,
    pub egress_bytes: i64,
    pub cost: String,
    pub cost_display: String,
}

/// One line of a month report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunctionCost {
    pub name: String,
    #[serde(flatten)]
    pub usage: UsageCost,
    pub previous_month_cost: String,
    /// `cost - previous_month_cost`.
    pub change: String,
    /// Change in percent of the previous month (None when it cost nothing).
    pub change_percent: Option<String>,
}

/// One application (the functions sharing an `application` name) in a month report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationCost {
    pub name: String,
    /// Its functions with usage this month or last, by name.
    pub functions: Vec<String>,
    #[serde(flatten)]
    pub usage: UsageCost,
    pub previous_month_cost: String,
    /// `cost - previous_month_cost`.
    pub change: String,
    /// Change in percent of the previous month (None when it cost nothing).
    pub change_percent: Option<String>,
}

/// One function's usage on one UTC day (chart and CSV rows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyCost {
    pub date: chrono::NaiveDate,
    pub function: String,
    #[serde(flatten)]
    pub usage: UsageCost,
}

/// Month so far, extrapolated to the month's end (current month only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostProjection {
    /// Share of the month elapsed, 0..1.
    pub elapsed_fraction: String,
    pub projected_cost: String,
    pub projected_cost_display: String,
    pub projected_requests: i64,
}

/// The same work on an always-on server of the plan's monthly price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerComparison {
    pub server_monthly: String,
    /// Serverless cost compared: the projection for the current month, else the total.
    pub serverless_cost: String,
    pub serverless_requests: i64,
    /// Whether the server would be cheaper for this month's work.
    pub server_cheaper: bool,
    /// Average serverless cost of one request this month.
    pub cost_per_request: Option<String>,
    /// Monthly requests at that average cost where serverless costs as much
    /// as the server (None without usage).
    pub break_even_requests: Option<i64>,
}

/// `GET /api/v1/costs?month=YYYY-MM`: a month's usage and cost per function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostReport {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// The one application the report covers (`?application=`), or none
    /// for the whole team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    pub currency: String,
    pub generated_at: DateTime<Utc>,
    /// Whether the month is still running.
    pub month_to_date: bool,
    /// Plans in force during the month, oldest first.
    pub plans: Vec<PricePlan>,
    /// Sorted by cost, highest first.
    pub functions: Vec<FunctionCost>,
    /// The same lines grouped by application, sorted by cost, highest first.
    #[serde(default)]
    pub applications: Vec<ApplicationCost>,
    pub totals: UsageCost,
    pub previous_month: String,
    pub previous_totals: UsageCost,
    pub projection: Option<CostProjection>,
    pub server: ServerComparison,
    /// Per function per day with usage, by date then function.
    pub daily: Vec<DailyCost>,
}
