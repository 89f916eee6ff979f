//! Small shared views for the states every page has: loading, failed, signed
//! out, and the status badge of an invocation. They own no data fetching.

use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_location};
use model::InvocationStatus;

use crate::{error::AppError, format};

/// A placeholder while data loads (shown only on client-side navigation; the
/// server renders pages with their data).
#[component]
pub fn Loading(#[prop(default = "Loading…")] label: &'static str) -> impl IntoView {
    view! {
        <div class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            <span>{label}</span>
        </div>
    }
}

/// Sends the browser to `/login?next=<this page>` (a 302 during server rendering).
#[component]
pub fn RedirectToLogin() -> impl IntoView {
    let location = use_location();
    let path = location.pathname.get_untracked();
    let search = location.search.get_untracked();
    let search = search.trim_start_matches('?');
    let next = if search.is_empty() {
        path
    } else {
        format!("{path}?{search}")
    };
    let target = format!("/login?next={}", format::query_value(&next));
    view! {
        <p class="muted">"Your session has ended. Taking you to the sign-in page…"</p>
        <Redirect path=target />
    }
}

/// Renders one error of a server function the way the user should see it.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    if error == AppError::Unauthorized {
        return view! { <RedirectToLogin /> }.into_any();
    }
    #[cfg(feature = "ssr")]
    if matches!(error, AppError::NotFound(_)) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    let not_found = matches!(error, AppError::NotFound(_));
    view! {
        <div class="panel panel-error" role="alert">
            <h2 class="panel-title">{error.title()}</h2>
            <p>{error.to_string()}</p>
            {not_found
                .then(|| {
                    view! {
                        <p>
                            <a href="/functions">"Back to all functions"</a>
                        </p>
                    }
                })}
        </div>
    }
    .into_any()
}

/// Fallback of an `<ErrorBoundary>`: anything a view threw, listed.
#[component]
pub fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="panel panel-error" role="alert">
            <h2 class="panel-title">"Something went wrong"</h2>
            <ul class="error-list">
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}

/// Green for success, red for anything else.
#[component]
pub fn StatusBadge(status: InvocationStatus) -> impl IntoView {
    let class = if status == InvocationStatus::Success {
        "badge badge-success"
    } else {
        "badge badge-error"
    };
    let label = format::outcome(status.as_str());
    view! { <span class=class>{label}</span> }
}
