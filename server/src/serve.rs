//! `wisp serve`: starts the platform, creates the admin account on first
//! start, binds the control plane and the gateway (two origins), writes
//! `<data-dir>/addresses.json`, and shuts both down gracefully within a
//! bounded grace period (open requests, live tails and running async jobs
//! may finish), flushing invocation records. Connections themselves are
//! handled in `listener` (header-read and idle timeouts); the gateway's
//! run on runtimes of their own, one per core (`gateway_threads`).

pub mod backups;
mod gateway_threads;
mod listener;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use platform::{Platform, PlatformConfig};
use tokio::net::TcpListener;

use crate::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let mut config = PlatformConfig::new(&args.data_dir);
    config.database_url = args.database_url.clone();
    config.cache_dir = args.cache_dir.clone();
    config.max_upload_bytes = args.max_upload_bytes;
    config.allow_private_destinations = args.allow_private_destinations;
    config.secret_key = args.secret_key.clone();
    config.retry_base = std::time::Duration::from_millis(args.retry_base_ms.max(1));
    config.max_attempts = args.max_attempts.clamp(1, 100);
    config.record_invocations = !args.no_record;
    config.backtrace_details = args.backtrace_details;
    config.baseline_compiler = !args.no_baseline_compiler;
    config.node_id = args.node_id.clone();
    config.nats_url = args.nats_url.clone();
    config.capture_cap_bytes = (args.capture_cap_mb.min(1 << 30) * 1024 * 1024) as i64;
    config.capture_retention = std::time::Duration::from_secs(args.capture_retention_days * 86_400);
    config.retention_days = args.retention_days;
    config.retention_every = args.retention_every;
    config.alert_every = args.alert_every;
    config.call_limits = platform::CallLimits {
        max_depth: args.max_call_depth,
        max_calls: args.max_calls_per_root,
    };
    config.broker_hosts =
        platform::BrokerHosts::parse(&args.broker_hosts).map_err(anyhow::Error::msg)?;
    if args.no_record {
        tracing::warn!("--no-record: invocations are not recorded, metered or billed");
    }
    config.max_instances = args.max_instances;
    config.team_concurrency_percent = args.team_concurrency_percent;
    if let Some(budget) = args.sandbox_memory_budget_mb {
        config.sandbox_memory_budget_mb = budget;
    }
    config.compile_budget = std::time::Duration::from_secs(args.compile_budget_secs);
    if let Some(compiles) = args.max_concurrent_compiles {
        config.max_concurrent_compiles = usize::try_from(compiles).unwrap_or(usize::MAX);
    }
    // Checked before anything starts: a typo must not surface at the first export.
    let otlp = match &args.otlp_endpoint {
        Some(endpoint) => Some(crate::otlp::OtlpConfig::new(endpoint, &args.otlp_headers)?),
        None => None,
    };
    let backups = backups::Schedule::from_args(&args)?;
    config.backup_schedule = backups.as_ref().map(backups::Schedule::shown);
    let platform = Platform::start(config).await?;
    let exporter = match otlp {
        Some(_) if args.no_record => {
            tracing::warn!("--no-record: nothing is recorded, so nothing is exported to OTLP");
            None
        }
        Some(otlp) => Some(crate::otlp::Exporter::start(&platform, otlp)?),
        None => None,
    };

    let password = std::env::var("WISP_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(boot) = platform.bootstrap_admin(password.as_deref()).await? {
        let token_path = args.data_dir.join("admin-token");
        write_secret(&token_path, &boot.token)?;
        println!("Created the admin account (user: admin).");
        if let Some(p) = &boot.generated_password {
            println!("  admin password: {p}   (shown once; set WISP_ADMIN_PASSWORD to choose it)");
        }
        println!(
            "  admin API token: {}   (also in {})",
            boot.token,
            token_path.display()
        );
    }

    let control = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the control plane to {}", args.listen))?;
    let gateway = TcpListener::bind(args.gateway)
        .await
        .with_context(|| format!("binding the gateway to {}", args.gateway))?;
    let control_addr = control.local_addr()?;
    let gateway_addr = gateway.local_addr()?;

    let site = crate::site::resolve_site(args.site_dir.as_deref());
    match &site {
        crate::site::SiteSource::Embedded => tracing::info!(
            files = crate::embedded::ASSETS.len(),
            "dashboard assets: embedded in the binary"
        ),
        crate::site::SiteSource::Dir(dir) => {
            tracing::info!(dir = %dir.display(), "dashboard assets: served from a folder")
        }
    }
    let session_cookie = crate::api::SessionCookie::for_public_url(args.public_url.as_deref());
    let control_app = crate::api::router(
        crate::api::AppState::new(platform.clone(), args.max_upload_bytes, gateway_addr)
            .with_session_cookie(session_cookie),
    )
    .merge(crate::site::router(
        platform.clone(),
        &site,
        control_addr,
        args.public_gateway_url
            .clone()
            .unwrap_or_else(|| crate::site::default_gateway_url(gateway_addr)),
        session_cookie,
    )?);
    let gateway_app = crate::gateway::router(platform.clone());

    let timeouts = listener::Timeouts {
        header_read: Duration::from_secs(args.header_read_timeout_secs),
        idle: Duration::from_secs(args.idle_timeout_secs),
        write: Duration::from_secs(args.write_timeout_secs),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let control_task = tokio::spawn(listener::serve(
        control,
        control_app,
        timeouts,
        stop_rx.clone(),
    ));
    let gateway_threads = args.gateway_threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let gateway_task = if gateway_threads > 0 {
        let runtimes = gateway_threads::Runtimes::start(gateway_threads)
            .context("starting the gateway's runtimes")?;
        tokio::spawn(runtimes.serve(gateway, gateway_app, timeouts, stop_rx))
    } else {
        tokio::spawn(listener::serve(gateway, gateway_app, timeouts, stop_rx))
    };

    let addresses = serde_json::json!({
        "listen": control_addr.to_string(),
        "gateway": gateway_addr.to_string(),
    });
    write_atomic(
        &args.data_dir.join("addresses.json"),
        addresses.to_string().as_bytes(),
    )?;
    platform
        .join_cluster(platform::NodeAddresses {
            control: control_addr.to_string(),
            gateway: gateway_addr.to_string(),
        })
        .await
        .context("joining the cluster (the nodes table)")?;
    if let Some(backups) = backups {
        backups.spawn();
    }
    tracing::info!(%control_addr, %gateway_addr, "wisp is ready");
    println!("Dashboard and API: http://{control_addr}");
    println!("Function gateway:  http://{gateway_addr}");

    shutdown_signal().await;
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    let stopping_since = std::time::Instant::now();
    tracing::info!(grace_secs = grace.as_secs(), "shutting down");
    // Listeners stop accepting and idle connections close; live tails end;
    // triggers and the dispatcher stop taking new work.
    let _ = stop_tx.send(true);
    platform.shutdown();
    let drained = tokio::time::timeout(grace, async {
        let _ = tokio::join!(control_task, gateway_task, platform.drain_jobs());
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            running_jobs = platform.running_jobs(),
            "shutdown grace period over: open connections are cut and running jobs run again after the next start"
        );
    }
    // Bounded too: a database that stopped answering must not hold the exit.
    if tokio::time::timeout(grace.max(Duration::from_secs(5)), platform.flush())
        .await
        .is_err()
    {
        tracing::error!("invocation records could not be flushed before exiting");
    }
    platform.leave_cluster().await;
    if let Some(exporter) = exporter {
        // What is left of the grace period: a collector that hangs must not
        // hold the exit past it.
        exporter
            .finish(grace.saturating_sub(stopping_since.elapsed()))
            .await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WISP_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn,sqlx=warn")
    });
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Writes a secret readable by the owner only (mode 0600).
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(())
}

/// Replaces a file atomically so readers never see half of it.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
