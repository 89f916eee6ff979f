//! `/functions`: every function with what serves its traffic and how it did
//! in the last 24 hours (searchable, sortable), and the deploy panel. The
//! list refetches after each successful upload.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::list_functions,
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        function_table::FunctionTable,
        upload::UploadPanel,
    },
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
