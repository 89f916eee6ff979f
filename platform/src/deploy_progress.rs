//! [`DeployProgress`]: an upload's stages as they happen — sent to whoever
//! streams them (the NDJSON form of the upload route) and kept for the final
//! answer ([`model::DeployedVersion::stages`]) — and how a runtime code tier
//! is named in the API.

use std::sync::Mutex;
use std::time::Instant;

use model::{CodeTier, DeployEvent, DeployStage};
use tokio::sync::mpsc::UnboundedSender;

/// Where an upload is; report each stage with [`DeployProgress::start`] and
/// [`DeployProgress::done`].
#[derive(Default)]
pub struct DeployProgress {
    events: Option<UnboundedSender<DeployEvent>>,
    stages: Mutex<Vec<DeployStage>>,
}

/// A stage that has started.
pub struct StageTimer {
    stage: &'static str,
    started: Instant,
}

impl DeployProgress {
    /// Progress that is also sent, event by event, to `events`.
    pub fn streamed(events: UnboundedSender<DeployEvent>) -> Self {
        DeployProgress {
            events: Some(events),
            stages: Mutex::default(),
        }
    }

    /// A stage begins.
    pub fn start(&self, stage: &'static str) -> StageTimer {
        self.send(DeployEvent::Started {
            stage: stage.to_string(),
        });
        StageTimer {
            stage,
            started: Instant::now(),
        }
    }

    /// A stage ended; `detail` says what it did.
    pub fn done(&self, timer: StageTimer, detail: impl Into<String>) {
        let ms = u64::try_from(timer.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.record(timer.stage, ms, detail);
    }

    /// A stage measured elsewhere (the upload, by the HTTP handler).
    pub fn record(&self, stage: &str, ms: u64, detail: impl Into<String>) {
        let stage = DeployStage {
            stage: stage.to_string(),
            ms,
            detail: detail.into(),
        };
        self.lock().push(stage.clone());
        self.send(DeployEvent::Done(stage));
    }

    /// The stages finished so far.
    pub fn stages(&self) -> Vec<DeployStage> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<DeployStage>> {
        self.stages.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, event: DeployEvent) {
        if let Some(events) = &self.events {
            // A client that went away does not stop the upload.
            let _ = events.send(event);
        }
    }
}

/// The API's name for the code a prepared function runs.
pub(crate) fn code_tier(tier: &runtime::CodeTier) -> CodeTier {
    match tier {
        runtime::CodeTier::Optimized => CodeTier::Optimized,
        runtime::CodeTier::Baseline { optimizing: true } => CodeTier::Optimizing,
        runtime::CodeTier::Baseline { optimizing: false } => CodeTier::Baseline,
    }
}

/// What the compile stage did, for people.
pub(crate) fn compile_detail(prepared: &runtime::PreparedFunction) -> String {
    match (prepared.tier(), prepared.from_cache()) {
        (runtime::CodeTier::Optimized, true) => "optimised code from the artifact cache".into(),
        (runtime::CodeTier::Optimized, false) => "optimising compiler (Cranelift)".into(),
        (runtime::CodeTier::Baseline { optimizing: true }, _) => {
            "baseline compiler (Winch); optimised code compiling in the background".into()
        }
        (runtime::CodeTier::Baseline { optimizing: false }, _) => {
            "baseline compiler (Winch); the optimising compiler failed on it".into()
        }
    }
}
