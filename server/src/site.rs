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
            },
            move || app::shell(shell_options.clone()),
        )
        .fallback_service(static_files)
        .with_state(options)
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

fn not_found(uri: &Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return AppError::not_found("no such API route").into_response();
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
