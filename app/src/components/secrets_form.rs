//! The function page's secrets panel: the names of the function's secrets,
//! each with a remove button, and a small form to add or replace one. Values
//! are write-only: typed into a password field, sent once through the
//! `save_secrets` server function, never pre-filled and never shown (the
//! server does not return them).

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::SaveSecrets;

#[component]
pub fn SecretsEditor(name: String, secrets: Vec<String>) -> impl IntoView {
    let names = RwSignal::new(secrets);
    let new_name = RwSignal::new(String::new());
    let new_value = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    // Saving needs the browser bundle: the buttons wait for hydration.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let save = ServerAction::<SaveSecrets>::new();
    let pending = save.pending();
    let name = StoredValue::new(name);

    Effect::new(move |_| match save.value().get() {
        Some(Ok(list)) => {
            names.set(list);
            problem.set(None);
            saved.set(true);
        }
        Some(Err(error)) => {
            problem.set(Some(error.to_string()));
            saved.set(false);
        }
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let key = new_name.get_untracked().trim().to_string();
        if !model::is_env_name(&key) {
            problem.set(Some(
                "A secret name is letters, digits and '_', not starting with a digit.".into(),
            ));
            return;
        }
        let value = new_value.get_untracked();
        // The value leaves the page once; the inputs are cleared right away.
        new_value.set(String::new());
        new_name.set(String::new());
        problem.set(None);
        save.dispatch(SaveSecrets {
            name: name.get_value(),
            changes: BTreeMap::from([(key, Some(value))]),
        });
    };
    let remove = move |key: String| {
        saved.set(false);
        save.dispatch(SaveSecrets {
            name: name.get_value(),
            changes: BTreeMap::from([(key, None)]),
        });
    };

    view! {
        <div class="secrets-panel">
            <p class="field-help" id="secrets-help">
                "Given to the function as environment variables; stored encrypted, never shown again."
            </p>
            <ul class="secret-list" aria-label="Secrets">
                <For each=move || names.get() key=|n| n.clone() let:secret>
                    <li class="secret-row">
                        <code class="mono">{secret.clone()}</code>
                        <span class="muted" aria-hidden="true">"••••••"</span>
                        <button
                            type="button"
                            class="btn btn-ghost btn-small btn-icon"
                            aria-label=format!("Remove secret {secret}")
                            title="Remove"
                            disabled=move || pending.get() || !interactive.get()
                            on:click={
                                let secret = secret.clone();
                                move |_| remove(secret.clone())
                            }
                        >
                            <span aria-hidden="true">"×"</span>
                        </button>
                    </li>
                </For>
            </ul>
            {move || names.get().is_empty().then(|| view! { <p class="field-help">"No secrets."</p> })}
            <form class="secret-form" on:submit=on_submit novalidate=true aria-label="Add or replace a secret">
                <div class="kv-row">
                    <input
                        id="secret-name"
                        type="text"
                        class="mono"
                        aria-label="Secret name"
                        placeholder="NAME"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || new_name.get()
                        on:input=move |ev| new_name.set(event_target_value(&ev))
                    />
                    <input
                        id="secret-value"
                        type="password"
                        class="mono"
                        aria-label="Secret value"
                        placeholder="value"
                        autocomplete="new-password"
                        prop:value=move || new_value.get()
                        on:input=move |ev| new_value.set(event_target_value(&ev))
                    />
                    <button type="submit" class="btn btn-small" disabled=move || pending.get() || !interactive.get()>
                        "Set secret"
                    </button>
                </div>
            </form>
            {move || problem.get().map(|message| view! { <p class="field-error" role="alert">{message}</p> })}
            <span class="save-status" role="status" aria-live="polite">
                {move || saved.get().then(|| view! { <span class="saved">"✓ Saved — applies to the next call."</span> })}
            </span>
        </div>
    }
    .into_any()
}
