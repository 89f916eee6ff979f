//! `/nodes`: the cluster at a glance (server administrators): how many
//! nodes are up, down or stopped, and per node its state, addresses,
//! version, calls in flight, calls per second and last heartbeat (its
//! start time on hover). It refreshes every few seconds, so a node that
//! dies turns red by itself.

use leptos::prelude::*;
use leptos_meta::Title;
use model::{NodeInfo, NodeState, Nodes};

use crate::{
    components::feedback::{ErrorList, ErrorPanel, Loading},
    format,
    nodes_api::cluster_nodes,
};

/// How often the page asks again.
const REFRESH_MS: u64 = 3000;

#[component]
pub fn NodesPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    // In the browser only: count up so the resource reloads.
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|n| *n += 1),
            std::time::Duration::from_millis(REFRESH_MS),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let nodes = Resource::new(move || tick.get(), |_| cluster_nodes());

    view! {
        <Title text="Nodes · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Nodes"</h1>
                <p class="lede">
                    "Every " <code>"wisp serve"</code>
                    " on this database, from its heartbeats. Each node serves every function and the control plane; a load balancer spreads the traffic."
                </p>
            </div>
        </div>
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match nodes.await {
                        Ok(nodes) => view! { <Cluster nodes /> }.into_any(),
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Cluster(nodes: Nodes) -> impl IntoView {
    let count = |state: NodeState| nodes.nodes.iter().filter(|n| n.state == state).count();
    let (up, down, stopped) = (
        count(NodeState::Up),
        count(NodeState::Down),
        count(NodeState::Stopped),
    );
    let calls: f64 = nodes
        .nodes
        .iter()
        .filter(|n| n.state == NodeState::Up)
        .map(|n| n.calls_per_s)
        .sum();
    let down_note = format!("no heartbeat for {} s", nodes.down_after_secs);
    let down_class = if down > 0 { "stat stat-alert" } else { "stat" };
    view! {
        <div class="stats" aria-label="Cluster health" role="group">
            <div class="stat">
                <span class="stat-label">"Up"</span>
                <span class="stat-value" data-testid="nodes-up">{up}</span>
                <span class="stat-note">"serving calls"</span>
            </div>
            <div class=down_class>
                <span class="stat-label">"Down"</span>
                <span class="stat-value" data-testid="nodes-down">{down}</span>
                <span class="stat-note">{down_note}</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Stopped"</span>
                <span class="stat-value">{stopped}</span>
                <span class="stat-note">"shut down cleanly"</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Calls per second"</span>
                <span class="stat-value">{format!("{calls:.1}")}</span>
                <span class="stat-note">"all up nodes"</span>
            </div>
        </div>
        <section class="card card-flush" aria-labelledby="nodes-title">
            <div class="card-head">
                <h2 id="nodes-title">"Members"</h2>
            </div>
            <NodeTable nodes=nodes.nodes />
        </section>
    }
}

#[component]
fn NodeTable(nodes: Vec<NodeInfo>) -> impl IntoView {
    let rows = nodes
        .into_iter()
        .map(|n| {
            let badge = match n.state {
                NodeState::Up => "badge badge-success",
                NodeState::Down => "badge badge-error",
                NodeState::Stopped => "badge",
            };
            view! {
                <tr data-node=n.id.clone() data-state=n.state.as_str()>
                    <td class="nowrap" title=format!("started {}", format::datetime(&n.started))>
                        <span class="mono">{n.id.clone()}</span>
                        {n.this_node.then(|| view! { <span class="muted small">" (this node)"</span> })}
                    </td>
                    <td><span class=badge>{n.state.as_str()}</span></td>
                    <td class="mono nowrap">{n.address.clone()}</td>
                    <td class="mono nowrap">{n.gateway_address.clone()}</td>
                    <td class="mono">{n.version.clone()}</td>
                    <td class="num">{format::count(n.in_flight)}</td>
                    <td class="num">{format!("{:.1}", n.calls_per_s)}</td>
                    <td class="nowrap">
                        <time datetime=format::datetime_attr(&n.last_seen)>{format::datetime(&n.last_seen)}</time>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table nodes">
                <thead>
                    <tr>
                        <th scope="col">"Node"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Control plane"</th>
                        <th scope="col">"Gateway"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col" class="num">"In flight"</th>
                        <th scope="col" class="num">"Calls/s"</th>
                        <th scope="col">"Last heartbeat (UTC)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
