//! The fallback for paths no route matches (404 during server rendering).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Wisp" />
        <main class="login-page">
            <div class="login-card">
                <h1 class="login-title">"Page not found"</h1>
                <p class="muted">"There is nothing at this address."</p>
                <p>
                    <a class="btn btn-primary" href="/functions">
                        "Go to your functions"
                    </a>
                </p>
            </div>
        </main>
    }
}
