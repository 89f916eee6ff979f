//! The application topology graph: what is configured (triggers →
//! functions) merged with what really ran in a time window (function calls,
//! publishes, key-value and external-host accesses), each edge with stats.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

word_enum! {
    /// What a box of the topology graph stands for.
    pub enum TopologyNodeKind (
        "topology node kind",
        expected "route, cron, topic, queue, function, host or kv"
    ) {
        /// An HTTP route trigger.
        Route = "route",
        /// A cron trigger.
        Cron = "cron",
        /// A topic events are published to.
        Topic = "topic",
        /// An external queue trigger (NATS, Redis, MQTT).
        Queue = "queue",
        /// A function.
        Function = "function",
        /// An external host functions call.
        Host = "host",
        /// An application's key-value store.
        Kv = "kv",
    }
}

/// Traffic over a node or edge in the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowStats {
    pub calls: i64,
    pub errors: i64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Cost in the plan's currency, exact decimal as text.
    pub cost: String,
}

impl FlowStats {
    /// Errors per call (0 when there were no calls).
    pub fn error_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.errors as f64 / self.calls as f64
        }
    }
}

/// A box in the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopologyNode {
    /// Stable id: `fn:NAME`, `route:TRIGGER`, `cron:TRIGGER`, `topic:NAME`,
    /// `queue:TRIGGER`, `host:AUTHORITY`, `kv:APPLICATION`.
    pub id: String,
    /// `route`, `cron`, `topic`, `queue`, `function`, `host` or `kv`.
    pub kind: TopologyNodeKind,
    pub label: String,
    /// Function nodes: their own invocations in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<FlowStats>,
}

/// An arrow in the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopologyEdge {
    pub from: String,
    pub to: String,
    /// Configured (a trigger or subscription).
    pub declared: bool,
    /// Seen in the window.
    pub observed: bool,
    pub stats: FlowStats,
}

/// Where the layout put a node (top-left corner and size, in SVG units).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeBox {
    pub id: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// The drawn path of edge `edge` (index into `edges`), as SVG path data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EdgePath {
    pub edge: usize,
    pub path: String,
}

/// A left-to-right layered layout of the graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphLayout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<NodeBox>,
    pub edges: Vec<EdgePath>,
}

/// `GET /api/v1/topology`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Topology {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub currency: String,
    pub nodes: Vec<TopologyNode>,
    pub edges: Vec<TopologyEdge>,
    /// With `?layout=true` (and always for the dashboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<GraphLayout>,
}

impl Topology {
    /// The graph of the functions `functions` (one application's): their
    /// nodes, every edge that touches one of them and the nodes at the
    /// other end (its triggers, topics, stores, hosts and the functions it
    /// calls or is called by). The layout, if any, is dropped.
    pub fn scoped_to(mut self, functions: &std::collections::HashSet<String>) -> Self {
        let ours = |id: &str| {
            id.strip_prefix("fn:")
                .is_some_and(|name| functions.contains(name))
        };
        self.edges.retain(|e| ours(&e.from) || ours(&e.to));
        let kept: std::collections::HashSet<String> = self
            .edges
            .iter()
            .flat_map(|e| [e.from.clone(), e.to.clone()])
            .collect();
        self.nodes.retain(|n| ours(&n.id) || kept.contains(&n.id));
        self.layout = None;
        self
    }
}
