//! The functions list's table: every function with what serves its traffic
//! and how it did over the last 24 hours. The server renders every row; after
//! hydration column headers sort and (unless the page searches on the
//! server) a search box filters rows by name.

use leptos::prelude::*;
use model::FunctionSummary;

use crate::{
    components::sortable::{sort_rows, SortHeader, SortState, SortValue},
    format,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Live,
    LastCall,
    Calls,
    ErrorRate,
    P50,
}

fn error_rate(f: &FunctionSummary) -> Option<f64> {
    (f.calls_24h > 0).then(|| f.errors_24h as f64 / f.calls_24h as f64)
}

/// What a function shows in a column (None: never called, no live version).
fn sort_value(f: &FunctionSummary, key: SortKey) -> Option<SortValue<'_>> {
    match key {
        SortKey::Name => Some(f.name.as_str().into()),
        SortKey::Live => f.live_version.map(SortValue::from),
        SortKey::LastCall => f.last_invoked_at.map(SortValue::from),
        SortKey::Calls => Some(f.calls_24h.into()),
        SortKey::ErrorRate => error_rate(f).map(SortValue::from),
        SortKey::P50 => f.p50_duration_ms.map(SortValue::from),
    }
}

fn sort_functions(list: &mut [FunctionSummary], sort: SortState<SortKey>) {
    sort_rows(list, sort, sort_value, |a, b| a.name.cmp(&b.name));
}

/// Whether a function's name matches the search text (case-insensitive).
pub fn matches_search(name: &str, search: &str) -> bool {
    name.to_lowercase()
        .contains(search.trim().to_lowercase().as_str())
}

