//! The application page's server function: one application of the team —
//! its functions, their triggers, the last hour's graph, the month's cost
//! and its recent calls and failures — gathered through the service door.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use model::{CostReport, FunctionSummary, Overview, Trigger};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Everything the application page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub name: String,
    pub functions: Vec<FunctionSummary>,
    pub triggers: Vec<Trigger>,
    /// Calls, failures and the latest failures of its functions.
    pub overview: Overview,
    /// This month's costs of its functions.
    pub costs: CostReport,
    /// The last hour's graph of its functions, drawn (SVG).
    pub graph_svg: String,
}

/// Application `name` of the caller's team (not found when none of the
/// team's functions belongs to it).
#[server(prefix = "/rpc", input = GetUrl)]
pub async fn load_application(name: String) -> Result<ApplicationView, AppError> {
    let who = crate::api::ssr::require_user().await?;
    let platform = crate::api::ssr::platform();
    let functions: Vec<FunctionSummary> = platform
        .functions()
        .list(&who)
        .await?
        .into_iter()
        .filter(|f| f.application == name)
        .collect();
    if functions.is_empty() {
        return Err(AppError::NotFound(format!("application {name}")));
    }
    let triggers = platform
        .triggers()
        .list(&who)
        .await?
        .into_iter()
        .filter(|t| functions.iter().any(|f| f.name == t.function))
        .collect();
    let metering = platform.metering();
    let overview = metering.application_overview(&who, &name).await?;
    let costs = metering.application_cost_report(&who, None, &name).await?;
    let until = platform.now();
    let mut graph = metering
        .application_topology(&who, until - chrono::Duration::hours(1), until, &name)
        .await?;
    graph.layout = Some(render::topology_layout(&graph));
    let graph_svg = render::topology_svg(&graph, "");
    Ok(ApplicationView {
        name,
        functions,
        triggers,
        overview,
        costs,
        graph_svg,
    })
}
