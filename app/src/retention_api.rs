//! Server functions of the Settings page: the retention card (the team's
//! retention and storage; the team's period for owners, the server's for
//! administrators) and the administrators' server card (version, uptime,
//! data directory, database size, nodes, backups, the price plan). Thin
//! calls into the platform, which checks roles and audits.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::RetentionStatus;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The retention card's data: the status and what the user may change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetentionView {
    pub status: RetentionStatus,
    /// The user owns the team (may set the team's period).
    pub owner: bool,
    /// The user administers the server (may set the server's period).
    pub admin: bool,
}

/// The signed-in user's team's retention.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_retention() -> Result<RetentionView, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let status = crate::api::ssr::platform().retention().status(&who).await?;
    Ok(RetentionView {
        status,
        owner: who.role == model::Role::Owner,
        admin: who.is_admin,
    })
}

/// Sets the team's period: a number of days, or empty for the server's.
#[server(prefix = "/rpc")]
pub async fn save_team_retention(days: String) -> Result<RetentionStatus, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let days = parse_days(&days, true)?;
    Ok(crate::api::ssr::platform()
        .retention()
        .set_team(&who, model::RetentionUpdate { days })
        .await?)
}

/// Sets the server's period for teams that set none.
#[server(prefix = "/rpc")]
pub async fn save_server_retention(days: String) -> Result<RetentionStatus, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let days = parse_days(&days, false)?;
    Ok(crate::api::ssr::platform()
        .retention()
        .set_server(&who, model::RetentionUpdate { days })
        .await?)
}

/// `""` → `None` (where allowed), a number of days → `Some`.
#[cfg(feature = "ssr")]
fn parse_days(text: &str, empty_allowed: bool) -> Result<Option<u32>, AppError> {
    let text = text.trim();
    if text.is_empty() && empty_allowed {
        return Ok(None);
    }
    text.parse::<u32>().map(Some).map_err(|_| {
        AppError::InvalidInput(format!("{text:?} is not a number of days (1 to 3650)"))
    })
}

/// This server's facts and the price plan in force (administrators).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerView {
    pub info: model::ServerInfo,
    pub plan: model::PricePlan,
}

/// The Settings page's server card (server administrators).
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_server_info() -> Result<ServerView, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let platform = crate::api::ssr::platform();
    let info = platform.server_info(&who).await?;
    let plan = platform.metering().price_plans(&who).await?.current;
    Ok(ServerView { info, plan })
}

/// A new price plan from now on (server administrators).
#[server(prefix = "/rpc")]
pub async fn save_price_plan(
    currency: String,
    per_million_requests: String,
    per_gb_second: String,
    per_gb_egress: String,
    server_monthly: String,
) -> Result<model::PricePlan, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let update = model::PricePlanUpdate {
        effective_from: None,
        currency: currency.trim().to_string(),
        per_million_requests: per_million_requests.trim().to_string(),
        per_gb_second: per_gb_second.trim().to_string(),
        per_gb_egress: per_gb_egress.trim().to_string(),
        server_monthly: server_monthly.trim().to_string(),
    };
    Ok(crate::api::ssr::platform()
        .metering()
        .set_price_plan(&who, update)
        .await?)
}
