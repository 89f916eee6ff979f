//! Change propagation between the nodes of a cluster. The node that makes
//! a change (a deploy, alias move, configuration or secret change, a
//! trigger created, changed or deleted, a function deleted) applies it
//! itself and announces it with PostgreSQL `NOTIFY` on [`CHANNEL`]; every
//! other node `LISTEN`s and reloads what the announcement names from the
//! database, so it is live everywhere well within a second. A notification
//! can be lost (the listening connection dropped, a node crashed between
//! commit and announce): every [`RECONCILE_EVERY`] each node compares its
//! routing table and running triggers with the database and repairs any
//! difference, the safety net. SQLite has one node: nothing to propagate.
//! Why not a JetStream KV watch: docs/DECISIONS.md #52.

use std::collections::HashMap;
use std::time::Duration;

use model::Trigger;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::Row as _;

use crate::{Backend, Platform, PlatformError};

/// The PostgreSQL notification channel changes are announced on.
const CHANNEL: &str = "wisp_changes";
/// How often each node compares what it runs with the database.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);
/// Wait before listening again after the listener failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// What changed, as announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Change {
    /// A function's live version, settings or secrets, or the function
    /// itself (deleted).
    Function(String),
    /// A trigger (created, changed or deleted).
    Trigger(String),
}

#[derive(Serialize, Deserialize)]
struct Announcement {
    /// The node that made the change (it has applied it already).
    origin: String,
    change: Change,
}

/// Per function: its live version and `updated_at` when last seen.
type FunctionStamps = HashMap<String, (Option<i64>, i64)>;

