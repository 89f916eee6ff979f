//! `/topology`: the application as a graph, laid out left to right by the
//! server (layout-rs): triggers and topics → functions → hosts and stores.
//! Edge width shows calls, colour the error rate, dashes a declared edge
//! with no traffic; hovering shows stats, clicking a function opens it, the
//! search highlights matching nodes, and the graph refreshes every 5 s.
//! With `?trace=<id>` the path of that trace (its functions, what they
//! called, the triggers that fired them) is highlighted.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::list_functions,
    components::feedback::{ErrorList, ErrorPanel, Loading},
    events_api::{load_topology, TopologyView},
    format,
    traces_api::load_trace,
};

const WINDOWS: [(&str, &str); 4] = [
    ("15m", "15 min"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
];
/// Seconds between live refreshes.
const REFRESH_SECS: u64 = 5;

#[component]
pub fn TopologyPage() -> impl IntoView {
    let query = use_query_map();
    let window = Memo::new(move |_| {
        let w = query.read().get("window").unwrap_or_default();
        if WINDOWS.iter().any(|(v, _)| *v == w) {
            w
        } else {
            "1h".to_string()
        }
    });
    let application = Memo::new(move |_| query.read().get("application").unwrap_or_default());
    let applications = Resource::new(|| (), |_| list_functions());
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(REFRESH_SECS),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let graph = Resource::new(
        move || (window.get(), application.get(), tick.get()),
        |(w, app, _)| load_topology(w, (!app.is_empty()).then_some(app)),
    );
    let search = RwSignal::new(String::new());
    let trace_id = Memo::new(move |_| query.read().get("trace").unwrap_or_default());
    let trace_nodes = Resource::new(
        move || trace_id.get(),
        |id| async move {
            if id.is_empty() {
                return Ok(None);
            }
            load_trace(id)
                .await
                .map(|t| Some((t.spans.len(), trace_node_ids(&t))))
        },
    );
    let on_trace = RwSignal::new(BTreeSet::<String>::new());

    view! {
        <Title text="Topology · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Topology"</h1>
                <p class="lede">
                    "What is configured and what really ran: thicker arrows carry more calls, red ones fail, dashed ones are declared but idle in this window. Hover for stats; click a function to open it."
                </p>
            </div>
        </div>
        <div class="topology-tools">
            <nav class="segmented" aria-label="Time window">
                {WINDOWS
                    .iter()
                    .map(|(value, label)| {
                        let mut href = format!("/topology?window={value}");
                        let app = application.get_untracked();
                        if !app.is_empty() {
                            href.push_str(&format!("&application={}", format::query_value(&app)));
                        }
                        let trace = trace_id.get_untracked();
                        if !trace.is_empty() {
                            href.push_str(&format!("&trace={trace}"));
                        }
                        let value = value.to_string();
                        view! {
                            <a
                                class="segment"
                                href=href
                                aria-current=move || (window.get() == value).then_some("page")
                            >
                                {*label}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let names: Vec<String> = applications
                        .await
                        .map(|list| {
                            let mut names: Vec<String> =
                                list.into_iter().map(|f| f.application).collect();
                            names.sort();
                            names.dedup();
                            names
                        })
                        .unwrap_or_default();
                    (names.len() > 1 || !application.get_untracked().is_empty())
                        .then(|| view! { <ApplicationPicker names window application /> })
                })}
            </Transition>
            <div class="field field-inline">
                <label for="topology-search">"Find a node"</label>
                <input
                    id="topology-search"
                    type="search"
                    placeholder="name, topic, host…"
                    prop:value=search
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
            </div>
        </div>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match trace_nodes.await {
                    Ok(Some((spans, ids))) => {
                        on_trace.set(ids);
                        let id = trace_id.get_untracked();
                        view! {
                            <p class="alert trace-banner" role="status">
                                "Highlighted: the path of trace "
                                <a class="mono" href=format!("/traces/{id}")>{id.clone()}</a>
                                " (" {spans} " invocations). "
                                <a href=format!("/topology?window={}", window.get_untracked())>"Clear"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <ErrorPanel error /> }.into_any(),
                }
            })}
        </Transition>
        <section class="card card-flush topology-card" aria-label="Application graph">
            <Transition fallback=|| view! { <Loading /> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        match graph.await {
                            Ok(v) if v.topology.nodes.is_empty() => view! {
                                <div class="empty">
                                    <div class="empty-mark" aria-hidden="true"></div>
                                    <h3>"Nothing to draw yet"</h3>
                                    <p>"Deploy functions and add triggers; calls between them appear here as they happen."</p>
                                </div>
                            }.into_any(),
                            Ok(v) => view! { <Graph view=v search on_trace /> }.into_any(),
                            Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                        }
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
        <Legend />
    }
    .into_any()
}

/// Links to the graph of each application (and of all of them).
#[component]
fn ApplicationPicker(
    names: Vec<String>,
    window: Memo<String>,
    application: Memo<String>,
) -> impl IntoView {
    let link = move |name: String, label: String| {
        let href = if name.is_empty() {
            format!("/topology?window={}", window.get_untracked())
        } else {
            format!(
                "/topology?window={}&application={}",
                window.get_untracked(),
                format::query_value(&name)
            )
        };
        view! {
            <a
                class="segment"
                href=href
                aria-current=move || (application.get() == name).then_some("page")
            >
                {label}
            </a>
        }
    };
    view! {
        <nav class="segmented" aria-label="Application">
            {link(String::new(), "All applications".to_string())}
            {names.into_iter().map(|n| link(n.clone(), n)).collect_view()}
        </nav>
    }
}

/// Marks the drawn nodes whose label or id contains `query` (browser only).
fn highlight(query: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Ok(list) = document().query_selector_all("svg.topology g.node") else {
            return;
        };
        let query = query.trim().to_lowercase();
        for i in 0..list.length() {
            let Some(el) = list
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            else {
                continue;
            };
            let hay = format!(
                "{} {}",
                el.get_attribute("data-label").unwrap_or_default(),
                el.get_attribute("data-id")
                    .unwrap_or_default()
                    .to_lowercase()
            );
            let hit = !query.is_empty() && hay.contains(&query);
            let _ = el.class_list().toggle_with_force("match", hit);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = query;
}

/// The graph's node ids a trace went through: its functions, what they
/// called (functions, topics, key-value stores, hosts) and the triggers
/// that fired them (as drawn by the topology: `fn:`, `topic:`, `kv:`,
/// `host:`, `route:`, `cron:`, `queue:`).
pub fn trace_node_ids(trace: &model::Trace) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for span in &trace.spans {
        ids.insert(format!("fn:{}", span.function));
        if let Some(trigger) = &span.trigger_id {
            let prefix = match span.trigger.as_str() {
                "http" => "route",
                "cron" => "cron",
                "nats" | "redis" | "mqtt" => "queue",
                _ => "",
            };
            if !prefix.is_empty() {
                ids.insert(format!("{prefix}:{trigger}"));
            }
        }
        for call in &span.calls {
            let prefix = match call.target_kind.as_str() {
                "function" => "fn",
                "topic" => "topic",
                "kv" => "kv",
                _ => "host",
            };
            ids.insert(format!("{prefix}:{}", call.target));
        }
    }
    ids
}

/// Marks the drawn nodes in `ids`, and the edges between two of them, as on
/// the trace (browser only).
fn mark_trace(ids: &BTreeSet<String>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Ok(list) = document().query_selector_all("svg.topology g.node, svg.topology path.edge")
        else {
            return;
        };
        for i in 0..list.length() {
            let Some(el) = list
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            else {
                continue;
            };
            let on = match el.get_attribute("data-id") {
                Some(id) => ids.contains(&id),
                None => {
                    let end =
                        |name: &str| el.get_attribute(name).is_some_and(|id| ids.contains(&id));
                    end("data-from") && end("data-to")
                }
            };
            let _ = el.class_list().toggle_with_force("on-trace", on);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ids;
}

#[component]
fn Graph(
    view: TopologyView,
    search: RwSignal<String>,
    on_trace: RwSignal<BTreeSet<String>>,
) -> impl IntoView {
    // Re-apply the highlights whenever the query changes or a refresh redraws.
    Effect::new(move |_| highlight(&search.get()));
    Effect::new(move |_| on_trace.with(mark_trace));
    let counts = format!(
        "{} nodes, {} edges, {} with traffic",
        view.topology.nodes.len(),
        view.topology.edges.len(),
        view.topology.edges.iter().filter(|e| e.observed).count()
    );
    view! {
        <div class="topology-scroll" inner_html=view.svg></div>
        <p class="topology-summary muted">{counts}</p>
    }
    .into_any()
}

#[component]
fn Legend() -> impl IntoView {
    view! {
        <ul class="topology-legend" aria-label="Legend">
            <li><span class="swatch-line ok"></span>"no errors"</li>
            <li><span class="swatch-line warn"></span>"≥ 1 % errors"</li>
            <li><span class="swatch-line bad"></span>"≥ 10 % errors"</li>
            <li><span class="swatch-line idle unused"></span>"declared, idle"</li>
            <li>"λ function · ⇢ route · ◷ cron · # topic · ☰ queue · ↗ host · ⛁ key-value"</li>
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traces_path_names_the_drawn_nodes() {
        let trace: model::Trace = serde_json::from_value(serde_json::json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "started_at": "2026-12-01T00:00:00Z",
            "duration_ms": 3.0,
            "deliveries": [],
            "spans": [
                {"invocation_id": "1", "span_id": "a", "parent_id": null, "parent_span_id": null,
                 "level": 0, "function": "a", "version": 1, "trigger": "http", "trigger_id": "t1",
                 "attempt": null, "status": "success", "outcome": "success", "status_code": 200,
                 "failed": false,
                 "error": null, "method": "GET", "path": "/", "started_at": "2026-12-01T00:00:00Z",
                 "offset_ms": 0.0, "duration_ms": 1.0, "publishes": [],
                 "calls": [
                    {"target_kind": "function", "target": "b", "method": "GET", "status_code": 200,
                     "ok": true, "offset_ms": 0.1, "duration_ms": 0.5},
                    {"target_kind": "host", "target": "api.example.com", "method": "GET",
                     "status_code": 200, "ok": true, "offset_ms": 0.6, "duration_ms": 0.2}
                 ]},
                {"invocation_id": "2", "span_id": "b", "parent_id": "1", "parent_span_id": "a",
                 "level": 1, "function": "b", "version": 1, "trigger": "function", "trigger_id": null,
                 "attempt": null, "status": "success", "outcome": "success", "status_code": 200,
                 "failed": false,
                 "error": null, "method": "GET", "path": "/", "started_at": "2026-12-01T00:00:00Z",
                 "offset_ms": 0.1, "duration_ms": 0.5, "publishes": [],
                 "calls": [{"target_kind": "topic", "target": "orders", "method": "POST",
                            "status_code": 202, "ok": true, "offset_ms": 0.2, "duration_ms": 0.1}]}
            ]
        }))
        .unwrap();
        let ids: Vec<String> = trace_node_ids(&trace).into_iter().collect();
        assert_eq!(
            ids,
            [
                "fn:a",
                "fn:b",
                "host:api.example.com",
                "route:t1",
                "topic:orders"
            ]
        );
    }
}
