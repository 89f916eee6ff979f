//! Replay: run a recorded call again, exactly, on the same or another
//! version, and show what changed (docs/DECISIONS.md #53).
//!
//! A replay takes the call's capture ([`capture`]), fills in the secrets of
//! today by name, and runs the recorded request in a fresh sandbox whose
//! clocks and random generators answer from the recording
//! ([`runtime::TapeMode::Play`]). With recorded outbound (the default) its
//! outbound requests — to outside servers and to the `*.wisp` hosts alike —
//! are answered from the recording and nothing leaves the sandbox: no
//! topic publish, no key-value write, no request; a request the recording
//! cannot answer is a divergence. The replay is a call of its own: metered
//! and recorded with trigger `replay` and the original as its parent. The
//! answer holds both records and their [`diff`].

mod capture;
mod diff;

use std::sync::Arc;

use http_body_util::BodyExt as _;
use model::{
    InvocationRecord, ReplayFailuresRequest, ReplayFailuresResult, ReplayOutbound, ReplayRequest,
    ReplayResult, ReplaySummary, ReplayVerdict, ReplayVersion, TriggerKind,
};
use runtime::{PlaybackPlan, TapeMode};

pub(crate) use capture::{keeps, records, CAPTURE_BODY_LIMIT};
pub use capture::{DEFAULT_CAPTURE_RETENTION, DEFAULT_TEAM_CAPTURE_CAP_BYTES};
use diff::ReplayedResponse;

use crate::call_tree::{CallScope, CallTree};
use crate::invoke::{new_invocation_id, FinishedCall, Traced};
use crate::registry::LiveFunction;
use crate::trace_context::TraceContext;
use crate::{Platform, PlatformError};

/// Failures one "replay the last N" runs at most.
pub const MAX_REPLAYED_FAILURES: u32 = 50;
/// Failures replayed when no number is given.
const DEFAULT_REPLAYED_FAILURES: u32 = 10;

impl Platform {
    /// What is kept of the call `id` (the caller has checked the team).
    pub(crate) async fn capture_info(&self, id: &str) -> Result<model::CaptureInfo, PlatformError> {
        Ok(self.load_capture(id).await?.info)
    }

