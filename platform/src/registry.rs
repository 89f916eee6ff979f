//! The in-memory routing table: function name → the compiled live version and
//! its sandbox settings. Read on every call (a short read lock and an `Arc`
//! clone); written only on deploy, alias moves, config changes and deletes.
//! It also holds the admission of calls into the sandbox pool
//! ([`Admission`]: the pool, team shares and the memory budget).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use runtime::{PreparedFunction, SandboxConfig, WarmPool};
use tokio::sync::Semaphore;

use crate::admission::Admission;

/// Largest request body a function accepts, by default.
const MAX_REQUEST_BODY: u64 = 10 * 1024 * 1024;
/// Largest response body a function may send, by default.
const MAX_RESPONSE_BODY: u64 = 64 * 1024 * 1024;
/// Log bytes (stdout + stderr) kept per invocation.
const MAX_LOG_BYTES: usize = 64 * 1024;

/// What serves a function's traffic right now.
pub(crate) struct LiveFunction {
    /// The team that owns the function (scopes its `*.wisp` host calls).
    pub team_id: i64,
    pub name: String,
    pub application: String,
    pub version: i64,
    /// The compiled function and its sandbox settings; calls go through
    /// here (sandboxes instantiated ahead of them).
    pub warm: WarmPool,
    pub memory_mb: u32,
    pub max_concurrency: u32,
    /// One permit per allowed concurrent invocation.
    pub permits: Arc<Semaphore>,
    /// Secret values, longest first, to redact from recorded logs.
    pub secret_values: Vec<String>,
    /// The secrets by name (a capture stores names, not values).
    pub secrets: Vec<(String, String)>,
    /// Which calls are recorded for replay, and the sample kept.
    pub capture: model::CaptureMode,
    pub capture_sample_percent: u32,
    /// A wasi:http component (only those are recorded for replay).
    pub component: bool,
    /// The function row's `updated_at` this entry was built from: a
    /// reload that finds the same version and stamp keeps this entry (and
    /// the calls its concurrency permits count).
    pub stamp: i64,
}

impl LiveFunction {
    pub fn new(
        team_id: i64,
        name: &str,
        version: i64,
        prepared: PreparedFunction,
        config: &model::FunctionConfig,
        secrets: Vec<(String, String)>,
    ) -> Self {
        let mut secret_values: Vec<String> = secrets
            .iter()
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect();
        secret_values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        secret_values.dedup();
        let mut sandbox = sandbox_for(config);
        // A secret wins over a plain variable of the same name.
        sandbox
            .env
            .retain(|(k, _)| !secrets.iter().any(|(name, _)| name == k));
        sandbox.env.extend(secrets.iter().cloned());
        let component = prepared.kind() == runtime::FunctionKind::Component;
        Self {
            team_id,
            name: name.to_string(),
            application: config.application.clone(),
            version,
            warm: WarmPool::new(prepared, sandbox),
            memory_mb: config.memory_mb,
            max_concurrency: config.max_concurrency,
            permits: Arc::new(Semaphore::new(config.max_concurrency as usize)),
            secret_values,
            secrets,
            capture: config.capture,
            capture_sample_percent: config.capture_sample_percent,
            component,
            stamp: 0,
        }
    }

    /// Records the function row's `updated_at` it was built from.
    pub fn stamped(mut self, updated_at: i64) -> Self {
        self.stamp = updated_at;
        self
    }
}

/// Sandbox limits derived from a function's configuration.
pub(crate) fn sandbox_for(config: &model::FunctionConfig) -> SandboxConfig {
    SandboxConfig {
        memory_limit_bytes: u64::from(config.memory_mb) * 1024 * 1024,
        timeout: Duration::from_millis(config.timeout_ms),
        max_request_body: MAX_REQUEST_BODY,
        max_response_body: MAX_RESPONSE_BODY,
        max_log_bytes: MAX_LOG_BYTES,
        env: config
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        allowed_hosts: config.allowed_hosts.clone(),
        max_outbound_calls: config.max_outbound_calls,
        ..SandboxConfig::default()
    }
}

pub(crate) struct Registry {
    live: RwLock<HashMap<String, Arc<LiveFunction>>>,
    /// Room in the instance pool, per team and in memory, for running calls.
    pub admission: Admission,
}

impl Registry {
    pub fn new(admission: Admission) -> Self {
        Registry {
            live: RwLock::default(),
            admission,
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<LiveFunction>> {
        self.live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Puts `f` in the routing table, unless the table already holds a
    /// newer state of the function (a larger stamp): a reload that read the
    /// function's row just before a configuration change committed must
    /// not put the old configuration back after the change's own entry.
    pub fn insert(&self, f: LiveFunction) {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        let current = live.get(&f.name).map(|current| current.stamp);
        if replaces(current, f.stamp) {
            live.insert(f.name.clone(), Arc::new(f));
        } else {
            tracing::debug!(
                function = %f.name,
                stamp = f.stamp,
                current = ?current,
                "a reload older than the live entry was not applied"
            );
        }
    }

    /// The names of every live function.
    pub fn names(&self) -> Vec<String> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.live.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn remove(&self, name: &str) {
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
}

/// Whether an entry stamped `new` replaces the one stamped `current`.
fn replaces(current: Option<i64>, new: i64) -> bool {
    current.is_none_or(|current| new >= current)
}

#[cfg(test)]
mod tests {
    use super::replaces;

    #[test]
    fn an_older_reload_never_replaces_a_newer_entry() {
        assert!(replaces(None, 5));
        assert!(replaces(Some(5), 5));
        assert!(replaces(Some(5), 6));
        assert!(!replaces(Some(6), 5));
    }
}