impl Platform {
    /// Announces `change` to the other nodes (PostgreSQL only). Best effort:
    /// a lost announcement is repaired by the next reconcile.
    pub(crate) async fn announce(&self, change: Change) {
        if self.inner.backend != Backend::Postgres {
            return;
        }
        let payload = Announcement {
            origin: self.inner.node_id.clone(),
            change,
        };
        let Ok(payload) = serde_json::to_string(&payload) else {
            return;
        };
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.inner.db)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "announcing a change to the cluster failed; the other nodes pick it up at their next reconcile");
        }
    }

    /// What the database says each function looks like (live version,
    /// `updated_at`): the baseline the reconcile compares against. Read
    /// before the routing table is loaded, so a change made meanwhile is
    /// seen as one.
    pub(crate) async fn function_stamps(&self) -> Result<FunctionStamps, PlatformError> {
        let rows = sqlx::query("SELECT name, live_version, updated_at FROM functions")
            .fetch_all(&self.inner.db)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("name")?,
                    (r.try_get("live_version")?, r.try_get("updated_at")?),
                ))
            })
            .collect()
    }

    /// Starts following the other nodes' changes (PostgreSQL only).
    pub(crate) fn follow_cluster(&self, baseline: FunctionStamps) {
        if self.inner.backend != Backend::Postgres {
            return;
        }
        let platform = self.clone();
        tokio::spawn(async move { platform.follow(baseline).await });
    }

    async fn follow(self, mut seen: FunctionStamps) {
        let url = self.inner.config.database_url();
        let mut stop = self.inner.shutdown.subscribe();
        let mut listener: Option<PgListener> = None;
        let mut next_reconcile = tokio::time::Instant::now();
        let mut failing = FunctionStamps::new();
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            if listener.is_none() {
                match listen(&url).await {
                    Ok(l) => {
                        listener = Some(l);
                        // Whatever was announced while not listening.
                        next_reconcile = tokio::time::Instant::now();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for cluster changes failed; retrying");
                        tokio::time::sleep(RELISTEN_DELAY).await;
                    }
                }
            }
            if tokio::time::Instant::now() >= next_reconcile {
                if let Err(e) = self.reconcile(&mut seen, &mut failing).await {
                    tracing::warn!(error = %e, "comparing this node with the database failed");
                }
                next_reconcile = tokio::time::Instant::now() + RECONCILE_EVERY;
            }
            let Some(l) = listener.as_mut() else { continue };
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep_until(next_reconcile) => {}
                note = l.try_recv() => match note {
                    Ok(Some(note)) => self.apply(note.payload(), &mut seen).await,
                    // The connection dropped (it reconnects itself):
                    // announcements may have been missed.
                    Ok(None) => next_reconcile = tokio::time::Instant::now(),
                    Err(e) => {
                        tracing::warn!(error = %e, "the cluster change listener failed");
                        listener = None;
                    }
                },
            }
        }
    }

    /// Applies one announcement from another node.
    async fn apply(&self, payload: &str, seen: &mut FunctionStamps) {
        let Ok(note) = serde_json::from_str::<Announcement>(payload) else {
            tracing::warn!(%payload, "an unreadable cluster announcement was ignored");
            return;
        };
        if note.origin == self.inner.node_id {
            return;
        }
        let applied = match &note.change {
            Change::Function(name) => self.refresh_function_everywhere(name, seen).await,
            Change::Trigger(id) => self.refresh_trigger(id).await,
        };
        match applied {
            Ok(()) => {
                tracing::info!(from = %note.origin, change = ?note.change, "applied a change made on another node")
            }
            Err(e) => {
                tracing::warn!(from = %note.origin, change = ?note.change, error = %e, "applying a change made on another node failed; the reconcile retries")
            }
        }
    }

    /// Reloads function `name` and stops its triggers when it was deleted.
    async fn refresh_function_everywhere(
        &self,
        name: &str,
        seen: &mut FunctionStamps,
    ) -> Result<(), PlatformError> {
        let stamp = sqlx::query("SELECT live_version, updated_at FROM functions WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.inner.db)
            .await?;
        self.refresh_function(name).await?;
        match stamp {
            Some(r) => {
                seen.insert(
                    name.to_string(),
                    (r.try_get("live_version")?, r.try_get("updated_at")?),
                );
            }
            None => {
                seen.remove(name);
                self.stop_local_triggers_of(name);
            }
        }
        Ok(())
    }

    /// Compares the routing table and the running triggers with the
    /// database and repairs every difference.
    /// `failing`: functions whose reload failed, with the stamp it failed
    /// at (warned about once per stamp, then retried quietly).
    async fn reconcile(
        &self,
        seen: &mut FunctionStamps,
        failing: &mut FunctionStamps,
    ) -> Result<(), PlatformError> {
        let now = self.function_stamps().await?;
        let mut changed: Vec<String> = now
            .iter()
            .filter(|(name, stamp)| seen.get(*name) != Some(*stamp))
            .map(|(name, _)| name.clone())
            .collect();
        changed.extend(seen.keys().filter(|n| !now.contains_key(*n)).cloned());
        // Live here but not live (or gone) in the database (the names are
        // only listed when the counts say so).
        let live_in_db = now.values().filter(|(live, _)| live.is_some()).count();
        if self.inner.registry.len() != live_in_db {
            changed.extend(
                self.inner
                    .registry
                    .names()
                    .into_iter()
                    .filter(|n| now.get(n).is_none_or(|(live, _)| live.is_none())),
            );
        }
        changed.sort();
        changed.dedup();
        for name in changed {
            let stamp = now.get(&name).copied().unwrap_or((None, 0));
            match self.refresh_function_everywhere(&name, seen).await {
                Err(e) if failing.get(&name) != Some(&stamp) => {
                    tracing::warn!(function = %name, error = %e, "reloading a function changed on another node failed; retrying every 2 s");
                    failing.insert(name, stamp);
                }
                Err(e) => {
                    tracing::debug!(function = %name, error = %e, "reloading a function still fails")
                }
                Ok(()) => {
                    failing.remove(&name);
                    tracing::debug!(function = %name, "reconciled a function with the database");
                }
            }
        }
        self.reconcile_triggers().await
    }

    /// Starts, restarts or stops local trigger tasks to match the table.
    async fn reconcile_triggers(&self) -> Result<(), PlatformError> {
        let stored = self.stored_triggers().await?;
        let running = self.running_triggers();
        let mut differ: Vec<&str> = stored
            .iter()
            .filter(|(id, t)| running.get(*id).is_none_or(|r| !same_trigger(r, t)))
            .map(|(id, _)| id.as_str())
            .collect();
        differ.extend(
            running
                .keys()
                .filter(|id| !stored.contains_key(*id))
                .map(String::as_str),
        );
        for id in differ {
            self.refresh_trigger(id).await?;
            tracing::debug!(trigger = %id, "reconciled a trigger with the database");
        }
        Ok(())
    }
}

/// Whether two versions of a trigger run the same way.
pub(crate) fn same_trigger(a: &Trigger, b: &Trigger) -> bool {
    a.function == b.function && a.spec == b.spec && a.max_attempts == b.max_attempts
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
