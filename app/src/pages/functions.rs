//! `/functions`: the team's functions by name, a page of
//! [`FUNCTIONS_PER_PAGE`] at a time (`?search=` narrows by name on the
//! server, `?after=` pages on), each with what serves its traffic and how
//! it did in the last 24 hours (a page sorts by column), and the deploy
//! panel. The list refetches after each successful upload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use model::FunctionListPage;

use crate::{
    api::{list_function_page, FUNCTIONS_PER_PAGE},
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        function_table::FunctionTable,
        upload::UploadPanel,
    },
    format,
};

/// `/functions` with a search and a page cursor as its query.
fn list_href(search: Option<&str>, after: Option<&str>) -> String {
    let pairs: Vec<String> = [("search", search), ("after", after)]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| format!("{key}={}", format::query_value(v))))
        .collect();
    match pairs.is_empty() {
        true => "/functions".to_string(),
        false => format!("/functions?{}", pairs.join("&")),
    }
}

#[component]
pub fn FunctionsPage() -> impl IntoView {
    let query = use_query_map();
    let search = Memo::new(move |_| {
        query
            .read()
            .get("search")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    });
    let after = Memo::new(move |_| query.read().get("after").filter(|s| !s.is_empty()));
    let deploys = RwSignal::new(0u32);
    let functions = Resource::new(
        move || (search.get(), after.get(), deploys.get()),
        |(search, after, _)| list_function_page(search, after),
    );
    let on_deployed = Callback::new(move |_| deploys.update(|n| *n += 1));

    view! {
        <Title text="Functions · Wisp" />
        <div class="page-head">
            <div>
                <h1>"Functions"</h1>
                <p class="lede">
                    "Each upload is an immutable version; the " <code>"live"</code>
                    " alias decides which one serves traffic."
                </p>
            </div>
        </div>
        <div class="split">
            <section class="card card-flush" aria-labelledby="functions-title">
                <div class="card-head">
                    <h2 id="functions-title">"All functions"</h2>
                </div>
                <form method="get" action="/functions" class="table-search" role="search" aria-label="Search functions">
                    <label class="visually-hidden" for="function-search">
                        "Search functions by name"
                    </label>
                    <input
                        id="function-search"
                        type="search"
                        name="search"
                        class="search-input"
                        placeholder="Search by name…"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || search.get().unwrap_or_default()
                    />
                    <button type="submit" class="btn btn-small">"Search"</button>
                </form>
                <Transition fallback=|| view! { <Loading /> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                        {move || Suspend::new(async move {
                            let current = search.get_untracked();
                            let from = after.get_untracked();
                            match functions.await {
                                Ok(page) if page.total == 0 && current.is_none() => {
                                    view! { <NoFunctions /> }.into_any()
                                }
                                Ok(page) if page.functions.is_empty() => {
                                    view! { <NoMatch search=current from /> }.into_any()
                                }
                                Ok(page) => {
                                    view! {
                                        <FunctionTable functions=page.functions.clone() searchable=false />
                                        <FunctionPager page search=current from />
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
            <aside class="card" aria-labelledby="deploy-title" id="deploy">
                <h2 id="deploy-title">"Deploy a function"</h2>
                <p class="muted card-lede">
                    "Upload a " <code>".wasm"</code>
                    " file. A new name creates the function; an existing name gets a new version that goes live at once."
                </p>
                <UploadPanel on_deployed />
            </aside>
        </div>
    }
    .into_any()
}

/// Under the table: how many match, and the links to the first and the
/// next page.
#[component]
fn FunctionPager(
    page: FunctionListPage,
    search: Option<String>,
    from: Option<String>,
) -> impl IntoView {
    let shown = page.functions.len();
    let total = page.total;
    let noun = if total == 1 { "function" } else { "functions" };
    let matching = match &search {
        Some(text) => format!(" matching “{text}”"),
        None => String::new(),
    };
    let summary = match (from.is_some(), page.next_after.is_some()) {
        (false, false) => format!("{} {noun}{matching}", format::count(total)),
        _ => format!(
            "{shown} shown of {} {noun}{matching}, by name",
            format::count(total)
        ),
    };
    let first = from.is_some().then(|| {
        let href = list_href(search.as_deref(), None);
        view! { <a class="btn btn-small" href=href>"← First page"</a> }
    });
    let next = page.next_after.map(|last| {
        let href = list_href(search.as_deref(), Some(&last));
        view! { <a class="btn btn-small" href=href rel="next">"Next " {FUNCTIONS_PER_PAGE} " →"</a> }
    });
    view! {
        <nav class="pager" aria-label="Function pages">
            <span>{first}</span>
            <span class="muted small" aria-live="polite">{summary}</span>
            <span>{next}</span>
        </nav>
    }
}

/// A search (or a page past the end) with nothing to show.
#[component]
fn NoMatch(search: Option<String>, from: Option<String>) -> impl IntoView {
    let text = match (&search, &from) {
        (Some(text), _) => format!("No function name contains “{text}”."),
        (None, _) => "No more functions after this one.".to_string(),
    };
    view! {
        <div class="empty empty-compact">
            <p>{text}</p>
            <p><a href="/functions">"Show all functions"</a></p>
        </div>
    }
}

#[component]
fn NoFunctions() -> impl IntoView {
    view! {
        <div class="empty">
            <div class="empty-mark" aria-hidden="true"></div>
            <h3>"No functions yet"</h3>
            <p>"Deploy your first function from a terminal:"</p>
            <pre class="code-block">
                <code>"wisp deploy hello.wasm --name hello"</code>
            </pre>
            <p class="muted">
                "…or drop a " <code>".wasm"</code>
                " file on the Deploy panel. Any WASI 0.2 HTTP component or WAGI module works."
            </p>
        </div>
    }
    .into_any()
}
