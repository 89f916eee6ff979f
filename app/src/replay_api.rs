//! The replay panels' server functions: whether a call was recorded, what
//! its capture holds, replaying it, and replaying a function's latest
//! failures — thin calls into `platform` behind the session check (the
//! platform checks the developer role and writes the audit log).

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};
use model::{CaptureInfo, CaptureStatus, ReplayFailuresResult, ReplayOutbound, ReplayResult};

use crate::error::AppError;

/// Whether invocation `id` was recorded (for every member of the team).
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn capture_state(id: String) -> Result<CaptureStatus, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .functions()
        .capture_status(&who, &id)
        .await?)
}

/// What the capture of invocation `id` holds (developers; audited).
#[server(prefix = "/rpc", input = Json)]
pub async fn invocation_capture(id: String) -> Result<CaptureInfo, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .functions()
        .capture(&who, &id)
        .await?)
}

/// The version a form chose: a number, or the live one.
#[cfg(feature = "ssr")]
fn chosen(version: Option<i64>) -> Option<model::ReplayVersion> {
    Some(version.map_or_else(
        || model::ReplayVersion::Named("live".into()),
        model::ReplayVersion::Number,
    ))
}

/// Replays invocation `id` on `version` (`None`: the live version).
#[server(prefix = "/rpc", input = Json)]
pub async fn replay_invocation(
    id: String,
    version: Option<i64>,
    outbound: ReplayOutbound,
) -> Result<ReplayResult, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let request = model::ReplayRequest {
        version: chosen(version),
        outbound: Some(outbound),
    };
    Ok(crate::api::ssr::platform()
        .functions()
        .replay(&who, &id, &request)
        .await?)
}

/// Replays the last `last` captured failures of `name` on `version`.
#[server(prefix = "/rpc", input = Json)]
pub async fn replay_failures(
    name: String,
    version: Option<i64>,
    last: u32,
) -> Result<ReplayFailuresResult, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let request = model::ReplayFailuresRequest {
        version: chosen(version),
        last: Some(last),
        outbound: Some(ReplayOutbound::Recorded),
    };
    Ok(crate::api::ssr::platform()
        .functions()
        .replay_failures(&who, &name, &request)
        .await?)
}
