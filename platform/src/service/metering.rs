//! Metering through the one door: the team's cost reports, the price plans
//! (everyone reads them; server administrators set them), the team's
//! overview and its topology graph.

use chrono::{DateTime, Utc};
use model::{CostReport, Overview, PricePlan, PricePlanUpdate, PricePlans, Topology};

use super::Change;
use crate::{Platform, PlatformError, Principal};

/// Costs and the views built on the records (see [`Platform::metering`]).
pub struct Metering<'a>(pub(super) &'a Platform);

impl Metering<'_> {
    /// The team's costs of `month` (`YYYY-MM`; default: the current one).
    pub async fn cost_report(
        &self,
        who: &Principal,
        month: Option<&str>,
    ) -> Result<CostReport, PlatformError> {
        self.0.cost_report(who.team_id, month).await
    }

    /// The costs of one application of the team in `month`.
    pub async fn application_cost_report(
        &self,
        who: &Principal,
        month: Option<&str>,
        application: &str,
    ) -> Result<CostReport, PlatformError> {
        self.0
            .application_cost_report(who.team_id, month, application)
            .await
    }

    /// The price plans in effect and scheduled.
    pub async fn price_plans(&self, _who: &Principal) -> Result<PricePlans, PlatformError> {
        self.0.price_plans().await
    }

    /// Sets the prices from a date on (server administrators).
    pub async fn set_price_plan(
        &self,
        who: &Principal,
        update: PricePlanUpdate,
    ) -> Result<PricePlan, PlatformError> {
        self.0
            .audited(who, "set_price_plan", "price plan", Change::Update, async {
                who.require_admin()?;
                self.0.set_price_plan(update).await
            })
            .await
    }

    /// The team's platform at a glance.
    pub async fn overview(&self, who: &Principal) -> Result<Overview, PlatformError> {
        self.0.overview(who.team_id, None).await
    }

    /// One application of the team at a glance.
    pub async fn application_overview(
        &self,
        who: &Principal,
        application: &str,
    ) -> Result<Overview, PlatformError> {
        self.0.overview(who.team_id, Some(application)).await
    }

    /// The team's graph of triggers, functions and topics with the traffic
    /// of `since..until`.
    pub async fn topology(
        &self,
        who: &Principal,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Topology, PlatformError> {
        self.0.topology(who.team_id, since, until).await
    }

    /// The graph of one application of the team: its functions, their
    /// triggers, topics and stores, and what they call.
    pub async fn application_topology(
        &self,
        who: &Principal,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        application: &str,
    ) -> Result<Topology, PlatformError> {
        let graph = self.0.topology(who.team_id, since, until).await?;
        let functions = self
            .0
            .application_functions(who.team_id, application)
            .await?;
        Ok(graph.scoped_to(&functions.into_iter().collect()))
    }
}
