//! Server functions of the debugging views: one trace as a tree, and the
//! invocations one call caused. Thin calls into the platform's service
//! layer behind the session check.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{InvocationRecord, Trace};

use crate::error::AppError;

/// The trace `trace_id` as the session's team sees it.
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_trace(trace_id: String) -> Result<Trace, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .functions()
        .trace(&who, &trace_id)
        .await?)
}

/// The invocations `id` caused (functions it called, events it published).
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn invocation_children(id: String) -> Result<Vec<InvocationRecord>, AppError> {
    let who = crate::api::ssr::require_user().await?;
    Ok(crate::api::ssr::platform()
        .functions()
        .children(&who, &id)
        .await?)
}
