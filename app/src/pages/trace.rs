//! `/traces/:id`: one trace as a waterfall across functions — a bar per
//! invocation at its start offset, as long as it ran, indented under the
//! call that caused it; failures in red; each bar links to its invocation;
//! its outbound calls as thin bars under it; queued work of the trace that
//! has not run to a record (waiting deliveries, dead letters) below.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::{Trace, TraceCall, TraceSpan};

use crate::{
    components::feedback::{ErrorList, ErrorPanel, Loading},
    format,
    traces_api::load_trace,
};

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let answer = Resource::new(move || id.get(), load_trace);
    view! {
        <Title text=move || format!("Trace {} · Wisp", format::title_safe(&format::short_id(&id.get()))) />
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <a href="/functions">"Functions"</a>
            <span class="sep" aria-hidden="true">"/"</span>
            <span aria-current="page">"Trace"</span>
        </nav>
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match answer.await {
                        Ok(trace) => view! { <TraceView trace /> }.into_any(),
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
    .into_any()
}

/// Where a bar starts and how wide it is, as percentages of the trace.
fn bar_style(offset_ms: f64, duration_ms: f64, total_ms: f64) -> String {
    let total = total_ms.max(0.001);
    let left = (offset_ms / total * 100.0).clamp(0.0, 99.6);
    let width = (duration_ms / total * 100.0).clamp(0.4, 100.0 - left);
    format!("left:{left:.3}%;width:{width:.3}%")
}

#[component]
fn TraceView(trace: Trace) -> impl IntoView {
    let failed = trace.spans.iter().filter(|s| s.failed).count();
    let functions = {
        let mut names: Vec<&str> = trace.spans.iter().map(|s| s.function.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    let topology_href = format!("/topology?trace={}", trace.trace_id);
    let total = trace.duration_ms;
    let rows = trace
        .spans
        .iter()
        .map(|span| view! { <SpanRow span=span.clone() total /> })
        .collect_view();
    let deliveries = (!trace.deliveries.is_empty()).then(|| {
        let items = trace
            .deliveries
            .iter()
            .map(|d| {
                let state = d.state.as_str();
                let class = if state == "dead" {
                    "badge badge-error"
                } else {
                    "badge"
                };
                view! {
                    <tr>
                        <td>{d.function.clone()}</td>
                        <td><span class="tag">{d.source.as_str()}</span></td>
                        <td><span class=class>{format::outcome(state)}</span></td>
                        <td>{d.attempts} " of " {d.max_attempts}</td>
                        <td class="break">{d.last_error.clone().unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="card" aria-labelledby="deliveries-title">
                <h2 id="deliveries-title">"Queued work without a finished call"</h2>
                <div class="table-wrap">
                    <table class="table">
                        <thead>
                            <tr>
                                <th>"Function"</th>
                                <th>"Source"</th>
                                <th>"State"</th>
                                <th>"Attempts"</th>
                                <th>"Last error"</th>
                            </tr>
                        </thead>
                        <tbody>{items}</tbody>
                    </table>
                </div>
            </section>
        }
    });
    view! {
        <div class="page-head">
            <div>
                <h1>"Trace"</h1>
                <p class="lede mono break">{trace.trace_id.clone()}</p>
            </div>
            <a class="btn" href=topology_href>"Show on the topology"</a>
        </div>
        <div class="stats">
            <div class="stat">
                <span class="stat-label">"Duration"</span>
                <span class="stat-value">{format::duration_ms(total)}</span>
                <span class="stat-note">
                    "from " {format::datetime(&trace.started_at)} " UTC"
                </span>
            </div>
            <div class="stat">
                <span class="stat-label">"Invocations"</span>
                <span class="stat-value">{trace.spans.len()}</span>
                <span class="stat-note">{functions} " functions"</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Failed"</span>
                <span class="stat-value">{failed}</span>
                <span class="stat-note">"ended in an error or a 5xx answer"</span>
            </div>
        </div>
        <section class="card" aria-labelledby="waterfall-title">
            <h2 id="waterfall-title">"Waterfall"</h2>
            <ol class="waterfall" aria-label="Invocations in start order, nested by caller">
                {rows}
            </ol>
        </section>
        {deliveries}
    }
}

#[component]
fn SpanRow(span: TraceSpan, total: f64) -> impl IntoView {
    let failed = span.failed;
    let class = if failed { "span span-failed" } else { "span" };
    let href = format!("/invocations/{}", span.invocation_id);
    let indent = format!("--level:{}", span.level.min(12));
    let attempt = span
        .attempt
        .filter(|a| *a > 1 || span.trigger.as_str() != "http")
        .map(|a| view! { <span class="tag">"attempt " {a}</span> });
    let outcome = if failed {
        format::outcome(span.outcome.as_str())
    } else {
        span.status_code
            .map_or_else(|| format::outcome(span.outcome.as_str()), |c| c.to_string())
    };
    let label = format!(
        "{} {} {}, {}",
        span.function,
        span.trigger.as_str(),
        outcome,
        format::duration_ms(span.duration_ms)
    );
    let calls = span
        .calls
        .iter()
        .map(|call| view! { <CallRow call=call.clone() total /> })
        .collect_view();
    view! {
        <li class=class style=indent data-invocation=span.invocation_id.clone()>
            <a class="span-link" href=href aria-label=label>
                <span class="span-name">
                    <strong>{span.function.clone()}</strong>
                    <span class="tag">{span.trigger.as_str()}</span>
                    {attempt}
                    <span class=if failed { "span-outcome bad" } else { "span-outcome" }>
                        {outcome}
                    </span>
                </span>
                <span class="span-track">
                    <span
                        class="span-bar"
                        style=bar_style(span.offset_ms, span.duration_ms, total)
                    ></span>
                </span>
                <span class="span-time">{format::duration_ms(span.duration_ms)}</span>
            </a>
            // The first line (the cause); the invocation page has the rest.
            {span
                .error
                .as_deref()
                .filter(|_| failed)
                .map(|e| e.lines().next().unwrap_or_default().to_string())
                .map(|e| view! { <p class="span-error">{e}</p> })}
            <ul class="span-calls">{calls}</ul>
        </li>
    }
}

#[component]
fn CallRow(call: TraceCall, total: f64) -> impl IntoView {
    let class = if call.ok { "call" } else { "call call-failed" };
    let status = call
        .status_code
        .map_or_else(|| "no answer".to_string(), |c| c.to_string());
    view! {
        <li class=class>
            <span class="call-name mono">
                {call.method.clone()} " " {call.target_kind.clone()} ":" {call.target.clone()}
                " → " {status}
            </span>
            <span class="span-track">
                <span class="call-bar" style=bar_style(call.offset_ms, call.duration_ms, total)></span>
            </span>
            <span class="span-time">{format::duration_ms(call.duration_ms)}</span>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::bar_style;

    #[test]
    fn bars_stay_inside_the_track() {
        assert_eq!(bar_style(0.0, 50.0, 100.0), "left:0.000%;width:50.000%");
        assert_eq!(bar_style(100.0, 0.0, 100.0), "left:99.600%;width:0.400%");
        assert_eq!(bar_style(10.0, 0.0, 0.0), "left:99.600%;width:0.400%");
        assert_eq!(bar_style(90.0, 50.0, 100.0), "left:90.000%;width:10.000%");
    }
}
