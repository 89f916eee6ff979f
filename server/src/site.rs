//! The dashboard's host: Leptos server-side rendering with hydration, the
//! server functions, the static bundle (`pkg/`, styles, public files) and
//! the dashboard's security headers. The pages themselves live in `app`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use platform::Platform;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::AppError;

/// Where the dashboard's built assets are: the flag, else `site/` beside the
/// binary (installed layout), else the source tree's `target/site`.
pub fn resolve_site_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("site")))
        .filter(|d| d.join("pkg").is_dir())
    {
        return beside;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site")
}

pub fn router(
    platform: Platform,
    site_dir: &Path,
    addr: SocketAddr,
    gateway_url: String,
    session_cookie: app::api::SessionCookie,
) -> anyhow::Result<Router> {
    if !site_dir.join("pkg").join("wisp.js").is_file() {
        tracing::warn!(
            site_dir = %site_dir.display(),
            "dashboard bundle not found: pages render but will not hydrate (run scripts/build-site.sh)"
        );
    }
    let options = LeptosOptions::builder()
        .output_name("wisp")
        .site_root(site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let routes = generate_route_list(app::App);
    let context_platform = platform.clone();
    let shell_options = options.clone();
    let static_files = ServeDir::new(site_dir)
        .append_index_html_on_directories(false)
        .fallback(tower::service_fn(
            |req: axum::http::Request<axum::body::Body>| async move {
                Ok::<_, std::convert::Infallible>(not_found(req.uri()))
            },
        ));
    let router = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(context_platform.clone());
                provide_context(app::api::GatewayOrigin(gateway_url.clone()));
                provide_context(session_cookie);
                set_content_security_policy();
            },
            move || app::shell(shell_options.clone()),
        )
        .fallback_service(static_files)
        .with_state(options)
        .layer(axum::middleware::from_fn_with_state(
            (platform.clone(), session_cookie),
            audit_dashboard_changes,
        ))
        .layer(axum::middleware::from_fn(same_origin_changes))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    Ok(router)
}

/// The page's Content-Security-Policy: scripts only from this origin or
/// carrying this response's nonce (Leptos puts it on its hydration and
/// streaming scripts), WebAssembly compilation for the bundle, no plugins,
/// no framing, forms and requests to this origin only.
fn set_content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// CSRF defence for the dashboard's server functions (`POST /rpc/...`), on
/// top of the SameSite=Strict session cookie: a browser names the page that
/// sent a request (`Origin`, `Sec-Fetch-Site`); a change requested by a page
/// of another origin is refused with 403. Clients that are not browsers send
/// neither header and cannot carry a victim's cookie anyway.
async fn same_origin_changes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let changes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if changes && request.uri().path().starts_with("/rpc/") && cross_site(request.headers()) {
        return AppError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "cross-site requests to the dashboard are refused",
        )
        .into_response();
    }
    next.run(request).await
}

/// The dashboard's server functions that change something (the others only
/// read), by URL: each call is written to the team's audit log like a REST
/// change.
fn changing_server_fn(path: &str) -> Option<&'static str> {
    use app::api::{
        ActivateVersion, CreateToken, RevokeToken, SaveConfig, SaveSecrets, TestInvoke,
    };
    use app::events_api::{DeleteTrigger, KvRemove, KvSet, RedriveJob, SaveTrigger};
    use app::team_api::{EndSession, RemoveMember, SetMemberRole, SwitchTeam};
    use leptos::server_fn::ServerFn;
    [
        (ActivateVersion::PATH, "activate_version"),
        (SaveConfig::PATH, "save_config"),
        (SaveSecrets::PATH, "save_secrets"),
        (TestInvoke::PATH, "test_invoke"),
        (CreateToken::PATH, "create_token"),
        (RevokeToken::PATH, "revoke_token"),
        (SaveTrigger::PATH, "save_trigger"),
        (DeleteTrigger::PATH, "delete_trigger"),
        (RedriveJob::PATH, "redrive_job"),
        (KvSet::PATH, "kv_set"),
        (KvRemove::PATH, "kv_remove"),
        (SwitchTeam::PATH, "switch_team"),
        (SetMemberRole::PATH, "set_member_role"),
        (RemoveMember::PATH, "remove_member"),
        (EndSession::PATH, "end_session"),
    ]
    .into_iter()
    .find(|(fn_path, _)| *fn_path == path)
    .map(|(_, name)| name)
}

/// Records the dashboard's changing server-function calls (who, which
/// action, how it ended) in the caller's team's audit log.
async fn audit_dashboard_changes(
    axum::extract::State((platform, session_cookie)): axum::extract::State<(
        Platform,
        app::api::SessionCookie,
    )>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(action) = changing_server_fn(request.uri().path()) else {
        return next.run(request).await;
    };
    let session = session_cookie
        .token_in(request.headers())
        .map(str::to_string);
    let response = next.run(request).await;
    let Some(session) = session else {
        return response;
    };
    if let Ok(who) = platform.session_user(&session).await {
        let status = response.status().as_u16();
        if let Err(e) = platform
            .record_audit(&who, "dashboard", action, status)
            .await
        {
            tracing::error!(error = %e, action, "writing the audit log");
        }
    }
    response
}

/// Whether the browser says the request comes from another site or origin.
pub(crate) fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    origin_host != host
}

fn not_found(uri: &Uri) -> Response {
    if uri.path().starts_with("/api/") {
        let mut response = AppError::not_found("no such API route").into_response();
        crate::api::set_api_security_headers(response.headers_mut());
        return response;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The gateway's URL as a browser on this machine reaches it: an unspecified
/// bind address (0.0.0.0, ::) is shown as loopback.
pub fn default_gateway_url(gateway_addr: SocketAddr) -> String {
    let mut shown = gateway_addr;
    if shown.ip().is_unspecified() {
        shown.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{shown}")
}
