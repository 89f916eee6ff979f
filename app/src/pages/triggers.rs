//! `/triggers`: every trigger (what fires it, which function, the next cron
//! fire times or a queue's connection status) with delete, and a form that
//! creates one of each kind; a cron schedule shows its next five fire times
//! as you type.

use leptos::prelude::*;
use leptos_meta::Title;
use model::{Trigger, TriggerSpec};

use crate::{
    components::feedback::{ErrorList, ErrorPanel, Loading},
    events_api::{cron_preview, function_names, list_triggers, DeleteTrigger, SaveTrigger},
    format,
};

const KINDS: [(&str, &str); 6] = [
    ("http", "HTTP route"),
    ("cron", "Cron schedule"),
    ("topic", "Topic"),
    ("nats", "NATS subject"),
    ("redis", "Redis stream"),
    ("mqtt", "MQTT topic"),
];

#[component]
pub fn TriggersPage() -> impl IntoView {
    let create = ServerAction::<SaveTrigger>::new();
    let draft = Draft::new();
    let delete = ServerAction::<DeleteTrigger>::new();
    let triggers = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_triggers(),
    );
    view! {
        <Title text="Triggers · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Triggers"</h1>
                <p class="lede">
                    "What calls your functions: HTTP routes at the gateway root, schedules, topics and external queues. Every trigger delivers a call as an HTTP request."
                </p>
            </div>
        </div>
        <div class="split">
            <section class="card card-flush" aria-labelledby="triggers-title">
                <div class="card-head">
                    <h2 id="triggers-title">"All triggers"</h2>
                </div>
                <Transition fallback=|| view! { <Loading /> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                        {move || Suspend::new(async move {
                            match triggers.await {
                                Ok(list) if list.is_empty() => view! { <NoTriggers /> }.into_any(),
                                Ok(list) => view! { <TriggerTable triggers=list delete draft /> }.into_any(),
                                Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                            }
                        })}
                    </ErrorBoundary>
                </Transition>
            </section>
            <aside class="card" aria-labelledby="new-trigger-title">
                <h2 id="new-trigger-title">
                    {move || if draft.id.get().is_empty() { "New trigger" } else { "Edit trigger" }}
                </h2>
                <TriggerForm create draft />
            </aside>
        </div>
    }
    .into_any()
}

