//! Functions through the one door: deploying versions, reading and changing
//! a function's configuration and live alias, deleting it, calling it from
//! the control plane (synchronously, buffered for the dashboard's test
//! panel, or as durable async work), and reading its invocation records,
//! including the live feed of new ones, the traces they form and the
//! search over their logs. Every read needs the viewer role in the
//! function's team, every change the developer role.

use bytes::Bytes;
use http::Request;
use model::{
    AsyncInvocation, DeployedVersion, ErrorGroup, FunctionConfigPatch, FunctionDetail,
    FunctionListPage, FunctionListQuery, FunctionSummary, InvocationRecord, LiveLogLine,
    LogSearchPage, Trace,
};
use tokio::sync::broadcast;

use super::Change;
use crate::{
    BufferedInvocation, DeployProgress, ErrorGroupQuery, InvocationQuery, InvokeOutcome, LogSearch,
    Platform, PlatformError, Principal, RequestBody, Role, TriggerKind,
};

/// The functions of the caller's team (see [`Platform::functions`]).
pub struct Functions<'a>(pub(super) &'a Platform);

impl Functions<'_> {
    /// The team's functions.
    pub async fn list(&self, who: &Principal) -> Result<Vec<FunctionSummary>, PlatformError> {
        self.0.list_functions(who.team_id).await
    }

    /// One page of the caller's team's functions by name (`query`'s cursor,
    /// search and size), with how many match in all.
    pub async fn page(
        &self,
        who: &Principal,
        query: &FunctionListQuery,
    ) -> Result<FunctionListPage, PlatformError> {
        self.0.function_page(who.team_id, query).await
    }

    /// A function's configuration, versions, live version and triggers.
    pub async fn detail(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<FunctionDetail, PlatformError> {
        self.0.authorize_function(who, name, Role::Viewer).await?;
        self.0.function_detail(name).await
    }

    /// Stores `wasm` as the next version of `name` (creating the function
    /// for the caller's team on first deploy); `activate` makes it live.
    /// Each stage is reported to `progress` as it starts and ends.
    pub async fn deploy(
        &self,
        who: &Principal,
        name: &str,
        wasm: Bytes,
        activate: bool,
        progress: &DeployProgress,
    ) -> Result<DeployedVersion, PlatformError> {
        let target = format!("function {name}");
        self.0
            .audited(who, "deploy", &target, Change::Create, async {
                who.require(Role::Developer)?;
                self.0
                    .deploy(who.team_id, name, wasm, activate, progress)
                    .await
            })
            .await
    }

    /// Changes the function's settings (and its secrets).
    pub async fn configure(
        &self,
        who: &Principal,
        name: &str,
        patch: FunctionConfigPatch,
    ) -> Result<FunctionDetail, PlatformError> {
        let op = self.0.update_config(name, patch);
        self.change(who, name, "configure", Change::Update, op)
            .await
    }

    /// Points the `live` alias at `version` (rollback or roll forward).
    pub async fn set_alias(
        &self,
        who: &Principal,
        name: &str,
        version: i64,
    ) -> Result<FunctionDetail, PlatformError> {
        let target = format!("function {name} version {version}");
        self.0
            .audited(who, "set_alias", &target, Change::Update, async {
                self.0
                    .authorize_function(who, name, Role::Developer)
                    .await?;
                self.0.set_alias(name, version).await
            })
            .await
    }

    /// The wasm file of one version (`wisp export` downloads the live one).
    pub async fn wasm(
        &self,
        who: &Principal,
        name: &str,
        version: i64,
    ) -> Result<Bytes, PlatformError> {
        self.0.authorize_function(who, name, Role::Viewer).await?;
        self.0.version_wasm(name, version).await
    }

    /// Deletes the function, its versions and triggers (its name stays the team's).
    pub async fn delete(&self, who: &Principal, name: &str) -> Result<(), PlatformError> {
        let op = self.0.delete_function(name);
        self.change(who, name, "delete_function", Change::NoContent, op)
            .await
    }

    /// Calls the live version with `request` (trigger `api`).
    pub async fn invoke(
        &self,
        who: &Principal,
        name: &str,
        request: Request<RequestBody>,
    ) -> Result<InvokeOutcome, PlatformError> {
        let op = self.0.invoke(name, request, TriggerKind::Api);
        self.change(who, name, "invoke", Change::Update, op).await
    }

    /// Like [`Functions::invoke`], reading the response and keeping at most
    /// `keep` bytes of its body (the dashboard's test panel).
    pub async fn invoke_buffered(
        &self,
        who: &Principal,
        name: &str,
        request: Request<RequestBody>,
        keep: usize,
    ) -> Result<BufferedInvocation, PlatformError> {
        let op = self
            .0
            .invoke_buffered(name, request, TriggerKind::Api, keep);
        self.change(who, name, "invoke", Change::Update, op).await
    }

    /// Stores a call for async execution (durable before this returns).
    pub async fn enqueue(
        &self,
        who: &Principal,
        name: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> Result<AsyncInvocation, PlatformError> {
        let op = self.0.enqueue_invocation(name, "POST", path, headers, body);
        self.change(who, name, "invoke_async", Change::Accept, op)
            .await
    }

    /// Runs `op`, change `action` of the team's function `name`: refused
    /// unless the caller is a developer of the function's team (another
    /// team's function is not found), and audited either way. `op` is a
    /// future, so nothing of it runs before the check.
    pub(super) async fn change<T>(
        &self,
        who: &Principal,
        name: &str,
        action: &str,
        change: Change,
        op: impl std::future::Future<Output = Result<T, PlatformError>>,
    ) -> Result<T, PlatformError> {
        let target = format!("function {name}");
        self.0
            .audited(who, action, &target, change, async {
                self.0
                    .authorize_function(who, name, Role::Developer)
                    .await?;
                op.await
            })
            .await
    }

    /// The function's invocations, newest first.
    pub async fn invocations(
        &self,
        who: &Principal,
        name: &str,
        query: InvocationQuery,
    ) -> Result<Vec<InvocationRecord>, PlatformError> {
        self.0.authorize_function(who, name, Role::Viewer).await?;
        self.0.list_invocations(name, query).await
    }

    /// The team's invocations whose logs or error text match `search`,
    /// newest first; a `function` filter naming another team's function
    /// is not found.
    pub async fn search_logs(
        &self,
        who: &Principal,
        search: &LogSearch,
    ) -> Result<LogSearchPage, PlatformError> {
        match search.function.as_deref().filter(|f| !f.is_empty()) {
            Some(name) => self.0.authorize_function(who, name, Role::Viewer).await?,
            None => who.require(Role::Viewer)?,
        }
        self.0.search_logs(who.team_id, search).await
    }

    /// The team's error groups (failures of a function by outcome and
    /// shape), most recently seen first; a `function` filter naming
    /// another team's function is not found.
    pub async fn error_groups(
        &self,
        who: &Principal,
        query: &ErrorGroupQuery,
    ) -> Result<Vec<ErrorGroup>, PlatformError> {
        match query.function.as_deref().filter(|f| !f.is_empty()) {
            Some(name) => self.0.authorize_function(who, name, Role::Viewer).await?,
            None => who.require(Role::Viewer)?,
        }
        self.0.error_groups(who.team_id, query).await
    }

    /// One invocation record of the team.
    pub async fn invocation(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<InvocationRecord, PlatformError> {
        self.0.invocation_for(who, id).await
    }

    /// The invocations `id` caused that belong to the team, oldest first.
    /// The parent's own record is written in the background and may not be
    /// stored yet: then only the team filter on the children applies.
    pub async fn children(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Vec<InvocationRecord>, PlatformError> {
        match self.0.invocation(id).await {
            Ok(parent) => {
                let what = format!("invocation {id}");
                self.0
                    .authorize_object(who, &parent.function, Role::Viewer, &what)
                    .await?
            }
            Err(PlatformError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.0.invocation_children(who.team_id, id).await
    }

    /// The trace `trace_id` (32 hex digits): the team's invocations in it as
    /// a tree, with their outbound calls, publishes and pending deliveries.
    pub async fn trace(&self, who: &Principal, trace_id: &str) -> Result<Trace, PlatformError> {
        who.require(Role::Viewer)?;
        if !crate::trace_context::is_trace_id(trace_id) {
            return Err(PlatformError::invalid_field(
                "trace_id",
                "a trace id is 32 lowercase hex digits, not all zero",
            ));
        }
        self.0.trace(who.team_id, trace_id).await
    }

    /// The lines the team's calls write while they run, from now on.
    pub fn log_feed(&self, who: &Principal) -> LogFeed {
        LogFeed {
            team_id: who.team_id,
            lines: self.0.inner.live_logs.subscribe(),
        }
    }

    /// New invocation records of the team's functions as they are stored.
    pub fn feed(&self, who: &Principal) -> InvocationFeed {
        let (tail, remote) = self.0.inner.live_logs.record_tail();
        InvocationFeed {
            platform: self.0.clone(),
            team_id: who.team_id,
            records: self.0.subscribe_invocations(),
            remote,
            _tail: tail,
        }
    }
}

/// A live feed of the lines the team's running calls write
/// ([`Functions::log_feed`]).
pub struct LogFeed {
    team_id: i64,
    lines: broadcast::Receiver<crate::live_logs::TeamLine>,
}

impl LogFeed {
    /// The next line of one of the team's running calls; `None` once the
    /// platform is gone. A reader that falls behind skips what it missed.
    pub async fn next(&mut self) -> Option<std::sync::Arc<LiveLogLine>> {
        loop {
            match self.lines.recv().await {
                Ok(line) if line.team_id == self.team_id => return Some(line.line),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A live feed of one team's invocation records ([`Functions::feed`]).
pub struct InvocationFeed {
    platform: Platform,
    team_id: i64,
    records: broadcast::Receiver<InvocationRecord>,
    /// The other nodes' records (a cluster with `--nats-url`).
    remote: Option<broadcast::Receiver<InvocationRecord>>,
    _tail: crate::live_logs::TailGuard,
}

impl InvocationFeed {
    /// The next record of the team; `None` once the platform stops
    /// recording. A reader that falls behind skips what it missed.
    pub async fn next(&mut self) -> Option<InvocationRecord> {
        loop {
            let received = match self.remote.as_mut() {
                None => self.records.recv().await,
                Some(remote) => tokio::select! {
                    local = self.records.recv() => local,
                    // A closed relay ends nothing: the local feed goes on.
                    Ok(record) = remote.recv() => Ok(record),
                },
            };
            match received {
                Ok(record)
                    if self.platform.live_function_team(&record.function) == Some(self.team_id) =>
                {
                    return Some(record)
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
