//! `/errors`: the team's failures grouped by function, outcome and shape
//! (error groups), most recently seen first: how often each happened, the
//! version where it first appeared, when it was last seen, and a link to
//! the latest failure. A GET form filters by function and time range.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use model::ErrorGroup;

use crate::{
    api::TIME_RANGES,
    components::feedback::{ErrorList, ErrorPanel, Loading},
    components::function_select::FunctionSelect,
    errors_api::error_groups,
    events_api::function_names,
    format,
};

#[component]
pub fn ErrorsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let query = query.read();
        let range = query.get("range").unwrap_or_default();
        let range = if TIME_RANGES.iter().any(|(v, _, _)| *v == range) {
            range
        } else {
            String::new()
        };
        (query.get("function").unwrap_or_default(), range)
    });
    let names = Resource::new(|| (), |_| function_names());
    let groups = Resource::new(
        move || filters.get(),
        |(function, range)| async move {
            let some = |v: String| (!v.is_empty()).then_some(v);
            error_groups(some(function), some(range)).await
        },
    );

    view! {
        <Title text="Errors · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Errors"</h1>
                <p class="lede">
                    "Failures of the team's functions, grouped by function, outcome and where they happened. Numbers and ids in messages are ignored, so one bug is one row."
                </p>
            </div>
        </div>
        {move || {
            let (function, range) = filters.get();
            view! { <FilterForm function range names /> }
        }}
        <section class="card card-flush" aria-labelledby="error-groups-title">
            <div class="card-head">
                <h2 id="error-groups-title">"Error groups"</h2>
            </div>
            <Transition fallback=|| view! { <Loading /> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        match groups.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty empty-compact">
                                    <p>"No failures recorded for these filters."</p>
                                </div>
                            }.into_any(),
                            Ok(list) => view! { <GroupTable groups=list /> }.into_any(),
                            Err(error) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                        }
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
    .into_any()
}

/// Function and time range, as a plain GET form (works before hydration).
#[component]
fn FilterForm(
    function: String,
    range: String,
    names: Resource<Result<Vec<String>, crate::error::AppError>>,
) -> impl IntoView {
    let chosen = function.clone();
    view! {
        <form method="get" action="/errors" class="card log-search" aria-label="Filter errors">
            <div class="field">
                <label for="errors-function">"Function"</label>
                <Transition fallback=move || view! { <FunctionSelect id="errors-function" names=Vec::new() chosen=function.clone() /> }>
                    {move || {
                        let chosen = chosen.clone();
                        Suspend::new(async move {
                            let names = names.await.unwrap_or_default();
                            view! { <FunctionSelect id="errors-function" names chosen /> }
                        })
                    }}
                </Transition>
            </div>
            <div class="field">
                <label for="errors-range">"Last seen"</label>
                <select id="errors-range" name="range">
                    <option value="" selected=range.is_empty()>"Any time"</option>
                    {TIME_RANGES
                        .iter()
                        .map(|(value, label, _)| {
                            view! { <option value=*value selected=*value == range>{format!("Last {label}")}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary">"Filter"</button>
            </div>
        </form>
    }
}

#[component]
fn GroupTable(groups: Vec<ErrorGroup>) -> impl IntoView {
    let rows = groups
        .into_iter()
        .map(|g| {
            let message = g
                .sample_error
                .as_deref()
                .and_then(|e| e.lines().next())
                .unwrap_or("(no error message)")
                .to_string();
            // The frames the failures share, innermost first.
            let frames: Vec<String> = g.signature.lines().skip(1).map(str::to_string).collect();
            let frames = (!frames.is_empty()).then(|| {
                view! {
                    <details class="error-frames">
                        <summary class="muted small">{frames.len()} " frames"</summary>
                        <pre class="mono small">{frames.join("\n")}</pre>
                    </details>
                }
            });
            view! {
                <tr data-function=g.function.clone() data-fingerprint=g.fingerprint.clone()>
                    <td>
                        <span class="badge badge-error">{format::outcome(g.outcome.as_str())}</span>
                        " "
                        <span class="mono error-message">{message}</span>
                        {frames}
                    </td>
                    <td class="nowrap">
                        <a href=format!("/functions/{}", g.function)>{g.function.clone()}</a>
                        <span class="mono muted">" since v" {g.first_version}</span>
                    </td>
                    <td class="num">{format::count(g.count)}</td>
                    <td class="nowrap">
                        <time datetime=format::datetime_attr(&g.last_seen)>{format::datetime(&g.last_seen)}</time>
                        <span class="muted small">" (v" {g.last_version} ")"</span>
                    </td>
                    <td class="nowrap">
                        <time datetime=format::datetime_attr(&g.first_seen)>{format::datetime(&g.first_seen)}</time>
                    </td>
                    <td class="nowrap">
                        <a class="btn btn-small" href=format!("/invocations/{}", g.last_invocation_id)>"Latest failure"</a>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table error-groups">
                <thead>
                    <tr>
                        <th scope="col">"Error"</th>
                        <th scope="col">"Function"</th>
                        <th scope="col" class="num">"Count"</th>
                        <th scope="col">"Last seen (UTC)"</th>
                        <th scope="col">"First seen (UTC)"</th>
                        <th scope="col"><span class="visually-hidden">"Open"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
