//! Wisp's domain layer: functions and their immutable versions, the `live`
//! alias, invoking a function through the runtime, recording every
//! invocation, and who may use the control plane. It knows SQL (through
//! sqlx) and the `runtime` crate; it knows nothing of axum or Leptos.

mod admission;
mod alerts;
mod api_tokens;
mod applications;
mod auth;
pub mod backup;
mod brokers;
mod buffered;
mod call_tree;
mod clock;
mod cluster;
mod data_dir;
#[macro_use]
mod db;
mod deploy_progress;
mod dispatcher;
mod error;
mod error_groups;
mod function_list;
mod functions;
mod hosts;
mod invocations;
mod invoke;
mod kv;
mod live_logs;
mod log_search;
mod login_limit;
mod metering;
mod metrics;
mod overview;
mod queue;
mod recorder;
mod registry;
mod replay;
mod retention;
mod secrets;
mod server_info;
mod service;
mod teams;
#[cfg(test)]
mod test_support;
mod time;
mod topics;
mod topology;
mod trace_context;
mod traces;
mod triggers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use runtime::{Runtime, RuntimeConfig};
use sqlx::AnyPool;

use admission::default_memory_budget_mb;
pub use admission::DEFAULT_TEAM_CONCURRENCY_PERCENT;
pub use auth::{AdminBootstrap, Principal, Session};
pub use buffered::BufferedInvocation;
pub use call_tree::{
    CallLimits, CallScope, CallTree, DEFAULT_MAX_CALLS_PER_ROOT, DEFAULT_MAX_CALL_DEPTH,
};
use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use cluster::{NodeAddresses, DOWN_AFTER as NODE_DOWN_AFTER};
pub use db::Backend;
pub use deploy_progress::{DeployProgress, StageTimer};
pub use error::PlatformError;
pub use error_groups::{ErrorGroupQuery, MAX_GROUPS as MAX_ERROR_GROUPS};
pub use invocations::InvocationQuery;
pub use invoke::{new_invocation_id, CallContext, InvokeOutcome, INVOCATION_ID_HEADER};
pub use kv::{KvValue, MAX_VALUE_BYTES};
pub use log_search::LogSearch;
pub use login_limit::{FAILURES_PER_CLIENT, FAILURES_PER_USER};
pub use metering::{gb_seconds, Month, Prices, Usage};
pub use model;
pub use model::Role;
pub use model::TriggerKind;
pub use runtime::{full_body, BoxError, InvokeError, Outcome, RequestBody, ResponseBody};
pub use secrets::SecretKeyText;
pub use server_info::BackupScheduleConfig;
pub use service::{
    Access, Alerts, Events, Functions, InvocationFeed, LogFeed, Metering, Retention, Triggers,
};
pub use topics::MAX_EVENT_BYTES;
pub use trace_context::{
    is_trace_id, parse_traceparent, span_id, trace_id_of, traceparent, TraceContext, TRACEPARENT,
};
pub use triggers::{next_fires, BrokerHosts, RouteLookup, RouteMatch, Schedule};

/// How often the retention pass runs by default.
pub const DEFAULT_RETENTION_EVERY: Duration = Duration::from_secs(600);

