//! Replay in the dashboard: the Replay card of a recorded invocation (pick
//! a version and where outbound requests go, run it, see the diff), the
//! diff view itself (status, headers, body, logs and outbound requests of
//! the original beside the replay's, with line diffs), and the function
//! page's "replay the last N failures on version X" with its summary table.

use leptos::prelude::*;
use leptos::task::spawn_local;
use model::{
    DiffTag, FunctionVersion, ReplayFailuresResult, ReplayOutbound, ReplayResult, ReplayVerdict,
    TextDiff,
};

use crate::{
    api::load_function,
    components::feedback::{ErrorPanel, Loading, StatusBadge},
    error::AppError,
    format,
    replay_api::{capture_state, replay_failures, replay_invocation},
};

/// The `<option>`s of a version picker: the live one first (value empty),
/// then every version, newest first.
fn version_options(versions: &[FunctionVersion], selected: Option<i64>) -> impl IntoView {
    let live = versions.iter().find(|v| v.live).map(|v| v.version);
    let mut sorted: Vec<i64> = versions.iter().map(|v| v.version).collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let live_label = live.map_or("live".to_string(), |v| format!("live (v{v})"));
    view! {
        <option value="" selected=selected.is_none()>{live_label}</option>
        {sorted
            .into_iter()
            .map(|v| {
                view! { <option value=v.to_string() selected=selected == Some(v)>{format!("v{v}")}</option> }
            })
            .collect_view()}
    }
}

/// A status for a cell: the code, or "no response".
fn status_text(code: Option<u16>) -> String {
    code.map_or("no response".to_string(), |c| c.to_string())
}

