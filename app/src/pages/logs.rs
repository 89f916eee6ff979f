//! `/logs`: search the logs and errors of every function of the team. A
//! GET form (text, function, status, time range; it works before
//! hydration) and the matching invocations, newest first, each linking to
//! its page, with the lines that hold a hit and the hits marked; older
//! pages by cursor.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use model::{LogLine, LogSearchHit};

use crate::{
    api::TIME_RANGES,
    components::feedback::{ErrorList, ErrorPanel, Loading, StatusBadge},
    components::function_select::FunctionSelect,
    events_api::function_names,
    format,
    logs_api::search_logs,
};

/// The page's query parameters (empty: not given).
#[derive(Clone, Debug, Default, PartialEq)]
struct Filters {
    q: String,
    function: String,
    status: String,
    range: String,
    before: String,
}

impl Filters {
    /// `/logs` with these filters as its query string.
    fn href(&self) -> String {
        let pairs: Vec<String> = [
            ("q", &self.q),
            ("function", &self.function),
            ("status", &self.status),
            ("range", &self.range),
            ("before", &self.before),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", format::query_value(value)))
        .collect();
        if pairs.is_empty() {
            "/logs".to_string()
        } else {
            format!("/logs?{}", pairs.join("&"))
        }
    }
}

#[component]
pub fn LogsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let query = query.read();
        let get = |key: &str| query.get(key).unwrap_or_default();
        let status = get("status");
        let range = get("range");
        Filters {
            q: get("q").trim().to_string(),
            function: get("function"),
            status: if status == "success" || status == "error" {
                status
            } else {
                String::new()
            },
            range: if TIME_RANGES.iter().any(|(v, _, _)| *v == range) {
                range
            } else {
                String::new()
            },
            before: get("before"),
        }
    });
    let names = Resource::new(|| (), |_| function_names());
    let results = Resource::new(
        move || filters.get(),
        |f| async move {
            if f.q.is_empty() {
                return None;
            }
            let some = |v: String| (!v.is_empty()).then_some(v);
            Some(
                search_logs(
                    f.q,
                    some(f.function),
                    some(f.status),
                    some(f.range),
                    some(f.before),
                )
                .await,
            )
        },
    );

    view! {
        <Title text="Logs · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Logs"</h1>
                <p class="lede">
                    "Search what every function of the team wrote to its log, and its errors. Words match whole words, case-insensitively."
                </p>
            </div>
        </div>
        {move || view! { <SearchForm filters=filters.get() names /> }}
        <section class="card card-flush" aria-labelledby="log-results-title">
            <div class="card-head">
                <h2 id="log-results-title">"Matching invocations"</h2>
            </div>
            <Transition fallback=|| view! { <Loading /> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        let current = filters.get_untracked();
                        match results.await {
                            None => view! { <SearchHelp /> }.into_any(),
                            Some(Ok(page)) if page.hits.is_empty() => view! {
                                <div class="empty empty-compact">
                                    <p>
                                        {if current.before.is_empty() {
                                            "No invocation's logs match. Try fewer words, a prefix such as ship*, or a longer time range."
                                        } else {
                                            "No older invocations match."
                                        }}
                                    </p>
                                </div>
                            }.into_any(),
                            Some(Ok(page)) => {
                                let older = page.next_before.clone().map(|before| {
                                    Filters { before, ..current.clone() }.href()
                                });
                                let newest = (!current.before.is_empty())
                                    .then(|| Filters { before: String::new(), ..current.clone() }.href());
                                let shown = page.hits.len();
                                view! {
                                    <HitTable hits=page.hits />
                                    <nav class="pager" aria-label="Result pages">
                                        {match newest {
                                            Some(href) => view! { <a class="btn btn-small" href=href>"← Newest"</a> }.into_any(),
                                            None => view! { <span class="btn btn-small" aria-disabled="true">"← Newest"</span> }.into_any(),
                                        }}
                                        <span class="muted small">{shown} " shown, newest first"</span>
                                        {match older {
                                            Some(href) => view! { <a class="btn btn-small" href=href rel="next">"Older →"</a> }.into_any(),
                                            None => view! { <span class="btn btn-small" aria-disabled="true">"Older →"</span> }.into_any(),
                                        }}
                                    </nav>
                                }.into_any()
                            }
                            Some(Err(error)) => view! { <div class="card-body"><ErrorPanel error /></div> }.into_any(),
                        }
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
    .into_any()
}

/// The search form, filled in with the current filters (a plain GET form).
#[component]
fn SearchForm(
    filters: Filters,
    names: Resource<Result<Vec<String>, crate::error::AppError>>,
) -> impl IntoView {
    let chosen = filters.function.clone();
    let fallback_chosen = chosen.clone();
    let option = |value: &str, label: &str, current: &str| {
        view! { <option value=value.to_string() selected=value == current>{label.to_string()}</option> }
    };
    let status = filters.status.clone();
    let range = filters.range.clone();
    view! {
        <form method="get" action="/logs" class="card log-search" role="search" aria-label="Search logs">
            <div class="field log-search-text">
                <label for="log-q">"Search"</label>
                <input id="log-q" type="search" name="q" value=filters.q.clone()
                    placeholder="timeout, \"connection reset\", ship*, -healthz" autocomplete="off" spellcheck="false" />
            </div>
            <div class="field">
                <label for="log-function">"Function"</label>
                <Transition fallback=move || view! { <FunctionSelect id="log-function" names=Vec::new() chosen=fallback_chosen.clone() /> }>
                    {move || {
                        let chosen = chosen.clone();
                        Suspend::new(async move {
                            let names = names.await.unwrap_or_default();
                            view! { <FunctionSelect id="log-function" names chosen /> }
                        })
                    }}
                </Transition>
            </div>
            <div class="field">
                <label for="log-status">"Status"</label>
                <select id="log-status" name="status">
                    {option("", "Any", &status)}
                    {option("success", "Succeeded", &status)}
                    {option("error", "Failed", &status)}
                </select>
            </div>
            <div class="field">
                <label for="log-range">"Started"</label>
                <select id="log-range" name="range">
                    {option("", "Any time", &range)}
                    {TIME_RANGES
                        .iter()
                        .map(|(value, label, _)| option(value, &format!("Last {label}"), &range))
                        .collect_view()}
                </select>
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary">"Search"</button>
            </div>
        </form>
    }
}

/// What to type, before the first search.
#[component]
fn SearchHelp() -> impl IntoView {
    view! {
        <div class="empty empty-compact">
            <p>"Type words to find in the logs. All words must appear in an invocation's logs or error."</p>
            <ul class="search-tips muted small">
                <li><code>"\"connection reset\""</code>" — these words next to each other"</li>
                <li><code>"ship*"</code>" — words starting with ship"</li>
                <li><code>"-healthz"</code>" — leave out invocations with this word"</li>
                <li><code>"timeout OR refused"</code>" — either word"</li>
            </ul>
        </div>
    }
}

#[component]
fn HitTable(hits: Vec<LogSearchHit>) -> impl IntoView {
    let rows = hits
        .into_iter()
        .map(|hit| {
            let href = format!("/invocations/{}", hit.id);
            let more = (hit.more_lines > 0)
                .then(|| view! { <p class="muted small log-more">"+ " {hit.more_lines} " more matching lines"</p> });
            let error = hit.error.map(|line| {
                view! {
                    <div class="log-hit log-hit-error">
                        <span class="log-line-no">"error"</span>
                        <span class="log-line-text">{marked(line)}</span>
                    </div>
                }
            });
            let lines = hit
                .lines
                .into_iter()
                .map(|line| {
                    view! {
                        <div class="log-hit">
                            <span class="log-line-no">{line.number}</span>
                            <span class="log-line-text">{marked(line)}</span>
                        </div>
                    }
                })
                .collect_view();
            // Two rows per hit: what ran, then its matching lines across
            // the table's width (on a phone too, where a column would be
            // scrolled out of sight).
            view! {
                <tr class="log-hit-head">
                    <th scope="row" class="nowrap">
                        <a class="row-link" href=href title=format!("Invocation {}", hit.id)>
                            <time datetime=format::datetime_attr(&hit.started_at)>
                                {format::datetime(&hit.started_at)}
                            </time>
                        </a>
                    </th>
                    <td class="nowrap">
                        <a href=format!("/functions/{}", hit.function)>{hit.function.clone()}</a>
                        <span class="mono muted">" v" {hit.version}</span>
                    </td>
                    <td><StatusBadge status=hit.status /></td>
                </tr>
                <tr class="log-hit-lines">
                    <td colspan="3">
                        <div class="log-hits">{error} {lines}</div>
                        {more}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table log-table">
                <thead>
                    <tr>
                        <th scope="col">"Started (UTC)"</th>
                        <th scope="col">"Function"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// The line's text with its hits in `<mark>`.
fn marked(line: LogLine) -> impl IntoView {
    let mut parts = Vec::new();
    let mut at = 0usize;
    for [start, end] in line.highlights {
        let (start, end) = (start as usize, end as usize);
        let (Some(before), Some(hit)) = (line.text.get(at..start), line.text.get(start..end))
        else {
            continue;
        };
        parts.push(before.to_string().into_any());
        parts.push(view! { <mark>{hit.to_string()}</mark> }.into_any());
        at = end;
    }
    parts.push(line.text.get(at..).unwrap_or("").to_string().into_any());
    parts
}
