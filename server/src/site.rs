//! The dashboard's host: Leptos server-side rendering with hydration, the
//! server functions, the static bundle (`pkg/`, styles, public files:
//! embedded in the binary, or a folder) and the dashboard's security
//! headers. The pages themselves live in `app`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use app::api::door::{self, Door};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use platform::Platform;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::AppError;

/// Where the dashboard's built assets come from.
pub enum SiteSource {
    /// The copy embedded in the binary at build time (server/build.rs).
    Embedded,
    /// A folder (`--site-dir`, a development override, or a binary built
    /// without a site).
    Dir(PathBuf),
}

/// The flag's folder, else the embedded copy, else `site/` beside the
/// binary, else the source tree's `target/site`.
pub fn resolve_site(flag: Option<&Path>) -> SiteSource {
    if let Some(dir) = flag {
        return SiteSource::Dir(dir.to_path_buf());
    }
    if crate::embedded::present() {
        return SiteSource::Embedded;
    }
    if let Some(beside) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("site")))
        .filter(|d| d.join("pkg").is_dir())
    {
        return SiteSource::Dir(beside);
    }
    SiteSource::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"))
}

pub fn router(
    platform: Platform,
    site: &SiteSource,
    addr: SocketAddr,
    gateway_url: String,
    session_cookie: app::api::SessionCookie,
) -> anyhow::Result<Router> {
    let (site_root, output_name, urls) = match site {
        SiteSource::Embedded => {
            let hashed = |path: &str| crate::embedded::hashed(path).unwrap_or(path).to_string();
            let urls = app::SiteUrls {
                stylesheet: hashed("/pkg/wisp.css"),
                icon: hashed("/favicon.svg"),
            };
            let name = crate::embedded::bundle_output_name().unwrap_or("wisp");
            // The root is only read for a wasm-split manifest; there is none.
            (String::new(), name.to_string(), urls)
        }
        SiteSource::Dir(dir) => {
            if !dir.join("pkg").join("wisp.js").is_file() {
                tracing::warn!(
                    site_dir = %dir.display(),
                    "dashboard bundle not found: pages render but will not hydrate (run scripts/build-site.sh)"
                );
            }
            (
                dir.to_string_lossy().to_string(),
                "wisp".to_string(),
                app::SiteUrls::default(),
            )
        }
    };
    let options = LeptosOptions::builder()
        .output_name(output_name)
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let routes = generate_route_list(app::App);
    let context_platform = platform.clone();
    let shell_options = options.clone();
    let static_files = match site {
        SiteSource::Embedded => tower::util::BoxCloneSyncService::new(tower::service_fn(
            |req: axum::http::Request<axum::body::Body>| async move {
                let response =
                    crate::embedded::serve(req.method(), req.uri().path(), req.headers())
                        .unwrap_or_else(|| not_found(req.uri()));
                Ok::<_, std::convert::Infallible>(response)
            },
        )),
        SiteSource::Dir(dir) => tower::util::BoxCloneSyncService::new(
            ServeDir::new(dir)
                .append_index_html_on_directories(false)
                .fallback(tower::service_fn(
                    |req: axum::http::Request<axum::body::Body>| async move {
                        Ok::<_, std::convert::Infallible>(not_found(req.uri()))
                    },
                ))
                .map_response(IntoResponse::into_response),
        ),
    };
    let router = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(context_platform.clone());
                provide_context(app::api::GatewayOrigin(gateway_url.clone()));
                provide_context(session_cookie);
                provide_context(urls.clone());
                set_content_security_policy();
            },
            move || app::shell(shell_options.clone()),
        )
        .fallback_service(static_files)
        .with_state(options)
        .layer(axum::middleware::from_fn(server_fn_error_status))
        .layer(axum::middleware::from_fn(same_origin_rpc))
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

/// CSRF defence for the dashboard's server functions (`/rpc/...`), on top
/// of the SameSite=Strict session cookie: a browser names the page that
/// sent a request (`Origin`, `Sec-Fetch-Site`); a call from a page of
/// another origin is refused with 403 — a change (POST), and a read (GET)
/// too: SameSite lets a page on another port of this host (the gateway)
/// send the cookie, and nothing but the dashboard's own pages needs an
/// answer. Clients that are not browsers send neither header and cannot
/// carry a victim's cookie anyway.
async fn same_origin_rpc(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.uri().path().starts_with("/rpc/")
        && door::csrf_refused(Door::Dashboard, request.headers())
    {
        return AppError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "cross-site requests to the dashboard are refused",
        )
        .into_response();
    }
    next.run(request).await
}

/// A server function that failed answers with the status of its error
/// ([`app::error::AppError::status`]: 401, 403, 404, 400, ...), like the
/// REST API, instead of server_fn's blanket 500. The hydrated page reads the
/// error from the body whatever the status; a plain HTML form post gets
/// server_fn's redirect back to the form, which this leaves alone.
async fn server_fn_error_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let rpc = request.uri().path().starts_with("/rpc/");
    let response = next.run(request).await;
    if !rpc || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
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
