//! Live tails across a cluster (`--nats-url`): a node's live feeds (the
//! lines running calls write, the invocation records as they are stored)
//! only see its own calls, but a load balancer sends a tail to one node and
//! the calls to all. With a NATS server given, every node publishes its
//! lines and records on core NATS while some other node has a tail open,
//! and injects the other nodes' into its own feeds. Core NATS fits: live
//! tails are best effort (a listener that falls behind skips lines; the
//! stored records keep everything), and nothing is kept when nobody
//! listens.
//!
//! Interest: a node with a tail open says so on `<prefix>.interest` every
//! [`INTEREST_EVERY`]; the others publish for [`INTEREST_TTL`] after the
//! last such message. Subjects are prefixed with `wisp.<database name>`, so
//! clusters on different databases can share one NATS server.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use model::{InvocationRecord, LiveLogLine};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::live_logs::TeamLine;
use crate::Platform;

/// How often a node with an open tail announces it.
const INTEREST_EVERY: Duration = Duration::from_secs(2);
/// How long after the last announcement the other nodes keep publishing.
const INTEREST_TTL: Duration = Duration::from_secs(6);
/// Messages waiting to be published before new ones are dropped.
const OUTBOX: usize = 8192;
/// Remote records a slow local tail may fall behind by.
const REMOTE_RECORDS: usize = 4096;

#[derive(Serialize, Deserialize)]
enum Relayed {
    Line { team_id: i64, line: LiveLogLine },
    Record(Box<InvocationRecord>),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    item: Relayed,
}

/// This node's end of the relay.
pub(crate) struct LiveRelay {
    node: String,
    outbox: mpsc::Sender<Envelope>,
    /// Wall-clock ms until which another node wants lines and records.
    remote_interest_until: AtomicI64,
    /// Records of the other nodes' calls, for this node's tails.
    remote_records: broadcast::Sender<InvocationRecord>,
}

impl LiveRelay {
    /// Whether another node has a tail open now.
    pub fn wanted(&self) -> bool {
        self.remote_interest_until.load(Ordering::Relaxed) > super::wall_ms()
    }

    /// Publishes one of this node's lines (when another node listens).
    pub fn line(&self, team_id: i64, line: &LiveLogLine) {
        if self.wanted() {
            let _ = self.outbox.try_send(Envelope {
                node: self.node.clone(),
                item: Relayed::Line {
                    team_id,
                    line: line.clone(),
                },
            });
        }
    }

    /// Records of other nodes' calls as they arrive.
    pub fn subscribe_remote_records(&self) -> broadcast::Receiver<InvocationRecord> {
        self.remote_records.subscribe()
    }
}

impl Platform {
    /// Connects the live tails to the other nodes through NATS at `url`.
    pub(crate) async fn start_live_relay(&self, url: &str) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let client = async_nats::ConnectOptions::new()
            .name(format!("wisp {}", self.inner.node_id))
            .retry_on_initial_connect()
            .connect(url)
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
        let database: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&self.inner.db)
            .await
            .unwrap_or_else(|_| "wisp".into());
        let prefix = format!(
            "wisp.{}",
            database.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_")
        );
        let (outbox, mut outgoing) = mpsc::channel::<Envelope>(OUTBOX);
        let relay = Arc::new(LiveRelay {
            node: self.inner.node_id.clone(),
            outbox,
            remote_interest_until: AtomicI64::new(0),
            remote_records: broadcast::channel(REMOTE_RECORDS).0,
        });
        if self.inner.live_logs.set_relay(relay.clone()).is_err() {
            anyhow::bail!("the live relay was started twice");
        }
        // Publish, in order.
        let publisher = client.clone();
        let subject = format!("{prefix}.live");
        tokio::spawn(async move {
            while let Some(envelope) = outgoing.recv().await {
                if let Ok(bytes) = serde_json::to_vec(&envelope) {
                    let _ = publisher.publish(subject.clone(), bytes.into()).await;
                }
            }
        });
        // Receive the others' lines, records and interest.
        let mut live = client.subscribe(format!("{prefix}.live")).await?;
        let mut interest = client.subscribe(format!("{prefix}.interest")).await?;
        let platform = self.clone();
        let node = self.inner.node_id.clone();
        let receiver = relay.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(message) = live.next() => {
                        let Ok(envelope) = serde_json::from_slice::<Envelope>(&message.payload) else { continue };
                        if envelope.node == node {
                            continue;
                        }
                        match envelope.item {
                            Relayed::Line { team_id, line } => platform.inner.live_logs.inject(TeamLine {
                                team_id,
                                line: Arc::new(line),
                            }),
                            Relayed::Record(record) => {
                                let _ = receiver.remote_records.send(*record);
                            }
                        }
                    }
                    Some(message) = interest.next() => {
                        if message.payload.as_ref() != node.as_bytes() {
                            receiver.remote_interest_until.store(
                                super::wall_ms() + INTEREST_TTL.as_millis() as i64,
                                Ordering::Relaxed,
                            );
                        }
                    }
                    else => return,
                }
            }
        });
        // Say so while this node has a tail open; forward this node's
        // records while another has.
        let platform = self.clone();
        let announcer = client.clone();
        let subject = format!("{prefix}.interest");
        let mut stop = self.inner.shutdown.subscribe();
        tokio::spawn(async move {
            loop {
                if platform.inner.live_logs.local_listeners() > 0
                    || platform.inner.live_logs.record_listeners() > 0
                {
                    let _ = announcer
                        .publish(subject.clone(), platform.inner.node_id.clone().into())
                        .await;
                }
                tokio::select! {
                    _ = tokio::time::sleep(INTEREST_EVERY) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
        let mut records = self.subscribe_invocations();
        let forwarder = relay.clone();
        tokio::spawn(async move {
            loop {
                match records.recv().await {
                    Ok(record) => {
                        if forwarder.wanted() {
                            let _ = forwarder.outbox.try_send(Envelope {
                                node: forwarder.node.clone(),
                                item: Relayed::Record(Box::new(record)),
                            });
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        tracing::info!(%url, %prefix, "live tails relayed through NATS");
        Ok(())
    }
}
