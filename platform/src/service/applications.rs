//! Applications as code through the one door: any member of a team exports
//! an application; developers plan a manifest against it and apply one
//! (each plan and each apply is one audit record: an apply is the whole
//! change set, under the application's name).

use model::{AppSpec, ApplyPlan, PlanOp};

use super::Change;
use crate::{Platform, PlatformError, Principal, Role};

/// The caller's team's applications (see [`Platform::applications`]).
pub struct Applications<'a>(pub(super) &'a Platform);

impl Applications<'_> {
    /// What applying `spec` to application `app` would change (nothing is
    /// changed), with the manifest's problems and the uploads it needs.
    pub async fn plan(
        &self,
        who: &Principal,
        app: &str,
        spec: &AppSpec,
        prune: bool,
    ) -> Result<ApplyPlan, PlatformError> {
        let target = format!("application {app}");
        self.0
            .audited(who, "plan", &target, Change::Update, async {
                who.require(Role::Developer)?;
                Ok(self
                    .0
                    .plan_application(who.team_id, app, spec, prune)
                    .await?
                    .plan)
            })
            .await
    }

    /// Converges application `app` to `spec` in one audited change set.
    pub async fn apply(
        &self,
        who: &Principal,
        app: &str,
        spec: &AppSpec,
        prune: bool,
    ) -> Result<ApplyPlan, PlatformError> {
        let mut summary = format!("application {app}");
        let plan = self
            .0
            .audited(
                who,
                "apply",
                &format!("application {app}"),
                Change::Update,
                async {
                    who.require(Role::Developer)?;
                    let plan = self
                        .0
                        .apply_application(who.team_id, app, spec, prune)
                        .await?;
                    let count = |op| plan.changes.iter().filter(|c| c.op == op).count();
                    summary = format!(
                        "application {app}: {} created, {} changed, {} deleted",
                        count(PlanOp::Create),
                        count(PlanOp::Change),
                        count(PlanOp::Delete)
                    );
                    Ok(plan)
                },
            )
            .await?;
        tracing::info!(summary, "applied");
        Ok(plan)
    }

    /// Application `app` as deployed: its functions' code by SHA-256, every
    /// setting, secret names and triggers (`wisp export`).
    pub async fn export(&self, who: &Principal, app: &str) -> Result<AppSpec, PlatformError> {
        who.require(Role::Viewer)?;
        self.0.application_spec(who.team_id, app).await
    }
}
