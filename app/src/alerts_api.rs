//! Server functions of the Alerts page: the team's rules and history,
//! creating a rule (its webhook secret comes back once) and deleting one.
//! Thin calls into the platform's door, which checks roles and audits.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{AlertEvent, AlertRule, CreatedAlertRule};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the Alerts page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertsView {
    pub rules: Vec<AlertRule>,
    pub history: Vec<AlertEvent>,
}

/// The team's rules and its latest 100 alert events.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_alerts() -> Result<AlertsView, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let platform = crate::api::ssr::platform();
    let alerts = platform.alerts();
    Ok(AlertsView {
        rules: alerts.rules(&who).await?,
        history: alerts.history(&who, 100).await?,
    })
}

/// Creates a rule from the page's form (empty fields: not set).
#[server(prefix = "/rpc")]
#[allow(clippy::too_many_arguments)]
pub async fn create_alert(
    name: String,
    metric: String,
    threshold: String,
    scope: String,
    target: String,
    window_minutes: String,
    webhook_url: String,
) -> Result<CreatedAlertRule, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let metric = model::AlertMetric::parse(&metric)
        .ok_or_else(|| AppError::InvalidInput(format!("unknown metric {metric:?}")))?;
    let threshold: f64 = threshold
        .trim()
        .parse()
        .map_err(|_| AppError::InvalidInput(format!("{threshold:?} is not a number")))?;
    let target = Some(target.trim().to_string()).filter(|t| !t.is_empty());
    let (function, application) = match scope.as_str() {
        "function" => (target, None),
        "application" => (None, target),
        _ => (None, None),
    };
    let window_minutes =
        match window_minutes.trim() {
            "" => None,
            text => Some(text.parse::<u32>().map_err(|_| {
                AppError::InvalidInput(format!("{text:?} is not a number of minutes"))
            })?),
        };
    let new = model::NewAlertRule {
        name,
        metric,
        threshold,
        function,
        application,
        window_minutes,
        min_calls: None,
        webhook_url: Some(webhook_url.trim().to_string()).filter(|u| !u.is_empty()),
    };
    Ok(crate::api::ssr::platform()
        .alerts()
        .create(&who, new)
        .await?)
}

/// Deletes a rule.
#[server(prefix = "/rpc")]
pub async fn delete_alert(id: String) -> Result<(), AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .alerts()
        .delete(&who, &id)
        .await?)
}
