//! Triggers through the one door: list, read, create, replace and delete a
//! team's HTTP routes, schedules, topic and broker subscriptions. Changing
//! one needs the developer role on the trigger's function (both the old and
//! the new one when a replacement moves it).

use model::{NewTrigger, Trigger};

use super::Change;
use crate::{Platform, PlatformError, Principal, Role};

/// The triggers of the caller's team (see [`Platform::triggers`]).
pub struct Triggers<'a>(pub(super) &'a Platform);

impl Triggers<'_> {
    /// Every trigger of the team.
    pub async fn list(&self, who: &Principal) -> Result<Vec<Trigger>, PlatformError> {
        self.0.list_triggers(who.team_id).await
    }

    /// One trigger (cron: with its next fire times).
    pub async fn get(&self, who: &Principal, id: &str) -> Result<Trigger, PlatformError> {
        self.0.trigger_for(who, id, Role::Viewer).await
    }

    /// Creates a trigger of one of the team's functions.
    pub async fn create(&self, who: &Principal, new: NewTrigger) -> Result<Trigger, PlatformError> {
        let target = format!("trigger of function {}", new.function);
        self.0
            .audited(who, "create_trigger", &target, Change::Create, async {
                who.require(Role::Developer)?;
                self.0
                    .authorize_function(who, &new.function, Role::Developer)
                    .await?;
                self.0.create_trigger(new).await
            })
            .await
    }

    /// Replaces trigger `id`'s function and fields (the id stays).
    pub async fn update(
        &self,
        who: &Principal,
        id: &str,
        new: NewTrigger,
    ) -> Result<Trigger, PlatformError> {
        let target = format!("trigger {id}");
        self.0
            .audited(who, "update_trigger", &target, Change::Update, async {
                self.0.trigger_for(who, id, Role::Developer).await?;
                self.0
                    .authorize_function(who, &new.function, Role::Developer)
                    .await?;
                self.0.update_trigger(id, new).await
            })
            .await
    }

    /// Creates a trigger (`id` none) or replaces trigger `id`: the
    /// dashboard's one form for both.
    pub async fn save(
        &self,
        who: &Principal,
        id: Option<&str>,
        new: NewTrigger,
    ) -> Result<Trigger, PlatformError> {
        match id {
            Some(id) => self.update(who, id, new).await,
            None => self.create(who, new).await,
        }
    }

    /// Deletes trigger `id` (it stops at once).
    pub async fn delete(&self, who: &Principal, id: &str) -> Result<(), PlatformError> {
        let target = format!("trigger {id}");
        self.0
            .audited(who, "delete_trigger", &target, Change::NoContent, async {
                self.0.trigger_for(who, id, Role::Developer).await?;
                self.0.delete_trigger(id).await
            })
            .await
    }
}
