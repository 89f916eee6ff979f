//! Cluster membership (`GET /api/v1/nodes`, the Nodes page, `wisp nodes`):
//! the `wisp serve` processes sharing one database, from their heartbeats.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a node's heartbeats say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Heartbeats arrive: it serves calls and takes work.
    Up,
    /// No heartbeat for longer than the down threshold: it crashed or is cut
    /// off; the job leases it held are taken over by the other nodes.
    Down,
    /// It shut down cleanly (SIGTERM) and has not started again.
    Stopped,
}

impl NodeState {
    /// The word the dashboard and the CLI show.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Up => "up",
            NodeState::Down => "down",
            NodeState::Stopped => "stopped",
        }
    }
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeInfo {
    /// `--node-id` (default: kept in `<data-dir>/node-id`).
    pub id: String,
    /// Where its control plane listens (host:port as bound).
    pub address: String,
    /// Where its function gateway listens.
    pub gateway_address: String,
    /// The `wisp` version it runs.
    pub version: String,
    pub started: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub state: NodeState,
    /// Calls running on it at its last heartbeat.
    pub in_flight: i64,
    /// Calls it finished per second, over the last heartbeat interval.
    pub calls_per_s: f64,
    /// Whether this is the node that answered the request.
    pub this_node: bool,
}

/// The cluster as the answering node sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Nodes {
    /// Up nodes first, then by id.
    pub nodes: Vec<NodeInfo>,
    /// Seconds without a heartbeat after which a node is shown down.
    pub down_after_secs: u64,
}
