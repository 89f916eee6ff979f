//! Applications as code: the plan that converges one application of a team
//! to an [`AppSpec`] (a resolved `wisp.toml`), its execution as one change
//! set, and the spec of what is deployed (`wisp export`).
//!
//! A plan validates everything before anything changes — names, settings,
//! triggers (each kind's own rules, brokers, route overlaps with every other
//! route on the server) and that each function's wasm was uploaded — and
//! lists its problems by their place in the manifest (`functions.api.memory_mb`,
//! `triggers[2].schedule`). The functions an application's manifest names
//! are converged in full: their code (the live alias moves to the uploaded
//! version with the manifest's SHA-256), their settings (a setting left out
//! takes its default) and their triggers (one the manifest no longer lists
//! is deleted). Functions of the application the manifest no longer names
//! are deleted only with `prune`. Triggers are matched by their whole
//! definition: a changed trigger is one deletion and one creation.

use std::collections::{BTreeMap, HashSet};

use model::{
    AppSpec, ApplyPlan, FunctionConfig, FunctionConfigPatch, FunctionDetail, FunctionSpec,
    ManifestProblem, NewTrigger, PlanOp, PlannedChange, TriggerSpec, DEFAULT_APPLICATION,
};
use sqlx::Row;

use crate::{Platform, PlatformError};

/// Most functions one application spec may name.
pub(crate) const MAX_FUNCTIONS: usize = 500;
/// Most triggers one application spec may name.
pub(crate) const MAX_TRIGGERS: usize = 2_000;

/// One step of an apply, in the order they run.
enum Step {
    DeleteTrigger(String),
    Configure(String, Box<FunctionConfigPatch>),
    SetLive(String, i64),
    CreateTrigger(NewTrigger),
    DeleteFunction(String),
}

impl Step {
    /// Steps run by kind: triggers go first (a route moving between
    /// functions must be free), code and settings next, new triggers, then
    /// pruned functions.
    fn rank(&self) -> u8 {
        match self {
            Step::DeleteTrigger(_) => 0,
            Step::Configure(..) => 1,
            Step::SetLive(..) => 2,
            Step::CreateTrigger(_) => 3,
            Step::DeleteFunction(_) => 4,
        }
    }
}

/// A plan and the steps that carry it out.
pub(crate) struct Planned {
    pub plan: ApplyPlan,
    steps: Vec<Step>,
}

/// The first 12 hex digits of a SHA-256, as a plan shows code.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The settings a function of `app` gets from `spec` (defaults for what
/// it leaves out).
fn desired_config(app: &str, spec: &FunctionSpec) -> FunctionConfig {
    let defaults = FunctionConfig::default();
    FunctionConfig {
        memory_mb: spec.memory_mb.unwrap_or(defaults.memory_mb),
        timeout_ms: spec.timeout_ms.unwrap_or(defaults.timeout_ms),
        max_concurrency: spec.max_concurrency.unwrap_or(defaults.max_concurrency),
        env: spec.env.clone(),
        allowed_hosts: spec.allowed_hosts.clone(),
        application: app.to_string(),
        max_outbound_calls: spec
            .max_outbound_calls
            .unwrap_or(defaults.max_outbound_calls),
        capture: spec.capture.unwrap_or(defaults.capture),
        capture_sample_percent: spec
            .capture_sample_percent
            .unwrap_or(defaults.capture_sample_percent),
    }
}

/// What differs between two configurations, one line per setting (env
/// by variable names: values may be long or sensitive).
fn config_changes(from: &FunctionConfig, to: &FunctionConfig) -> Vec<String> {
    let mut changes = Vec::new();
    let mut scalar = |name: &str, a: String, b: String| {
        if a != b {
            changes.push(format!("{name} {a} -> {b}"));
        }
    };
    scalar(
        "memory_mb",
        from.memory_mb.to_string(),
        to.memory_mb.to_string(),
    );
    scalar(
        "timeout_ms",
        from.timeout_ms.to_string(),
        to.timeout_ms.to_string(),
    );
    scalar(
        "max_concurrency",
        from.max_concurrency.to_string(),
        to.max_concurrency.to_string(),
    );
    scalar(
        "max_outbound_calls",
        from.max_outbound_calls.to_string(),
        to.max_outbound_calls.to_string(),
    );
    scalar(
        "capture",
        from.capture.as_str().to_string(),
        to.capture.as_str().to_string(),
    );
    scalar(
        "capture_sample_percent",
        from.capture_sample_percent.to_string(),
        to.capture_sample_percent.to_string(),
    );
    scalar(
        "application",
        from.application.clone(),
        to.application.clone(),
    );
    if from.allowed_hosts != to.allowed_hosts {
        changes.push(format!(
            "allowed_hosts [{}] -> [{}]",
            from.allowed_hosts.join(", "),
            to.allowed_hosts.join(", ")
        ));
    }
    let env = env_changes(&from.env, &to.env);
    if !env.is_empty() {
        changes.push(format!("env {}", env.join(" ")));
    }
    changes
}

