//! `/applications/:name`: one application at a glance — its calls and
//! failures, the last hour's graph of its functions, this month's cost, its
//! functions and their triggers, and how to manage it as code.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    applications_api::{load_application, ApplicationView},
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        function_table::FunctionTable,
    },
    format::{self, amount, money},
    pages::overview::FailureTable,
};

#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let view = Resource::new(move || name.get(), load_application);
    view! {
        <Title text=move || format!("{} · Applications · Wisp", format::title_safe(&name.get())) />
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match view.await {
                        Ok(app) => view! { <Application app /> }.into_any(),
                        Err(error) => view! {
                            <div class="page-head"><h1>{name.get_untracked()}</h1></div>
                            <ErrorPanel error />
                            <p><a href="/functions">"All functions"</a></p>
                        }
                        .into_any(),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
    .into_any()
}

#[component]
fn Application(app: ApplicationView) -> impl IntoView {
    let q = format::query_value(&app.name);
    let costs_href = format!("/costs?application={q}");
    let graph_href = format!("/topology?application={q}");
    let o = &app.overview;
    let rate = if o.last_day.invocations > 0 {
        format::percent(o.last_day.errors as f64 / o.last_day.invocations as f64)
    } else {
        "—".to_string()
    };
    let currency = app.costs.currency.clone();
    let month_cost = money(amount(&app.costs.totals.cost), &currency);
    let projected = app
        .costs
        .projection
        .as_ref()
        .map(|p| {
            format!(
                "{} projected for the month",
                money(amount(&p.projected_cost), &currency)
            )
        })
        .unwrap_or_default();
    let triggers = app
        .triggers
        .iter()
        .map(|t| {
            view! {
                <tr>
                    <td><span class="badge">{t.spec.kind()}</span></td>
                    <td class="mono break">{t.spec.describe()}</td>
                    <td><a href=format!("/functions/{}", t.function)>{t.function.clone()}</a></td>
                </tr>
            }
        })
        .collect_view();
    let no_triggers = app.triggers.is_empty();
    view! {
        <div class="page-head">
            <div>
                <h1>{format!("Application {}", app.name)}</h1>
                <p class="lede">
                    {format!(
                        "{} and {}, managed together.",
                        format::plural(app.functions.len(), "function"),
                        format::plural(app.triggers.len(), "trigger")
                    )}
                </p>
            </div>
            <div class="card-tools">
                <a class="btn btn-small" href=graph_href>"Topology"</a>
                <a class="btn btn-small" href=costs_href.clone()>"Costs"</a>
            </div>
        </div>
        <div class="stats">
            <div class="stat" data-stat="calls-hour">
                <span class="stat-label">"Calls · last hour"</span>
                <span class="stat-value">{format::count(o.last_hour.invocations)}</span>
                <span class="stat-note">{format!("{} failed", format::count(o.last_hour.errors))}</span>
            </div>
            <div class="stat" data-stat="calls-day">
                <span class="stat-label">"Calls · last 24 h"</span>
                <span class="stat-value">{format::count(o.last_day.invocations)}</span>
                <span class="stat-note">{format!("error rate {rate}")}</span>
            </div>
            <div class="stat" data-stat="cost">
                <span class="stat-label">"Cost · this month"</span>
                <span class="stat-value">{month_cost}</span>
                <span class="stat-note"><a href=costs_href>{if projected.is_empty() { "Details".to_string() } else { projected }}</a></span>
            </div>
        </div>
        <section class="card card-flush topology-card" aria-labelledby="app-graph-title">
            <div class="card-head">
                <h2 id="app-graph-title">"Graph · last hour"</h2>
            </div>
            <div class="topology-scroll" inner_html=app.graph_svg.clone()></div>
        </section>
        <section class="card card-flush" aria-labelledby="app-functions-title">
            <div class="card-head">
                <h2 id="app-functions-title">"Functions"</h2>
            </div>
            <FunctionTable functions=app.functions.clone() />
        </section>
        <section class="card card-flush" aria-labelledby="app-triggers-title">
            <div class="card-head">
                <h2 id="app-triggers-title">"Triggers"</h2>
            </div>
            {if no_triggers {
                view! { <div class="empty empty-compact"><p>"No triggers: the functions answer at /fn/NAME/ on the gateway."</p></div> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table">
                            <thead>
                                <tr>
                                    <th scope="col">"Kind"</th>
                                    <th scope="col">"Fires on"</th>
                                    <th scope="col">"Function"</th>
                                </tr>
                            </thead>
                            <tbody>{triggers}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
        <section class="card card-flush" aria-labelledby="app-failures-title">
            <div class="card-head">
                <h2 id="app-failures-title">"Latest failures"</h2>
            </div>
            <FailureTable failures=app.overview.recent_failures.clone() />
        </section>
        <section class="card" aria-labelledby="app-code-title">
            <h2 id="app-code-title">"As code"</h2>
            <p class="muted">"Write this application's manifest and wasm files, then change and apply it:"</p>
            <pre class="code-block"><code>{format!("wisp export {0}\ncd {0} && wisp apply", app.name)}</code></pre>
        </section>
    }
    .into_any()
}