    /// Replays the call `id` (the caller has checked the team and role).
    pub(crate) async fn replay(
        &self,
        team_id: i64,
        id: &str,
        request: &ReplayRequest,
    ) -> Result<ReplayResult, PlatformError> {
        let original = match self.stored_invocation(id).await? {
            Some(record) => record,
            None => {
                // Captured just now: its record may still be on its way.
                self.inner.recorder.flush().await;
                self.stored_invocation(id)
                    .await?
                    .ok_or_else(|| PlatformError::not_found(format!("invocation {id}")))?
            }
        };
        if original.trigger == TriggerKind::Replay {
            return Err(PlatformError::invalid(format!(
                "invocation {id} is itself a replay and is not recorded; replay its original, {}",
                original.parent_id.as_deref().unwrap_or("(unknown)")
            )));
        }
        let loaded = self.load_capture(id).await?;
        if let Some(why) = &loaded.info.incomplete {
            return Err(PlatformError::Conflict {
                message: format!(
                    "the capture of invocation {id} is incomplete ({why}); a replay would not \
                     be exact, so it is not run"
                ),
            });
        }
        let name = original.function.clone();
        let detail = self.function_detail(&name).await?;
        let version = match &request.version {
            None => original.version,
            Some(ReplayVersion::Number(n)) if *n < 1 => {
                return Err(PlatformError::invalid_field(
                    "version",
                    format!("version must be 1 or more, not {n}"),
                ))
            }
            Some(ReplayVersion::Number(n)) => *n,
            Some(ReplayVersion::Named(word)) if word == "live" => {
                detail.live_version.ok_or_else(|| {
                    PlatformError::invalid_field(
                        "version",
                        format!("function {name} has no live version"),
                    )
                })?
            }
            Some(ReplayVersion::Named(other)) => {
                return Err(PlatformError::invalid_field(
                    "version",
                    format!("version must be a number or \"live\", not {other:?}"),
                ))
            }
        };
        let Some(stored_version) = detail.versions.iter().find(|v| v.version == version) else {
            return Err(PlatformError::not_found(format!(
                "version {version} of function {name}"
            )));
        };
        if stored_version.kind != "component" {
            return Err(PlatformError::invalid_field(
                "version",
                format!(
                    "version {version} of {name} is a command module; only components are replayed"
                ),
            ));
        }
        let prepared = self.prepare_blob(&stored_version.sha256).await?;
        let secrets = self.open_secrets(&name).await?;
        let mut stored = loaded.stored;
        capture::unscrub(&mut stored.recording, &secrets);
        let mut env = Vec::with_capacity(stored.env.len());
        for (key, value) in stored.env {
            match value.or_else(|| {
                secrets
                    .iter()
                    .find(|(n, _)| *n == key)
                    .map(|(_, v)| v.clone())
            }) {
                Some(value) => env.push((key, value)),
                None => {
                    return Err(PlatformError::Conflict {
                        message: format!(
                            "the call had the secret {key}, which function {name} no longer has; \
                             set it again to replay the call"
                        ),
                    })
                }
            }
        }
        let mut live_secret_values: Vec<String> = secrets
            .iter()
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect();
        live_secret_values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let live = Arc::new(LiveFunction::new(
            team_id,
            &name,
            version,
            prepared.clone(),
            &detail.config,
            secrets,
        ));
        let outbound = request.outbound.unwrap_or(ReplayOutbound::Recorded);
        let replay_id = new_invocation_id();
        let trace = TraceContext::starting_at(&replay_id);
        let scope = CallScope {
            tree: CallTree::new(
                replay_id.clone(),
                trace.clone(),
                self.inner.config.call_limits.max_calls,
            ),
            depth: 0,
            cancel: runtime::Cancellation::new(),
        };
        let mut sandbox = crate::registry::sandbox_for(&detail.config);
        sandbox.env = env;
        sandbox.allow_private_destinations = self.inner.config.allow_private_destinations;
        sandbox.cancel = Some(scope.cancel.clone());
        if outbound == ReplayOutbound::Live {
            sandbox.interceptor = Some(Arc::new(crate::hosts::WispHosts::new(
                self.clone(),
                crate::hosts::Caller {
                    team_id,
                    function: name.clone(),
                    application: detail.config.application.clone(),
                    invocation_id: replay_id.clone(),
                    scope: scope.clone(),
                },
            )));
        }
        let recording = stored.recording;
        let http_request = recorded_request(&recording)?;
        let method = http_request.method().clone();
        let path = http_request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        sandbox.tape = TapeMode::Play(Arc::new(PlaybackPlan {
            recording: recording.clone(),
            recorded_outbound: outbound == ReplayOutbound::Recorded,
        }));

        let admitted = self
            .inner
            .registry
            .admission
            // Like a synchronous call: refused at once when the team's share
            // of the pool or the memory budget is taken (a replay must not
            // queue behind, or ahead of, the team's traffic).
            .try_admit(team_id, live.memory_mb)
            .map_err(|refusal| PlatformError::TooManyRequests {
                message: refusal.message(),
            })?;
        // A response to HEAD carries no body: the original's was never sent
        // (nor recorded), so the replay's is not read either.
        let head_only = http_request.method() == http::Method::HEAD;
        let invocation = prepared.invoke(http_request, sandbox).await;
        let response = match invocation.response {
            Ok(response) => {
                let status = Some(response.status().as_u16());
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = if head_only {
                    Vec::new()
                } else {
                    http_body_util::Limited::new(response.into_body(), CAPTURE_BODY_LIMIT)
                        .collect()
                        .await
                        .map(|c| c.to_bytes().to_vec())
                        .unwrap_or_default()
                };
                ReplayedResponse {
                    status,
                    headers,
                    body,
                }
            }
            Err(_) => ReplayedResponse {
                status: None,
                headers: Vec::new(),
                body: Vec::new(),
            },
        };
        let mut report = invocation.report.await;
        scope.cancel.cancel();
        drop(admitted);
        let playback = report.playback.take().map(|p| *p).unwrap_or_default();
        let call = FinishedCall {
            id: replay_id,
            live,
            trigger: TriggerKind::Replay,
            parent_id: Some(original.id.clone()),
            trigger_id: None,
            traced: Traced {
                trace_id: trace.trace_id,
                parent_span_id: None,
                attempt: None,
            },
            method,
            path,
            report,
        };
        let replay = call.into_record();
        if self.inner.config.record_invocations {
            self.inner.recorder.record(replay.clone()).await;
        }
        let mut diff = diff::diff(&original, &recording, &replay, &response, &playback);
        // What the call sent may hold a secret (an API key in a URL): the
        // answer shows it redacted, as the records' logs are.
        diff::redact(&mut diff, &live_secret_values);
        Ok(ReplayResult {
            replay,
            original,
            diff,
        })
    }

