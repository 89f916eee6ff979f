//! The function page's configuration form: memory, timeout, concurrency,
//! environment variables, outbound hosts and which calls are recorded for
//! replay. It checks the values in the
//! browser (the platform's own rules, through `ConfigForm::parse`), saves
//! through the `save_config` server function, and shows every problem — its
//! own or the server's — beside the field it belongs to.

use leptos::prelude::*;
use model::{ConfigProblem, FunctionConfig};

use crate::api::{ConfigForm, ConfigSaveOutcome, SaveConfig};

/// One editable row (an environment variable or a host); `id` keys the list.
#[derive(Clone, Copy)]
struct Row {
    id: u32,
    key: RwSignal<String>,
    value: RwSignal<String>,
}

fn rows_from(pairs: impl IntoIterator<Item = (String, String)>, next_id: &mut u32) -> Vec<Row> {
    pairs
        .into_iter()
        .map(|(key, value)| {
            *next_id += 1;
            Row {
                id: *next_id,
                key: RwSignal::new(key),
                value: RwSignal::new(value),
            }
        })
        .collect()
}

#[component]
pub fn ConfigEditor(name: String, config: FunctionConfig) -> impl IntoView {
    let mut ids = 0;
    let memory = RwSignal::new(config.memory_mb.to_string());
    let timeout = RwSignal::new(config.timeout_ms.to_string());
    let concurrency = RwSignal::new(config.max_concurrency.to_string());
    let capture = RwSignal::new(config.capture.as_str().to_string());
    let env = RwSignal::new(rows_from(config.env, &mut ids));
    let hosts = RwSignal::new(rows_from(
        config.allowed_hosts.into_iter().map(|h| (h, String::new())),
        &mut ids,
    ));
    let next_id = StoredValue::new(ids);
    let new_row = move || {
        next_id.update_value(|n| *n += 1);
        Row {
            id: next_id.get_value(),
            key: RwSignal::new(String::new()),
            value: RwSignal::new(String::new()),
        }
    };
    let problems = RwSignal::new(Vec::<ConfigProblem>::new());
    let saved = RwSignal::new(false);
    // Saving needs the browser bundle: the button waits for hydration.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let save = ServerAction::<SaveConfig>::new();
    let pending = save.pending();
    let name = StoredValue::new(name);

    Effect::new(move |_| match save.value().get() {
        Some(Ok(ConfigSaveOutcome::Saved(_))) => {
            problems.set(Vec::new());
            saved.set(true);
        }
        Some(Ok(ConfigSaveOutcome::Invalid(list))) => problems.set(list),
        Some(Err(error)) => problems.set(vec![ConfigProblem {
            field: "form".into(),
            message: error.to_string(),
        }]),
        None => {}
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let form = ConfigForm {
            memory_mb: memory.get_untracked(),
            timeout_ms: timeout.get_untracked(),
            max_concurrency: concurrency.get_untracked(),
            env: env
                .get_untracked()
                .iter()
                .map(|row| (row.key.get_untracked(), row.value.get_untracked()))
                .collect(),
            allowed_hosts: hosts
                .get_untracked()
                .iter()
                .map(|row| row.key.get_untracked())
                .collect(),
            capture: capture.get_untracked(),
        };
        match form.parse() {
            Err(list) => problems.set(list),
            Ok(_) => {
                problems.set(Vec::new());
                save.dispatch(SaveConfig {
                    name: name.get_value(),
                    form,
                });
            }
        }
    };
    // The messages of one field, and whether it has any.
    let messages = move |field: &'static str| {
        move || {
            problems
                .get()
                .into_iter()
                .filter(|p| p.field == field)
                .map(|p| p.message)
                .collect::<Vec<_>>()
        }
    };
    let invalid = move |field: &'static str| {
        move || problems.get().iter().any(|p| p.field == field).to_string()
    };
    let error_text = move |field: &'static str, id: &'static str| {
        let list = messages(field);
        move || {
            let list = list();
            (!list.is_empty()).then(|| {
                view! {
                    <p class="field-error" id=id role="alert">
                        {list.join(" ")}
                    </p>
                }
            })
        }
    };
    let number_field = move |id: &'static str,
                             label: &'static str,
                             help: &'static str,
                             field: &'static str,
                             value: RwSignal<String>| {
        let error_id: &'static str = match field {
            "memory_mb" => "cfg-memory-error",
            "timeout_ms" => "cfg-timeout-error",
            _ => "cfg-concurrency-error",
        };
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input
                    id=id
                    name=field
                    type="text"
                    inputmode="numeric"
                    autocomplete="off"
                    prop:value=move || value.get()
                    on:input=move |ev| {
                        saved.set(false);
                        value.set(event_target_value(&ev))
                    }
                    aria-invalid=invalid(field)
                    aria-describedby=format!("{id}-help {error_id}")
                />
                <p class="field-help" id=format!("{id}-help")>{help}</p>
                {error_text(field, error_id)}
            </div>
        }
    };

    view! {
        <form class="config-form" on:submit=on_submit novalidate=true aria-labelledby="config-title">
            <div class="config-numbers">
                {number_field("cfg-memory", "Memory (MiB)", "1–4096; default 128.", "memory_mb", memory)}
                {number_field("cfg-timeout", "Timeout (ms)", "Up to 900000 (15 min).", "timeout_ms", timeout)}
                {number_field("cfg-concurrency", "Max concurrency", "Calls at once; more get 429.", "max_concurrency", concurrency)}
            </div>
            <fieldset class="field rows-field" aria-describedby="cfg-env-error">
                <legend class="field-label">"Environment variables"</legend>
                <For each=move || env.get() key=|row| row.id let:row>
                    <div class="kv-row">
                        <input
                            type="text"
                            class="mono"
                            aria-label="Variable name"
                            placeholder="NAME"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || row.key.get()
                            on:input=move |ev| row.key.set(event_target_value(&ev))
                            aria-invalid=invalid("env")
                        />
                        <input
                            type="text"
                            class="mono"
                            aria-label=move || format!("Value of {}", row.key.get())
                            placeholder="value"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || row.value.get()
                            on:input=move |ev| row.value.set(event_target_value(&ev))
                        />
                        <button
                            type="button"
                            class="btn btn-ghost btn-small btn-icon"
                            aria-label=move || format!("Remove variable {}", row.key.get())
                            title="Remove"
                            on:click=move |_| env.update(|rows| rows.retain(|r| r.id != row.id))
                        >
                            <span aria-hidden="true">"×"</span>
                        </button>
                    </div>
                </For>
                {move || env.get().is_empty().then(|| view! { <p class="field-help">"None set."</p> })}
                <div>
                    <button type="button" class="btn btn-small" on:click=move |_| env.update(|rows| rows.push(new_row()))>
                        "Add variable"
                    </button>
                </div>
                {error_text("env", "cfg-env-error")}
            </fieldset>
            <fieldset class="field rows-field" aria-describedby="cfg-hosts-help cfg-hosts-error">
                <legend class="field-label">"Allowed outbound hosts"</legend>
                <p class="field-help" id="cfg-hosts-help">
                    "Outbound HTTP is denied except to these hosts (" <code>"api.example.com"</code> ", "
                    <code>"*.example.com"</code> ")."
                </p>
                <For each=move || hosts.get() key=|row| row.id let:row>
                    <div class="host-row">
                        <input
                            type="text"
                            class="mono"
                            aria-label="Allowed host"
                            placeholder="api.example.com"
                            autocomplete="off"
                            spellcheck="false"
                            prop:value=move || row.key.get()
                            on:input=move |ev| row.key.set(event_target_value(&ev))
                            aria-invalid=invalid("allowed_hosts")
                        />
                        <button
                            type="button"
                            class="btn btn-ghost btn-small btn-icon"
                            aria-label=move || format!("Remove host {}", row.key.get())
                            title="Remove"
                            on:click=move |_| hosts.update(|rows| rows.retain(|r| r.id != row.id))
                        >
                            <span aria-hidden="true">"×"</span>
                        </button>
                    </div>
                </For>
                <div>
                    <button type="button" class="btn btn-small" on:click=move |_| hosts.update(|rows| rows.push(new_row()))>
                        "Add host"
                    </button>
                </div>
                {error_text("allowed_hosts", "cfg-hosts-error")}
            </fieldset>
            <div class="field">
                <label for="cfg-capture">"Record calls for replay"</label>
                <select
                    id="cfg-capture"
                    name="capture"
                    prop:value=move || capture.get()
                    on:change=move |ev| {
                        saved.set(false);
                        capture.set(event_target_value(&ev))
                    }
                    aria-describedby="cfg-capture-help cfg-capture-error"
                >
                    <option value="failures">"Failed calls (default)"</option>
                    <option value="all">"Every call"</option>
                    <option value="off">"None"</option>
                </select>
                <p class="field-help" id="cfg-capture-help">
                    "A recorded call can be replayed exactly, on this or a newer version. Recordings are encrypted and kept 30 days; secret values are never stored."
                </p>
                {error_text("capture", "cfg-capture-error")}
            </div>
            {error_text("form", "cfg-form-error")}
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get() || !interactive.get()>
                    {move || if pending.get() { "Saving…" } else { "Save configuration" }}
                </button>
                <span class="save-status" role="status" aria-live="polite">
                    {move || saved.get().then(|| view! { <span class="saved">"✓ Saved — applies to the next call."</span> })}
                </span>
            </div>
        </form>
    }
    .into_any()
}
