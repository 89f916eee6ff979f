//! Server functions of the Settings page's retention card: the team's
//! retention and storage, and changing the team's period (owners) or the
//! server's (administrators). Thin calls into the platform's door, which
//! checks roles and audits.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{RetentionStatus, Role};
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
        owner: who.role == Role::Owner,
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
