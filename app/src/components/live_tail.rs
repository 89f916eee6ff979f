//! The function page's live log tail: listens to the API's server-sent events
//! (`GET /api/v1/invocations/stream?function=&logs=true`, authenticated by
//! the session cookie) and shows each call's log lines as they are written,
//! under a "running" entry, then each stored invocation as it arrives — its
//! id (linking to its page), status and log lines. JSON lines show their
//! level. Pause holds new records back (running calls still show); Clear
//! empties the list. Browser only: the server renders the empty panel.

use leptos::prelude::*;
use model::{InvocationRecord, LiveLogLine};

use crate::{components::feedback::StatusBadge, format};

/// Lines kept on screen; older ones drop off the bottom.
const MAX_LINES: usize = 100;
/// Running calls shown at once, and lines kept of each.
const MAX_RUNNING: usize = 20;
const MAX_RUNNING_LINES: usize = 200;

/// A call still running: the lines it wrote so far.
#[derive(Clone, Debug, PartialEq)]
struct Running {
    id: String,
    lines: Vec<LiveLogLine>,
}

// Only the browser build ever leaves `Connecting`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connection {
    Connecting,
    Live,
    Reconnecting,
}

#[component]
pub fn LiveTail(name: String) -> impl IntoView {
    let lines = RwSignal::new(Vec::<InvocationRecord>::new());
    let held = RwSignal::new(Vec::<InvocationRecord>::new());
    let paused = RwSignal::new(false);
    let connection = RwSignal::new(Connection::Connecting);
    let running = RwSignal::new(Vec::<Running>::new());
    let url = format!(
        "/api/v1/invocations/stream?logs=true&function={}",
        format::query_value(&name)
    );

    let receive_line = move |line: LiveLogLine| {
        running.update(
            |list| match list.iter_mut().find(|r| r.id == line.invocation_id) {
                Some(entry) if entry.lines.len() < MAX_RUNNING_LINES => entry.lines.push(line),
                Some(_) => {}
                None => {
                    list.insert(
                        0,
                        Running {
                            id: line.invocation_id.clone(),
                            lines: vec![line],
                        },
                    );
                    list.truncate(MAX_RUNNING);
                }
            },
        );
    };
    let receive = move |record: InvocationRecord| {
        running.update(|list| list.retain(|r| r.id != record.id));
        let target = if paused.get_untracked() { held } else { lines };
        target.update(|list| {
            list.insert(0, record);
            list.truncate(MAX_LINES);
        });
    };
    connect(url, receive, receive_line, connection);

    let toggle_pause = move |_| {
        if paused.get_untracked() {
            let waiting = held.try_update(std::mem::take).unwrap_or_default();
            lines.update(|list| {
                let mut merged = waiting;
                merged.append(list);
                merged.truncate(MAX_LINES);
                *list = merged;
            });
        }
        paused.update(|p| *p = !*p);
    };
    let status = move || match (connection.get(), paused.get()) {
        (_, true) => ("tail-status paused", "Paused".to_string()),
        (Connection::Live, false) => ("tail-status live", "Live".to_string()),
        (Connection::Connecting, false) => ("tail-status", "Connecting…".to_string()),
        (Connection::Reconnecting, false) => ("tail-status down", "Reconnecting…".to_string()),
    };

    view! {
        <div class="card-head">
            <h2 id="tail-title">"Live logs"</h2>
            <div class="card-tools">
                <span class=move || status().0 role="status">
                    <span class="dot" aria-hidden="true"></span>
                    {move || status().1}
                    {move || {
                        let n = held.get().len();
                        (n > 0).then(|| format!(" · {n} waiting"))
                    }}
                </span>
                <button type="button" class="btn btn-small" aria-pressed=move || paused.get().to_string() on:click=toggle_pause>
                    {move || if paused.get() { "Resume" } else { "Pause" }}
                </button>
                <button
                    type="button"
                    class="btn btn-ghost btn-small"
                    on:click=move |_| {
                        lines.set(Vec::new());
                        held.set(Vec::new());
                        running.set(Vec::new());
                    }
                >
                    "Clear"
                </button>
            </div>
        </div>
        <div class="tail" aria-live="polite" aria-relevant="additions">
            <ol class="tail-lines tail-running">
                <For each=move || running.get() key=|r| (r.id.clone(), r.lines.len()) let:entry>
                    <RunningLine entry />
                </For>
            </ol>
            {move || {
                let list = lines.get();
                if list.is_empty() && running.with(Vec::is_empty) {
                    return view! {
                        <p class="tail-empty">"Waiting for calls. Lines appear as a call writes them; each invocation's record follows when it ends."</p>
                    }
                        .into_any();
                }
                view! {
                    <ol class="tail-lines">
                        <For each=move || lines.get() key=|record| record.id.clone() let:record>
                            <TailLine record />
                        </For>
                    </ol>
                }
                    .into_any()
            }}
        </div>
    }
    .into_any()
}