#[component]
fn TriggerTable(
    triggers: Vec<Trigger>,
    delete: ServerAction<DeleteTrigger>,
    draft: Draft,
) -> impl IntoView {
    let rows = triggers
        .into_iter()
        .map(|t| {
            let next = match (&t.spec, t.next_fires.first(), &t.status) {
                (TriggerSpec::Cron { .. }, Some(at), _) => {
                    format!("next {}", format::datetime(at))
                }
                (_, _, Some(status)) => status.clone(),
                _ => String::new(),
            };
            let href = format!("/functions/{}", t.function);
            let id = t.id.clone();
            let editing = t.clone();
            let label = t.spec.describe();
            view! {
                <tr data-trigger=id>
                    <td><span class="tag">{t.spec.kind()}</span></td>
                    <td class="break"><code>{t.spec.describe()}</code></td>
                    <td><a class="row-link" href=href>{t.function.clone()}</a></td>
                    <td class="muted">{next}</td>
                    <td class="num actions">
                        <button
                            type="button"
                            class="btn btn-ghost btn-small"
                            aria-label=format!("Edit trigger {label}")
                            on:click=move |_| draft.load(&editing)
                        >
                            "Edit"
                        </button>
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=t.id.clone() />
                            <button
                                type="submit"
                                class="btn btn-ghost btn-small"
                                aria-label=format!("Delete trigger {}", t.spec.describe())
                            >
                                "Delete"
                            </button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Fires on"</th>
                        <th scope="col">"Function"</th>
                        <th scope="col">"Next / status"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {move || delete.value().get().and_then(|r| r.err()).map(|error| view! { <div class="card-body"><ErrorPanel error /></div> })}
    }
    .into_any()
}

#[component]
fn NoTriggers() -> impl IntoView {
    view! {
        <div class="empty">
            <div class="empty-mark" aria-hidden="true"></div>
            <h3>"No triggers yet"</h3>
            <p>"Functions are reachable at /fn/NAME/ on the gateway. Add a route, a schedule or a topic with the form, or from a terminal:"</p>
            <pre class="code-block"><code>"wisp triggers http hello /hello"</code></pre>
        </div>
    }
    .into_any()
}

/// The form's fields, shared with the table's Edit buttons.
#[derive(Clone, Copy)]
struct Draft {
    /// Empty for a new trigger.
    id: RwSignal<String>,
    kind: RwSignal<String>,
    function: RwSignal<String>,
    route: RwSignal<String>,
    methods: RwSignal<String>,
    schedule: RwSignal<String>,
    timezone: RwSignal<String>,
    topic: RwSignal<String>,
    url: RwSignal<String>,
    subject: RwSignal<String>,
    stream: RwSignal<String>,
    group: RwSignal<String>,
}

impl Draft {
    fn new() -> Self {
        let s = |v: &str| RwSignal::new(v.to_string());
        Self {
            id: s(""),
            kind: s("http"),
            function: s(""),
            route: s(""),
            methods: s(""),
            schedule: s("*/5 * * * *"),
            timezone: s("UTC"),
            topic: s(""),
            url: s(""),
            subject: s(""),
            stream: s(""),
            group: s(""),
        }
    }

    /// Fills the form with an existing trigger for editing.
    fn load(&self, t: &Trigger) {
        self.id.set(t.id.clone());
        self.kind.set(t.spec.kind().to_string());
        self.function.set(t.function.clone());
        match &t.spec {
            TriggerSpec::Http { route, methods } => {
                self.route.set(route.clone());
                self.methods.set(methods.join(", "));
            }
            TriggerSpec::Cron { schedule, timezone } => {
                self.schedule.set(schedule.clone());
                self.timezone.set(timezone.clone());
            }
            TriggerSpec::Topic { topic } => self.topic.set(topic.clone()),
            TriggerSpec::Nats {
                url,
                subject,
                stream,
            } => {
                self.url.set(url.clone());
                self.subject.set(subject.clone());
                self.stream.set(stream.clone().unwrap_or_default());
            }
            TriggerSpec::Redis { url, stream, group } => {
                self.url.set(url.clone());
                self.stream.set(stream.clone());
                self.group.set(group.clone().unwrap_or_default());
            }
            TriggerSpec::Mqtt { url, topic } => {
                self.url.set(url.clone());
                self.topic.set(topic.clone());
            }
        }
    }
}

/// A text field bound to a draft signal.
#[component]
fn TextField(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] help: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input type="text" id=id name=name placeholder=placeholder prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev)) />
            {(!help.is_empty()).then(|| view! { <p class="field-help">{help}</p> })}
        </div>
    }
}