/// The Replay card of invocation `id` of `function` (version `version`):
/// shown for recorded calls; says why not otherwise.
#[component]
pub fn ReplayCard(id: String, function: String, version: i64) -> impl IntoView {
    let status = Resource::new(
        {
            let id = id.clone();
            move || id.clone()
        },
        capture_state,
    );
    let versions = Resource::new(
        {
            let function = function.clone();
            move || function.clone()
        },
        load_function,
    );
    let id = StoredValue::new(id);
    view! {
        <section class="card" aria-labelledby="replay-title" id="replay">
            <h2 id="replay-title">"Replay"</h2>
            <Transition fallback=|| view! { <Loading /> }>
                {move || Suspend::new(async move {
                    let state = status.await;
                    let overview = versions.await;
                    match (state, overview) {
                        (Ok(state), _) if !state.captured => {
                            view! {
                                <p class="muted">
                                    "This call was not recorded, so it cannot be replayed. A function records its failed calls by default ("
                                    <em>"Record calls for replay"</em>
                                    " in its configuration); recordings are kept 30 days."
                                </p>
                            }
                                .into_any()
                        }
                        (Ok(state), _) if state.incomplete.is_some() => {
                            view! {
                                <p class="muted">
                                    "This call was recorded only in part ("
                                    {state.incomplete.unwrap_or_default()}
                                    "), so a replay would not be exact and is not offered."
                                </p>
                            }
                                .into_any()
                        }
                        (Ok(_), Ok(overview)) => {
                            view! {
                                <ReplayForm
                                    id=id.get_value()
                                    versions=overview.detail.versions
                                    original=version
                                />
                            }
                                .into_any()
                        }
                        (Err(error), _) | (_, Err(error)) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Version and outbound pickers, the Replay button, and the diff.
#[component]
fn ReplayForm(id: String, versions: Vec<FunctionVersion>, original: i64) -> impl IntoView {
    let id = StoredValue::new(id);
    let version = RwSignal::new(Some(original));
    let recorded = RwSignal::new(true);
    let pending = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<ReplayResult, AppError>>);
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        result.set(None);
        let outbound = if recorded.get_untracked() {
            ReplayOutbound::Recorded
        } else {
            ReplayOutbound::Live
        };
        let chosen = version.get_untracked();
        spawn_local(async move {
            let answer = replay_invocation(id.get_value(), chosen, outbound).await;
            pending.set(false);
            result.set(Some(answer));
        });
    };
    view! {
        <p class="muted card-lede">
            "Runs the recorded request again in a fresh sandbox with the same clock readings and random bytes. With recorded outbound, its outbound requests are answered from the recording: nothing is sent, published or written."
        </p>
        <form class="replay-form" on:submit=on_submit novalidate=true>
            <div class="field">
                <label for="replay-version">"Version"</label>
                <select
                    id="replay-version"
                    on:change=move |ev| version.set(event_target_value(&ev).parse().ok())
                >
                    {version_options(&versions, Some(original))}
                </select>
            </div>
            <div class="field">
                <label for="replay-outbound">"Outbound requests"</label>
                <select
                    id="replay-outbound"
                    on:change=move |ev| recorded.set(event_target_value(&ev) != "live")
                >
                    <option value="recorded" selected=true>"Answered from the recording"</option>
                    <option value="live">"Sent for real"</option>
                </select>
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get() || !interactive.get()>
                    {move || if pending.get() { "Replaying…" } else { "Replay" }}
                </button>
            </div>
        </form>
        {move || match result.get() {
            None => None,
            Some(Ok(answer)) => Some(view! { <DiffView answer /> }.into_any()),
            Some(Err(error)) => Some(view! { <ErrorPanel error /> }.into_any()),
        }}
    }
}

/// The original call beside its replay, part by part.
#[component]
pub fn DiffView(answer: ReplayResult) -> impl IntoView {
    let ReplayResult {
        replay,
        original,
        diff,
    } = answer;
    let verdict = if diff.same {
        view! { <p class="replay-verdict same" role="status">"The replay matches the original exactly."</p> }
    } else {
        view! { <p class="replay-verdict changed" role="status">"The replay differs from the original."</p> }
    };
    let mark = |same: bool| {
        if same {
            view! { <span class="tag tag-same">"same"</span> }
        } else {
            view! { <span class="tag tag-changed">"changed"</span> }
        }
    };
    let divergences = (!diff.divergences.is_empty()).then(|| {
        let items = diff
            .divergences
            .iter()
            .map(|d| {
                view! {
                    <li>
                        "Outbound request #" {d.index} ": recorded "
                        <code>{d.recorded.clone().unwrap_or_else(|| "(none)".into())}</code>
                        ", replay " <code>{d.replay.clone()}</code> " (" {d.differs.join(", ")}
                        " differs). It was not sent."
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="card-danger replay-divergences" role="alert">
                <h3 class="subhead">"Diverged"</h3>
                <ul>{items}</ul>
            </div>
        }
    });
    let headers = (!diff.headers.is_empty()).then(|| {
        let rows = diff
            .headers
            .iter()
            .map(|h| {
                view! {
                    <tr>
                        <td class="mono">{h.name.clone()}</td>
                        <td class="mono break">{h.original.clone().unwrap_or_else(|| "—".into())}</td>
                        <td class="mono break">{h.replay.clone().unwrap_or_else(|| "—".into())}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <h3 class="subhead">"Response headers that differ"</h3>
            <div class="table-wrap">
                <table class="table">
                    <thead><tr><th>"Header"</th><th>"Original"</th><th>"Replay"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    });
    let outbound = (!diff.outbound.is_empty()).then(|| {
        let rows = diff
            .outbound
            .iter()
            .map(|o| {
                view! {
                    <tr>
                        <td>{o.index}</td>
                        <td class="mono break">{o.original.clone().unwrap_or_else(|| "—".into())}</td>
                        <td class="mono break">{o.replay.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{mark(o.same)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <h3 class="subhead">"Outbound requests"</h3>
            <div class="table-wrap">
                <table class="table">
                    <thead><tr><th>"#"</th><th>"Original"</th><th>"Replay"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    });
    let replay_href = format!("/invocations/{}", replay.id);
    view! {
        <div class="replay-result" aria-label="Replay result">
            {verdict}
            <dl class="facts facts-wide replay-facts">
                <div>
                    <dt>"Original"</dt>
                    <dd>"v" {original.version} " · " <StatusBadge status=original.status /></dd>
                </div>
                <div>
                    <dt>"Replay"</dt>
                    <dd>
                        <a href=replay_href>"v" {replay.version} " · " {format::short_id(&replay.id)}</a>
                        " · " <StatusBadge status=replay.status />
                    </dd>
                </div>
                <div>
                    <dt>"Status"</dt>
                    <dd>
                        {status_text(diff.status.original)} " → " {status_text(diff.status.replay)} " "
                        {mark(diff.status.same)}
                    </dd>
                </div>
                <div>
                    <dt>"Headers"</dt>
                    <dd>{mark(diff.headers.is_empty())}</dd>
                </div>
            </dl>
            {divergences}
            {headers}
            <TextDiffView title="Body" diff=diff.body />
            <TextDiffView title="Logs" diff=diff.logs />
            {outbound}
        </div>
    }
}

/// One text of both calls: the same text once, or both side by side and
/// their line diff.
#[component]
fn TextDiffView(title: &'static str, diff: TextDiff) -> impl IntoView {
    if diff.same {
        let text = if diff.original.is_empty() {
            "(empty)".to_string()
        } else {
            diff.original
        };
        return view! {
            <h3 class="subhead">{title} " " <span class="tag tag-same">"same"</span></h3>
            <pre class="logs replay-text" tabindex="0">{text}</pre>
        }
        .into_any();
    }
    let lines = diff
        .lines
        .into_iter()
        .map(|line| {
            let (class, sign) = match line.tag {
                DiffTag::Same => ("diff-line", " "),
                DiffTag::Removed => ("diff-line diff-removed", "-"),
                DiffTag::Added => ("diff-line diff-added", "+"),
            };
            view! { <span class=class><span class="diff-sign" aria-hidden="true">{sign}</span>{line.text}"\n"</span> }
        })
        .collect_view();
    view! {
        <h3 class="subhead">{title} " " <span class="tag tag-changed">"changed"</span></h3>
        <div class="diff-sides">
            <div>
                <p class="diff-side-label">"Original"</p>
                <pre class="logs replay-text" tabindex="0">{diff.original}</pre>
            </div>
            <div>
                <p class="diff-side-label">"Replay"</p>
                <pre class="logs replay-text" tabindex="0">{diff.replay}</pre>
            </div>
        </div>
        <p class="diff-side-label">"Line diff (− original, + replay)"</p>
        <pre class="logs diff" tabindex="0" aria-label=format!("{title} line diff")>{lines}</pre>
    }
    .into_any()
}

/// The function page's "replay the last N failures on version X".
#[component]
pub fn ReplayFailuresPanel(name: String, versions: Vec<FunctionVersion>) -> impl IntoView {
    let name = StoredValue::new(name);
    let version = RwSignal::new(None::<i64>);
    let last = RwSignal::new("10".to_string());
    let pending = RwSignal::new(false);
    let result = RwSignal::new(None::<Result<ReplayFailuresResult, AppError>>);
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = last.get_untracked().trim().parse::<u32>().unwrap_or(10);
        pending.set(true);
        result.set(None);
        let chosen = version.get_untracked();
        spawn_local(async move {
            let answer = replay_failures(name.get_value(), chosen, n).await;
            pending.set(false);
            result.set(Some(answer));
        });
    };
    view! {
        <form class="replay-form" on:submit=on_submit novalidate=true>
            <div class="field">
                <label for="replay-failures-last">"Last failures"</label>
                <input
                    id="replay-failures-last"
                    type="text"
                    inputmode="numeric"
                    prop:value=move || last.get()
                    on:input=move |ev| last.set(event_target_value(&ev))
                />
            </div>
            <div class="field">
                <label for="replay-failures-version">"On version"</label>
                <select
                    id="replay-failures-version"
                    on:change=move |ev| version.set(event_target_value(&ev).parse().ok())
                >
                    {version_options(&versions, None)}
                </select>
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get() || !interactive.get()>
                    {move || if pending.get() { "Replaying…" } else { "Replay failures" }}
                </button>
            </div>
        </form>
        {move || match result.get() {
            None => None,
            Some(Ok(answer)) => Some(view! { <FailuresTable answer /> }.into_any()),
            Some(Err(error)) => Some(view! { <ErrorPanel error /> }.into_any()),
        }}
    }
}

#[component]
fn FailuresTable(answer: ReplayFailuresResult) -> impl IntoView {
    if answer.results.is_empty() {
        return view! {
            <p class="muted" role="status">
                "No recorded failures to replay: failed calls are recorded from now on (capture = failures)."
            </p>
        }
        .into_any();
    }
    let rows = answer
        .results
        .into_iter()
        .map(|r| {
            let (label, class) = match r.verdict {
                Some(ReplayVerdict::Fixed) => ("fixed", "tag tag-same"),
                Some(ReplayVerdict::StillFailing) => ("still failing", "tag tag-changed"),
                Some(ReplayVerdict::Diverged) => ("diverged", "tag tag-diverged"),
                None => ("skipped", "tag"),
            };
            let replay = match (&r.replay_id, &r.error) {
                (Some(id), _) => view! {
                    <a href=format!("/invocations/{id}#replay")>{format::short_id(id)}</a>
                }
                .into_any(),
                (None, Some(error)) => view! { <span class="muted small">{error.clone()}</span> }.into_any(),
                (None, None) => view! { <span>"—"</span> }.into_any(),
            };
            view! {
                <tr>
                    <td><a href=format!("/invocations/{}", r.original_id)>{format::short_id(&r.original_id)}</a></td>
                    <td><span class=class>{label}</span></td>
                    <td>{status_text(r.original_status)}</td>
                    <td>{status_text(r.replay_status)}</td>
                    <td>{replay}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="replay-summary" role="status">
            "On v" {answer.version} ": " <strong>{answer.fixed} " fixed"</strong> ", "
            {answer.still_failing} " still failing, " {answer.diverged} " diverged"
            {(answer.skipped > 0).then(|| format!(", {} skipped", answer.skipped))}
        </p>
        <div class="table-wrap">
            <table class="table replay-table">
                <thead>
                    <tr>
                        <th>"Failure"</th>
                        <th>"Result"</th>
                        <th>"Before"</th>
                        <th>"After"</th>
                        <th>"Replay"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
