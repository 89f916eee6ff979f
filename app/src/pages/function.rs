//! `/functions/:name`: one function — how to call it, its versions (with
//! rollback / roll forward through the `live` alias), its configuration form,
//! a panel to upload a new version, a test-request panel, the live log tail,
//! the replay of its latest recorded failures on a version, and its
//! invocations (status and time filters, pages).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::FunctionVersion;

use crate::{
    api::{load_function, ActivateVersion, FunctionOverview},
    components::{
        config_form::ConfigEditor,
        feedback::{ErrorList, ErrorPanel, Loading},
        invocation_list::InvocationList,
        live_tail::LiveTail,
        replay::ReplayFailuresPanel,
        secrets_form::SecretsEditor,
        test_invoke::TestInvokePanel,
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
        <Title text=move || format!("{} · Functions · Wisp", format::title_safe(&name.get())) />
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
    // Which compiler's code the live version runs (baseline right after an
    // upload, until its optimised code is ready).
    let code = detail.live_code.map(|code| {
        let class = match code {
            model::CodeTier::Optimized => "pill",
            _ => "pill pill-warn",
        };
        let label = match code {
            model::CodeTier::Optimized => "optimised",
            model::CodeTier::Optimizing => "baseline · optimising",
            model::CodeTier::Baseline => "baseline",
        };
        view! {
            <span class=class title=code.describe() data-code=label>
                {label}
            </span>
        }
    });
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
    let triggers = if detail.triggers.is_empty() {
        view! {
            <p class="muted">
                "No triggers: only the gateway URL above calls it. "
                <a href="/triggers">"Add a route, schedule or subscription"</a>
            </p>
        }
        .into_any()
    } else {
        let items = detail
            .triggers
            .iter()
            .map(|t| {
                let next = t
                    .next_fires
                    .first()
                    .map(|at| format!(" · next {} UTC", format::datetime(at)))
                    .unwrap_or_default();
                view! {
                    <li>
                        <span class="tag">{t.spec.kind()}</span>
                        " "
                        <code>{t.spec.describe()}</code>
                        <span class="muted">{next}</span>
                    </li>
                }
            })
            .collect_view();
        view! {
            <ul class="trigger-list">{items}</ul>
            <p><a href="/triggers">"Manage triggers"</a></p>
        }
        .into_any()
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
                    {code}
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
            <h3 class="subhead">"Triggers"</h3>
            {triggers}
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
                <p class="muted card-lede">"Changes apply from the next call."</p>
                <ConfigEditor name=detail.name.clone() config=detail.config.clone() />
                <h3 class="subhead" id="secrets-title">"Secrets"</h3>
                <SecretsEditor name=detail.name.clone() secrets=detail.secrets.clone() />
            </aside>
        </div>
        <div class="split split-even">
            <section class="card" aria-labelledby="test-title">
                <h2 id="test-title">"Test request"</h2>
                <p class="muted card-lede">"Sends one request to the live version and shows its answer and logs."</p>
                <TestInvokePanel name=detail.name.clone() />
            </section>
            <section class="card card-flush tail-card" aria-labelledby="tail-title">
                <LiveTail name=detail.name.clone() />
            </section>
        </div>
        <section class="card" aria-labelledby="replay-failures-title">
            <h2 id="replay-failures-title">"Replay failures"</h2>
            <p class="muted card-lede">
                "Runs the latest recorded failures again on a version (the fixed one, say) with their recorded clocks, random bytes and outbound answers, and shows which are fixed."
            </p>
            <ReplayFailuresPanel name=detail.name.clone() versions=detail.versions.clone() />
        </section>
        <InvocationList name=detail.name.clone() uploads />
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
