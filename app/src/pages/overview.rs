//! `/`: the landing page after sign-in — how many functions there are, calls
//! and failures over the last hour and day, calls per minute over the last
//! hour, the latest failures, each linking to its invocation, and what the
//! server stores (database size, the oldest record kept, the retention period).

use leptos::prelude::*;
use leptos_meta::Title;
use model::{FailureSummary, InvocationCounts, Overview, RetentionStatus};

use crate::{
    api::load_overview,
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        minute_chart::MinuteChart,
        retention_card::StorageFacts,
    },
    format,
};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let refreshes = RwSignal::new(0u32);
    let (refreshing, set_refreshing) = signal(false);
    let overview = Resource::new(move || refreshes.get(), |_| load_overview());

    view! {
        <Title text="Overview · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Overview"</h1>
                <p class="lede">"Every function's calls and failures at a glance (times in UTC)."</p>
            </div>
            <button
                type="button"
                class="btn"
                disabled=move || refreshing.get()
                on:click=move |_| refreshes.update(|n| *n += 1)
            >
                {move || if refreshing.get() { "Refreshing…" } else { "Refresh" }}
            </button>
        </div>
        <Transition fallback=|| view! { <Loading /> } set_pending=set_refreshing>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <OverviewView overview /> }.into_any(),
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
    .into_any()
}

fn error_note(counts: &InvocationCounts) -> String {
    match counts.errors {
        0 => "No failures".to_string(),
        1 => "1 failed".to_string(),
        n => format!("{} failed", format::count(n)),
    }
}

fn error_rate(counts: &InvocationCounts) -> String {
    if counts.invocations == 0 {
        "—".to_string()
    } else {
        format::percent(counts.errors as f64 / counts.invocations as f64)
    }
}

#[component]
fn OverviewView(overview: Overview) -> impl IntoView {
    let Overview {
        functions,
        live_functions,
        last_hour,
        last_day,
        per_minute,
        recent_failures,
        retention,
        ..
    } = overview;
    let getting_started = (functions == 0).then(|| {
        view! {
            <section class="card getting-started" aria-labelledby="start-title">
                <h2 id="start-title">"Deploy your first function"</h2>
                <p class="muted">
                    "Wisp runs any WASI 0.2 HTTP component or WAGI module. Drop a "
                    <code>".wasm"</code> " file on the "
                    <a href="/functions#deploy">"Deploy panel"</a> ", or from a terminal:"
                </p>
                <pre class="code-block">
                    <code>"wisp deploy hello.wasm --name hello"</code>
                </pre>
            </section>
        }
    });
    view! {
        {getting_started}
        <div class="stats overview-stats">
            <div class="stat" data-stat="functions">
                <span class="stat-label">"Functions"</span>
                <span class="stat-value">{format::count(functions)}</span>
                <span class="stat-note">{format::count(live_functions)} " with a live version"</span>
            </div>
            <div class="stat" data-stat="calls-hour">
                <span class="stat-label">"Calls · last hour"</span>
                <span class="stat-value">{format::count(last_hour.invocations)}</span>
                <span class="stat-note" data-errors=last_hour.errors>{error_note(&last_hour)}</span>
            </div>
            <div class="stat" data-stat="calls-day">
                <span class="stat-label">"Calls · last 24 h"</span>
                <span class="stat-value">{format::count(last_day.invocations)}</span>
                <span class="stat-note" data-errors=last_day.errors>{error_note(&last_day)}</span>
            </div>
            <div class="stat" data-stat="error-rate">
                <span class="stat-label">"Error rate · 24 h"</span>
                <span class="stat-value">{error_rate(&last_day)}</span>
                <span class="stat-note">{error_rate(&last_hour)} " in the last hour"</span>
            </div>
        </div>
        <section class="card" aria-labelledby="chart-title">
            <div class="card-title-row">
                <h2 id="chart-title">"Invocations per minute"</h2>
                <span class="muted small">"Last 60 minutes"</span>
            </div>
            <MinuteChart minutes=per_minute />
        </section>
        <section class="card card-flush" aria-labelledby="failures-title">
            <div class="card-head">
                <h2 id="failures-title">"Latest failures"</h2>
            </div>
            <FailureTable failures=recent_failures />
        </section>
        <StorageCard retention />
    }
    .into_any()
}

/// Database size, the team's oldest record kept and how long history is kept.
#[component]
fn StorageCard(retention: RetentionStatus) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="storage-title" data-card="storage">
            <div class="card-title-row">
                <h2 id="storage-title">"Storage"</h2>
                <a class="small" href="/settings#retention">"Retention settings"</a>
            </div>
            <StorageFacts status=retention />
        </section>
    }
}

/// The latest failures, each linking to its invocation and function.
#[component]
pub fn FailureTable(failures: Vec<FailureSummary>) -> impl IntoView {
    if failures.is_empty() {
        return view! {
            <div class="empty empty-compact">
                <p>"No failed invocations recorded. Traps, timeouts and 5xx answers will show up here."</p>
            </div>
        }
        .into_any();
    }
    let rows = failures
        .into_iter()
        .map(|failure| {
            let href = format!("/invocations/{}", failure.id);
            let http = failure
                .status_code
                .map(|code| view! { <span class="http http-5xx">{code}</span> }.into_any())
                .unwrap_or_else(|| view! { <span class="muted">"—"</span> }.into_any());
            view! {
                <tr>
                    <th scope="row" class="nowrap">
                        <a class="row-link" href=href title=format!("Invocation {}", failure.id)>
                            <time datetime=format::datetime_attr(&failure.started_at)>
                                {format::datetime(&failure.started_at)}
                            </time>
                        </a>
                    </th>
                    <td>
                        <a href=format!("/functions/{}", failure.function)>{failure.function.clone()}</a>
                    </td>
                    <td class="nowrap">
                        <span class="badge badge-error">{format::outcome(failure.outcome.as_str())}</span>
                    </td>
                    <td class="num">{http}</td>
                    <td class="error-cell">
                        <span class="clamp" title=failure.error.clone().unwrap_or_default()>
                            {failure.error.clone().unwrap_or_default()}
                        </span>
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
                        <th scope="col">"Started (UTC)"</th>
                        <th scope="col">"Function"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col" class="num">
                            "HTTP"
                        </th>
                        <th scope="col">"Error"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
