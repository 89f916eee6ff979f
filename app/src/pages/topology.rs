//! `/topology`: the application as a graph, laid out left to right by the
//! server (layout-rs): triggers and topics → functions → hosts and stores.
//! Edge width shows calls, colour the error rate, dashes a declared edge
//! with no traffic; hovering shows stats, clicking a function opens it, the
//! search highlights matching nodes, and the graph refreshes every 5 s.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    components::feedback::{ErrorList, ErrorPanel, Loading},
    events_api::{load_topology, TopologyView},
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
        move || (window.get(), tick.get()),
        |(w, _)| load_topology(w),
    );
    let search = RwSignal::new(String::new());

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
                        let href = format!("/topology?window={value}");
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
                            Ok(v) => view! { <Graph view=v search /> }.into_any(),
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

#[component]
fn Graph(view: TopologyView, search: RwSignal<String>) -> impl IntoView {
    // Re-apply the highlight whenever the query changes or a refresh redraws.
    Effect::new(move |_| highlight(&search.get()));
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
