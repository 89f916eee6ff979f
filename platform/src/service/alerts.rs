//! Alerts through the one door: any member reads the team's rules and
//! their history; developers and owners create and delete rules (audited).

use model::{AlertEvent, AlertRule, CreatedAlertRule, NewAlertRule};

use super::Change;
use crate::{Platform, PlatformError, Principal, Role};

/// The team's alert rules (see [`Platform::alerts`]).
pub struct Alerts<'a>(pub(super) &'a Platform);

impl Alerts<'_> {
    /// The team's rules, firing ones first.
    pub async fn rules(&self, who: &Principal) -> Result<Vec<AlertRule>, PlatformError> {
        self.0.alert_rules(who.team_id).await
    }

    /// One of the team's rules.
    pub async fn rule(&self, who: &Principal, id: &str) -> Result<AlertRule, PlatformError> {
        self.0.alert_rule(who.team_id, id).await
    }

    /// A new rule; its webhook's signing secret is in the answer only.
    pub async fn create(
        &self,
        who: &Principal,
        new: NewAlertRule,
    ) -> Result<CreatedAlertRule, PlatformError> {
        let target = format!("alert {}", new.name.trim());
        self.0
            .audited(who, "create_alert", &target, Change::Create, async {
                who.require(Role::Developer)?;
                crate::alerts::validate_rule(&new)?;
                if let Some(function) = &new.function {
                    self.0
                        .authorize_function(who, function, Role::Developer)
                        .await?;
                }
                self.0.create_alert_rule(who.team_id, new).await
            })
            .await
    }

    /// Deletes a rule (its history stays).
    pub async fn delete(&self, who: &Principal, id: &str) -> Result<(), PlatformError> {
        let target = format!("alert {id}");
        self.0
            .audited(who, "delete_alert", &target, Change::NoContent, async {
                who.require(Role::Developer)?;
                self.0.delete_alert_rule(who.team_id, id).await
            })
            .await
    }

    /// The team's firing and resolved events, newest first.
    pub async fn history(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<AlertEvent>, PlatformError> {
        self.0.alert_history(who.team_id, limit).await
    }
}
