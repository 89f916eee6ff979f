//! The frame around every signed-in page: the top bar (brand, navigation,
//! who is signed in, Sign out) and the page outlet. It checks the session once
//! per visit and sends a signed-out visitor to `/login`.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use crate::{
    api::{current_user, Logout},
    components::{feedback::RedirectToLogin, recorder_banner::RecorderBanner},
    error::AppError,
};

#[component]
pub fn AppFrame() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let logout = ServerAction::<Logout>::new();

    view! {
        <div class="app">
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <header class="topbar">
                <div class="topbar-inner">
                    <A href="/" attr:class="brand">
                        <span class="brand-mark" aria-hidden="true"></span>
                        <span class="brand-name">"Wisp"</span>
                    </A>
                    <nav class="nav" aria-label="Main">
                        <A href="/" exact=true>"Overview"</A>
                        <A href="/functions">"Functions"</A>
                        <A href="/logs">"Logs"</A>
                        <A href="/errors">"Errors"</A>
                        <A href="/alerts">"Alerts"</A>
                        <A href="/triggers">"Triggers"</A>
                        <A href="/topology">"Topology"</A>
                        <A href="/events">"Events"</A>
                        <A href="/costs">"Costs"</A>
                        <A href="/team">"Team"</A>
                        <A href="/nodes">"Nodes"</A>
                        <A href="/settings">"Settings"</A>
                    </nav>
                    <div class="account">
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                match user.await {
                                    Ok(name) => {
                                        view! {
                                            <span class="account-name" title="Signed in">
                                                <span class="avatar" aria-hidden="true">
                                                    {name.chars().next().unwrap_or('?').to_ascii_uppercase()}
                                                </span>
                                                <span class="account-label">{name}</span>
                                            </span>
                                        }
                                            .into_any()
                                    }
                                    Err(AppError::Unauthorized) => view! { <RedirectToLogin /> }.into_any(),
                                    Err(_) => ().into_any(),
                                }
                            })}
                        </Transition>
                        <ActionForm action=logout attr:class="signout-form">
                            <button type="submit" class="btn btn-ghost btn-small">
                                "Sign out"
                            </button>
                        </ActionForm>
                    </div>
                </div>
            </header>
            <main id="main" class="content">
                <RecorderBanner />
                <Outlet />
            </main>
        </div>
    }
    .into_any()
}
