//! What an upload reports as it goes: its stages (upload, validate,
//! compile, live) with their times, the events of the streamed form of
//! `POST /api/v1/functions/{name}/versions` (`Accept: application/x-ndjson`),
//! and which compiler's code a function runs.

use serde::{Deserialize, Serialize};

use crate::{ApiErrorBody, DeployedVersion};

/// The stages of an upload, in order.
pub const DEPLOY_STAGES: [&str; 4] = ["upload", "validate", "compile", "live"];

/// One finished stage of an upload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeployStage {
    /// `upload`, `validate`, `compile` or `live` ([`DEPLOY_STAGES`]).
    pub stage: String,
    /// How long it took, in milliseconds (as the server measured it).
    pub ms: u64,
    /// What it did, for people: the bytes received, which compiler ran,
    /// the version now serving.
    pub detail: String,
}

/// One line of the streamed upload answer (newline-delimited JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeployEvent {
    /// A stage began.
    Started { stage: String },
    /// A stage ended.
    Done(DeployStage),
    /// The last line of a successful upload: what `201` would have answered.
    Deployed(DeployedVersion),
    /// The last line of a failed upload: the status and error body the
    /// plain form would have answered.
    Failed { status: u16, error: ApiErrorBody },
}

/// Which compiler's code a function's live version runs on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CodeTier {
    /// The optimising compiler's (Cranelift): where every function ends up.
    Optimized,
    /// The baseline compiler's (Winch), while the optimised code compiles
    /// in the background; calls switch to it without a pause.
    Optimizing,
    /// The baseline compiler's, for good: the optimising compile failed.
    Baseline,
}

impl CodeTier {
    /// How the dashboard and the CLI say it.
    pub fn describe(self) -> &'static str {
        match self {
            CodeTier::Optimized => "optimised code",
            CodeTier::Optimizing => "baseline code; optimised code compiling in the background",
            CodeTier::Baseline => "baseline code (the optimising compiler failed on it)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_lines() {
        let started = DeployEvent::Started {
            stage: "compile".into(),
        };
        assert_eq!(
            serde_json::to_string(&started).unwrap(),
            r#"{"event":"started","stage":"compile"}"#
        );
        let done = DeployEvent::Done(DeployStage {
            stage: "compile".into(),
            ms: 640,
            detail: "baseline compiler".into(),
        });
        let line = serde_json::to_string(&done).unwrap();
        assert_eq!(
            line,
            r#"{"event":"done","stage":"compile","ms":640,"detail":"baseline compiler"}"#
        );
        assert_eq!(serde_json::from_str::<DeployEvent>(&line).unwrap(), done);
        let failed = DeployEvent::Failed {
            status: 422,
            error: ApiErrorBody {
                code: "invalid_wasm".into(),
                message: "not wasm".into(),
            },
        };
        let line = serde_json::to_string(&failed).unwrap();
        assert!(line.starts_with(r#"{"event":"failed","status":422,"error":{"#));
        assert_eq!(serde_json::from_str::<DeployEvent>(&line).unwrap(), failed);
    }
}
