//! `/settings`: the signed-in user's API tokens for the current team — create
//! one with a role up to the user's and an expiry (30 or 90 days, or never;
//! its secret is shown once, with a copy button), list them (name, prefix,
//! role, created, last used; the expiry under the name) and revoke
//! one after a confirmation. Revoked tokens stop working at once. Below,
//! data retention: the team's period (owners) and the server's (admins);
//! for administrators, the server itself (version, uptime, data, backups,
//! price plan).

use leptos::prelude::*;
use leptos_meta::Title;
use model::{ApiTokenInfo, CreatedApiToken};

use crate::{
    api::{list_tokens, CreateToken, RevokeToken},
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        retention_card::RetentionCard,
        server_card::ServerCard,
    },
    format,
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );

    view! {
        <Title text="Settings · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Settings"</h1>
                <p class="lede">
                    "API tokens let the " <code>"wisp"</code>
                    " CLI, scripts and CI call the REST API as you (" <code>"Authorization: Bearer …"</code> ")."
                </p>
            </div>
        </div>
        <div class="split">
            <section class="card card-flush" aria-labelledby="tokens-title">
                <div class="card-head">
                    <h2 id="tokens-title">"API tokens"</h2>
                </div>
                <Transition fallback=|| view! { <Loading /> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                        {move || Suspend::new(async move {
                            match tokens.await {
                                Ok(list) if list.is_empty() => {
                                    view! {
                                        <div class="empty empty-compact">
                                            <p>"No active tokens. Create one to use the CLI or the REST API."</p>
                                        </div>
                                    }
                                        .into_any()
                                }
                                Ok(list) => view! { <TokenTable tokens=list revoke /> }.into_any(),
                                Err(error) => {
                                    view! {
                                        <div class="card-body">
                                            <ErrorPanel error />
                                        </div>
                                    }
                                        .into_any()
                                }
                            }
                        })}
                    </ErrorBoundary>
                </Transition>
            </section>
            <aside class="card" aria-labelledby="new-token-title">
                <h2 id="new-token-title">"Create a token"</h2>
                <p class="muted card-lede">"Name it after where it will live, so you know what to revoke later."</p>
                <ActionForm action=create attr:class="token-form">
                    <div class="field">
                        <label for="token-name">"Token name"</label>
                        <input id="token-name" name="name" type="text" placeholder="ci deploys" autocomplete="off" required=true maxlength="100" />
                    </div>
                    <div class="field">
                        <label for="token-role">"Role"</label>
                        <select id="token-role" name="role">
                            <option value="" selected=true>"Same as mine"</option>
                            <option value="developer">"developer (deploy, configure, invoke)"</option>
                            <option value="viewer">"viewer (read only)"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="token-expires">"Expires"</label>
                        <select id="token-expires" name="expires">
                            <option value="30">"in 30 days"</option>
                            <option value="90" selected=true>"in 90 days"</option>
                            <option value="">"never"</option>
                        </select>
                    </div>
                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>
                        {move || if create.pending().get() { "Creating…" } else { "Create token" }}
                    </button>
                </ActionForm>
                {move || match create.value().get() {
                    Some(Ok(created)) => view! { <NewToken created /> }.into_any(),
                    Some(Err(error)) => view! {
                        <div class="alert alert-error" role="alert">{error.to_string()}</div>
                    }
                        .into_any(),
                    None => ().into_any(),
                }}
            </aside>
        </div>
        <RetentionCard />
        <ServerCard />
    }
    .into_any()
}

