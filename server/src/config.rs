//! `wisp serve` configuration: flags, each also read from a `WISP_*`
//! environment variable, with defaults that need neither.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Data directory: database, compiled-artifact cache, admin token.
    #[arg(long, env = "WISP_DATA_DIR", default_value = "./wisp-data")]
    pub data_dir: PathBuf,
    /// Control plane address (dashboard + REST API). Port 0 picks a free port.
    #[arg(long, env = "WISP_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Function gateway address. Port 0 picks a free port.
    #[arg(long, env = "WISP_GATEWAY", default_value = "127.0.0.1:8080")]
    pub gateway: SocketAddr,
    /// Database URL; default sqlite://<data-dir>/wisp.db.
    #[arg(long, env = "WISP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Compiled-artifact cache directory; default <data-dir>/cache.
    #[arg(long, env = "WISP_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Serve the dashboard's assets (the hydration bundle under pkg/,
    /// styles) from this folder instead of the copy embedded in the binary:
    /// a development override (scripts/build-site.sh's output).
    #[arg(long, env = "WISP_DASHBOARD_DIR")]
    pub site_dir: Option<PathBuf>,
    /// Public URL of the gateway shown in the dashboard (default
    /// http://<gateway address>, with 127.0.0.1 for an unspecified address).
    #[arg(long, env = "WISP_PUBLIC_GATEWAY_URL")]
    pub public_gateway_url: Option<String>,
    /// Public URL of the dashboard (e.g. https://wisp.example.com). When it
    /// is https, the session cookie is `__Host-wisp_session` with `Secure`.
    #[arg(long, env = "WISP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest .wasm upload accepted, in bytes.
    #[arg(long, env = "WISP_MAX_UPLOAD_BYTES", default_value_t = platform::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Let functions call loopback/private/link-local addresses that are on
    /// their allow-list (off by default: protects internal services from SSRF).
    #[arg(long, env = "WISP_ALLOW_PRIVATE_DESTINATIONS")]
    pub allow_private_destinations: bool,
    /// Delay before the first retry of failed async work (topics, cron,
    /// queues, async invokes), in milliseconds; doubles on each attempt.
    #[arg(long, env = "WISP_RETRY_BASE_MS", default_value_t = 1000)]
    pub retry_base_ms: u64,
    /// Key that encrypts function secrets: 64 hex digits or base64 of 32
    /// bytes (prefer the environment variable to the flag). Default: the key
    /// file <data-dir>/secret.key, created with mode 0600 on first start.
    /// Every node of a cluster needs the same key.
    #[arg(long, env = "WISP_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<platform::SecretKeyText>,
    /// Attempts async work gets before it moves to the dead letters.
    #[arg(long, env = "WISP_MAX_ATTEMPTS", default_value_t = model::DEFAULT_MAX_ATTEMPTS)]
    pub max_attempts: u32,
    /// Do not store invocation records (they are stored by default). For
    /// measuring what recording costs only: calls are then neither listed
    /// nor metered.
    #[arg(long, env = "WISP_NO_RECORD")]
    pub no_record: bool,
    /// On SIGTERM/Ctrl-C: how long open requests, live-tail streams and
    /// running async jobs get to finish, in seconds; then the process exits
    /// anyway (jobs cut off run again after the next start).
    #[arg(long, env = "WISP_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// A client must send a request's complete head within this many
    /// seconds of connecting, or of the first byte of a later request on
    /// the same connection; else the connection is closed. Both listeners.
    #[arg(long, env = "WISP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// A connection with no request in progress and no bytes moving for
    /// this many seconds is closed (keep-alive idle timeout). Both listeners.
    #[arg(long, env = "WISP_IDLE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Broker hosts NATS, Redis and MQTT triggers may connect to, comma
    /// separated: `*` (any public address), a host name, `*.example.com`,
    /// an IP address or a CIDR range, each optionally with `:port`.
    /// Loopback, private, link-local and metadata addresses are refused
    /// unless listed. Default `*`: public brokers only.
    #[arg(
        long,
        env = "WISP_BROKER_HOSTS",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub broker_hosts: Vec<String>,
    /// Sandboxes that may run at once in the whole server (the instance
    /// pool's call capacity); further calls get 429 with `Retry-After`.
    #[arg(long, env = "WISP_MAX_INSTANCES", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_instances: u32,
    /// Share of `--max-instances` one team's calls may hold at once, in
    /// percent; beyond it the team's calls get 429 while other teams' calls
    /// keep running.
    #[arg(long, env = "WISP_TEAM_CONCURRENCY_PERCENT",
          default_value_t = platform::DEFAULT_TEAM_CONCURRENCY_PERCENT,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub team_concurrency_percent: u32,
    /// The memory limits of all running calls together stay within this
    /// many MiB; a call that does not fit gets 429 (queued work waits).
    /// Default: the machine's physical memory.
    #[arg(long, env = "WISP_SANDBOX_MEMORY_BUDGET_MB",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sandbox_memory_budget_mb: Option<u64>,
    /// Longest one upload's compilation may take, in seconds; past it the
    /// upload is refused with 422.
    #[arg(long, env = "WISP_COMPILE_BUDGET_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub compile_budget_secs: u64,
    /// Compilations that run at once; further uploads wait their turn.
    /// Default: half the cores, at least one.
    #[arg(long, env = "WISP_MAX_CONCURRENT_COMPILES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_concurrent_compiles: Option<u64>,
    /// Runtimes the gateway's connections are spread over, each with one
    /// worker thread of its own; a connection and the calls it carries stay
    /// on one (docs/DECISIONS.md #74). 0 serves them on the runtime the
    /// control plane uses. Default: one per core.
    #[arg(long, env = "WISP_GATEWAY_THREADS",
          value_parser = clap::value_parser!(u64).range(0..=1024))]
    pub gateway_threads: Option<u64>,
    /// A response whose writes make no progress for this many seconds (the
    /// client stopped reading) has its connection dropped. Both listeners.
    #[arg(long, env = "WISP_WRITE_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_secs: u64,
    /// This node's identity on the job leases it holds; a node restarting
    /// under the same identity takes its own running async work back at
    /// once instead of waiting for its leases to run out. Default: the
    /// identity kept in <data-dir>/node-id (made on first start as
    /// <host name>-<hash of the data dir>). Set it
    /// when the data directory does not survive a restart (containers);
    /// never give two live nodes the same one.
    #[arg(long, env = "WISP_NODE_ID")]
    pub node_id: Option<String>,
    /// A NATS server (nats://host:4222) the nodes of a cluster relay their
    /// live tails through: `wisp logs --follow` and the dashboard's live
    /// views on any node then show the calls running on every node.
    /// Without it a tail shows its own node's calls.
    #[arg(long, env = "WISP_NATS_URL")]
    pub nats_url: Option<String>,
    /// Replay captures each team may keep, in MiB; beyond it the oldest
    /// are dropped.
    #[arg(long, env = "WISP_CAPTURE_CAP_MB", default_value_t = 256)]
    pub capture_cap_mb: u64,
    /// Days replay captures are kept.
    #[arg(long, env = "WISP_CAPTURE_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub capture_retention_days: u64,
    /// Days a team's history (invocations and their logs, outbound calls,
    /// captures, events) is kept, unless the team's owners or the server's
    /// administrators (`PUT /api/v1/retention/...`) chose otherwise. Hourly
    /// cost rollups and dead letters are kept regardless.
    #[arg(long, env = "WISP_RETENTION_DAYS", default_value_t = model::DEFAULT_RETENTION_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub retention_days: u32,
    /// How often old history is pruned (in small batches): `30s`, `10m`,
    /// `1h`.
    #[arg(long, env = "WISP_RETENTION_EVERY", default_value = "10m",
          value_parser = crate::serve::backups::parse_period)]
    pub retention_every: std::time::Duration,
    /// How often alert rules are evaluated: `30s` (default), `1m`.
    #[arg(long, env = "WISP_ALERT_EVERY", default_value = "30s",
          value_parser = crate::serve::backups::parse_period)]
    pub alert_every: std::time::Duration,
    /// Show source file:line in trap backtraces of functions built with
    /// debug info (DWARF). Off by default: each trap of such a function
    /// then costs a parse of its debug info per frame (docs/DECISIONS.md
    /// #49); other calls are unaffected.
    #[arg(long, env = "WISP_BACKTRACE_DETAILS")]
    pub backtrace_details: bool,
    /// Make every upload wait for its optimised (Cranelift) code before it
    /// goes live, instead of going live on baseline (Winch) code first and
    /// switching in place when the optimised code is ready
    /// (docs/DECISIONS.md #59).
    #[arg(long, env = "WISP_NO_BASELINE_COMPILER")]
    pub no_baseline_compiler: bool,
    /// Export every recorded invocation as an OpenTelemetry span and its
    /// log lines as log records to this OTLP/HTTP collector (base URL,
    /// e.g. http://127.0.0.1:4318; `/v1/traces` and `/v1/logs` are added).
    /// Off by default.
    #[arg(long, env = "WISP_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// A header sent with every OTLP export request, as name=value
    /// (repeatable; in the environment, comma-separated), e.g. an API key.
    #[arg(long = "otlp-header", env = "WISP_OTLP_HEADERS", value_delimiter = ',')]
    pub otlp_headers: Vec<String>,
    /// Deepest nesting of calls under one root call (a request, a cron
    /// tick, an async invoke): function-to-function calls and topic
    /// deliveries published by functions each go one level deeper; deeper
    /// calls are refused (508 to the caller, a recorded error).
    #[arg(long, env = "WISP_MAX_CALL_DEPTH",
          default_value_t = platform::DEFAULT_MAX_CALL_DEPTH)]
    pub max_call_depth: u32,
    /// Invocations one root call may cause in all, itself included, across
    /// function-to-function calls, topic deliveries and retries; further
    /// calls are refused (508 to the caller, a recorded error).
    #[arg(long, env = "WISP_MAX_CALLS_PER_ROOT",
          default_value_t = platform::DEFAULT_MAX_CALLS_PER_ROOT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_calls_per_root: u32,
    /// Back up this server's data (SQLite) at this period: `30m`, `24h`,
    /// `7d` (as `wisp backup` does: database, secret key, admin token).
    /// Off by default.
    #[arg(long, env = "WISP_BACKUP_EVERY",
          value_parser = crate::serve::backups::parse_period)]
    pub backup_every: Option<std::time::Duration>,
    /// Where scheduled backups go; default <data-dir>/backups (keep a copy
    /// on another disk too).
    #[arg(long, env = "WISP_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Scheduled backups kept (the oldest are removed).
    #[arg(long, env = "WISP_BACKUP_KEEP", default_value_t = 7,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub backup_keep: u64,
}