/// Largest accepted `.wasm` upload by default (a componentize-py Python
/// component is ~18 MB; leave room for bigger toolchains).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// How the platform is set up; every field has a sane default.
#[derive(Clone, Debug)]
pub struct PlatformConfig {
    /// Where the database (by default), compiled-artifact cache and keys live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default `sqlite://<data_dir>/wisp.db`.
    pub database_url: Option<String>,
    /// Compiled artifacts; default `<data_dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    pub max_upload_bytes: u64,
    /// Concurrent sandboxes the pooling allocator reserves room for: the
    /// most calls that run at once (more are refused with 429, or wait when
    /// queued).
    pub max_instances: u32,
    /// Share of `max_instances` one team's calls may hold at once, in
    /// percent (default [`DEFAULT_TEAM_CONCURRENCY_PERCENT`]).
    pub team_concurrency_percent: u32,
    /// The memory limits of all running calls together stay within this
    /// many MiB (default: the machine's memory, [`default_memory_budget_mb`]).
    pub sandbox_memory_budget_mb: u64,
    /// Longest a function's compilation may take before its upload is
    /// refused (422).
    pub compile_budget: Duration,
    /// Compilations that run at once; further uploads wait their turn.
    pub max_concurrent_compiles: usize,
    /// Let functions reach loopback/private addresses on their allow-list
    /// (an administrator's switch; off by default against SSRF).
    pub allow_private_destinations: bool,
    /// Delay before the first retry of failed async work; doubles per attempt.
    pub retry_base: Duration,
    /// Attempts async work gets before it becomes a dead letter.
    pub max_attempts: u32,
    /// Where "now" comes from (cron ticks, backoff); tests move it by hand.
    pub clock: Arc<dyn Clock>,
    /// Key of the function secrets (`WISP_SECRET_KEY`); default: the key
    /// file `<data_dir>/secret.key`, created on first start.
    pub secret_key: Option<SecretKeyText>,
    /// Store a record of every invocation (on by default). Off only to
    /// measure what recording costs (the benchmark's on-vs-off comparison):
    /// calls are then neither listed, metered nor billed.
    pub record_invocations: bool,
    /// This node's identity on the job leases it holds (`--node-id`);
    /// default: the identity kept in `<data_dir>/node-id`, made on first
    /// start. A node restarting under the same identity takes its own
    /// running jobs back at once; no two live nodes may share one.
    pub node_id: Option<String>,
    /// Broker hosts NATS, Redis and MQTT triggers may connect to (default:
    /// public hosts only; local and private brokers must be listed).
    pub broker_hosts: BrokerHosts,
    /// Depth and invocation budget of every root call's tree of calls
    /// (`--max-call-depth`, `--max-calls-per-root`).
    pub call_limits: CallLimits,
    /// Trap backtraces with source file:line for modules that carry debug
    /// info (`--backtrace-details`; see [`RuntimeConfig::backtrace_details`]).
    pub backtrace_details: bool,
    /// New uploads go live on baseline code while their optimised code
    /// compiles (`--no-baseline-compiler` turns it off; see
    /// [`RuntimeConfig::baseline_compiler`]).
    pub baseline_compiler: bool,
    /// A NATS server the nodes of a cluster relay their live tails through
    /// (`--nats-url`); without it a tail shows the calls of its own node.
    pub nats_url: Option<String>,
    /// Replay captures a team may keep, in bytes (`--capture-cap-mb`); the
    /// oldest go first.
    pub capture_cap_bytes: i64,
    /// How long replay captures are kept (`--capture-retention-days`).
    pub capture_retention: Duration,
    /// Days a team's history is kept unless its owners or the server's
    /// administrators chose otherwise (`--retention-days`).
    pub retention_days: u32,
    /// How often the retention pass runs (`--retention-every`).
    pub retention_every: Duration,
    /// How often alert rules are evaluated (`--alert-every`).
    pub alert_every: Duration,
    /// The server's backup schedule (`--backup-every`), shown to
    /// administrators; the server runs it.
    pub backup_schedule: Option<BackupScheduleConfig>,
}

impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl PlatformConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            cache_dir: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_instances: RuntimeConfig::default().max_instances,
            team_concurrency_percent: DEFAULT_TEAM_CONCURRENCY_PERCENT,
            sandbox_memory_budget_mb: default_memory_budget_mb(),
            compile_budget: RuntimeConfig::default().compile_budget,
            max_concurrent_compiles: RuntimeConfig::default().max_concurrent_compiles,
            allow_private_destinations: false,
            retry_base: Duration::from_secs(1),
            max_attempts: model::DEFAULT_MAX_ATTEMPTS,
            clock: Arc::new(SystemClock),
            secret_key: None,
            record_invocations: true,
            node_id: None,
            broker_hosts: BrokerHosts::default(),
            call_limits: CallLimits::default(),
            backtrace_details: false,
            baseline_compiler: true,
            nats_url: None,
            capture_cap_bytes: replay::DEFAULT_TEAM_CAPTURE_CAP_BYTES,
            capture_retention: replay::DEFAULT_CAPTURE_RETENTION,
            retention_days: model::DEFAULT_RETENTION_DAYS,
            retention_every: DEFAULT_RETENTION_EVERY,
            alert_every: Duration::from_secs(30),
            backup_schedule: None,
        }
    }

    pub(crate) fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("wisp.db").display()))
    }
}

/// The running platform. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

struct Inner {
    db: AnyPool,
    backend: Backend,
    runtime: Runtime,
    registry: registry::Registry,
    recorder: recorder::Recorder,
    config: PlatformConfig,
    /// Serialises version numbering of concurrent uploads.
    deploy_lock: tokio::sync::Mutex<()>,
    /// One apply at a time on this node (`wisp apply`).
    apply_lock: tokio::sync::Mutex<()>,
    login_limiter: login_limit::LoginLimiter,
    /// Serialises trigger creation (route conflict checks) and deletion.
    trigger_lock: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    /// Seals and opens function secrets.
    secrets: secrets::SecretBox,
    dispatcher: dispatcher::Dispatcher,
    triggers: triggers::Supervisor,
    /// Set once the platform is shutting down: background loops end.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// This node's identity on the job leases it holds.
    node_id: String,
    /// Lines of running calls, for live tails.
    live_logs: live_logs::LiveLogs,
    /// Call counters for `GET /metrics`.
    metrics: metrics::CallMetrics,
    /// The retention passes of this node.
    retention: retention::Pruner,
    /// When this platform started (uptime).
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.triggers.stop_all();
    }
}