/// The secret of a token just created: shown once, with a copy button.
#[component]
fn NewToken(created: CreatedApiToken) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let token = StoredValue::new(created.token.clone());
    let copy = move |_| {
        let ok = copy_to_clipboard(&token.get_value());
        copied.set(Some(ok));
    };
    view! {
        <div class="alert alert-success new-token" role="status">
            <p>
                <strong>"Token “" {created.info.name.clone()} "” created."</strong>
                " Copy it now: it is shown only this once."
            </p>
            <div class="token-copy">
                <label class="visually-hidden" for="new-token-value">
                    "New API token"
                </label>
                <input id="new-token-value" class="mono" type="text" readonly=true value=created.token.clone() />
                <button type="button" class="btn btn-small" on:click=copy>
                    {move || match copied.get() {
                        Some(true) => "Copied",
                        _ => "Copy",
                    }}
                </button>
            </div>
            {move || (copied.get() == Some(false)).then(|| view! {
                <p class="small">"The browser refused the clipboard; select the token and copy it by hand."</p>
            })}
        </div>
    }
}

/// Writes `text` to the clipboard (browser only); false when refused.
fn copy_to_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(window) = web_sys::window() else {
            return false;
        };
        let clipboard = js_sys::Reflect::get(&window.navigator(), &"clipboard".into())
            .ok()
            .filter(|value| !value.is_undefined());
        let Some(clipboard) = clipboard else {
            return false;
        };
        let write = js_sys::Reflect::get(&clipboard, &"writeText".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match write {
            Some(write) => write.call1(&clipboard, &text.into()).is_ok(),
            None => false,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

#[component]
fn TokenTable(tokens: Vec<ApiTokenInfo>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let confirming = RwSignal::new(None::<i64>);
    let pending = revoke.pending();
    let rows = tokens
        .into_iter()
        .map(|token| {
            let id = token.id;
            let label = token.name.clone();
            let action = move || {
                if confirming.get() == Some(id) {
                    let label = label.clone();
                    view! {
                        <span class="confirm" role="group" aria-label=format!("Confirm revoking {label}")>
                            <span class="confirm-text">"Revoke?"</span>
                            <button
                                type="button"
                                class="btn btn-danger btn-small"
                                disabled=move || pending.get()
                                on:click=move |_| {
                                    revoke.dispatch(RevokeToken { id });
                                }
                            >
                                {move || if pending.get() { "Revoking…" } else { "Revoke" }}
                            </button>
                            <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirming.set(None)>
                                "Cancel"
                            </button>
                        </span>
                    }
                        .into_any()
                } else {
                    view! {
                        <button
                            type="button"
                            class="btn btn-small"
                            aria-label=format!("Revoke token {label}")
                            on:click=move |_| confirming.set(Some(id))
                        >
                            "Revoke"
                        </button>
                    }
                        .into_any()
                }
            };
            let last_used = match token.last_used_at {
                Some(at) => format::datetime(&at).into_any(),
                None => view! { <span class="muted">"Never"</span> }.into_any(),
            };
            // Under the name, so the Revoke button stays inside the card.
            let expires = match token.expires_at {
                Some(at) => format!("expires {}", at.format("%Y-%m-%d")),
                None => "never expires".to_string(),
            };
            view! {
                <tr data-token=id>
                    <th scope="row">
                        {token.name.clone()}
                        <div class="muted small">{expires}</div>
                    </th>
                    <td class="mono nowrap">
                        {token.prefix.clone().map(|p| format!("{p}…")).unwrap_or_else(|| "—".into())}
                    </td>
                    <td>{token.role.as_str()}</td>
                    // The two times may wrap (date over time) so the Revoke
                    // button stays inside the card beside the create form.
                    <td>{format::datetime(&token.created_at)}</td>
                    <td>{last_used}</td>
                    <td class="actions">{action}</td>
                </tr>
            }
        })
        .collect_view();
    let error = move || {
        revoke.value().get().and_then(Result::err).map(|error| {
            view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }
        })
    };
    view! {
        {error}
        <div class="table-wrap">
            <table class="table token-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Prefix"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Created (UTC)"</th>
                        <th scope="col">"Last used (UTC)"</th>
                        <th scope="col" class="actions">
                            <span class="visually-hidden">"Revoke"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
