//! The function page's test panel: send one request (method, path, headers,
//! body) to the live version, show the answer (status, headers, body, time)
//! and then the invocation's record with its logs. The recorder stores
//! records in the background, so the panel polls for it briefly.

use leptos::prelude::*;
use leptos::task::spawn_local;
use model::InvocationRecord;

use crate::{
    api::{invocation, parse_header_lines, test_invoke, TestInvocation},
    components::feedback::StatusBadge,
    format,
};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Polls for the stored record: every 150 ms, for up to 6 s.
const POLL_INTERVAL_MS: i32 = 150;
const POLL_ATTEMPTS: u32 = 40;

/// Waits `ms` milliseconds in the browser (no-op on the server, where
/// event handlers never run).
pub async fn sleep(ms: i32) {
    #[cfg(target_arch = "wasm32")]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ms;
}

/// Where the stored record of the last call is.
#[derive(Clone, Debug, PartialEq)]
enum RecordState {
    Waiting,
    Found(Box<InvocationRecord>),
    Missing,
}

#[component]
pub fn TestInvokePanel(name: String) -> impl IntoView {
    let name = StoredValue::new(name);
    let method = RwSignal::new("GET".to_string());
    let path = RwSignal::new("/".to_string());
    let headers = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let headers_error = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<Result<TestInvocation, String>>);
    let record = RwSignal::new(None::<RecordState>);
    let pending = RwSignal::new(false);
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Err(message) = parse_header_lines(&headers.get_untracked()) {
            headers_error.set(Some(message));
            return;
        }
        headers_error.set(None);
        pending.set(true);
        record.set(None);
        let (m, p, h, b) = (
            method.get_untracked(),
            path.get_untracked(),
            headers.get_untracked(),
            body.get_untracked(),
        );
        spawn_local(async move {
            let answer = test_invoke(name.get_value(), m, p, h, b).await;
            pending.set(false);
            let id = answer.as_ref().ok().map(|a| a.invocation_id.clone());
            result.set(Some(answer.map_err(|e| e.to_string())));
            let Some(id) = id else { return };
            record.set(Some(RecordState::Waiting));
            for _ in 0..POLL_ATTEMPTS {
                match invocation(id.clone()).await {
                    Ok(found) => {
                        record.set(Some(RecordState::Found(Box::new(found))));
                        return;
                    }
                    Err(crate::error::AppError::NotFound(_)) => sleep(POLL_INTERVAL_MS).await,
                    Err(_) => break,
                }
            }
            record.set(Some(RecordState::Missing));
        });
    };

    view! {
        <form class="test-form" on:submit=on_submit novalidate=true aria-labelledby="test-title">
            <div class="request-line">
                <div class="field field-method">
                    <label for="test-method">"Method"</label>
                    <select
                        id="test-method"
                        prop:value=move || method.get()
                        on:change=move |ev| method.set(event_target_value(&ev))
                    >
                        {METHODS.into_iter().map(|m| view! { <option value=m selected=m == "GET">{m}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field field-grow">
                    <label for="test-path">"Path"</label>
                    <input
                        id="test-path"
                        type="text"
                        class="mono"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || path.get()
                        on:input=move |ev| path.set(event_target_value(&ev))
                    />
                </div>
            </div>
            <div class="field">
                <label for="test-headers">"Headers"</label>
                <textarea
                    id="test-headers"
                    class="mono"
                    rows="2"
                    placeholder="Content-Type: application/json"
                    spellcheck="false"
                    aria-describedby="test-headers-help test-headers-error"
                    aria-invalid=move || headers_error.get().is_some().to_string()
                    prop:value=move || headers.get()
                    on:input=move |ev| headers.set(event_target_value(&ev))
                ></textarea>
                <p class="field-help" id="test-headers-help">"One " <code>"Name: value"</code> " per line."</p>
                {move || headers_error.get().map(|message| view! {
                    <p class="field-error" id="test-headers-error" role="alert">{message}</p>
                })}
            </div>
            <div class="field">
                <label for="test-body">"Body"</label>
                <textarea
                    id="test-body"
                    class="mono"
                    rows="3"
                    spellcheck="false"
                    prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))
                ></textarea>
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" disabled=move || pending.get() || !interactive.get()>
                    {move || if pending.get() { "Sending…" } else { "Send request" }}
                </button>
            </div>
        </form>
        <div class="test-result" aria-live="polite">
            {move || result.get().map(|answer| match answer {
                Ok(answer) => view! { <TestAnswer answer record /> }.into_any(),
                Err(message) => view! {
                    <div class="alert alert-error" role="alert">{message}</div>
                }.into_any(),
            })}
        </div>
    }
    .into_any()
}

#[component]
fn TestAnswer(answer: TestInvocation, record: RwSignal<Option<RecordState>>) -> impl IntoView {
    let status = match answer.status {
        Some(code) => {
            let class = if code >= 500 {
                "http http-5xx"
            } else if code >= 400 {
                "http http-4xx"
            } else {
                "http http-ok"
            };
            view! { <span class=class data-status=code>{code}</span> }.into_any()
        }
        None => view! { <span class="badge badge-error">"No response"</span> }.into_any(),
    };
    let headers = answer
        .headers
        .iter()
        .map(|(name, value)| view! { <div><dt class="mono">{name.clone()}</dt><dd class="mono">{value.clone()}</dd></div> })
        .collect_view();
    let href = format!("/invocations/{}", answer.invocation_id);
    let truncated = answer.body_truncated.then(|| {
        view! {
            <p class="muted small">
                "Showing the first " {format::bytes(answer.body.len() as i64)} " of "
                {format::bytes(answer.body_bytes as i64)} "."
            </p>
        }
    });
    let body = if answer.body.is_empty() {
        view! { <p class="muted small">"Empty body."</p> }.into_any()
    } else {
        view! { <pre class="response-body">{answer.body.clone()}</pre> }.into_any()
    };
    view! {
        <div class="test-answer">
            <div class="answer-summary">
                {status}
                <span class="answer-duration">{format::duration_ms(answer.duration_ms)}</span>
                <a class="mono" href=href>{format::short_id(&answer.invocation_id)}</a>
            </div>
            {answer.error.clone().map(|error| view! { <pre class="error-block">{error}</pre> })}
            <details class="answer-headers">
                <summary>"Response headers (" {answer.headers.len()} ")"</summary>
                <dl class="header-list">{headers}</dl>
            </details>
            <h3 class="subhead">"Body"</h3>
            {body}
            {truncated}
            <h3 class="subhead">"Logs"</h3>
            {move || match record.get() {
                None | Some(RecordState::Waiting) => view! {
                    <p class="muted small" role="status">"Waiting for the invocation record…"</p>
                }.into_any(),
                Some(RecordState::Missing) => view! {
                    <p class="muted small">"The record is not stored yet; open the invocation page in a moment."</p>
                }.into_any(),
                Some(RecordState::Found(found)) => {
                    let logs = if found.logs.is_empty() { "(no log output)".to_string() } else { found.logs.clone() };
                    view! {
                        <div class="record-line">
                            <StatusBadge status=found.status />
                            <span class="muted small">"Billed " {found.billed_ms} " ms · peak memory " {format::bytes(found.peak_memory_bytes)}</span>
                        </div>
                        <pre class="logs test-logs">{logs}</pre>
                    }.into_any()
                }
            }}
        </div>
    }
    .into_any()
}