/// `+NAME`, `~NAME`, `-NAME` for each variable added, changed or removed.
fn env_changes(from: &BTreeMap<String, String>, to: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in to {
        match from.get(name) {
            None => out.push(format!("+{name}")),
            Some(old) if old != value => out.push(format!("~{name}")),
            Some(_) => {}
        }
    }
    out.extend(
        from.keys()
            .filter(|name| !to.contains_key(*name))
            .map(|name| format!("-{name}")),
    );
    out
}

/// The full patch that sets `config` (secrets untouched).
fn full_patch(config: &FunctionConfig) -> FunctionConfigPatch {
    FunctionConfigPatch {
        memory_mb: Some(config.memory_mb),
        timeout_ms: Some(config.timeout_ms),
        max_concurrency: Some(config.max_concurrency),
        env: Some(config.env.clone()),
        allowed_hosts: Some(config.allowed_hosts.clone()),
        application: Some(config.application.clone()),
        max_outbound_calls: Some(config.max_outbound_calls),
        capture: Some(config.capture),
        capture_sample_percent: Some(config.capture_sample_percent),
        secrets: None,
    }
}

/// How a plan names a trigger: `http GET /orders -> orders`.
fn trigger_name(function: &str, spec: &TriggerSpec) -> String {
    let what = spec.describe();
    if what.starts_with(spec.kind()) {
        format!("{what} -> {function}")
    } else {
        format!("{} {what} -> {function}", spec.kind())
    }
}

/// The settings `problems` reports for `config`, at `functions.NAME.FIELD`.
fn config_problems(name: &str, config: &FunctionConfig) -> Vec<ManifestProblem> {
    model::config_problems(config)
        .into_iter()
        .map(|p| ManifestProblem {
            path: format!("functions.{name}.{}", p.field),
            message: p.message,
        })
        .collect()
}

impl Platform {
    /// The team's functions in application `app` (names), with no other
    /// detail.
    pub(crate) async fn application_functions(
        &self,
        team_id: i64,
        app: &str,
    ) -> Result<Vec<String>, PlatformError> {
        sqlx::query(
            "SELECT f.name AS name FROM functions f JOIN function_owners o ON o.name = f.name \
             WHERE o.team_id = $1 AND f.application = $2 ORDER BY f.name",
        )
        .bind(team_id)
        .bind(app)
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(|row| Ok(row.try_get::<String, _>("name")?))
        .collect()
    }

