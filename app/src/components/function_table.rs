//! The functions list's table: every function with what serves its traffic
//! and how it did over the last 24 hours. The server renders every row; after
//! hydration a search box filters rows by name and column headers sort.

use std::cmp::Ordering;

use leptos::prelude::*;
use model::FunctionSummary;

use crate::format;

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

/// Compares two optional values in the chosen direction; missing values
/// (never called, no live version) sort after real ones either way.
fn by_option<T: PartialOrd>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let order = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if descending {
                order.reverse()
            } else {
                order
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn sort_functions(list: &mut [FunctionSummary], key: SortKey, descending: bool) {
    list.sort_by(|a, b| {
        let order = match key {
            SortKey::Name => by_option(Some(&a.name), Some(&b.name), descending),
            SortKey::Live => by_option(a.live_version, b.live_version, descending),
            SortKey::LastCall => by_option(a.last_invoked_at, b.last_invoked_at, descending),
            SortKey::Calls => by_option(Some(a.calls_24h), Some(b.calls_24h), descending),
            SortKey::ErrorRate => by_option(error_rate(a), error_rate(b), descending),
            SortKey::P50 => by_option(a.p50_duration_ms, b.p50_duration_ms, descending),
        };
        order.then_with(|| a.name.cmp(&b.name))
    });
}

/// Whether a function's name matches the search text (case-insensitive).
pub fn matches_search(name: &str, search: &str) -> bool {
    name.to_lowercase()
        .contains(search.trim().to_lowercase().as_str())
}

#[component]
pub fn FunctionTable(functions: Vec<FunctionSummary>) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new((SortKey::Name, false));
    let total = functions.len();
    let functions = StoredValue::new(functions);
    // `numeric` aligns the column right; `biggest_first` is its first direction.
    let header = move |label: &'static str, key: SortKey, numeric: bool, biggest_first: bool| {
        let state = move || {
            let (current, descending) = sort.get();
            match (current == key, descending) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            }
        };
        let mark = move || match state() {
            "descending" => "↓",
            "ascending" => "↑",
            _ => "",
        };
        view! {
            <th scope="col" class:num=numeric aria-sort=state>
                <button
                    type="button"
                    class="sort"
                    on:click=move |_| {
                        sort.update(|(current, descending)| {
                            if *current == key {
                                *descending = !*descending;
                            } else {
                                *current = key;
                                // Numbers and dates start with the biggest, names with A.
                                *descending = biggest_first;
                            }
                        })
                    }
                >
                    {label}
                    <span class="sort-mark" aria-hidden="true">{mark}</span>
                </button>
            </th>
        }
    };
    let visible = move || {
        let (key, descending) = sort.get();
        let text = search.get();
        let mut list: Vec<FunctionSummary> = functions
            .get_value()
            .into_iter()
            .filter(|f| matches_search(&f.name, &text))
            .collect();
        sort_functions(&mut list, key, descending);
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
        list.into_iter().map(function_row).collect_view().into_any()
    };
    let shown = move || {
        let n = visible().len();
        if n == total {
            format!("{total} function{}", if total == 1 { "" } else { "s" })
        } else {
            format!("{n} of {total} shown")
        }
    };
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
        <div class="table-wrap">
            <table class="table function-table">
                <thead>
                    <tr>
                        {header("Name", SortKey::Name, false, false)}
                        {header("Live", SortKey::Live, false, true)}
                        {header("Last call (UTC)", SortKey::LastCall, false, true)}
                        {header("Calls · 24 h", SortKey::Calls, true, true)}
                        {header("Error rate", SortKey::ErrorRate, true, true)}
                        {header("p50 duration", SortKey::P50, true, true)}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
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
            view! { <span class=class>{format::percent(rate)}</span> }.into_any()
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
            live_version: Some(1),
            kind: Some("component".into()),
            version_count: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_invoked_at: None,
            calls_24h: calls,
            errors_24h: errors,
            p50_duration_ms: p50,
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
        sort_functions(&mut list, SortKey::Calls, true);
        assert_eq!(names(&list), ["c", "b", "a"]);
        sort_functions(&mut list, SortKey::P50, false);
        assert_eq!(names(&list), ["c", "b", "a"]);
        sort_functions(&mut list, SortKey::ErrorRate, true);
        assert_eq!(names(&list), ["b", "c", "a"]);
        sort_functions(&mut list, SortKey::Name, false);
        assert_eq!(names(&list), ["a", "b", "c"]);
    }

    #[test]
    fn search_ignores_case() {
        assert!(matches_search("order-api", " API"));
        assert!(!matches_search("hello", "bye"));
    }
}
