//! The deploy panel: a drop zone and file picker for a `.wasm` file, a
//! function name checked with `model::validate_function_name`, and an upload
//! through `XMLHttpRequest` (for its upload progress events) to the REST API,
//! `POST /api/v1/functions/{name}/versions`, authenticated by the session
//! cookie, asking for the streamed answer (`application/x-ndjson`) so each
//! stage — upload, validate, compile, live — shows as it starts and ends,
//! with its time and what it did. It shows the server's own error message
//! in place, at the stage that failed. It owns no list state: the parent
//! hears about a deploy through `on_deployed`.

use leptos::{ev, prelude::*};
use model::{ApiError, CodeTier, DeployEvent, DeployedVersion, DEPLOY_STAGES};
use send_wrapper::SendWrapper;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{File, HtmlInputElement, ProgressEvent, XmlHttpRequest};

use crate::format;

/// Where one upload is.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Idle,
    /// Bytes going up; the fraction sent so far (0.0–1.0).
    Uploading(f64),
    /// All bytes sent; the server validates and compiles the module.
    Processing,
    Done(DeployedVersion),
    Failed(String),
}

impl Phase {
    fn busy(&self) -> bool {
        matches!(self, Phase::Uploading(_) | Phase::Processing)
    }

    /// Progress bar fill, in percent, when a bar should show.
    fn percent(&self) -> Option<u32> {
        match self {
            Phase::Uploading(fraction) => Some((fraction * 100.0).round().clamp(0.0, 100.0) as u32),
            Phase::Processing | Phase::Done(_) => Some(100),
            Phase::Idle | Phase::Failed(_) => None,
        }
    }
}

/// Where one stage of an upload is.
#[derive(Clone, Debug, PartialEq)]
enum StageState {
    Waiting,
    Running,
    Done {
        ms: u64,
        detail: String,
    },
    /// The upload stopped here (the error shows below the list).
    Failed,
}

