//! The Nodes page's server function: the cluster's members, a thin call
//! into `platform` behind the session check (server administrators only).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::Nodes;

use crate::error::AppError;

/// The cluster's nodes (up ones first) as their heartbeats show them.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn cluster_nodes() -> Result<Nodes, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform().nodes(&who).await?)
}
