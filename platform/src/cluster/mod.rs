//! Cluster mode: several `wisp serve` processes on one PostgreSQL database.
//! This module owns membership (the `nodes` table: each node's heartbeat,
//! who is up, down or stopped) and the cluster-wide locks; [`sync`] owns
//! change propagation (a deploy, alias move, configuration, secret or
//! trigger change made on one node goes live on every node).
//!
//! Heartbeats and the down threshold use the wall clock, not the platform's
//! clock (tests move that one by hand). A node whose heartbeat is older
//! than [`DOWN_AFTER`] is shown down and the job leases it holds are taken
//! over by the others ([`Platform::requeue_expired`]). On SQLite the table
//! holds the one node that owns the file.

mod live_relay;
mod sync;

pub(crate) use live_relay::LiveRelay;
pub(crate) use sync::{same_trigger, Change};

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use model::{NodeInfo, NodeState, Nodes};
use sqlx::Row as _;

use crate::time::from_ms;
use crate::{Backend, Platform, PlatformError, Principal};

/// How often a node writes its heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A node without a heartbeat for this long is down: shown so, and the
/// other nodes take over its job leases.
pub const DOWN_AFTER: Duration = Duration::from_secs(10);

/// Milliseconds since the Unix epoch, by the wall clock.
pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where a node's two listeners are bound.
#[derive(Clone, Debug)]
pub struct NodeAddresses {
    pub control: String,
    pub gateway: String,
}

impl Platform {
    /// Joins the cluster: writes this node's row and keeps it fresh every
    /// [`HEARTBEAT_EVERY`] until shutdown. Call once the listeners are bound.
    pub async fn join_cluster(&self, addresses: NodeAddresses) -> Result<(), PlatformError> {
        let now = wall_ms();
        sqlx::query(
            "INSERT INTO nodes (id, control_address, gateway_address, version, started_at, \
             last_seen, stopped_at, in_flight, calls_per_s) VALUES ($1, $2, $3, $4, $5, $5, NULL, 0, 0) \
             ON CONFLICT (id) DO UPDATE SET control_address = excluded.control_address, \
             gateway_address = excluded.gateway_address, version = excluded.version, \
             started_at = excluded.started_at, last_seen = excluded.last_seen, stopped_at = NULL, \
             in_flight = 0, calls_per_s = 0",
        )
        .bind(&self.inner.node_id)
        .bind(&addresses.control)
        .bind(&addresses.gateway)
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(now)
        .execute(&self.inner.db)
        .await?;
        let platform = self.clone();
        tokio::spawn(async move { platform.heartbeats().await });
        tracing::info!(node = %self.inner.node_id, control = %addresses.control, gateway = %addresses.gateway, "joined the cluster");
        Ok(())
    }

