//! `/invocations/:id`: the debugging record of one call — what came in, what
//! it cost, how it ended, its error and its log output; where it sits in its
//! trace (the trace, its parent, the calls it caused, the attempt); and,
//! when it was recorded, its replay on any version with the diff.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::{InvocationRecord, InvocationStatus, LiveLogLine};

use crate::{
    api::invocation,
    components::backtrace::ErrorText,
    components::feedback::{ErrorList, ErrorPanel, Loading, StatusBadge},
    components::live_tail::{connect, Connection, LogLine},
    components::replay::ReplayCard,
    format,
    traces_api::invocation_children,
};

#[component]
pub fn InvocationPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let record = Resource::new(move || id.get(), invocation);
    let record_resource = record;

    view! {
        <Title text=move || format!("Invocation {} · Wisp", format::title_safe(&format::short_id(&id.get()))) />
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match record.await {
                        Ok(record) => {
                            let on_done = Callback::new(move |_| record_resource.refetch());
                            view! { <InvocationView record on_done /> }.into_any()
                        }
                        Err(error) => {
                            view! {
                                <nav class="breadcrumbs" aria-label="Breadcrumb">
                                    <a href="/functions">"Functions"</a>
                                </nav>
                                <ErrorPanel error />
                            }
                                .into_any()
                        }
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
    .into_any()
}

#[component]
fn InvocationView(record: InvocationRecord, on_done: Callback<()>) -> impl IntoView {
    let running = matches!(
        record.status,
        InvocationStatus::Running | InvocationStatus::Queued
    );
    let live = running.then(|| view! { <LiveOutput id=record.id.clone() on_done /> });
    let function_href = format!("/functions/{}", record.function);
    let memory_share = if record.memory_limit_mb > 0 {
        let limit = record.memory_limit_mb as f64 * 1024.0 * 1024.0;
        format!(
            "{:.0}% of {} MiB",
            record.peak_memory_bytes as f64 / limit * 100.0,
            record.memory_limit_mb
        )
    } else {
        "no limit recorded".to_string()
    };
    let http_status = record
        .status_code
        .map_or_else(|| "—".to_string(), |code| code.to_string());
    let http_note = if record.status_code.is_some() {
        "answered by the function"
    } else {
        "the function did not answer"
    };
    let error = record.error.clone().map(|error| {
        view! {
            <section class="card card-danger" aria-labelledby="error-title">
                <h2 id="error-title">"Error"</h2>
                <ErrorText error />
            </section>
        }
    });
    let logs = if record.logs.is_empty() {
        view! { <p class="muted">"This invocation wrote nothing to its log."</p> }.into_any()
    } else {
        view! { <pre class="logs" tabindex="0" aria-label="Log output">{record.logs.clone()}</pre> }
            .into_any()
    };
    let trace_link = record.trace_id.clone().map(|trace| {
        view! {
            <a class="btn btn-primary" href=format!("/traces/{trace}")>"View trace"</a>
        }
    });
    let trace_fact = record.trace_id.clone().map(|trace| {
        view! {
            <div class="fact-wide">
                <dt>"Trace"</dt>
                <dd class="mono break">
                    <a href=format!("/traces/{trace}")>{trace.clone()}</a>
                </dd>
            </div>
        }
    });
    let parent_fact = record.parent_id.clone().map(|parent| {
        view! {
            <div class="fact-wide">
                <dt>"Caused by"</dt>
                <dd class="mono break">
                    <a href=format!("/invocations/{parent}")>{parent.clone()}</a>
                </dd>
            </div>
        }
    });
    let attempt_fact = record.attempt.map(|attempt| {
        view! {
            <div>
                <dt>"Attempt"</dt>
                <dd>{attempt}</dd>
            </div>
        }
    });
    let trigger_fact = record.trigger_id.clone().map(|trigger| {
        view! {
            <div>
                <dt>"Trigger id"</dt>
                <dd class="mono break">{trigger}</dd>
            </div>
        }
    });
    // A finished call that is not itself a replay may be replayed.
    let replay = (!running && record.trigger != model::TriggerKind::Replay).then(|| {
        view! {
            <ReplayCard
                id=record.id.clone()
                function=record.function.clone()
                version=record.version
            />
        }
    });
    let truncated = record.logs_truncated.then(|| {
        view! { <p class="muted small">"The log was longer than the limit and has been cut."</p> }
    });

    view! {
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <a href="/functions">"Functions"</a>
            <span class="sep" aria-hidden="true">"/"</span>
            <a href=function_href.clone()>{record.function.clone()}</a>
            <span class="sep" aria-hidden="true">"/"</span>
            <span aria-current="page">"Invocation " {format::short_id(&record.id)}</span>
        </nav>
        <div class="page-head">
            <div>
                <h1 class="title-with-pill">
                    <span>"Invocation"</span>
                    <StatusBadge status=record.status />
                </h1>
                <p class="lede mono break">{record.id.clone()}</p>
            </div>
            {trace_link}
        </div>
        <div class="stats">
            <div class="stat">
                <span class="stat-label">"Duration"</span>
                <span class="stat-value">{format::duration_ms(record.duration_ms)}</span>
                <span class="stat-note">"billed " {record.billed_ms} " ms"</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Peak memory"</span>
                <span class="stat-value">{format::bytes(record.peak_memory_bytes)}</span>
                <span class="stat-note">{memory_share}</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Bytes in / out"</span>
                <span class="stat-value">
                    {format::bytes(record.bytes_in)} " / " {format::bytes(record.bytes_out)}
                </span>
                <span class="stat-note">"request and response bodies"</span>
            </div>
            <div class="stat">
                <span class="stat-label">"HTTP status"</span>
                <span class="stat-value">{http_status}</span>
                <span class="stat-note">{http_note}</span>
            </div>
        </div>
        {error}
        {live}
        <div class="stack">
            <section class="card" aria-labelledby="details-title">
                <h2 id="details-title">"Details"</h2>
                <dl class="facts facts-wide">
                    <div>
                        <dt>"Function"</dt>
                        <dd>
                            <a href=function_href>{record.function.clone()}</a>
                        </dd>
                    </div>
                    <div>
                        <dt>"Version"</dt>
                        <dd class="mono">"v" {record.version}</dd>
                    </div>
                    <div>
                        <dt>"Trigger"</dt>
                        <dd>
                            <span class="tag">{record.trigger.as_str()}</span>
                        </dd>
                    </div>
                    <div>
                        <dt>"Outcome"</dt>
                        <dd>{format::outcome(record.outcome.as_str())}</dd>
                    </div>
                    {attempt_fact}
                    {trigger_fact}
                    {trace_fact}
                    {parent_fact}
                    <div class="fact-wide">
                        <dt>"Request"</dt>
                        <dd class="mono break">{record.method.clone()} " " {record.path.clone()}</dd>
                    </div>
                    <div class="fact-wide">
                        <dt>"Started"</dt>
                        <dd>
                            <time datetime=format::datetime_attr(&record.started_at)>
                                {format::datetime(&record.started_at)} " UTC"
                            </time>
                        </dd>
                    </div>
                    <div>
                        <dt>"Memory limit"</dt>
                        <dd>{record.memory_limit_mb} " MiB"</dd>
                    </div>
                    <div>
                        <dt>"Billed time"</dt>
                        <dd>{record.billed_ms} " ms"</dd>
                    </div>
                </dl>
            </section>
            <section class="card" aria-labelledby="logs-title">
                <h2 id="logs-title">"Logs"</h2>
                {logs}
                {truncated}
            </section>
            {replay}
            <Children id=record.id.clone() />
        </div>
        <p class="back-link">
            <a href=format!("/functions/{}", record.function)>"← Back to " {record.function.clone()}</a>
        </p>
    }
    .into_any()
}

/// The invocations this one caused, each linking to its record.
#[component]
fn Children(id: String) -> impl IntoView {
    let children = Resource::new(move || id.clone(), invocation_children);
    view! {
        <section class="card" aria-labelledby="children-title">
            <h2 id="children-title">"Calls it caused"</h2>
            <Transition fallback=|| view! { <Loading /> }>
                {move || Suspend::new(async move {
                    match children.await {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <p class="muted">
                                    "It called no function and published no event that ran."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            let rows = list
                                .into_iter()
                                .map(|child| {
                                    let href = format!("/invocations/{}", child.id);
                                    view! {
                                        <tr>
                                            <td>
                                                <a href=href>{child.function.clone()}</a>
                                            </td>
                                            <td>
                                                <span class="tag">{child.trigger.as_str()}</span>
                                            </td>
                                            <td>{child.attempt.map(|a| a.to_string())}</td>
                                            <td>
                                                <StatusBadge status=child.status />
                                            </td>
                                            <td>{format::duration_ms(child.duration_ms)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <div class="table-wrap">
                                    <table class="table">
                                        <thead>
                                            <tr>
                                                <th>"Function"</th>
                                                <th>"Trigger"</th>
                                                <th>"Attempt"</th>
                                                <th>"Status"</th>
                                                <th>"Duration"</th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The lines a running call writes, as it writes them; when its record is
/// stored, `on_done` reloads the page's record.
#[component]
fn LiveOutput(id: String, on_done: Callback<()>) -> impl IntoView {
    let lines = RwSignal::new(Vec::<LiveLogLine>::new());
    let connection = RwSignal::new(Connection::Connecting);
    let url = format!(
        "/api/v1/invocations/stream?logs=true&invocation={}",
        format::query_value(&id)
    );
    connect(
        url,
        move |_record| on_done.run(()),
        move |line| lines.update(|list| list.push(line)),
        connection,
    );
    view! {
        <section class="card" aria-labelledby="live-title">
            <h2 id="live-title">"Live output"</h2>
            <p class="muted small">
                {move || match connection.get() {
                    Connection::Live => "Following the call: lines appear as it writes them.",
                    Connection::Connecting => "Connecting…",
                    Connection::Reconnecting => "Reconnecting…",
                }}
            </p>
            <pre class="logs live-logs" aria-live="polite">
                <For each=move || lines.get() key=|line| line.seq let:line>
                    <LogLine line />
                </For>
            </pre>
        </section>
    }
}
