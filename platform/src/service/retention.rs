//! Retention through the one door: any member reads how long the team's
//! history is kept and how much the server stores; the team's owners set
//! the team's period, server administrators the server's. Changes are
//! audited.

use model::{RetentionStatus, RetentionUpdate};

use super::Change;
use crate::{Platform, PlatformError, Principal, Role};

/// How long history is kept (see [`Platform::retention`]).
pub struct Retention<'a>(pub(super) &'a Platform);

impl Retention<'_> {
    /// The caller's team's retention, oldest record and the database size.
    pub async fn status(&self, who: &Principal) -> Result<RetentionStatus, PlatformError> {
        self.0.retention_status(who.team_id).await
    }

    /// Sets the team's own period, or (`days: null`) returns it to the
    /// server's (owners).
    pub async fn set_team(
        &self,
        who: &Principal,
        update: RetentionUpdate,
    ) -> Result<RetentionStatus, PlatformError> {
        self.0
            .audited(who, "set_retention", "team", Change::Update, async {
                who.require(Role::Owner)?;
                self.0
                    .set_team_retention_days(who.team_id, update.days)
                    .await
            })
            .await?;
        self.status(who).await
    }

    /// Sets the server's period for teams that set none (server
    /// administrators).
    pub async fn set_server(
        &self,
        who: &Principal,
        update: RetentionUpdate,
    ) -> Result<RetentionStatus, PlatformError> {
        self.0
            .audited(who, "set_retention", "server", Change::Update, async {
                who.require_admin()?;
                let days = update.days.ok_or_else(|| {
                    PlatformError::invalid(
                        "the server's retention period is a number of days (1 to 3650)",
                    )
                })?;
                self.0.set_server_retention_days(days).await
            })
            .await?;
        self.status(who).await
    }
}
