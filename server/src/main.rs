//! The `wisp` binary: parses the command line and hands over to `serve` (run
//! the platform) or to the CLI client commands that talk to the REST API.

// Leptos view types of the dashboard nest deeply; layout computation needs room.
#![recursion_limit = "512"]

mod api;
mod cli;
mod config;
mod embedded;
mod gateway;
mod otlp;
mod serve;
mod site;

use clap::{Parser, Subcommand};

/// Wisp: a self-hosted serverless platform for WebAssembly functions.
#[derive(Parser)]
#[command(name = "wisp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the dashboard + API and the function gateway.
    // Boxed: the serve flags outweigh every client command's arguments.
    Serve(Box<config::ServeArgs>),
    /// Upload a .wasm file as a new version of a function.
    Deploy(cli::DeployArgs),
    /// Create a project from a template (rust, python, js): a function, its
    /// build and a wisp.toml.
    New(cli::NewArgs),
    /// Converge an application to its manifest (wisp.toml): build, upload
    /// what changed, print the plan, apply it as one change set.
    Apply(cli::ApplyArgs),
    /// Write the manifest (and wasm files) of a deployed application.
    Export(cli::ExportArgs),
    /// Watch a project, rebuild and apply on every change to a local
    /// server (started for the session unless --url), and stream its logs.
    Dev(cli::DevArgs),
    /// List functions.
    Functions(cli::ClientArgs),
    /// Call a function through the API and print its response.
    Invoke(cli::InvokeArgs),
    /// Show a function's latest invocations with their logs.
    Logs(cli::LogsArgs),
    /// List the team's error groups: failures by function, outcome and shape.
    Errors(cli::ErrorsArgs),
    /// List the cluster's nodes: up, down or stopped, addresses and load.
    Nodes(cli::NodesArgs),
    /// How long the team's history is kept; set it (owners) or the
    /// server's default (administrators).
    Retention(cli::RetentionArgs),
    /// Alert rules (error rate, p95, dead letters, queue age, budget) and
    /// their history.
    Alerts(cli::AlertsArgs),
    /// Run a recorded call again (same or another version) and show what changed.
    Replay(cli::ReplayArgs),
    /// Point a function's live alias at a version (rollback / roll forward).
    Rollback(cli::RollbackArgs),
    /// Show a month's usage and cost per function (table, JSON or CSV).
    Costs(cli::CostsArgs),
    /// List, create, show and delete triggers (http, cron, topic, nats, redis, mqtt).
    Triggers(cli::TriggersArgs),
    /// Publish an event to a topic.
    Publish(cli::PublishArgs),
    /// List dead letters (async work that failed every attempt), or redrive one.
    DeadLetters(cli::DeadLettersArgs),
    /// Read and edit an application's key-value store.
    Kv(cli::KvArgs),
    /// List, set and remove a function's secrets (values are never shown).
    Secrets(cli::SecretsArgs),
    /// List, create (with an expiry) and revoke API tokens.
    Tokens(cli::TokensArgs),
    /// Back up a single-node server (database, secret key, admin token) to
    /// one file, while it runs.
    Backup(cli::BackupArgs),
    /// Restore a backup into a new data directory.
    Restore(cli::RestoreArgs),
}

/// mimalloc instead of glibc's malloc: every call allocates its store, WASI
/// context, request and response on tokio worker threads and frees them on
/// others; glibc's allocator spent ~15 µs of each hello call's ~110 µs of CPU
/// in malloc/free (profiled), mimalloc's thread-local free lists far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // wasmtime builds an error value whenever a store is dropped (once per
    // call); with RUST_BACKTRACE=1 in the environment each of those captured
    // a stack backtrace: 7 % of the gateway's CPU, profiled. Library errors
    // skip backtraces unless the operator asks for them with
    // RUST_LIB_BACKTRACE; panics keep RUST_BACKTRACE's behaviour. Set before
    // any thread exists.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_broken_pipe();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Deploy(args) => cli::deploy(args).await,
            Command::New(args) => cli::new(args).await,
            Command::Apply(args) => cli::apply(args).await,
            Command::Export(args) => cli::export(args).await,
            Command::Dev(args) => cli::dev(args).await,
            Command::Functions(args) => cli::functions(args).await,
            Command::Invoke(args) => cli::invoke(args).await,
            Command::Logs(args) => cli::logs(args).await,
            Command::Errors(args) => cli::errors(args).await,
            Command::Nodes(args) => cli::nodes(args).await,
            Command::Retention(args) => cli::retention(args).await,
            Command::Alerts(args) => cli::alerts(args).await,
            Command::Replay(args) => cli::replay(args).await,
            Command::Rollback(args) => cli::rollback(args).await,
            Command::Costs(args) => cli::costs(args).await,
            Command::Triggers(args) => cli::triggers(args).await,
            Command::Publish(args) => cli::publish(args).await,
            Command::DeadLetters(args) => cli::dead_letters(args).await,
            Command::Kv(args) => cli::kv(args).await,
            Command::Secrets(args) => cli::secrets(args).await,
            Command::Tokens(args) => cli::tokens(args).await,
            Command::Backup(args) => cli::backup(args).await,
            Command::Restore(args) => cli::restore(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// CLI commands end quietly when their reader goes away (`wisp functions |
/// head`), as Unix tools do: Rust ignores SIGPIPE, so `println!` to a closed
/// pipe panicked. The server keeps ignoring it (a closed client socket is an
/// error value there, never a signal).
#[allow(unsafe_code)]
fn quiet_broken_pipe() {
    // SAFETY: called before any thread exists; restores the default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
