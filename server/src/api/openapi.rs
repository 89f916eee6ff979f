//! The OpenAPI 3 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Wisp API", description = "Control plane of Wisp, a self-hosted serverless platform for WebAssembly functions."),
    paths(
        super::functions::upload, super::functions::list, super::functions::detail,
        super::functions::update_config, super::functions::set_alias, super::functions::delete,
        super::invocations::invoke, super::invocations::list, super::invocations::get,
        super::invocations::stream, super::invocations::children,
        super::triggers::list, super::triggers::create, super::triggers::get, super::triggers::update,
        super::triggers::delete, super::triggers::preview,
        super::events::publish, super::events::jobs, super::events::stats, super::events::job,
        super::events::dead_letters, super::events::redrive, super::events::kv_list,
        super::events::kv_get, super::events::kv_put, super::events::kv_delete,
        super::topology::topology,
        super::costs::get_plan, super::costs::put_plan, super::costs::report,
        super::costs::download, super::overview::get, super::tokens::list,
        super::tokens::create, super::tokens::revoke,
        super::teams::login, super::teams::whoami, super::teams::list, super::teams::create,
        super::teams::switch, super::teams::create_user, super::teams::members,
        super::teams::set_member, super::teams::remove_member, super::teams::sessions,
        super::teams::revoke_session, super::teams::audit,
    ),
    components(schemas(
        model::FunctionSummary, model::FunctionDetail, model::FunctionConfig,
        model::FunctionConfigPatch, model::FunctionVersion, model::DeployedVersion,
        model::AliasUpdate, model::InvocationRecord, model::ApiError, model::ApiErrorBody,
        model::PricePlan, model::PricePlanUpdate, model::PricePlans, model::CostReport,
        model::FunctionCost, model::UsageCost, model::DailyCost, model::CostProjection,
        model::ServerComparison, model::Trigger, model::TriggerSpec, model::NewTrigger,
        model::CronPreview, model::PublishReceipt, model::AsyncInvocation, model::Job,
        model::QueueStats, model::KvEntry, model::Topology, model::TopologyNode,
        model::TopologyEdge, model::FlowStats, model::GraphLayout, model::NodeBox, model::EdgePath,
        model::ServerComparison, model::Overview, model::InvocationCounts, model::MinuteCount,
        model::FailureSummary, model::ApiTokenInfo, model::NewApiToken, model::CreatedApiToken,
        model::TeamInfo, model::NewTeam, model::NewUser, model::UserInfo, model::Member,
        model::MemberRole, model::SessionInfo, model::AuditEntry, super::teams::Credentials,
        super::teams::WhoAmI, super::teams::SwitchTeam,
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/v1/openapi.json` (authenticated, like every route but `/healthz`).
pub async fn document(_auth: super::Authenticated) -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