impl Platform {
    /// Opens storage, migrates it, starts the runtime and the invocation
    /// recorder, and loads every live function (from the artifact cache).
    pub async fn start(config: PlatformConfig) -> anyhow::Result<Platform> {
        data_dir::prepare(&config.data_dir, &config.database_url())?;
        let (db, backend) = db::connect(&config.database_url()).await?;
        let cache_dir = config
            .cache_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("cache"));
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir,
            max_instances: config.max_instances,
            compile_budget: config.compile_budget,
            max_concurrent_compiles: config.max_concurrent_compiles,
            backtrace_details: config.backtrace_details,
            baseline_compiler: config.baseline_compiler,
            // WISP_NO_COMPILER_WARM_UP: for the deploy benchmark's
            // comparison only.
            warm_up_compilers: std::env::var_os("WISP_NO_COMPILER_WARM_UP").is_none(),
            ..RuntimeConfig::default()
        })
        .context("starting the wasm runtime")?;
        let secrets = secrets::load_key(config.secret_key.as_ref(), &config.data_dir)
            .context("loading the secret key")?;
        let recorder = recorder::Recorder::start(db.clone(), backend, &config.database_url());
        let clock = config.clock.clone();
        let node_id = queue::node_identity(&config).context("the node identity")?;
        let admission = admission::Admission::new(
            config.max_instances,
            config.team_concurrency_percent,
            config.sandbox_memory_budget_mb,
        );
        let platform = Platform {
            inner: Arc::new(Inner {
                db,
                backend,
                runtime,
                registry: registry::Registry::new(admission),
                recorder,
                config,
                deploy_lock: tokio::sync::Mutex::new(()),
                apply_lock: tokio::sync::Mutex::new(()),
                login_limiter: login_limit::LoginLimiter::default(),
                trigger_lock: tokio::sync::Mutex::new(()),
                clock,
                secrets,
                dispatcher: dispatcher::Dispatcher::new(),
                triggers: triggers::Supervisor::default(),
                shutdown: tokio::sync::watch::channel(false).0,
                node_id,
                live_logs: live_logs::LiveLogs::default(),
                metrics: metrics::CallMetrics::default(),
                retention: retention::Pruner::default(),
                started_at: chrono::Utc::now(),
            }),
        };
        // Read before loading: a change another node makes meanwhile
        // differs from it and is picked up by the first reconcile.
        platform.check_cluster_fit().await?;
        let baseline = platform.function_stamps().await?;
        platform.load_live_functions().await?;
        platform.reclaim_interrupted_jobs().await?;
        platform.start_triggers().await?;
        platform.follow_cluster(baseline);
        if let Some(url) = platform.inner.config.nats_url.clone() {
            platform.start_live_relay(&url).await?;
        }
        platform.inner.dispatcher.spawn(platform.clone());
        platform.spawn_retention();
        platform.spawn_alerts();
        Ok(platform)
    }

    /// Stops taking new async work: trigger consumers, schedules and the
    /// job dispatcher end (calls already running finish). Call before exiting.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.triggers.stop_all();
    }

    /// Resolves once [`Platform::shutdown`] has been called: long-lived
    /// responses (live-tail streams) end on it so the server can stop.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut shutdown = self.inner.shutdown.subscribe();
        async move {
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        }
    }

    pub(crate) fn record_call(&self, call: hosts::OutboundCallRecord) {
        self.inner.recorder.record_call(call);
    }

    /// The clock the platform runs on.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// The database flavour in use.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Compile-cache counters of the runtime since start.
    pub fn cache_stats(&self) -> runtime::CacheStats {
        self.inner.runtime.cache_stats()
    }

    /// The team owning live function `name` (from the routing table: no I/O).
    pub(crate) fn live_function_team(&self, name: &str) -> Option<i64> {
        self.inner.registry.get(name).map(|live| live.team_id)
    }

    /// Sandbox instantiation time per call (p50/p99) since start.
    pub fn instantiation_stats(&self) -> runtime::InstantiationStats {
        self.inner.runtime.instantiation_stats()
    }

    /// Whether invocation records are stored (see [`PlatformConfig::record_invocations`]).
    pub fn records_invocations(&self) -> bool {
        self.inner.config.record_invocations
    }

    /// How many functions have a live version loaded and routable.
    pub fn live_function_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// How invocation recording is doing (records waiting, failed writes,
    /// records dropped): `degraded` means calls are served but their
    /// records are late or lost.
    pub fn recorder_health(&self) -> model::RecorderHealth {
        self.inner.recorder.health()
    }

    /// Writes every invocation record still queued; call before exiting.
    pub async fn flush(&self) {
        self.inner.recorder.flush().await;
    }

    /// A live feed of invocation records as they are stored (every team's:
    /// for exporters at the edge, never for a team-facing answer). A
    /// receiver that falls more than the recorder's broadcast capacity
    /// behind skips records (`RecvError::Lagged` says how many).
    pub fn subscribe_invocations(
        &self,
    ) -> tokio::sync::broadcast::Receiver<model::InvocationRecord> {
        self.inner.recorder.subscribe()
    }
}