#[component]
pub fn FunctionTable(
    functions: Vec<FunctionSummary>,
    /// Whether the table has its own search box (the functions page
    /// searches on the server instead).
    #[prop(default = true)]
    searchable: bool,
) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new(SortState::ascending(SortKey::Name));
    let total = functions.len();
    let functions = StoredValue::new(functions);
    let visible = move || {
        let sort = sort.get();
        let text = search.get();
        let mut list: Vec<FunctionSummary> = functions
            .get_value()
            .into_iter()
            .filter(|f| matches_search(&f.name, &text))
            .collect();
        sort_functions(&mut list, sort);
        list
    };
    let rows = move || {
        let list = visible();
        if list.is_empty() {
            return view! {
                <tr>
                    <td colspan="6" class="empty-row">
                        "No function matches “" {search.get()} "”. Clear the search to see all " {total} "."
                    </td>
                </tr>
            }
            .into_any();
        }
        grouped_rows(list).into_any()
    };
    let shown = move || {
        let n = visible().len();
        if n == total {
            format!("{total} function{}", if total == 1 { "" } else { "s" })
        } else {
            format!("{n} of {total} shown")
        }
    };
    let search_box = searchable.then(|| {
        view! {
            <div class="table-search">
                <label class="visually-hidden" for="function-search">
                    "Search functions by name"
                </label>
                <input
                    id="function-search"
                    type="search"
                    class="search-input"
                    placeholder="Search by name…"
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
                <span class="muted small" aria-live="polite">{shown}</span>
            </div>
        }
    });
    view! {
        {search_box}
        <div class="table-wrap">
            <table class="table function-table">
                <thead>
                    <tr>
                        <SortHeader label="Name" key=SortKey::Name sort />
                        <SortHeader label="Live" key=SortKey::Live sort biggest_first=true />
                        <SortHeader
                            label="Last call (UTC)"
                            key=SortKey::LastCall
                            sort
                            biggest_first=true
                        />
                        <SortHeader label="Calls · 24 h" key=SortKey::Calls sort numeric=true />
                        <SortHeader label="Error rate" key=SortKey::ErrorRate sort numeric=true />
                        <SortHeader label="p50 duration" key=SortKey::P50 sort numeric=true />
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The rows grouped by application (in name order, each group in the
/// table's sort order) under a heading row per application — only when
/// there is more than one application.
fn grouped_rows(list: Vec<FunctionSummary>) -> impl IntoView {
    let mut groups: Vec<(String, Vec<FunctionSummary>)> = Vec::new();
    for f in list {
        match groups.iter_mut().find(|(app, _)| *app == f.application) {
            Some((_, rows)) => rows.push(f),
            None => groups.push((f.application.clone(), vec![f])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let headed = groups.len() > 1;
    groups
        .into_iter()
        .map(|(app, rows)| {
            let head = headed.then(|| {
                let q = format::query_value(&app);
                let page = format!("/applications/{q}");
                let costs = format!("/costs?application={q}");
                let graph = format!("/topology?application={q}");
                view! {
                    <tr class="group-row" data-application=app.clone()>
                        <th colspan="6" scope="rowgroup">
                            <a class="group-name" href=page>{app.clone()}</a>
                            <span class="group-links">
                                <a href=graph>"graph"</a>
                                " · "
                                <a href=costs>"costs"</a>
                            </span>
                        </th>
                    </tr>
                }
            });
            view! {
                {head}
                {rows.into_iter().map(function_row).collect_view()}
            }
        })
        .collect_view()
}

fn function_row(function: FunctionSummary) -> impl IntoView {
    let href = format!("/functions/{}", function.name);
    let live = match function.live_version {
        Some(version) => {
            let title = function
                .kind
                .clone()
                .map(|kind| format!("Version {version} ({kind}) serves traffic"))
                .unwrap_or_default();
            view! { <span class="pill pill-live" title=title>"v" {version}</span> }.into_any()
        }
        None => view! { <span class="muted">"none"</span> }.into_any(),
    };
    let last = match function.last_invoked_at {
        Some(at) => view! {
            <time datetime=format::datetime_attr(&at)>{format::datetime(&at)}</time>
        }
        .into_any(),
        None => view! { <span class="muted">"Never"</span> }.into_any(),
    };
    let rate = match error_rate(&function) {
        Some(rate) => {
            let class = if function.errors_24h > 0 {
                "error-rate has-errors"
            } else {
                "error-rate"
            };
            // The latest failure's trace (or record) is one click away.
            let failure = function
                .last_failure_trace_id
                .clone()
                .map(|trace| format!("/traces/{trace}"))
                .or_else(|| {
                    function
                        .last_failure_id
                        .clone()
                        .map(|id| format!("/invocations/{id}"))
                });
            match failure {
                Some(href) => view! {
                    <a class=class href=href title="Open the latest failure's trace">
                        {format::percent(rate)}
                    </a>
                }
                .into_any(),
                None => view! { <span class=class>{format::percent(rate)}</span> }.into_any(),
            }
        }
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let p50 = match function.p50_duration_ms {
        Some(ms) => format::duration_ms(ms).into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    view! {
        <tr data-function=function.name.clone()>
            <th scope="row">
                <a class="row-link" href=href>
                    {function.name.clone()}
                </a>
            </th>
            <td class="nowrap live-cell">{live}</td>
            <td class="nowrap">{last}</td>
            <td class="num calls">{format::count(function.calls_24h)}</td>
            <td class="num">{rate}</td>
            <td class="num nowrap">{p50}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn summary(name: &str, calls: i64, errors: i64, p50: Option<f64>) -> FunctionSummary {
        FunctionSummary {
            name: name.into(),
            application: "default".into(),
            live_version: Some(1),
            kind: Some("component".into()),
            version_count: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_invoked_at: None,
            calls_24h: calls,
            errors_24h: errors,
            p50_duration_ms: p50,
            last_failure_id: None,
            last_failure_trace_id: None,
        }
    }

    fn names(list: &[FunctionSummary]) -> Vec<&str> {
        list.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn sorts_with_missing_values_last() {
        let mut list = vec![
            summary("b", 5, 1, Some(2.0)),
            summary("a", 0, 0, None),
            summary("c", 9, 0, Some(1.0)),
        ];
        sort_functions(&mut list, SortState::descending(SortKey::Calls));
        assert_eq!(names(&list), ["c", "b", "a"]);
        sort_functions(&mut list, SortState::ascending(SortKey::P50));
        assert_eq!(names(&list), ["c", "b", "a"]);
        sort_functions(&mut list, SortState::descending(SortKey::ErrorRate));
        assert_eq!(names(&list), ["b", "c", "a"]);
        sort_functions(&mut list, SortState::ascending(SortKey::Name));
        assert_eq!(names(&list), ["a", "b", "c"]);
    }

    #[test]
    fn search_ignores_case() {
        assert!(matches_search("order-api", " API"));
        assert!(!matches_search("hello", "bye"));
    }
}