/// The stages of the last upload, in [`DEPLOY_STAGES`] order.
#[derive(Clone, Debug, PartialEq)]
struct Stages(Vec<(&'static str, StageState)>);

impl Default for Stages {
    fn default() -> Self {
        Stages(
            DEPLOY_STAGES
                .iter()
                .map(|stage| (*stage, StageState::Waiting))
                .collect(),
        )
    }
}

impl Stages {
    fn set(&mut self, stage: &str, state: StageState) {
        if let Some(entry) = self.0.iter_mut().find(|(name, _)| *name == stage) {
            entry.1 = state;
        }
    }

    /// The stages the server's events (so far) describe.
    fn from_events(events: &[DeployEvent]) -> Self {
        let mut stages = Stages::default();
        stages.set("upload", StageState::Running);
        for event in events {
            match event {
                DeployEvent::Started { stage } => stages.set(stage, StageState::Running),
                DeployEvent::Done(done) => stages.set(
                    &done.stage,
                    StageState::Done {
                        ms: done.ms,
                        detail: done.detail.clone(),
                    },
                ),
                DeployEvent::Deployed(deployed) => return Stages::finished(deployed),
                DeployEvent::Failed { .. } => stages.fail_running(),
            }
        }
        stages
    }

    /// The stages a finished upload reports.
    fn finished(deployed: &DeployedVersion) -> Self {
        let mut stages = Stages::default();
        for done in &deployed.stages {
            stages.set(
                &done.stage,
                StageState::Done {
                    ms: done.ms,
                    detail: done.detail.clone(),
                },
            );
        }
        stages
    }

    /// The stage under way (or the first not done) failed.
    fn fail_running(&mut self) {
        let failed = self
            .0
            .iter()
            .position(|(_, state)| *state == StageState::Running)
            .or_else(|| {
                self.0
                    .iter()
                    .position(|(_, state)| !matches!(state, StageState::Done { .. }))
            });
        if let Some(index) = failed {
            self.0[index].1 = StageState::Failed;
        }
    }
}

/// The state of a panel's last upload. A page that re-renders the panel when
/// its data refreshes (the function page does, after each deploy) owns it, so
/// the outcome stays on screen.
#[derive(Clone, Copy, Debug)]
pub struct UploadProgress {
    phase: RwSignal<Phase>,
    stages: RwSignal<Option<Stages>>,
}

impl Default for UploadProgress {
    fn default() -> Self {
        Self {
            phase: RwSignal::new(Phase::Idle),
            stages: RwSignal::new(None),
        }
    }
}

/// The file picked, as shown (the `File` itself lives in a local store).
#[derive(Clone, Debug, PartialEq)]
struct Picked {
    name: String,
    size: f64,
}

#[component]
pub fn UploadPanel(
    /// Upload a new version of this function (no name field) instead of
    /// deploying a function of any name.
    #[prop(optional, into)]
    fixed_name: Option<String>,
    /// Called after the server accepted a version.
    #[prop(into)]
    on_deployed: Callback<DeployedVersion>,
    /// Upload state that outlives this panel (see [`UploadProgress`]).
    #[prop(optional)]
    progress: Option<UploadProgress>,
) -> impl IntoView {
    let name_is_fixed = fixed_name.is_some();
    let name = RwSignal::new(fixed_name.unwrap_or_default());
    let name_touched = RwSignal::new(false);
    let picked = RwSignal::new(None::<Picked>);
    // Always `None` on the server: the wrapper is only ever filled, used and
    // dropped on the browser's one thread.
    let file = StoredValue::new(None::<SendWrapper<File>>);
    let progress = progress.unwrap_or_default();
    let phase = progress.phase;
    let stages = progress.stages;
    let dragging = RwSignal::new(false);

    let name_error = Memo::new(move |_| {
        let name = name.get();
        if name.is_empty() && !name_touched.get() {
            None
        } else {
            model::validate_function_name(&name).err()
        }
    });

    let pick = move |chosen: File| {
        if !name_is_fixed && (name.get_untracked().is_empty() || !name_touched.get_untracked()) {
            name.set(format::name_from_file(&chosen.name()));
        }
        picked.set(Some(Picked {
            name: chosen.name(),
            size: chosen.size(),
        }));
        file.set_value(Some(SendWrapper::new(chosen)));
        phase.set(Phase::Idle);
        stages.set(None);
    };

    let on_drop = move |ev: ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(chosen) = ev
            .data_transfer()
            .and_then(|transfer| transfer.files())
            .and_then(|files| files.get(0))
        {
            pick(chosen);
        }
    };
    let on_change = move |ev: ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|target| target.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        if let Some(chosen) = input.files().and_then(|files| files.get(0)) {
            pick(chosen);
        }
    };

    let on_submit = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        if phase.get_untracked().busy() {
            return;
        }
        name_touched.set(true);
        let target = name.get_untracked();
        if let Err(message) = model::validate_function_name(&target) {
            phase.set(Phase::Failed(format!("Fix the name first: {message}.")));
            return;
        }
        let Some(chosen) = file.with_value(|file| file.as_ref().map(|file| (**file).clone()))
        else {
            phase.set(Phase::Failed("Choose a .wasm file to upload.".into()));
            return;
        };
        phase.set(Phase::Uploading(0.0));
        stages.set(Some(Stages::from_events(&[])));
        if let Err(err) = send_version(&target, &chosen, progress, on_deployed) {
            phase.set(Phase::Failed(format!(
                "The browser could not start the upload: {}",
                err.as_string().unwrap_or_else(|| format!("{err:?}"))
            )));
        }
    };

    let name_field = (!name_is_fixed).then(|| {
        view! {
            <div class="field">
                <label for="deploy-name">"Function name"</label>
                <input
                    id="deploy-name"
                    name="name"
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="hello"
                    aria-describedby="deploy-name-help"
                    aria-invalid=move || name_error.get().is_some().to_string()
                    bind:value=name
                    on:blur=move |_| name_touched.set(true)
                    on:input=move |_| name_touched.set(true)
                />
                {move || match name_error.get() {
                    Some(message) => {
                        view! {
                            <p id="deploy-name-help" class="field-error">
                                {message}
                            </p>
                        }
                            .into_any()
                    }
                    None => {
                        view! {
                            <p id="deploy-name-help" class="field-help">
                                "Lowercase letters, digits and dashes. Used in URLs: "
                                <code>
                                    "/fn/"
                                    {move || {
                                        let name = name.get();
                                        if name.is_empty() { "<name>".to_string() } else { name }
                                    }}
                                    "/"
                                </code>
                            </p>
                        }
                            .into_any()
                    }
                }}
            </div>
        }
    });

    view! {
        <form class="upload" on:submit=on_submit novalidate=true>
            {name_field}
            <div class="field">
                <span class="field-label" id="deploy-file-label">
                    "WebAssembly file"
                </span>
                <label
                    for="deploy-file"
                    class="dropzone"
                    class:dragging=move || dragging.get()
                    class:has-file=move || picked.with(Option::is_some)
                    on:dragenter=move |ev: ev::DragEvent| {
                        ev.prevent_default();
                        dragging.set(true);
                    }
                    on:dragover=move |ev: ev::DragEvent| {
                        ev.prevent_default();
                        dragging.set(true);
                    }
                    on:dragleave=move |_| dragging.set(false)
                    on:drop=on_drop
                >
                    <input
                        id="deploy-file"
                        class="visually-hidden"
                        type="file"
                        name="file"
                        accept=".wasm,application/wasm"
                        aria-labelledby="deploy-file-label"
                        on:change=on_change
                    />
                    <span class="dropzone-icon" aria-hidden="true">
                        "⬆"
                    </span>
                    {move || match picked.get() {
                        Some(Picked { name, size }) => {
                            view! {
                                <span class="dropzone-file">{name}</span>
                                <span class="dropzone-hint">
                                    {format::bytes(size as i64)} " · drop another file to replace it"
                                </span>
                            }
                                .into_any()
                        }
                        None => {
                            view! {
                                <span class="dropzone-title">
                                    "Drop a " <code>".wasm"</code> " file here"
                                </span>
                                <span class="dropzone-hint">
                                    "or " <span class="link-like">"browse your files"</span>
                                    " — a WASI 0.2 component or a WAGI module"
                                </span>
                            }
                                .into_any()
                        }
                    }}
                </label>
            </div>
            <div class="upload-actions">
                <button type="submit" class="btn btn-primary" disabled=move || phase.with(Phase::busy)>
                    {move || {
                        if phase.with(Phase::busy) {
                            "Deploying…"
                        } else if name_is_fixed {
                            "Upload new version"
                        } else {
                            "Deploy"
                        }
                    }}
                </button>
            </div>
            <UploadStatus phase stages />
        </form>
    }
    .into_any()
}

