//! The function page's invocations card: filters by status and time range,
//! pages of 50 (newer / older by cursor), and a refresh button. Filters and
//! pages are links with query parameters, so they work before hydration and
//! navigate without a reload after it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    api::{list_invocations, TIME_RANGES},
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        invocations::InvocationTable,
    },
    format,
};

/// The query parameters the card reads, in link order.
#[derive(Clone, Debug, Default, PartialEq)]
struct Filters {
    status: Option<String>,
    range: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

impl Filters {
    /// `/functions/{name}` with these filters as its query string.
    fn href(&self, name: &str) -> String {
        let pairs: Vec<String> = [
            ("status", &self.status),
            ("range", &self.range),
            ("before", &self.before),
            ("after", &self.after),
        ]
        .into_iter()
        .filter_map(|(key, value)| {
            value
                .as_ref()
                .map(|v| format!("{key}={}", format::query_value(v)))
        })
        .collect();
        if pairs.is_empty() {
            format!("/functions/{name}")
        } else {
            format!("/functions/{name}?{}", pairs.join("&"))
        }
    }

    /// The same filters on their first page.
    fn first_page(&self) -> Self {
        Self {
            before: None,
            after: None,
            ..self.clone()
        }
    }
}

#[component]
pub fn InvocationList(name: String, uploads: RwSignal<u32>) -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let query = query.read();
        let known =
            |value: Option<String>, allowed: &dyn Fn(&str) -> bool| value.filter(|v| allowed(v));
        Filters {
            status: known(query.get("status"), &|s| s == "success" || s == "error"),
            range: known(query.get("range"), &|r| {
                TIME_RANGES.iter().any(|(v, _, _)| *v == r)
            }),
            before: query.get("before").filter(|v| !v.is_empty()),
            after: query.get("after").filter(|v| !v.is_empty()),
        }
    });
    let refreshes = RwSignal::new(0u32);
    let (refreshing, set_refreshing) = signal(false);
    let name = StoredValue::new(name);
    let invocations = Resource::new(
        move || {
            (
                name.get_value(),
                filters.get(),
                refreshes.get(),
                uploads.get(),
            )
        },
        |(name, f, _, _)| list_invocations(name, f.status, f.range, f.before, f.after),
    );
    let status_link = move |label: &'static str, value: Option<&'static str>| {
        let href = move || {
            Filters {
                status: value.map(str::to_string),
                ..filters.get().first_page()
            }
            .href(&name.get_value())
        };
        let current = move || (filters.get().status.as_deref() == value).then_some("page");
        view! {
            <a class="segment" href=href aria-current=current>
                {label}
            </a>
        }
    };
    let range_link = move |label: &'static str, value: Option<&'static str>| {
        let href = move || {
            Filters {
                range: value.map(str::to_string),
                ..filters.get().first_page()
            }
            .href(&name.get_value())
        };
        let current = move || (filters.get().range.as_deref() == value).then_some("page");
        view! {
            <a class="segment" href=href aria-current=current>
                {label}
            </a>
        }
    };
    let ranges = TIME_RANGES
        .iter()
        .map(|(value, label, _)| range_link(label, Some(value)))
        .collect_view();

    view! {
        <section class="card card-flush" aria-labelledby="invocations-title">
            <div class="card-head">
                <h2 id="invocations-title">"Invocations"</h2>
                <div class="card-tools">
                    <nav class="segmented" aria-label="Filter invocations by status">
                        {status_link("All", None)} {status_link("Succeeded", Some("success"))}
                        {status_link("Failed", Some("error"))}
                    </nav>
                    <nav class="segmented" aria-label="Filter invocations by time">
                        {range_link("All time", None)} {ranges}
                    </nav>
                    <button
                        type="button"
                        class="btn btn-small"
                        disabled=move || refreshing.get()
                        on:click=move |_| refreshes.update(|n| *n += 1)
                    >
                        {move || if refreshing.get() { "Refreshing…" } else { "Refresh" }}
                    </button>
                </div>
            </div>
            <Transition fallback=|| view! { <Loading /> } set_pending=set_refreshing>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        let current = filters.get_untracked();
                        match invocations.await {
                            Ok(page) if page.records.is_empty() => {
                                let filtered = current.status.is_some() || current.range.is_some();
                                view! {
                                    <div class="empty empty-compact">
                                        <p>
                                            {if current.before.is_some() || current.after.is_some() {
                                                "No more invocations this way."
                                            } else if filtered {
                                                "No invocations match these filters. Widen the time range or show all statuses."
                                            } else {
                                                "No invocations yet. Call the function (the test panel above works) and refresh."
                                            }}
                                        </p>
                                        {(current != Filters::default()).then(|| view! {
                                            <p><a href=Filters::default().href(&name.get_value())>"Show all invocations"</a></p>
                                        })}
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(page) => {
                                let newer = page.records.first().filter(|_| page.has_newer).map(|first| {
                                    Filters { before: None, after: Some(first.id.clone()), ..current.clone() }
                                        .href(&name.get_value())
                                });
                                let older = page.records.last().filter(|_| page.has_older).map(|last| {
                                    Filters { before: Some(last.id.clone()), after: None, ..current.clone() }
                                        .href(&name.get_value())
                                });
                                let shown = page.records.len();
                                view! {
                                    <InvocationTable invocations=page.records />
                                    <nav class="pager" aria-label="Invocation pages">
                                        {match newer {
                                            Some(href) => view! { <a class="btn btn-small" href=href rel="prev">"← Newer"</a> }.into_any(),
                                            None => view! { <span class="btn btn-small" aria-disabled="true">"← Newer"</span> }.into_any(),
                                        }}
                                        <span class="muted small">{shown} " shown, newest first"</span>
                                        {match older {
                                            Some(href) => view! { <a class="btn btn-small" href=href rel="next">"Older →"</a> }.into_any(),
                                            None => view! { <span class="btn btn-small" aria-disabled="true">"Older →"</span> }.into_any(),
                                        }}
                                    </nav>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <div class="card-body">
                                        <ErrorPanel error />
                                    </div>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
    .into_any()
}
