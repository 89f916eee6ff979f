//! `/functions/:name`: one function — how to call it, its versions (with
//! rollback / roll forward through the `live` alias), its configuration, a
//! panel to upload a new version, and its latest invocations (`?status=` filters).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::{FunctionConfig, FunctionVersion};

use crate::{
    api::{list_invocations, load_function, ActivateVersion, FunctionOverview},
    components::{
        feedback::{ErrorList, ErrorPanel, Loading},
        invocations::InvocationTable,
        upload::{UploadPanel, UploadProgress},
    },
    format,
};

#[component]
pub fn FunctionPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let activate = ServerAction::<ActivateVersion>::new();
    let uploads = RwSignal::new(0u32);
    let overview = Resource::new(
        move || (name.get(), activate.version().get(), uploads.get()),
        |(name, _, _)| load_function(name),
    );
    let on_deployed = Callback::new(move |_| uploads.update(|n| *n += 1));
    // The panel is rebuilt when the overview refetches after a deploy; its
    // outcome lives here so it stays on screen.
    let upload_progress = UploadProgress::default();

    view! {
        <Title text=move || format!("{} · Functions · Wisp", name.get()) />
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <a href="/functions">"Functions"</a>
            <span class="sep" aria-hidden="true">"/"</span>
            <span aria-current="page">{name}</span>
        </nav>
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => {
                            view! {
                                <FunctionView overview activate on_deployed uploads upload_progress />
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
    .into_any()
}

#[component]
fn FunctionView(
    overview: FunctionOverview,
    activate: ServerAction<ActivateVersion>,
    on_deployed: Callback<model::DeployedVersion>,
    uploads: RwSignal<u32>,
    upload_progress: UploadProgress,
) -> impl IntoView {
    let FunctionOverview {
        detail,
        gateway_url,
    } = overview;
    let live = match detail.live_version {
        Some(version) => {
            view! { <span class="pill pill-live">"v" {version} " live"</span> }.into_any()
        }
        None => view! { <span class="pill">"No live version"</span> }.into_any(),
    };
    let call = match gateway_url {
        Some(url) => view! {
            <p class="call-line">
                <a class="gateway-url mono" href=url.clone() target="_blank" rel="noopener">
                    {url.clone()}
                </a>
            </p>
            <pre class="code-block">
                <code>"curl " {url}</code>
            </pre>
        }
        .into_any(),
        None => view! {
            <p class="call-line">
                <span class="gateway-url mono">{detail.gateway_path.clone()}</span>
                <span class="muted">"on the function gateway (" <code>"wisp serve --gateway"</code> ")"</span>
            </p>
        }
        .into_any(),
    };
    let activation_error = move || {
        activate.value().get().and_then(Result::err).map(|error| {
            view! {
                <div class="alert alert-error" role="alert">
                    {error.to_string()}
                </div>
            }
        })
    };

    view! {
        <div class="page-head">
            <div>
                <h1 class="title-with-pill">
                    <span>{detail.name.clone()}</span>
                    {live}
                </h1>
                <p class="lede">
                    "Created " {format::datetime(&detail.created_at)} " UTC · updated "
                    {format::datetime(&detail.updated_at)} " UTC"
                </p>
            </div>
        </div>
        <section class="card call-card" aria-labelledby="call-title">
            <h2 id="call-title">"Call it"</h2>
            {call}
        </section>
        <div class="split">
            <div class="stack">
                <section class="card card-flush" aria-labelledby="versions-title">
                    <div class="card-head">
                        <h2 id="versions-title">"Versions"</h2>
                        <span class="muted">{detail.versions.len()} " total"</span>
                    </div>
                    {activation_error}
                    <VersionsTable name=detail.name.clone() versions=detail.versions.clone() activate />
                </section>
                <section class="card" aria-labelledby="upload-title">
                    <h2 id="upload-title">"Upload a new version"</h2>
                    <p class="muted card-lede">"It goes live as soon as it is accepted; older versions stay one click away."</p>
                    <UploadPanel fixed_name=detail.name.clone() on_deployed progress=upload_progress />
                </section>
            </div>
            <aside class="card" aria-labelledby="config-title">
                <h2 id="config-title">"Configuration"</h2>
                <ConfigSummary config=detail.config.clone() triggers=detail.triggers.len() />
            </aside>
        </div>
        <RecentInvocations name=detail.name.clone() uploads />
    }
    .into_any()
}

/// Versions, newest first; the live one marked, the others one confirmed
/// click away from serving traffic.
#[component]
fn VersionsTable(
    name: String,
    versions: Vec<FunctionVersion>,
    activate: ServerAction<ActivateVersion>,
) -> impl IntoView {
    let confirming = RwSignal::new(None::<i64>);
    let pending = activate.pending();
    let rows = versions
        .into_iter()
        .map(|version| {
            let number = version.version;
            let name = name.clone();
            let action = if version.live {
                view! { <span class="badge badge-live">"Live"</span> }.into_any()
            } else {
                view! {
                    {move || {
                        if confirming.get() == Some(number) {
                            let name = name.clone();
                            view! {
                                <span class="confirm" role="group" aria-label=format!("Confirm activating version {number}")>
                                    <span class="confirm-text">"Serve v" {number} "?"</span>
                                    <button
                                        type="button"
                                        class="btn btn-primary btn-small"
                                        disabled=move || pending.get()
                                        on:click=move |_| {
                                            activate.dispatch(ActivateVersion { name: name.clone(), version: number });
                                        }
                                    >
                                        {move || if pending.get() { "Activating…" } else { "Activate" }}
                                    </button>
                                    <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirming.set(None)>
                                        "Cancel"
                                    </button>
                                </span>
                            }
                                .into_any()
                        } else {
                            view! {
                                <button
                                    type="button"
                                    class="btn btn-small"
                                    aria-label=format!("Activate version {number}")
                                    on:click=move |_| confirming.set(Some(number))
                                >
                                    "Activate"
                                </button>
                            }
                                .into_any()
                        }
                    }}
                }
                    .into_any()
            };
            view! {
                <tr class:row-live=version.live>
                    <th scope="row" class="mono">"v" {number}</th>
                    <td>
                        <span class="tag">{version.kind}</span>
                    </td>
                    <td class="num nowrap">{format::bytes(version.size_bytes)}</td>
                    <td class="mono" title=version.sha256.clone()>
                        {format::short_hash(&version.sha256).to_string()}
                    </td>
                    <td class="nowrap">{format::datetime(&version.created_at)}</td>
                    <td class="actions">{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col" class="num">
                            "Size"
                        </th>
                        <th scope="col">"SHA-256"</th>
                        <th scope="col">"Uploaded (UTC)"</th>
                        <th scope="col" class="actions">
                            <span class="visually-hidden">"Live or activate"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn ConfigSummary(config: FunctionConfig, triggers: usize) -> impl IntoView {
    let env = if config.env.is_empty() {
        view! { <span class="muted">"None"</span> }.into_any()
    } else {
        // Names only: values may be secrets.
        config
            .env
            .keys()
            .map(|key| view! { <span class="tag mono">{key.clone()}</span> })
            .collect_view()
            .into_any()
    };
    let hosts = if config.allowed_hosts.is_empty() {
        view! { <span class="muted">"None — outbound HTTP denied"</span> }.into_any()
    } else {
        config
            .allowed_hosts
            .iter()
            .map(|host| view! { <span class="tag mono">{host.clone()}</span> })
            .collect_view()
            .into_any()
    };
    let triggers = if triggers == 0 {
        "Gateway route only".to_string()
    } else {
        format!("{triggers} + gateway route")
    };
    view! {
        <dl class="facts">
            <div>
                <dt>"Memory limit"</dt>
                <dd>{config.memory_mb} " MiB"</dd>
            </div>
            <div>
                <dt>"Timeout"</dt>
                <dd>{format::timeout(config.timeout_ms)}</dd>
            </div>
            <div>
                <dt>"Max concurrency"</dt>
                <dd>{config.max_concurrency}</dd>
            </div>
            <div>
                <dt>"Triggers"</dt>
                <dd>{triggers}</dd>
            </div>
            <div class="fact-wide">
                <dt>"Environment"</dt>
                <dd class="tags">{env}</dd>
            </div>
            <div class="fact-wide">
                <dt>"Outbound hosts"</dt>
                <dd class="tags">{hosts}</dd>
            </div>
        </dl>
    }
    .into_any()
}

/// The latest invocations, filterable by status, with a refresh button.
#[component]
fn RecentInvocations(name: String, uploads: RwSignal<u32>) -> impl IntoView {
    let query = use_query_map();
    let status = Memo::new(move |_| {
        query
            .read()
            .get("status")
            .filter(|status| status == "success" || status == "error")
    });
    let refreshes = RwSignal::new(0u32);
    let (refreshing, set_refreshing) = signal(false);
    let invocations = {
        let name = name.clone();
        Resource::new(
            move || (name.clone(), status.get(), refreshes.get(), uploads.get()),
            |(name, status, _, _)| list_invocations(name, status),
        )
    };
    let filter = move |label: &'static str, value: Option<&'static str>| {
        let href = match value {
            Some(value) => format!("/functions/{name}?status={value}"),
            None => format!("/functions/{name}"),
        };
        let current = move || (status.get().as_deref() == value).then_some("page");
        view! {
            <a class="segment" href=href aria-current=current>
                {label}
            </a>
        }
    };

    view! {
        <section class="card card-flush" aria-labelledby="invocations-title">
            <div class="card-head">
                <h2 id="invocations-title">"Latest invocations"</h2>
                <div class="card-tools">
                    <nav class="segmented" aria-label="Filter invocations by status">
                        {filter("All", None)} {filter("Succeeded", Some("success"))}
                        {filter("Failed", Some("error"))}
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
                        match invocations.await {
                            Ok(list) if list.is_empty() => {
                                view! {
                                    <div class="empty empty-compact">
                                        <p>
                                            {if status.get_untracked().is_some() {
                                                "No invocations with this status yet."
                                            } else {
                                                "No invocations yet. Call the function and refresh."
                                            }}
                                        </p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(list) => view! { <InvocationTable invocations=list /> }.into_any(),
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