/// Progress bar, the stages and the outcome of the last upload.
#[component]
fn UploadStatus(phase: RwSignal<Phase>, stages: RwSignal<Option<Stages>>) -> impl IntoView {
    view! {
        <div class="upload-status" aria-live="polite">
            {move || {
                phase
                    .with(Phase::percent)
                    .map(|percent| {
                        let label = match phase.get() {
                            Phase::Uploading(_) => format!("Uploading… {percent}%"),
                            Phase::Processing => "Uploaded — the server is on it…".to_string(),
                            _ => "Upload complete".to_string(),
                        };
                        view! {
                            <div class="progress-wrap">
                                <div
                                    class="progress"
                                    role="progressbar"
                                    aria-label="Upload progress"
                                    aria-valuemin="0"
                                    aria-valuemax="100"
                                    aria-valuenow=percent
                                >
                                    <div class="progress-fill" style:width=format!("{percent}%")></div>
                                </div>
                                <span class="progress-label">{label}</span>
                            </div>
                        }
                    })
            }}
            {move || stages.get().map(|stages| view! { <StageList stages /> })}
            {move || match phase.get() {
                Phase::Done(deployed) => {
                    let href = format!("/functions/{}", deployed.name);
                    view! {
                        <div class="alert alert-success upload-result" role="status">
                            <strong>"Deployed "</strong>
                            <a href=href>{deployed.name.clone()}</a>
                            " version "
                            {deployed.version}
                            " ("
                            {deployed.kind.clone()}
                            ", "
                            {format::bytes(deployed.size_bytes)}
                            ")"
                            {if deployed.live { " — now live." } else { " — not activated." }}
                            {(deployed.code == CodeTier::Optimizing)
                                .then(|| {
                                    view! {
                                        <span class="upload-code">
                                            " It runs baseline code now; calls switch to its optimised code, compiling in the background, without a pause."
                                        </span>
                                    }
                                })}
                        </div>
                    }
                        .into_any()
                }
                Phase::Failed(message) => {
                    view! {
                        <div class="alert alert-error upload-result" role="alert">
                            {format::sentence(&message)}
                        </div>
                    }
                        .into_any()
                }
                _ => ().into_any(),
            }}
        </div>
    }
    .into_any()
}

