//! `/functions`: every function with what serves its traffic, and the deploy
//! panel. The list refetches after each successful upload.

use leptos::prelude::*;
use leptos_meta::Title;
use model::FunctionSummary;

use crate::{
    api::list_functions,
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        upload::UploadPanel,
    },
    format,
};

#[component]
pub fn FunctionsPage() -> impl IntoView {
    let deploys = RwSignal::new(0u32);
    let functions = Resource::new(move || deploys.get(), |_| list_functions());
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
                <Transition fallback=|| view! { <Loading /> }>
                    <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                        {move || Suspend::new(async move {
                            match functions.await {
                                Ok(list) if list.is_empty() => view! { <NoFunctions /> }.into_any(),
                                Ok(list) => view! { <FunctionTable functions=list /> }.into_any(),
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

#[component]
fn FunctionTable(functions: Vec<FunctionSummary>) -> impl IntoView {
    let rows = functions
        .into_iter()
        .map(|function| {
            let href = format!("/functions/{}", function.name);
            let live = match function.live_version {
                Some(version) => {
                    view! { <span class="pill pill-live">"v" {version}</span> }.into_any()
                }
                None => view! { <span class="muted">"none"</span> }.into_any(),
            };
            let kind = function
                .kind
                .map(|kind| view! { <span class="tag">{kind}</span> }.into_any())
                .unwrap_or_else(|| view! { <span class="muted">"—"</span> }.into_any());
            let last = match function.last_invoked_at {
                Some(at) => view! {
                    <time datetime=format::datetime_attr(&at)>{format::datetime(&at)}</time>
                }
                .into_any(),
                None => view! { <span class="muted">"Never"</span> }.into_any(),
            };
            view! {
                <tr>
                    <th scope="row">
                        <a class="row-link" href=href>
                            {function.name}
                        </a>
                    </th>
                    <td>{live}</td>
                    <td>{kind}</td>
                    <td class="num">{function.version_count}</td>
                    <td class="nowrap">{last}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Live"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col" class="num">
                            "Versions"
                        </th>
                        <th scope="col">"Last invoked (UTC)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
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
