//! Following triggers changed on another node of a cluster: this node
//! starts, restarts or stops its own trigger tasks to match the table,
//! releasing at a broker only what this node alone holds (its MQTT
//! session). Called by `crate::cluster`'s change propagation.

use std::collections::HashMap;

use model::{Trigger, TriggerSpec};
use tokio::task::JoinHandle;

use super::{lock, source_for, trigger_from_row, REPLACE_WAIT};
use crate::{Platform, PlatformError};

impl Platform {
    /// Every stored trigger, by id.
    pub(crate) async fn stored_triggers(&self) -> Result<HashMap<String, Trigger>, PlatformError> {
        let rows = sqlx::query("SELECT * FROM triggers")
            .fetch_all(&self.inner.db)
            .await?;
        rows.iter()
            .map(|r| trigger_from_row(r).map(|t| (t.id.clone(), t)))
            .collect()
    }

    /// The triggers this node runs, by id.
    pub(crate) fn running_triggers(&self) -> HashMap<String, Trigger> {
        lock(&self.inner.triggers.triggers).clone()
    }

    /// Makes this node run trigger `id` as stored (another node created,
    /// changed or deleted it): its task starts, restarts or stops. What the
    /// trigger held at its broker is the changing node's to release.
    pub(crate) async fn refresh_trigger(&self, id: &str) -> Result<(), PlatformError> {
        let row = sqlx::query("SELECT * FROM triggers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.inner.db)
            .await?;
        let _guard = self.inner.trigger_lock.lock().await;
        match row {
            Some(row) => {
                let trigger = trigger_from_row(&row)?;
                let running = lock(&self.inner.triggers.triggers).get(id).cloned();
                if running.is_none_or(|r| !crate::cluster::same_trigger(&r, &trigger)) {
                    if let Some(old) = self.inner.triggers.stop(id) {
                        if let Some(cleanup) = self.end_node_session(&old) {
                            let _ = tokio::time::timeout(REPLACE_WAIT, cleanup).await;
                        }
                    }
                    self.run_trigger(trigger);
                }
            }
            None => {
                if let Some(old) = self.inner.triggers.stop(id) {
                    let _ = self.end_node_session(&old);
                }
            }
        }
        self.inner.triggers.rebuild_routes();
        Ok(())
    }

    /// Ends what this node alone holds at a trigger's broker (an MQTT
    /// session has a client id per node); shared consumers and groups are
    /// released by the node that changed the trigger.
    pub(super) fn end_node_session(&self, trigger: &Trigger) -> Option<JoinHandle<()>> {
        match trigger.spec {
            TriggerSpec::Mqtt { .. } => source_for(&trigger.spec).retire(self, trigger),
            _ => None,
        }
    }

    /// Stops this node's tasks of a function deleted on another node.
    pub(crate) fn stop_local_triggers_of(&self, function: &str) {
        self.stop_function_triggers(function, false);
    }
}