#[component]
fn RunningLine(entry: Running) -> impl IntoView {
    let href = format!("/invocations/{}", entry.id);
    let started = entry.lines.first().map(|l| l.at);
    let lines = entry
        .lines
        .into_iter()
        .map(|line| view! { <LogLine line /> })
        .collect_view();
    view! {
        <li class="tail-line tail-line-running" data-invocation=entry.id.clone()>
            <div class="tail-meta">
                {started.map(|at| view! {
                    <time class="mono" datetime=format::datetime_attr(&at)>
                        {at.format("%H:%M:%S").to_string()}
                    </time>
                })}
                <a class="mono tail-id" href=href title=format!("Invocation {}", entry.id)>
                    {format::short_id(&entry.id)}
                </a>
                <span class="badge badge-running">"running"</span>
            </div>
            <pre class="tail-logs">{lines}</pre>
        </li>
    }
}

/// One line a running call wrote; a JSON line shows its level and message.
#[component]
pub(crate) fn LogLine(line: LiveLogLine) -> impl IntoView {
    let level = line
        .structured
        .as_ref()
        .and_then(|s| s.level.clone())
        .map(|level| {
            let class = format!("log-level log-{level}");
            view! { <span class=class>{level}</span> }
        });
    let text = line
        .structured
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or(line.text);
    view! { <div class="tail-log-line">{level} {text}</div> }
}

#[component]
fn TailLine(record: InvocationRecord) -> impl IntoView {
    let href = format!("/invocations/{}", record.id);
    let logs = record.logs.trim_end().to_string();
    view! {
        <li class="tail-line" data-invocation=record.id.clone()>
            <div class="tail-meta">
                <time class="mono" datetime=format::datetime_attr(&record.started_at)>
                    {record.started_at.format("%H:%M:%S").to_string()}
                </time>
                <a class="mono tail-id" href=href title=format!("Invocation {}", record.id)>
                    {format::short_id(&record.id)}
                </a>
                <StatusBadge status=record.status />
                <span class="mono muted">{record.method.clone()} " " {record.path.clone()}</span>
                <span class="muted">{format::duration_ms(record.duration_ms)}</span>
            </div>
            {(!logs.is_empty()).then(|| view! { <pre class="tail-logs">{logs}</pre> })}
            {record.error.clone().map(|error| view! { <pre class="tail-logs tail-error">{error}</pre> })}
        </li>
    }
}

/// Opens the event stream once the page is interactive and closes it when
/// the panel goes away. The browser's EventSource reconnects by itself.
#[cfg(feature = "hydrate")]
pub(crate) fn connect(
    url: String,
    receive: impl Fn(InvocationRecord) + Copy + 'static,
    receive_line: impl Fn(LiveLogLine) + Copy + 'static,
    connection: RwSignal<Connection>,
) {
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};

    Effect::new(move |_| {
        let Ok(source) = web_sys::EventSource::new(&url) else {
            connection.set(Connection::Reconnecting);
            return;
        };
        let on_record = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(data) = event.data().as_string() {
                    match serde_json::from_str::<InvocationRecord>(&data) {
                        Ok(record) => receive(record),
                        Err(error) => {
                            leptos::logging::warn!("live tail: unreadable event: {error}")
                        }
                    }
                }
            },
        );
        let on_line = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(data) = event.data().as_string() {
                    match serde_json::from_str::<LiveLogLine>(&data) {
                        Ok(line) => receive_line(line),
                        Err(error) => {
                            leptos::logging::warn!("live tail: unreadable log event: {error}")
                        }
                    }
                }
            },
        );
        let on_open = Closure::<dyn FnMut()>::new(move || connection.set(Connection::Live));
        let on_error =
            Closure::<dyn FnMut()>::new(move || connection.set(Connection::Reconnecting));
        let _ = source
            .add_event_listener_with_callback("invocation", on_record.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("log", on_line.as_ref().unchecked_ref());
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let held = SendWrapper::new((source, on_record, on_line, on_open, on_error));
        on_cleanup(move || {
            let (source, ..) = &*held;
            source.close();
        });
    });
}

/// The server renders the panel only; streaming starts in the browser.
#[cfg(not(feature = "hydrate"))]
pub(crate) fn connect(
    _url: String,
    _receive: impl Fn(InvocationRecord) + Copy + 'static,
    _receive_line: impl Fn(LiveLogLine) + Copy + 'static,
    _connection: RwSignal<Connection>,
) {
}