/// The upload's stages: waiting, under way, or done with their time and
/// what the server did.
#[component]
fn StageList(stages: Stages) -> impl IntoView {
    let rows = stages
        .0
        .into_iter()
        .map(|(stage, state)| {
            let (class, mark, status, detail) = match state {
                StageState::Waiting => ("stage-waiting", "○", "waiting".to_string(), String::new()),
                StageState::Running => (
                    "stage-running",
                    "◌",
                    "under way…".to_string(),
                    String::new(),
                ),
                StageState::Done { ms, detail } => {
                    ("stage-done", "✓", format::duration_ms(ms as f64), detail)
                }
                StageState::Failed => ("stage-failed", "✕", "failed".to_string(), String::new()),
            };
            view! {
                <li class=format!("deploy-stage {class}") data-stage=stage>
                    <span class="stage-mark" aria-hidden="true">{mark}</span>
                    <span class="stage-name">{stage}</span>
                    <span class="stage-status">{status}</span>
                    <span class="stage-detail">{detail}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <ol class="deploy-stages" aria-label="Deploy stages">
            {rows}
        </ol>
    }
}

/// Starts the upload; progress and the outcome arrive in `progress`.
fn send_version(
    name: &str,
    file: &File,
    progress: UploadProgress,
    on_deployed: Callback<DeployedVersion>,
) -> Result<(), JsValue> {
    let UploadProgress { phase, stages } = progress;
    let xhr = XmlHttpRequest::new()?;
    let url = format!("/api/v1/functions/{}/versions", format::query_value(name));
    xhr.open_with_async("POST", &url, true)?;
    xhr.set_request_header("Content-Type", "application/wasm")?;
    // The streamed answer: one event per line as the stages go by.
    xhr.set_request_header("Accept", "application/x-ndjson")?;
    // The API accepts the session cookie only with this header, which a
    // cross-site form cannot send (CSRF protection).
    xhr.set_request_header("X-Wisp-Csrf", "1")?;

    let upload = xhr.upload()?;
    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
        if ev.length_computable() && ev.total() > 0.0 {
            phase.set(Phase::Uploading(ev.loaded() / ev.total()));
        }
    });
    upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    let on_sent = Closure::<dyn FnMut()>::new(move || phase.set(Phase::Processing));
    upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));

    let streaming = xhr.clone();
    let on_answer_progress = Closure::<dyn FnMut()>::new(move || {
        if streaming.status().unwrap_or(0) != 200 {
            return;
        }
        let body = streaming.response_text().ok().flatten().unwrap_or_default();
        stages.set(Some(Stages::from_events(&events_in(&body))));
    });
    xhr.set_onprogress(Some(on_answer_progress.as_ref().unchecked_ref()));

    let answered = xhr.clone();
    let on_load = Closure::<dyn FnMut()>::new(move || {
        let status = answered.status().unwrap_or(0);
        let body = answered.response_text().ok().flatten().unwrap_or_default();
        let (outcome, shown) = read_answer(status, &body);
        match outcome {
            Ok(deployed) => {
                stages.set(Some(Stages::finished(&deployed)));
                phase.set(Phase::Done(deployed.clone()));
                on_deployed.run(deployed);
            }
            Err(message) => {
                stages.set(shown);
                phase.set(Phase::Failed(message));
            }
        }
    });
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut()>::new(move || {
        stages.update(|stages| {
            if let Some(stages) = stages {
                stages.fail_running();
            }
        });
        phase.set(Phase::Failed(
            "The upload did not reach the server. Check the connection and try again.".into(),
        ))
    });
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    let body: &web_sys::Blob = file;
    xhr.send_with_opt_blob(Some(body))?;
    // The handlers must outlive this call and run once each; a few closures
    // per upload are leaked rather than tracked.
    on_progress.forget();
    on_sent.forget();
    on_answer_progress.forget();
    on_load.forget();
    on_error.forget();
    Ok(())
}