#[component]
fn TriggerForm(create: ServerAction<SaveTrigger>, draft: Draft) -> impl IntoView {
    let functions = Resource::new(|| (), |_| function_names());
    let preview = Resource::new(
        move || (draft.schedule.get(), draft.timezone.get()),
        |(s, tz)| cron_preview(s, tz),
    );
    // A saved edit ends the editing; the form is for a new trigger again.
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            draft.id.set(String::new());
        }
    });
    let kind = draft.kind;
    let shown = move |k: &'static str| {
        move || {
            if kind.get() == k {
                "fieldset-kind"
            } else {
                "fieldset-kind hidden"
            }
        }
    };
    let shown_any = move |ks: &'static [&'static str]| {
        move || {
            if ks.contains(&kind.get().as_str()) {
                "fieldset-kind"
            } else {
                "fieldset-kind hidden"
            }
        }
    };
    view! {
        <ActionForm action=create attr:class="stack" attr:id="new-trigger">
            <input type="hidden" name="id" prop:value=draft.id />
            <div class="field">
                <label for="trigger-kind">"Kind"</label>
                <select id="trigger-kind" name="kind" prop:value=kind on:change=move |ev| kind.set(event_target_value(&ev))>
                    {KINDS.iter().map(|(v, label)| view! { <option value=*v>{*label}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="trigger-function">"Function"</label>
                <Transition fallback=|| view! { <select id="trigger-function" name="function" disabled=true></select> }>
                    {move || Suspend::new(async move {
                        let names = functions.await.unwrap_or_default();
                        if names.is_empty() {
                            view! { <p class="field-help">"Deploy a function first."</p> }.into_any()
                        } else {
                            let first = names[0].clone();
                            view! {
                                <select id="trigger-function" name="function" required=true
                                    prop:value=move || {
                                        let f = draft.function.get();
                                        if f.is_empty() { first.clone() } else { f }
                                    }
                                    on:change=move |ev| draft.function.set(event_target_value(&ev))>
                                    {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                                </select>
                            }.into_any()
                        }
                    })}
                </Transition>
            </div>
            <div class=shown("http")>
                <TextField id="trigger-route" name="route" label="Route" value=draft.route placeholder="/orders/:id"
                    help=":param segments and a trailing * wildcard; /fn is reserved." />
                <TextField id="trigger-methods" name="methods" label="Methods" value=draft.methods placeholder="GET, POST (empty: any)" />
            </div>
            <div class=shown("cron")>
                <TextField id="trigger-schedule" name="schedule" label="Schedule" value=draft.schedule
                    help="5 fields, 6 with seconds first, or @hourly / @daily." />
                <TextField id="trigger-timezone" name="timezone" label="Time zone" value=draft.timezone />
                <div class="cron-preview" aria-live="polite">
                    <Transition fallback=|| view! { <Loading label="Computing…" /> }>
                        {move || Suspend::new(async move {
                            match preview.await {
                                Ok(times) => view! {
                                    <p class="field-label">"Next fire times (UTC)"</p>
                                    <ol class="fire-times">
                                        {times.iter().map(|t| view! { <li><time datetime=format::datetime_attr(t)>{format::datetime(t)}</time></li> }).collect_view()}
                                    </ol>
                                }.into_any(),
                                Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                            }
                        })}
                    </Transition>
                </div>
            </div>
            <div class=shown_any(&["topic", "mqtt"])>
                <TextField id="trigger-topic" name="topic" label="Topic" value=draft.topic placeholder="orders" />
            </div>
            <div class=shown_any(&["nats", "redis", "mqtt"])>
                <TextField id="trigger-url" name="url" label="Server URL" value=draft.url placeholder="nats://127.0.0.1:4222" />
            </div>
            <div class=shown("nats")>
                <TextField id="trigger-subject" name="subject" label="Subject" value=draft.subject placeholder="orders.*" />
            </div>
            <div class=shown_any(&["nats", "redis"])>
                <TextField id="trigger-stream" name="stream" label="Stream" value=draft.stream placeholder="orders" />
            </div>
            <div class=shown("redis")>
                <TextField id="trigger-group" name="group" label="Consumer group" value=draft.group placeholder="default: wisp-<trigger id>" />
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary">
                    {move || if draft.id.get().is_empty() { "Create trigger" } else { "Save changes" }}
                </button>
                <Show when=move || !draft.id.get().is_empty()>
                    <button type="button" class="btn btn-ghost" on:click=move |_| draft.id.set(String::new())>"Cancel edit"</button>
                </Show>
            </div>
            {move || create.value().get().map(|result| match result {
                Ok(t) => view! { <p class="alert alert-success" role="status">"Saved " {t.spec.kind()} " trigger for " {t.function}</p> }.into_any(),
                Err(error) => view! { <p class="alert alert-error" role="alert">{error.to_string()}</p> }.into_any(),
            })}
        </ActionForm>
    }
    .into_any()
}