    /// What converging application `app` of `team_id` to `spec` changes
    /// (`prune`: also delete its functions the spec does not name), with
    /// the manifest's problems and the uploads still missing.
    pub(crate) async fn plan_application(
        &self,
        team_id: i64,
        app: &str,
        spec: &AppSpec,
        prune: bool,
    ) -> Result<Planned, PlatformError> {
        let mut plan = ApplyPlan {
            application: app.to_string(),
            ..Default::default()
        };
        let mut steps = Vec::new();
        let mut problems = Vec::new();
        if spec.functions.len() > MAX_FUNCTIONS || spec.triggers.len() > MAX_TRIGGERS {
            // Refused before any lookup: each function costs queries.
            plan.problems.push(ManifestProblem {
                path: if spec.functions.len() > MAX_FUNCTIONS {
                    "functions".into()
                } else {
                    "triggers".into()
                },
                message: format!(
                    "an application has at most {MAX_FUNCTIONS} functions and {MAX_TRIGGERS} \
                     triggers (this one: {} and {})",
                    spec.functions.len(),
                    spec.triggers.len()
                ),
            });
            return Ok(Planned { plan, steps });
        }
        let probe = FunctionConfig {
            application: app.to_string(),
            ..Default::default()
        };
        for p in model::config_problems(&probe) {
            problems.push(ManifestProblem {
                path: "application".into(),
                message: p.message,
            });
        }
        let largest_mb = self.inner.registry.admission.largest_call_mb();
        // Function name -> its detail, when the team has it.
        let mut current: BTreeMap<String, FunctionDetail> = BTreeMap::new();
        let mut named = HashSet::new();
        for f in &spec.functions {
            let path = format!("functions.{}", f.name);
            if let Err(message) = model::validate_function_name(&f.name) {
                problems.push(ManifestProblem { path, message });
                continue;
            }
            if !named.insert(f.name.clone()) {
                problems.push(ManifestProblem {
                    path,
                    message: format!("function {} is defined twice", f.name),
                });
                continue;
            }
            if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(ManifestProblem {
                    path: format!("{path}.wasm"),
                    message: "the wasm's SHA-256 must be 64 hex digits".into(),
                });
            }
            let desired = desired_config(app, f);
            problems.extend(config_problems(&f.name, &desired));
            if u64::from(desired.memory_mb) > largest_mb {
                problems.push(ManifestProblem {
                    path: format!("{path}.memory_mb"),
                    message: format!(
                        "memory_mb {} exceeds a team's share of this server's memory budget \
                         ({largest_mb} MiB): the function could never run",
                        desired.memory_mb
                    ),
                });
            }
            match self.function_owner(&f.name).await? {
                Some(owner) if owner != team_id => problems.push(ManifestProblem {
                    path,
                    message: format!(
                        "the function name {} belongs to another team; choose another name",
                        f.name
                    ),
                }),
                Some(_) => {
                    let detail = self.function_detail(&f.name).await?;
                    let other = &detail.config.application;
                    if other != app && other != DEFAULT_APPLICATION && detail.live_version.is_some()
                    {
                        problems.push(ManifestProblem {
                            path,
                            message: format!(
                                "function {} belongs to application {other}; remove it there \
                                 first (or delete it)",
                                f.name
                            ),
                        });
                    }
                    current.insert(f.name.clone(), detail);
                }
                None => {}
            }
        }

        // Code and settings of each function.
        for f in &spec.functions {
            if !named.contains(&f.name) {
                continue;
            }
            let desired = desired_config(app, f);
            let detail = current.get(&f.name);
            let version = detail.and_then(|d| {
                d.versions
                    .iter()
                    .filter(|v| v.sha256 == f.sha256)
                    .map(|v| v.version)
                    .max()
            });
            if version.is_none() {
                plan.uploads.push(f.name.clone());
            }
            for secret in &f.secrets {
                if !detail.is_some_and(|d| d.secrets.contains(secret)) {
                    plan.warnings.push(format!(
                        "function {}: secret {secret} is not set (wisp secrets set {} {secret})",
                        f.name, f.name
                    ));
                }
            }
            let live = detail.and_then(|d| {
                let live = d.live_version?;
                d.versions.iter().find(|v| v.version == live)
            });
            let Some(live) = live else {
                // New (or uploaded but never live): created by this apply.
                let mut details = vec![format!("code {}", short(&f.sha256))];
                let defaults = FunctionConfig {
                    application: app.to_string(),
                    ..Default::default()
                };
                details.extend(config_changes(&defaults, &desired));
                plan.changes.push(PlannedChange {
                    op: PlanOp::Create,
                    object: "function".into(),
                    name: f.name.clone(),
                    details,
                });
                steps.push(Step::Configure(
                    f.name.clone(),
                    Box::new(full_patch(&desired)),
                ));
                steps.push(Step::SetLive(f.name.clone(), version.unwrap_or(0)));
                continue;
            };
            let config = &detail.expect("a live version has a detail").config;
            let mut details = Vec::new();
            if live.sha256 != f.sha256 {
                details.push(format!(
                    "code {} -> {}",
                    short(&live.sha256),
                    short(&f.sha256)
                ));
                steps.push(Step::SetLive(f.name.clone(), version.unwrap_or(0)));
            }
            let settings = config_changes(config, &desired);
            if !settings.is_empty() {
                steps.push(Step::Configure(
                    f.name.clone(),
                    Box::new(full_patch(&desired)),
                ));
            }
            details.extend(settings);
            if !details.is_empty() {
                plan.changes.push(PlannedChange {
                    op: PlanOp::Change,
                    object: "function".into(),
                    name: f.name.clone(),
                    details,
                });
            }
        }

