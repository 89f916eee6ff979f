//! The REST API (`/api/v1/...`, `/healthz`): one router over one `AppState`,
//! bearer-token (or dashboard-session) authentication as an extractor, and
//! one error type that shows clients a safe JSON message while logging the
//! real cause.

mod alerts;
mod applications;
mod auth;
mod costs;
mod error;
mod errors;
mod events;
mod functions;
mod invocations;
mod logs;
mod nodes;
mod openapi;
mod overview;
mod replay;
mod retention;
mod teams;
mod tokens;
mod topology;
pub(crate) use topology::parse_window;
mod traces;
mod triggers;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use platform::Platform;

pub use app::api::SessionCookie;
pub use auth::Authenticated;
pub use error::AppError;

/// Shared state of the control plane.
#[derive(Clone)]
pub struct AppState {
    pub platform: Platform,
    pub max_upload_bytes: u64,
    /// Where the function gateway listens (shown to API users).
    pub gateway_addr: SocketAddr,
    /// How the session cookie is named and flagged (https or not).
    pub session_cookie: SessionCookie,
}

impl AppState {
    pub fn new(platform: Platform, max_upload_bytes: u64, gateway_addr: SocketAddr) -> Self {
        Self {
            platform,
            max_upload_bytes,
            gateway_addr,
            session_cookie: SessionCookie::default(),
        }
    }

    /// The same state with the session cookie named for `cookie`.
    pub fn with_session_cookie(mut self, cookie: SessionCookie) -> Self {
        self.session_cookie = cookie;
        self
    }
}

/// Largest resolved manifest accepted (its wasm goes up separately).
const APPLY_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Every REST route and its layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(
                |axum::extract::State(state): axum::extract::State<AppState>| async move {
                    health(&state.platform)
                },
            ),
        )
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/status", get(status))
        .route("/api/v1/functions", get(functions::list))
        .route(
            "/api/v1/functions/{name}",
            get(functions::detail)
                .patch(functions::update_config)
                .delete(functions::delete),
        )
        .route(
            "/api/v1/functions/{name}/versions",
            // Uploads enforce their own (larger, configurable) limit with a
            // JSON error; the default 2 MB cap would cut wasm files short.
            post(functions::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/functions/{name}/versions/{version}/wasm",
            get(applications::wasm),
        )
        .route("/api/v1/functions/{name}/alias", post(functions::set_alias))
        .route("/api/v1/functions/{name}/invoke", post(invocations::invoke))
        .route(
            "/api/v1/functions/{name}/invocations",
            get(invocations::list),
        )
        .route("/api/v1/invocations/{id}", get(invocations::get))
        .route("/api/v1/invocations/stream", get(invocations::stream))
        .route("/api/v1/traces/{trace_id}", get(traces::get))
        .route(
            "/api/v1/invocations/{id}/children",
            get(invocations::children),
        )
        .route("/api/v1/logs", get(logs::search))
        .route("/api/v1/errors", get(errors::list))
        .route("/api/v1/nodes", get(nodes::list))
        .route("/api/v1/server", get(nodes::server))
        .route("/api/v1/invocations/{id}/capture", get(replay::capture))
        .route("/api/v1/invocations/{id}/replay", post(replay::replay))
        .route(
            "/api/v1/functions/{name}/replay",
            post(replay::replay_failures),
        )
        .route(
            "/api/v1/price-plan",
            get(costs::get_plan).put(costs::put_plan),
        )
        .route(
            "/api/v1/triggers",
            get(triggers::list).post(triggers::create),
        )
        .route(
            "/api/v1/triggers/{id}",
            get(triggers::get)
                .put(triggers::update)
                .delete(triggers::delete),
        )
        .route("/api/v1/cron/preview", get(triggers::preview))
        .route(
            "/api/v1/topics/{topic}",
            post(events::publish).layer(DefaultBodyLimit::max(platform::MAX_EVENT_BYTES)),
        )
        .route("/api/v1/jobs", get(events::jobs))
        .route("/api/v1/jobs/stats", get(events::stats))
        .route("/api/v1/jobs/{id}", get(events::job))
        .route("/api/v1/dead-letters", get(events::dead_letters))
        .route("/api/v1/dead-letters/{id}/redrive", post(events::redrive))
        .route("/api/v1/kv", get(events::kv_list))
        .route(
            "/api/v1/kv/{application}/{*key}",
            get(events::kv_get)
                .put(events::kv_put)
                .delete(events::kv_delete)
                .layer(DefaultBodyLimit::max(platform::MAX_VALUE_BYTES)),
        )
        .route("/api/v1/topology", get(topology::topology))
        .route("/api/v1/overview", get(overview::get))
        .route("/api/v1/alerts", get(alerts::list).post(alerts::create))
        .route("/api/v1/alerts/history", get(alerts::history))
        .route(
            "/api/v1/alerts/{id}",
            get(alerts::get).delete(alerts::delete),
        )
        .route(
            "/api/v1/applications/{name}/plan",
            post(applications::plan).layer(DefaultBodyLimit::max(APPLY_BODY_LIMIT)),
        )
        .route(
            "/api/v1/applications/{name}/apply",
            post(applications::apply).layer(DefaultBodyLimit::max(APPLY_BODY_LIMIT)),
        )
        .route(
            "/api/v1/applications/{name}/manifest",
            get(applications::export),
        )
        .route("/api/v1/manifest.schema.json", get(applications::schema))
        .route("/api/v1/retention", get(retention::get))
        .route("/api/v1/retention/team", put(retention::set_team))
        .route("/api/v1/retention/server", put(retention::set_server))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", delete(tokens::revoke))
        .route("/api/v1/costs", get(costs::report))
        .route("/api/v1/costs/{file}", get(costs::download))
        .route("/api/v1/login", post(teams::login))
        .route("/api/v1/whoami", get(teams::whoami))
        .route("/api/v1/teams", get(teams::list).post(teams::create))
        .route("/api/v1/session/team", post(teams::switch))
        .route("/api/v1/users", post(teams::create_user))
        .route("/api/v1/team/members", get(teams::members))
        .route(
            "/api/v1/team/members/{username}",
            axum::routing::put(teams::set_member).delete(teams::remove_member),
        )
        .route("/api/v1/sessions", get(teams::sessions))
        .route("/api/v1/sessions/{id}", delete(teams::revoke_session))
        .route("/api/v1/audit", get(teams::audit))
        .with_state(state)
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(close_after_unread_body))
        .layer(axum::middleware::from_fn(api_security_headers))
}

