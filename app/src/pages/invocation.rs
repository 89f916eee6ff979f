//! `/invocations/:id`: the debugging record of one call — what came in, what
//! it cost, how it ended, its error and its log output.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::InvocationRecord;

use crate::{
    api::invocation,
    components::feedback::{ErrorList, ErrorPanel, Loading, StatusBadge},
    format,
};

#[component]
pub fn InvocationPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let record = Resource::new(move || id.get(), invocation);

    view! {
        <Title text=move || format!("Invocation {} · Wisp", format::short_id(&id.get())) />
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match record.await {
                        Ok(record) => view! { <InvocationView record /> }.into_any(),
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
fn InvocationView(record: InvocationRecord) -> impl IntoView {
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
                <pre class="error-block">{error}</pre>
            </section>
        }
    });
    let logs = if record.logs.is_empty() {
        view! { <p class="muted">"This invocation wrote nothing to its log."</p> }.into_any()
    } else {
        view! { <pre class="logs" tabindex="0" aria-label="Log output">{record.logs.clone()}</pre> }
            .into_any()
    };
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
        </div>
        <p class="back-link">
            <a href=format!("/functions/{}", record.function)>"← Back to " {record.function.clone()}</a>
        </p>
    }
    .into_any()
}
