//! Wisp's dashboard: a Leptos app rendered on the server (feature `ssr`, used
//! by the `wisp` binary) and hydrated in the browser (feature `hydrate`, built
//! to `pkg/wisp.js` + `pkg/wisp_bg.wasm` by `scripts/build-site.sh`).
//!
//! It owns the pages, their components and thin `#[server]` functions; the
//! domain stays in `platform`, reached through the Leptos context the server
//! provides (`platform::Platform`, and optionally [`api::GatewayOrigin`]).
//! Uploads go straight to the REST API (`POST /api/v1/functions/{name}/versions`).

// Leptos view types nest deeply; debug builds of the hydrate bundle need room.
#![recursion_limit = "256"]

pub mod alerts_api;
pub mod api;
pub mod applications_api;
pub mod components;
pub mod error;
pub mod errors_api;
pub mod events_api;
pub mod format;
pub mod logs_api;
pub mod nodes_api;
pub mod pages;
pub mod replay_api;
pub mod retention_api;
pub mod team_api;
pub mod traces_api;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Meta, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

use crate::{
    components::layout::AppFrame,
    pages::{
        alerts::AlertsPage, application::ApplicationPage, costs::CostsPage, errors::ErrorsPage,
        events::EventsPage, function::FunctionPage, functions::FunctionsPage,
        invocation::InvocationPage, login::LoginPage, logs::LogsPage, nodes::NodesPage,
        not_found::NotFoundPage, overview::OverviewPage, settings::SettingsPage, team::TeamPage,
        topology::TopologyPage, trace::TracePage, triggers::TriggersPage,
    },
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let urls = use_context::<SiteUrls>().unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <link rel="stylesheet" id="leptos" href=urls.stylesheet />
                <link rel="icon" type="image/svg+xml" href=urls.icon />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Where the shell links the stylesheet and the icon: content-hashed names
/// when the server serves its embedded copy of the site (the server
/// provides them as context), the plain names otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteUrls {
    pub stylesheet: String,
    pub icon: String,
}

impl Default for SiteUrls {
    fn default() -> Self {
        Self {
            stylesheet: "/pkg/wisp.css".to_string(),
            icon: "/favicon.svg".to_string(),
        }
    }
}

/// The dashboard. Every route renders with its data on the server
/// (`SsrMode::Async`), so a signed-out visitor gets a real `302` to `/login`.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Marks the page as interactive once hydration has run; end-to-end tests
    // wait for `body[data-hydrated]` before they click.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Meta name="color-scheme" content="light" />
        <Title text="Wisp" />
        <Router>
            <Routes fallback=|| view! { <NotFoundPage /> }>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=AppFrame ssr=SsrMode::Async>
                    <Route path=path!("/") view=OverviewPage ssr=SsrMode::Async />
                    <Route path=path!("/functions") view=FunctionsPage ssr=SsrMode::Async />
                    <Route path=path!("/functions/:name") view=FunctionPage ssr=SsrMode::Async />
                    <Route path=path!("/costs") view=CostsPage ssr=SsrMode::Async />
                    <Route path=path!("/applications/:name") view=ApplicationPage ssr=SsrMode::Async />
                    <Route path=path!("/invocations/:id") view=InvocationPage ssr=SsrMode::Async />
                    <Route path=path!("/traces/:id") view=TracePage ssr=SsrMode::Async />
                    <Route path=path!("/logs") view=LogsPage ssr=SsrMode::Async />
                    <Route path=path!("/errors") view=ErrorsPage ssr=SsrMode::Async />
                    <Route path=path!("/nodes") view=NodesPage ssr=SsrMode::Async />
                    <Route path=path!("/alerts") view=AlertsPage ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("/team") view=TeamPage ssr=SsrMode::Async />
                    <Route path=path!("/triggers") view=TriggersPage ssr=SsrMode::Async />
                    <Route path=path!("/events") view=EventsPage ssr=SsrMode::Async />
                    <Route path=path!("/topology") view=TopologyPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Entry point of the browser bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