    /// Replays the latest captured failures of `name` (the caller has
    /// checked the team and role), one after another.
    pub(crate) async fn replay_failures(
        &self,
        team_id: i64,
        name: &str,
        request: &ReplayFailuresRequest,
    ) -> Result<ReplayFailuresResult, PlatformError> {
        let last = request.last.unwrap_or(DEFAULT_REPLAYED_FAILURES);
        if last == 0 || last > MAX_REPLAYED_FAILURES {
            return Err(PlatformError::invalid_field(
                "last",
                format!("last must be between 1 and {MAX_REPLAYED_FAILURES}"),
            ));
        }
        let detail = self.function_detail(name).await?;
        let version = match &request.version {
            None => detail.live_version,
            Some(ReplayVersion::Number(n)) => Some(*n),
            Some(ReplayVersion::Named(word)) if word == "live" => detail.live_version,
            Some(ReplayVersion::Named(other)) => {
                return Err(PlatformError::invalid_field(
                    "version",
                    format!("version must be a number or \"live\", not {other:?}"),
                ))
            }
        }
        .ok_or_else(|| {
            PlatformError::invalid_field("version", format!("function {name} has no live version"))
        })?;
        if !detail.versions.iter().any(|v| v.version == version) {
            return Err(PlatformError::not_found(format!(
                "version {version} of function {name}"
            )));
        }
        let one = ReplayRequest {
            version: Some(ReplayVersion::Number(version)),
            outbound: request.outbound,
        };
        let mut result = ReplayFailuresResult {
            version,
            ..Default::default()
        };
        for id in self.captured_failures(name, last).await? {
            let summary = match self.replay(team_id, &id, &one).await {
                Ok(done) => summarize(&id, &done.original, &done),
                Err(e) => {
                    result.skipped += 1;
                    ReplaySummary {
                        original_id: id.clone(),
                        replay_id: None,
                        verdict: None,
                        original_status: None,
                        replay_status: None,
                        error: Some(e.to_string()),
                    }
                }
            };
            match summary.verdict {
                Some(ReplayVerdict::Fixed) => result.fixed += 1,
                Some(ReplayVerdict::StillFailing) => result.still_failing += 1,
                Some(ReplayVerdict::Diverged) => result.diverged += 1,
                None => {}
            }
            result.results.push(summary);
        }
        Ok(result)
    }
}

/// How one replayed failure did.
fn summarize(id: &str, original: &InvocationRecord, done: &ReplayResult) -> ReplaySummary {
    let replay = &done.replay;
    let failed = replay.status == model::InvocationStatus::Error
        || replay.status_code.is_some_and(|s| s >= 500);
    let verdict = if !done.diff.divergences.is_empty() {
        ReplayVerdict::Diverged
    } else if failed {
        ReplayVerdict::StillFailing
    } else {
        ReplayVerdict::Fixed
    };
    ReplaySummary {
        original_id: id.to_string(),
        replay_id: Some(replay.id.clone()),
        verdict: Some(verdict),
        original_status: original.status_code.map(|s| s as u16),
        replay_status: replay.status_code.map(|s| s as u16),
        error: replay.error.clone(),
    }
}

/// The recorded request, as the replay hands it to the function.
fn recorded_request(
    recording: &runtime::Recording,
) -> Result<http::Request<runtime::RequestBody>, PlatformError> {
    let recorded = recording
        .request
        .as_ref()
        .ok_or_else(|| PlatformError::Conflict {
            message: "the capture holds no request (the call was refused before it ran)".into(),
        })?;
    let mut builder = http::Request::builder()
        .method(recorded.method.as_deref().unwrap_or("GET"))
        .uri(recorded.uri.as_deref().unwrap_or("/"));
    for (name, value) in &recorded.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(runtime::full_body(recorded.body.clone()))
        .map_err(|e| PlatformError::Internal(anyhow::anyhow!("the recorded request: {e}")))
}
