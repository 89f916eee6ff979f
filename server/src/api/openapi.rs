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
        super::invocations::stream, super::invocations::children, super::traces::get,
        super::logs::search, super::errors::list, super::nodes::list, super::nodes::server,
        super::replay::capture, super::replay::replay, super::replay::replay_failures,
        super::triggers::list, super::triggers::create, super::triggers::get, super::triggers::update,
        super::triggers::delete, super::triggers::preview,
        super::events::publish, super::events::jobs, super::events::stats, super::events::job,
        super::events::dead_letters, super::events::redrive, super::events::kv_list,
        super::events::kv_get, super::events::kv_put, super::events::kv_delete,
        super::topology::topology,
        super::costs::get_plan, super::costs::put_plan, super::costs::report,
        super::costs::download, super::overview::get, super::retention::get,
        super::retention::set_team, super::retention::set_server, super::alerts::list,
        super::applications::plan, super::applications::apply, super::applications::export,
        super::applications::wasm,
        super::alerts::create, super::alerts::get, super::alerts::delete, super::alerts::history, super::tokens::list,
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
        super::teams::WhoAmI, super::teams::SwitchTeam, model::InvocationStatus,
        model::InvocationOutcome, model::TriggerKind, model::Role, model::JobState,
        model::TopologyNodeKind, model::Trace, model::TraceSpan, model::TraceCall,
        model::TracePublish, model::TraceDelivery, model::LogSearchPage, model::LogSearchHit,
        model::LogLine, model::LiveLogLine, model::StructuredLog, model::ErrorGroups,
        model::ErrorGroup, model::Nodes, model::NodeInfo, model::NodeState,
        model::CaptureMode, model::CaptureInfo, model::ReplayRequest, model::ReplayVersion,
        model::ReplayOutbound, model::ReplayResult, model::ReplayDiff, model::StatusDiff,
        model::HeaderDiff, model::TextDiff, model::DiffLine, model::DiffTag, model::OutboundDiff,
        model::ReplayDivergence, model::ReplayFailuresRequest, model::ReplayFailuresResult,
        model::ReplaySummary, model::ReplayVerdict, model::RetentionStatus, model::PrunePass,
        model::RetentionUpdate, model::AppSpec, model::FunctionSpec, model::ApplyPlan,
        model::PlannedChange, model::PlanOp, model::ManifestProblem, model::AlertMetric, model::AlertState, model::NewAlertRule,
        model::AlertRule, model::CreatedAlertRule, model::AlertRules, model::AlertEvent,
        model::AlertHistory, model::AlertNotification, model::ServerInfo, model::BackupSchedule,
        model::BackupFile,
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
        document_common_errors(openapi);
    }
}

/// Answers every operation can give besides its own: 401 without a valid
/// token; 403 when the role does not allow it; 400 for parameters or a body that do not parse; 413, 415 and 422
/// for a body over the limit, of the wrong type or of the wrong shape. All
/// are `ApiError` JSON.
fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("ApiError")))
                        .build(),
                )
                .build(),
        )
    };
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| error(description));
            };
            add("401", "no valid API token");
            add(
                "403",
                "the caller's role in the team (or the token's scope) does not allow this",
            );
            if has_params || has_body {
                add("400", "a parameter or the body is not valid");
            }
            if has_body {
                add("413", "the body is larger than allowed");
                add("415", "the body's content type is not accepted");
                add("422", "the body does not have the expected shape");
            }
        }
    }
}

/// `GET /api/v1/openapi.json` (authenticated, like every route but `/healthz`).
pub async fn document(_auth: super::Authenticated) -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