/// The Content-Security-Policy of REST answers: nothing in them may run,
/// load or be framed, should a browser ever render one (an SVG opened from
/// a link, a JSON error shown as a page). Not on PDFs: Chromium's viewer is
/// a plugin that such a policy would block.
pub(crate) const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds `nosniff` and [`API_CSP`] to a REST answer unless it set its own.
pub(crate) async fn api_security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    set_api_security_headers(response.headers_mut());
    response
}

/// See [`api_security_headers`]; also used by the site's 404 for `/api/` paths.
pub(crate) fn set_api_security_headers(headers: &mut axum::http::HeaderMap) {
    use axum::http::{header, HeaderValue};
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    let pdf = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/pdf"));
    if !pdf {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(API_CSP));
    }
}

/// A request rejected before its body was read (401, 403, 404, 413, 429)
/// leaves the body on the wire; hyper then closes the connection, racing a
/// client that already put it back in its pool (seen as `IncompleteMessage`
/// on the client's next request). `Connection: close` on such a response
/// tells the client up front not to reuse the connection.
pub(crate) async fn close_after_unread_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let mut response = next.run(request).await;
    if has_body && response.status().is_client_error() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// `GET /healthz` (both listeners, no token): always 200 while the node
/// serves calls — a load balancer must not take a node out of rotation
/// because its records are late — with `{"status": "ok"}`, or
/// `{"status": "degraded", "recorder": {...}}` when invocation records
/// cannot be written, wait too long or were dropped (the counts and the
/// reasons; the error text itself only in the authenticated
/// `/api/v1/status`).
pub(crate) fn health(platform: &Platform) -> axum::Json<serde_json::Value> {
    let recorder = platform.recorder_health();
    if !recorder.degraded {
        return axum::Json(serde_json::json!({ "status": "ok" }));
    }
    axum::Json(serde_json::json!({
        "status": "degraded",
        "recorder": {
            "reasons": recorder.reasons,
            "lag_secs": recorder.lag_secs,
            "queued": recorder.queued,
            "failures": recorder.failures,
            "dropped": recorder.dropped,
            "failing_since": recorder.failing_since,
        },
    }))
}

/// `GET /metrics`: this node's Prometheus metrics (text format 0.0.4),
/// for a server administrator's token (Prometheus: `authorization:
/// credentials_file:`); see `platform/src/metrics.rs` for the series.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    Authenticated(who): Authenticated,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let text = state.platform.metrics_text(&who).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// `GET /api/v1/status`: what this node serves and whether the compiled
/// artifact cache is being used (compiles since start vs cache hits), and
/// how long each call's sandbox takes to instantiate (p50/p99 since start)
/// and how many calls found theirs instantiated ahead of time; `recorder`:
/// how invocation recording is doing ([`model::RecorderHealth`]).
async fn status(
    axum::extract::State(state): axum::extract::State<AppState>,
    Authenticated(who): Authenticated,
) -> axum::Json<serde_json::Value> {
    let cache = state.platform.cache_stats();
    let inst = state.platform.instantiation_stats();
    axum::Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "database": format!("{:?}", state.platform.backend()).to_lowercase(),
        "live_functions": state.platform.live_function_count(),
        "gateway": state.gateway_addr.to_string(),
        "artifact_cache": {
            "hits": cache.hits,
            "compiles": cache.compiles,
            "baseline_compiles": cache.baseline_compiles,
        },
        "instantiation": {
            "count": inst.count,
            "p50_us": inst.p50_us,
            "p99_us": inst.p99_us,
            "mean_us": inst.mean_us,
            "prewarmed_calls": inst.prewarmed,
        },
        "recording": state.platform.records_invocations(),
        "recorder": state.platform.recorder_health(),
        "queue": state.platform.events().stats(&who).await.ok(),
    }))
}