    async fn heartbeats(self) {
        let mut stop = self.inner.shutdown.subscribe();
        let mut last_calls = self.inner.metrics.calls_total();
        let mut last_at = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                _ = stop.wait_for(|stopping| *stopping) => return,
            }
            let calls = self.inner.metrics.calls_total();
            let elapsed = last_at.elapsed().as_secs_f64().max(0.001);
            let rate = calls.saturating_sub(last_calls) as f64 / elapsed;
            (last_calls, last_at) = (calls, std::time::Instant::now());
            let in_flight = self.inner.metrics.in_flight_total.load(Ordering::Relaxed);
            let beat = sqlx::query(
                "UPDATE nodes SET last_seen = $1, in_flight = $2, calls_per_s = $3, stopped_at = NULL \
                 WHERE id = $4",
            )
            .bind(wall_ms())
            .bind(in_flight.max(0))
            .bind(rate)
            .bind(&self.inner.node_id)
            .execute(&self.inner.db)
            .await;
            if let Err(e) = beat {
                tracing::warn!(error = %e, "writing this node's heartbeat failed");
            }
        }
    }

    /// Marks this node stopped (a clean shutdown): it is shown so, not down.
    pub async fn leave_cluster(&self) {
        let left = sqlx::query(
            "UPDATE nodes SET stopped_at = $1, in_flight = 0, calls_per_s = 0 WHERE id = $2",
        )
        .bind(wall_ms())
        .bind(&self.inner.node_id)
        .execute(&self.inner.db)
        .await;
        if let Err(e) = left {
            tracing::warn!(error = %e, "marking this node stopped failed");
        }
    }

    /// Refuses to start a node that would corrupt the cluster: one whose
    /// secret key is not the key the stored secrets were sealed with (it
    /// could open none of them and would seal new ones nobody else can
    /// read), and one whose identity a live node holds (it would take that
    /// node's running jobs). Run before anything is claimed.
    pub(crate) async fn check_cluster_fit(&self) -> anyhow::Result<()> {
        let ours = self.inner.secrets.key_id().to_string();
        let keys: Vec<String> = sqlx::query_scalar("SELECT DISTINCT key_id FROM function_secrets")
            .fetch_all(&self.inner.db)
            .await?;
        if !keys.is_empty() && !keys.contains(&ours) {
            anyhow::bail!(
                "the stored function secrets were sealed with a different secret key \
                 (key id {}; this node's is {ours}): give every node of the cluster the same \
                 --secret-key / WISP_SECRET_KEY",
                keys.join(", ")
            );
        }
        if keys.iter().any(|k| *k != ours) {
            tracing::error!(
                stored = %keys.join(", "),
                ours = %ours,
                "some stored secrets were sealed with another key: a node ran with a different --secret-key; set those secrets again"
            );
        }
        if self.inner.backend != Backend::Postgres {
            return Ok(());
        }
        let seen = || async {
            sqlx::query("SELECT last_seen, stopped_at FROM nodes WHERE id = $1")
                .bind(&self.inner.node_id)
                .fetch_optional(&self.inner.db)
                .await
                .map(|row| {
                    row.and_then(|r| {
                        let stopped: Option<i64> = r.try_get("stopped_at").ok()?;
                        stopped
                            .is_none()
                            .then(|| r.try_get::<i64, _>("last_seen").ok())?
                    })
                })
        };
        let Some(last) = seen().await? else {
            return Ok(());
        };
        if wall_ms() - last > DOWN_AFTER.as_millis() as i64 {
            return Ok(());
        }
        // A fresh heartbeat under this identity: this node's previous
        // process died moments ago, or another live node has the identity.
        // Its heartbeat tells.
        tracing::info!(node = %self.inner.node_id, "a heartbeat under this node's identity is recent; checking that no live node holds it");
        tokio::time::sleep(HEARTBEAT_EVERY * 2 + Duration::from_millis(500)).await;
        if seen().await?.is_some_and(|now| now > last) {
            anyhow::bail!(
                "node id {} is in use by a live node (its heartbeat goes on): give each node \
                 its own --node-id / WISP_NODE_ID",
                self.inner.node_id
            );
        }
        Ok(())
    }

    /// This node's identity (`--node-id`, or the one kept in the data dir).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// The cluster's nodes (server administrators only: they span every team).
    pub async fn nodes(&self, who: &Principal) -> Result<Nodes, PlatformError> {
        if !who.is_admin {
            return Err(PlatformError::forbidden(
                "the cluster's nodes are shown to server administrators",
            ));
        }
        let rows = sqlx::query("SELECT * FROM nodes")
            .fetch_all(&self.inner.db)
            .await?;
        let down_before = wall_ms() - DOWN_AFTER.as_millis() as i64;
        let mut nodes = rows
            .iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let last_seen: i64 = row.try_get("last_seen")?;
                let stopped: Option<i64> = row.try_get("stopped_at")?;
                let state = match stopped {
                    Some(_) => NodeState::Stopped,
                    None if last_seen < down_before => NodeState::Down,
                    None => NodeState::Up,
                };
                Ok(NodeInfo {
                    this_node: id == self.inner.node_id,
                    id,
                    address: row.try_get("control_address")?,
                    gateway_address: row.try_get("gateway_address")?,
                    version: row.try_get("version")?,
                    started: from_ms(row.try_get("started_at")?),
                    last_seen: from_ms(last_seen),
                    state,
                    in_flight: row.try_get("in_flight")?,
                    calls_per_s: row.try_get("calls_per_s")?,
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        nodes.sort_by(|a, b| {
            (a.state != NodeState::Up, &a.id).cmp(&(b.state != NodeState::Up, &b.id))
        });
        Ok(Nodes {
            nodes,
            down_after_secs: DOWN_AFTER.as_secs(),
        })
    }

    /// Takes the cluster-wide lock `name` for the rest of `tx` (PostgreSQL
    /// advisory transaction lock). On SQLite the write transaction already
    /// serialises writers, and one process owns the file.
    pub(crate) async fn cluster_lock(
        &self,
        tx: &mut sqlx::AnyConnection,
        name: &str,
    ) -> Result<(), PlatformError> {
        if self.inner.backend == Backend::Postgres {
            // `execute`: the function returns void, which no driver decodes.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("wisp:{name}"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}
