//! `/events`: the dead letters (async work that failed every attempt) with
//! redrive, and the key-value store of an application: browse by prefix,
//! set and delete keys.

use leptos::prelude::*;
use leptos_meta::Title;
use model::{Job, KvEntry};

use crate::{
    components::feedback::{ErrorList, ErrorPanel, Loading},
    events_api::{dead_letters, kv_entries, KvRemove, KvSet, RedriveJob},
    format,
};

#[component]
pub fn EventsPage() -> impl IntoView {
    view! {
        <Title text="Events · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Events"</h1>
                <p class="lede">
                    "Async work is stored before it is acknowledged and retried with backoff; what fails every attempt lands here. The key-value store is what functions reach at http://kv.wisp/."
                </p>
            </div>
        </div>
        <DeadLetters />
        <KeyValue />
    }
    .into_any()
}

#[component]
fn DeadLetters() -> impl IntoView {
    let redrive = ServerAction::<RedriveJob>::new();
    let jobs = Resource::new(move || redrive.version().get(), |_| dead_letters());
    view! {
        <section class="card card-flush" aria-labelledby="dead-title">
            <div class="card-head">
                <h2 id="dead-title">"Dead letters"</h2>
            </div>
            <Transition fallback=|| view! { <Loading /> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        match jobs.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty empty-compact">
                                    <h3>"No dead letters"</h3>
                                    <p class="muted">"Every async delivery so far succeeded or is still being retried."</p>
                                </div>
                            }.into_any(),
                            Ok(list) => view! { <DeadTable jobs=list redrive /> }.into_any(),
                            Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                        }
                    })}
                </ErrorBoundary>
            </Transition>
            {move || redrive.value().get().map(|r| match r {
                Ok(job) => view! { <p class="alert alert-success card-body" role="status">"Redriven: " {format::short_id(&job.id)} " is queued again."</p> }.into_any(),
                Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn DeadTable(jobs: Vec<Job>, redrive: ServerAction<RedriveJob>) -> impl IntoView {
    let rows = jobs
        .into_iter()
        .map(|j| {
            let last = j.last_invocation_id.clone().map(|id| {
                view! { <a href=format!("/invocations/{id}")>{format::short_id(&id)}</a> }
            });
            view! {
                <tr>
                    <td><a class="row-link" href=format!("/functions/{}", j.function)>{j.function.clone()}</a></td>
                    <td><span class="tag">{j.source.as_str()}</span></td>
                    <td class="num">{j.attempts}</td>
                    <td class="break">{j.last_error.clone().unwrap_or_default()}</td>
                    <td>{last}</td>
                    <td class="nowrap"><time datetime=format::datetime_attr(&j.updated_at)>{format::datetime(&j.updated_at)}</time></td>
                    <td class="num">
                        <ActionForm action=redrive>
                            <input type="hidden" name="id" value=j.id.clone() />
                            <button type="submit" class="btn btn-small">"Redrive"</button>
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
                        <th scope="col">"Function"</th>
                        <th scope="col">"Source"</th>
                        <th scope="col" class="num">"Attempts"</th>
                        <th scope="col">"Last error"</th>
                        <th scope="col">"Last call"</th>
                        <th scope="col">"Failed (UTC)"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn KeyValue() -> impl IntoView {
    let application = RwSignal::new(model::DEFAULT_APPLICATION.to_string());
    let prefix = RwSignal::new(String::new());
    let set = ServerAction::<KvSet>::new();
    let remove = ServerAction::<KvRemove>::new();
    let entries = Resource::new(
        move || {
            (
                application.get(),
                prefix.get(),
                set.version().get(),
                remove.version().get(),
            )
        },
        |(app, prefix, _, _)| kv_entries(app, prefix),
    );
    view! {
        <section class="card" aria-labelledby="kv-title">
            <h2 id="kv-title">"Key-value store"</h2>
            <div class="kv-filters">
                <div class="field">
                    <label for="kv-app">"Application"</label>
                    <input type="text" id="kv-app" prop:value=application on:change=move |ev| application.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for="kv-prefix">"Key prefix"</label>
                    <input type="text" id="kv-prefix" placeholder="all keys" prop:value=prefix on:input=move |ev| prefix.set(event_target_value(&ev)) />
                </div>
            </div>
            <Transition fallback=|| view! { <Loading /> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">"No keys here yet. Functions write with PUT http://kv.wisp/KEY, or set one below."</p>
                        }.into_any(),
                        Ok(list) => view! { <KvTable entries=list application remove /> }.into_any(),
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=set attr:class="kv-form">
                <input type="hidden" name="application" prop:value=application />
                <div class="field">
                    <label for="kv-key">"Key"</label>
                    <input type="text" id="kv-key" name="key" required=true />
                </div>
                <div class="field">
                    <label for="kv-value">"Value"</label>
                    <input type="text" id="kv-value" name="value" />
                </div>
                <button type="submit" class="btn btn-primary">"Set key"</button>
            </ActionForm>
            {move || set.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error /> })}
        </section>
    }
}

#[component]
fn KvTable(
    entries: Vec<KvEntry>,
    application: RwSignal<String>,
    remove: ServerAction<KvRemove>,
) -> impl IntoView {
    let rows = entries
        .into_iter()
        .map(|e| {
            let preview: String = e.preview.chars().take(120).collect();
            view! {
                <tr>
                    <th scope="row" class="break"><code>{e.key.clone()}</code></th>
                    <td class="break">{preview}</td>
                    <td class="num">{format::bytes(e.size_bytes)}</td>
                    <td class="nowrap"><time datetime=format::datetime_attr(&e.updated_at)>{format::datetime(&e.updated_at)}</time></td>
                    <td class="num">
                        <ActionForm action=remove>
                            <input type="hidden" name="application" prop:value=application />
                            <input type="hidden" name="key" value=e.key.clone() />
                            <button type="submit" class="btn btn-ghost btn-small" aria-label=format!("Delete key {}", e.key)>"Delete"</button>
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
                        <th scope="col">"Key"</th>
                        <th scope="col">"Value"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col">"Updated (UTC)"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
