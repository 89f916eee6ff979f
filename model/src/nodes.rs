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

/// `GET /api/v1/server` (server administrators; the Settings page): what
/// this server is, where it keeps its data and how it is looked after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerInfo {
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub uptime_secs: u64,
    /// The node that answered.
    pub node_id: String,
    pub data_dir: String,
    /// `SQLite` or `PostgreSQL`.
    pub database: String,
    pub database_bytes: Option<u64>,
    /// Nodes sharing the database (1 without a cluster) and how many are up.
    pub nodes: u32,
    pub nodes_up: u32,
    /// The server's retention period for teams that set none.
    pub retention_days: u32,
    /// Scheduled backups of this node, when `--backup-every` is set.
    pub backups: Option<BackupSchedule>,
}

/// `--backup-every`, `--backup-dir`, `--backup-keep` and the backups there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupSchedule {
    pub every_secs: u64,
    pub dir: String,
    pub keep: u64,
    /// The scheduled backups in the directory, newest first.
    pub files: Vec<BackupFile>,
}

/// One scheduled backup file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupFile {
    pub name: String,
    pub bytes: u64,
    pub modified_at: DateTime<Utc>,
}
