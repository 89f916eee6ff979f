//! `/login`: the sign-in form. Posts to the `login` server function, which
//! sets the session cookie and redirects to `?next=` (or the overview).
//! Works as a plain HTML form before hydration too.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::Login;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || {
        query
            .read()
            .get("next")
            .filter(|next| next.starts_with('/'))
            .unwrap_or_else(|| "/".to_string())
    };
    let error = move || action.value().get().and_then(Result::err);
    let pending = action.pending();

    view! {
        <Title text="Sign in · Wisp" />
        <main class="login-page">
            <div class="login-card">
                <div class="login-brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Wisp"</span>
                </div>
                <h1 class="login-title">"Sign in"</h1>
                <p class="muted login-lede">"Deploy WebAssembly functions and watch every call."</p>
                <ActionForm action attr:class="login-form">
                    <input type="hidden" name="next" value=next />
                    <div class="field">
                        <label for="login-username">"Username"</label>
                        <input
                            id="login-username"
                            name="username"
                            type="text"
                            autocomplete="username"
                            autocapitalize="off"
                            spellcheck="false"
                            required=true
                            autofocus=true
                        />
                    </div>
                    <div class="field">
                        <label for="login-password">"Password"</label>
                        <input
                            id="login-password"
                            name="password"
                            type="password"
                            autocomplete="current-password"
                            required=true
                        />
                    </div>
                    {move || {
                        error()
                            .map(|err| {
                                view! {
                                    <div class="alert alert-error" role="alert">
                                        {err.to_string()}
                                    </div>
                                }
                            })
                    }}
                    <button type="submit" class="btn btn-primary btn-block" disabled=move || pending.get()>
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
                <p class="login-foot muted">
                    "The first start prints the " <code>"admin"</code>
                    " password unless " <code>"WISP_ADMIN_PASSWORD"</code> " was set."
                </p>
            </div>
        </main>
    }
    .into_any()
}