/// The complete event lines of a streamed answer received so far.
fn events_in(body: &str) -> Vec<DeployEvent> {
    body.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| serde_json::from_str(line.trim()).ok())
        .collect()
}

/// The deployed version, or the message to show for a failed upload; and
/// the stages to show for a failure (the stage it stopped at marked).
fn read_answer(status: u16, body: &str) -> (Result<DeployedVersion, String>, Option<Stages>) {
    if status == 200 {
        let events = events_in(body);
        let stages = Stages::from_events(&events);
        let outcome = match events.last() {
            Some(DeployEvent::Deployed(deployed)) => Ok(deployed.clone()),
            Some(DeployEvent::Failed { status, error }) => Err(match status {
                401 => format!("{} Sign in again to upload.", error.message),
                _ => error.message.clone(),
            }),
            _ => Err("The server stopped answering before the upload finished; \
                      reload the page to see whether the version was stored."
                .into()),
        };
        let mut shown = stages;
        if outcome.is_err() {
            shown.fail_running();
        }
        return (outcome, Some(shown));
    }
    if (200..300).contains(&status) {
        let outcome = serde_json::from_str(body).map_err(|err| {
            format!("The server accepted the upload but its answer was unreadable: {err}")
        });
        return (outcome, None);
    }
    let mut stages = Stages::default();
    // Refused before the server looked at the file: at the upload.
    stages.set("upload", StageState::Failed);
    if let Ok(ApiError { error }) = serde_json::from_str::<ApiError>(body) {
        let message = if status == 401 {
            format!("{} Sign in again to upload.", error.message)
        } else {
            error.message
        };
        return (Err(message), Some(stages));
    }
    let message = match status {
        401 => "Your session has ended. Sign in again to upload.".into(),
        413 => "The file is larger than the server accepts.".into(),
        _ => format!("The upload failed (HTTP {status})."),
    };
    (Err(message), Some(stages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_shown_as_sent() {
        let body = r#"{"error":{"code":"invalid_wasm","message":"not a WebAssembly file"}}"#;
        assert_eq!(
            read_answer(400, body).0.unwrap_err(),
            "not a WebAssembly file"
        );
        assert_eq!(
            read_answer(502, "<html>").0.unwrap_err(),
            "The upload failed (HTTP 502)."
        );
        let ok =
            r#"{"name":"a","version":2,"sha256":"ab","kind":"module","size_bytes":10,"live":true}"#;
        assert_eq!(read_answer(201, ok).0.unwrap().version, 2);
    }

    #[test]
    fn a_streamed_answer_shows_each_stage_and_where_it_failed() {
        let partial = concat!(
            r#"{"event":"done","stage":"upload","ms":12,"detail":"1 MB received"}"#,
            "\n",
            r#"{"event":"started","stage":"validate"}"#,
            "\n",
            r#"{"event":"done","stage":"validate","ms":3,"detail":"a component"}"#,
            "\n",
            r#"{"event":"started","stage":"compile"}"#,
            "\n",
            r#"{"event":"done","stage":"compile","ms":640,"#,
        );
        let stages = Stages::from_events(&events_in(partial));
        let states: Vec<_> = stages.0.iter().map(|(_, s)| s.clone()).collect();
        assert!(matches!(states[0], StageState::Done { ms: 12, .. }));
        assert!(matches!(states[1], StageState::Done { ms: 3, .. }));
        assert_eq!(
            states[2],
            StageState::Running,
            "the half line is not read yet"
        );
        assert_eq!(states[3], StageState::Waiting);

        let failed = concat!(
            r#"{"event":"done","stage":"upload","ms":12,"detail":"x"}"#,
            "\n",
            r#"{"event":"started","stage":"validate"}"#,
            "\n",
            r#"{"event":"failed","status":422,"error":{"code":"invalid_wasm","message":"not wasm"}}"#,
            "\n",
        );
        let (outcome, shown) = read_answer(200, failed);
        assert_eq!(outcome.unwrap_err(), "not wasm");
        assert_eq!(shown.unwrap().0[1].1, StageState::Failed);
    }
}
