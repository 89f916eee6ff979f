//! Applications as code, on the wire: the desired state of one application
//! as `wisp apply` sends it (its `wisp.toml` resolved: the environment
//! chosen, variables filled in, each function's wasm named by its SHA-256),
//! and the plan the server answers (what it would create, change and
//! delete to converge, or what is wrong with the manifest).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CaptureMode, NewTrigger};

/// One application as a manifest describes it (`POST
/// /api/v1/applications/{name}/plan` and `/apply`). Settings left out take
/// the server's defaults, so an apply converges to exactly this.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The functions of the application.
    #[serde(default)]
    pub functions: Vec<FunctionSpec>,
    /// Every trigger of those functions (a trigger of one of them that is
    /// not listed is deleted).
    #[serde(default)]
    pub triggers: Vec<NewTrigger>,
}

/// One function of an [`AppSpec`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub name: String,
    /// SHA-256 (hex) of the wasm the function runs; a version with this
    /// content must have been uploaded (`?activate=false` is enough).
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outbound_calls: Option<u32>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Names of the secrets the function needs (values are set with
    /// `wisp secrets set`, never in a manifest).
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_sample_percent: Option<u32>,
}

word_enum! {
    /// What a planned change does.
    pub enum PlanOp ("plan operation", expected "create, change or delete") {
        /// `+`: a new function or trigger.
        Create = "create",
        /// `~`: a function's code or settings change.
        Change = "change",
        /// `-`: a function or trigger goes.
        Delete = "delete",
    }
}

impl PlanOp {
    /// `+`, `~` or `-`, as a plan is printed.
    pub fn sign(self) -> char {
        match self {
            PlanOp::Create => '+',
            PlanOp::Change => '~',
            PlanOp::Delete => '-',
        }
    }
}

/// One change of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlannedChange {
    pub op: PlanOp,
    /// `function` or `trigger`.
    pub object: String,
    /// The function's name, or the trigger's one-line description with its
    /// function (`http GET /orders -> orders`).
    pub name: String,
    /// What changes (`memory_mb 128 -> 256`, `code 3f2a… -> 9b1c…`).
    #[serde(default)]
    pub details: Vec<String>,
}

/// Something wrong with a manifest, at a place in it (`functions.api.memory_mb`,
/// `triggers[2].schedule`): `wisp apply` shows the file and line of `path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestProblem {
    pub path: String,
    pub message: String,
}

/// The answer to a plan or an apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplyPlan {
    pub application: String,
    /// In order of execution: functions (code first, then settings), then
    /// triggers (deletions before creations), then pruned functions.
    pub changes: Vec<PlannedChange>,
    /// Functions whose wasm (by SHA-256) is not among their versions yet:
    /// upload it before applying.
    #[serde(default)]
    pub uploads: Vec<String>,
    /// What makes the manifest impossible to apply; an apply with problems
    /// changes nothing.
    #[serde(default)]
    pub problems: Vec<ManifestProblem>,
    /// Notes that do not stop an apply (a secret the manifest names that
    /// is not set yet).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// True when the changes were made (an apply), false for a plan.
    pub applied: bool,
}

impl ApplyPlan {
    /// Whether applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}