        if prune && app == DEFAULT_APPLICATION {
            problems.push(ManifestProblem {
                path: "application".into(),
                message: format!(
                    "--prune on the {DEFAULT_APPLICATION} application would delete every \
                     function deployed without a manifest; give the application its own name"
                ),
            });
        }
        // Functions of the application the spec no longer names.
        let mut pruned = Vec::new();
        for name in self.application_functions(team_id, app).await? {
            if named.contains(&name) {
                continue;
            }
            if prune {
                pruned.push(self.function_detail(&name).await?);
            } else {
                plan.warnings.push(format!(
                    "function {name} of application {app} is not in the manifest: kept \
                     (--prune deletes it)"
                ));
            }
        }

        // Triggers: the spec's, matched against those of its functions.
        let default_attempts = self.inner.config.max_attempts;
        let mut existing: Vec<(model::Trigger, bool)> = current
            .values()
            .flat_map(|d| d.triggers.iter().cloned())
            .map(|t| (t, false))
            .collect();
        let mut created = Vec::new();
        let mut new_triggers = Vec::new();
        let mut desired_triggers = Vec::new();
        for (i, t) in spec.triggers.iter().enumerate() {
            let path = format!("triggers[{i}]");
            if !named.contains(&t.function) {
                problems.push(ManifestProblem {
                    path: format!("{path}.function"),
                    message: format!(
                        "the trigger names function {}, which the manifest does not define",
                        t.function
                    ),
                });
                continue;
            }
            match self.normalized_trigger(t, default_attempts).await {
                Ok((spec, attempts)) => {
                    let key = (t.function.clone(), spec, attempts);
                    if desired_triggers.contains(&key) {
                        problems.push(ManifestProblem {
                            path,
                            message: "the same trigger is defined twice".into(),
                        });
                        continue;
                    }
                    desired_triggers.push(key);
                }
                Err(e) => {
                    let path = match &e {
                        PlatformError::InvalidInput {
                            field: Some(field), ..
                        } => format!("{path}.{field}"),
                        _ => path,
                    };
                    problems.push(ManifestProblem {
                        path,
                        message: e.to_string(),
                    });
                }
            }
        }
        for (function, spec, attempts) in &desired_triggers {
            let kept = existing.iter_mut().find(|(t, taken)| {
                !*taken && &t.function == function && &t.spec == spec && t.max_attempts == *attempts
            });
            match kept {
                Some((_, taken)) => *taken = true,
                None => {
                    new_triggers.push(PlannedChange {
                        op: PlanOp::Create,
                        object: "trigger".into(),
                        name: trigger_name(function, spec),
                        details: Vec::new(),
                    });
                    created.push((function.clone(), spec.clone()));
                    steps.push(Step::CreateTrigger(NewTrigger {
                        function: function.clone(),
                        spec: spec.clone(),
                        max_attempts: Some(*attempts),
                    }));
                }
            }
        }
        let mut removed = HashSet::new();
        let gone = existing
            .iter()
            .filter(|(_, taken)| !taken)
            .map(|(t, _)| (t, None))
            .chain(pruned.iter().flat_map(|d| {
                d.triggers
                    .iter()
                    .map(move |t| (t, Some(format!("with function {}", d.name))))
            }));
        for (t, why) in gone {
            removed.insert(t.id.clone());
            plan.changes.push(PlannedChange {
                op: PlanOp::Delete,
                object: "trigger".into(),
                name: trigger_name(&t.function, &t.spec),
                details: why.into_iter().collect(),
            });
            steps.push(Step::DeleteTrigger(t.id.clone()));
        }
        // Shown in the order they run: deletions, then creations.
        plan.changes.extend(new_triggers);
        if let Err(e) = crate::triggers::check_routes(self, team_id, &removed, &created).await {
            problems.push(ManifestProblem {
                path: "triggers".into(),
                message: e.to_string(),
            });
        }
        for d in &pruned {
            plan.changes.push(PlannedChange {
                op: PlanOp::Delete,
                object: "function".into(),
                name: d.name.clone(),
                details: vec!["not in the manifest; --prune".into()],
            });
            steps.push(Step::DeleteFunction(d.name.clone()));
        }
        steps.sort_by_key(Step::rank);
        plan.problems = problems;
        Ok(Planned { plan, steps })
    }

    /// Converges application `app` to `spec` as planned; refuses (changing
    /// nothing) when the manifest has problems or wasm is not uploaded.
    pub(crate) async fn apply_application(
        &self,
        team_id: i64,
        app: &str,
        spec: &AppSpec,
        prune: bool,
    ) -> Result<ApplyPlan, PlatformError> {
        let _guard = self.inner.apply_lock.lock().await;
        let Planned { mut plan, steps } = self.plan_application(team_id, app, spec, prune).await?;
        if !plan.problems.is_empty() {
            let list: Vec<String> = plan
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect();
            return Err(PlatformError::invalid(format!(
                "the manifest cannot be applied: {}",
                list.join("; ")
            )));
        }
        if !plan.uploads.is_empty() {
            return Err(PlatformError::invalid(format!(
                "upload the wasm of {} first (POST /api/v1/functions/{{name}}/versions?activate=false)",
                plan.uploads.join(", ")
            )));
        }
        let total = steps.len();
        for (done, step) in steps.into_iter().enumerate() {
            let result = match &step {
                Step::DeleteTrigger(id) => self.delete_trigger(id).await,
                Step::Configure(name, patch) => {
                    self.update_config(name, (**patch).clone()).await.map(drop)
                }
                Step::SetLive(name, version) => self.set_alias(name, *version).await.map(drop),
                Step::CreateTrigger(new) => self.create_trigger(new.clone()).await.map(drop),
                Step::DeleteFunction(name) => self.delete_function(name).await,
            };
            if let Err(e) = result {
                tracing::error!(application = app, error = %e, done, total, "apply stopped");
                return Err(match e {
                    PlatformError::Internal(e) => PlatformError::Internal(
                        e.context(format!("apply stopped after {done} of {total} steps")),
                    ),
                    other => PlatformError::Conflict {
                        message: format!(
                            "apply stopped after {done} of {total} steps (the rest is unchanged; \
                             apply again to finish): {other}"
                        ),
                    },
                });
            }
        }
        plan.applied = true;
        Ok(plan)
    }

    /// Application `app` of `team_id` as a spec: each function's live code
    /// (else its newest version), every setting, its secrets' names and
    /// its triggers.
    pub(crate) async fn application_spec(
        &self,
        team_id: i64,
        app: &str,
    ) -> Result<AppSpec, PlatformError> {
        let names = self.application_functions(team_id, app).await?;
        if names.is_empty() {
            return Err(PlatformError::not_found(format!("application {app}")));
        }
        let default_attempts = self.inner.config.max_attempts;
        let mut spec = AppSpec::default();
        for name in names {
            let d = self.function_detail(&name).await?;
            let Some(code) = d
                .versions
                .iter()
                .find(|v| Some(v.version) == d.live_version)
                .or(d.versions.first())
            else {
                continue;
            };
            let c = &d.config;
            spec.functions.push(FunctionSpec {
                name: name.clone(),
                sha256: code.sha256.clone(),
                memory_mb: Some(c.memory_mb),
                timeout_ms: Some(c.timeout_ms),
                max_concurrency: Some(c.max_concurrency),
                max_outbound_calls: Some(c.max_outbound_calls),
                env: c.env.clone(),
                secrets: d.secrets.clone(),
                allowed_hosts: c.allowed_hosts.clone(),
                capture: Some(c.capture),
                capture_sample_percent: Some(c.capture_sample_percent),
            });
            spec.triggers.extend(d.triggers.iter().map(|t| NewTrigger {
                function: name.clone(),
                spec: t.spec.clone(),
                max_attempts: (t.max_attempts != default_attempts).then_some(t.max_attempts),
            }));
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_names_each_changed_setting_and_env_variables_by_name() {
        let from = FunctionConfig::default();
        let to = FunctionConfig {
            memory_mb: 256,
            env: BTreeMap::from([("A".to_string(), "1".to_string())]),
            ..FunctionConfig::default()
        };
        assert_eq!(
            config_changes(&from, &to),
            vec![
                format!("memory_mb {} -> 256", from.memory_mb),
                "env +A".to_string()
            ]
        );
        let back = config_changes(&to, &from);
        assert!(back.contains(&"env -A".to_string()), "{back:?}");
        assert!(config_changes(&to, &to).is_empty());
    }

    #[test]
    fn settings_left_out_take_their_defaults() {
        let spec = FunctionSpec {
            name: "api".into(),
            memory_mb: Some(64),
            ..Default::default()
        };
        let config = desired_config("shop", &spec);
        assert_eq!(config.memory_mb, 64);
        assert_eq!(config.application, "shop");
        assert_eq!(config.timeout_ms, FunctionConfig::default().timeout_ms);
    }
}
