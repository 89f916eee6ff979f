//! The client half of `wisp`: commands that talk to a running server's REST
//! API (`WISP_URL`, default http://127.0.0.1:3000) with an API token
//! (`WISP_TOKEN`, default: ./wisp-data/admin-token when present).

mod alerts;
mod apply;
mod backup;
mod client;
mod dev;
mod errors;
mod events;
mod manifest;
mod new;
mod nodes;
mod replay;
mod retention;
mod search;
mod secrets;
mod tokens;

pub use alerts::{alerts, AlertsArgs};
pub use apply::{apply, export, ApplyArgs, ExportArgs};
pub use backup::{backup, restore, BackupArgs, RestoreArgs};
pub use dev::{dev, DevArgs};
pub use errors::{errors, ErrorsArgs};
pub use events::{
    dead_letters, kv, publish, triggers, DeadLettersArgs, KvArgs, PublishArgs, TriggersArgs,
};
pub use new::{new, NewArgs};
pub use nodes::{nodes, NodesArgs};
pub use replay::{replay, ReplayArgs};
pub use retention::{retention, RetentionArgs};
pub use secrets::{secrets, SecretsArgs};
pub use tokens::{tokens, TokensArgs};

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use futures::StreamExt;
use model::{CostReport, FunctionDetail, FunctionSummary, InvocationRecord};

use client::Client;

#[derive(Args, Clone, Debug)]
pub struct ClientArgs {
    /// Control-plane URL.
    #[arg(
        long,
        env = "WISP_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub url: String,
    /// API token (default: the contents of ./wisp-data/admin-token).
    #[arg(long, env = "WISP_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The .wasm file (a wasi:http component or a WASI command module).
    pub file: PathBuf,
    /// Function name (default: the file name without .wasm).
    #[arg(long)]
    pub name: Option<String>,
    /// Upload without making the new version live.
    #[arg(long)]
    pub no_activate: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct InvokeArgs {
    pub name: String,
    /// Request body: a string, or @FILE to read a file ("@-" for stdin).
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    /// Path (and query) the function sees.
    #[arg(long, default_value = "/")]
    pub path: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The function (with `--search`: optional, the same as `--function`).
    #[arg(required_unless_present = "search")]
    pub name: Option<String>,
    /// Keep printing new invocations as they happen.
    #[arg(long, short = 'f', conflicts_with = "search")]
    pub follow: bool,
    /// How many recent invocations (with `--search`: matching ones) to show.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Search the logs and errors of all the team's functions instead:
    /// words, "a phrase", prefix*, -excluded, a OR b.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// With `--search`: only this function.
    #[arg(long, requires = "search")]
    pub function: Option<String>,
    /// With `--search`: `success`, `error` or an outcome such as `timeout`.
    #[arg(long, requires = "search")]
    pub status: Option<String>,
    /// With `--search`: only JSON log lines of this level (`error`, `warn`, ...).
    #[arg(long, requires = "search")]
    pub level: Option<String>,
    /// With `--search`: calls started since then: RFC 3339
    /// (`2026-01-31T12:00:00Z`) or a time ago (`15m`, `2h`, `7d`).
    #[arg(long, requires = "search", value_name = "TIME")]
    pub since: Option<String>,
    /// With `--search`: calls started before then (same forms as `--since`).
    #[arg(long, requires = "search", value_name = "TIME")]
    pub until: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    pub name: String,
    /// The version the live alias should point at.
    #[arg(long)]
    pub version: i64,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// How `wisp costs` prints the report.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostsFormat {
    /// A table for people.
    Table,
    /// The API's JSON report.
    Json,
    /// The API's CSV download (one row per function per day, and totals).
    Csv,
    /// The API's PDF document, written to `--output`.
    Pdf,
}

#[derive(Args, Debug)]
pub struct CostsArgs {
    /// Month as YYYY-MM (UTC); default the current month.
    #[arg(long)]
    pub month: Option<String>,
    #[arg(long, value_enum, default_value_t = CostsFormat::Table)]
    pub format: CostsFormat,
    /// With `--format pdf`: the file to write (default `wisp-costs-YYYY-MM.pdf`).
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let name = match args.name {
        Some(n) => n,
        None => args
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .context("give the function a --name")?,
    };
    let wasm = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?;
    let size = wasm.len();
    eprintln!(
        "Uploading {} ({}) as {name}",
        args.file.display(),
        app::format::bytes(size as i64)
    );
    let path = format!(
        "/api/v1/functions/{name}/versions?activate={}",
        !args.no_activate
    );
    let mut shown = StageLines::default();
    let deployed = client
        .post_wasm_streamed(&path, wasm, |event| shown.show(event))
        .await?;
    println!(
        "Deployed {} version {} ({}, sha256 {}){}",
        deployed.name,
        deployed.version,
        deployed.kind,
        &deployed.sha256[..12],
        if deployed.live {
            ", now live"
        } else {
            " (not live)"
        }
    );
    if deployed.code == model::CodeTier::Optimizing {
        println!(
            "It runs baseline code now; calls switch to its optimised code when that is compiled."
        );
    }
    println!("Call it at the gateway: /fn/{}/", deployed.name);
    Ok(())
}

/// Prints an upload's stages as they happen, one line each on stderr
/// (`upload  100%`, then `validate  3 ms  a component, ...`).
#[derive(Default)]
struct StageLines {
    /// The last tenth of the upload shown (progress is shown by tenths).
    shown_tenth: Option<usize>,
}

impl StageLines {
    fn show(&mut self, event: client::UploadEvent<'_>) {
        match event {
            client::UploadEvent::Sent { sent, total } => {
                let tenth = (sent * 10).checked_div(total).unwrap_or(10);
                if self.shown_tenth != Some(tenth) {
                    self.shown_tenth = Some(tenth);
                    eprintln!("  upload    {:>3}%", tenth * 10);
                }
            }
            // The one stage that can take a while says when it starts.
            client::UploadEvent::Server(model::DeployEvent::Started { stage }) => {
                if stage == "compile" {
                    eprintln!("  {stage:<9} ...");
                }
            }
            client::UploadEvent::Server(model::DeployEvent::Done(stage)) => {
                eprintln!("  {:<9} {:>5} ms  {}", stage.stage, stage.ms, stage.detail);
            }
            client::UploadEvent::Server(_) => {}
        }
    }
}

pub async fn functions(args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let list: Vec<FunctionSummary> = client.get_json("/api/v1/functions").await?;
    if list.is_empty() {
        println!("No functions yet. Deploy one: wisp deploy FILE.wasm --name NAME");
        return Ok(());
    }
    println!(
        "{:<32} {:>5} {:<10} {:>8}  LAST CALL",
        "NAME", "LIVE", "KIND", "VERSIONS"
    );
    for f in list {
        println!(
            "{:<32} {:>5} {:<10} {:>8}  {}",
            f.name,
            f.live_version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            f.kind.unwrap_or_else(|| "-".into()),
            f.version_count,
            f.last_invoked_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "never".into())
        );
    }
    Ok(())
}

pub async fn invoke(args: InvokeArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let body = events::read_data(args.data.as_deref()).await?;
    let path = format!(
        "/api/v1/functions/{}/invoke?path={}",
        args.name,
        client::encode_query(&args.path)
    );
    let response = client.post_raw(&path, body).await?;
    let status = response.status();
    let id = response
        .headers()
        .get(platform::INVOCATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.bytes().await?;
    use std::io::Write;
    std::io::stdout().write_all(&bytes)?;
    if let Some(id) = id {
        eprintln!("\n[{status}] invocation {id}");
    }
    if !status.is_success() {
        bail!("the call failed with HTTP {status}");
    }
    Ok(())
}

fn print_record(r: &InvocationRecord) {
    println!(
        "{}  {}  v{}  {:<7} {:<14} {:>4}  {:>8.2} ms  {} {}",
        r.started_at.format("%Y-%m-%d %H:%M:%S%.3f"),
        r.id,
        r.version,
        r.status,
        r.outcome,
        r.status_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        r.duration_ms,
        r.method,
        r.path
    );
    if let Some(e) = &r.error {
        println!("    error: {e}");
    }
    for line in r.logs.lines() {
        println!("    | {line}");
    }
}

pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    if args.search.is_some() {
        return search::search(&client, args).await;
    }
    let name = args.name.clone().context("name the function")?;
    // Make sure the function exists (a clear 404 instead of silence).
    let _: FunctionDetail = client
        .get_json(&format!("/api/v1/functions/{name}"))
        .await?;
    let mut stream = if args.follow {
        Some(
            client
                .get_stream(&format!(
                    "/api/v1/invocations/stream?function={}",
                    client::encode_query(&name)
                ))
                .await?,
        )
    } else {
        None
    };
    let mut recent: Vec<InvocationRecord> = client
        .get_json(&format!(
            "/api/v1/functions/{name}/invocations?limit={}",
            args.limit
        ))
        .await?;
    recent.reverse();
    let mut seen: std::collections::HashSet<String> = recent.iter().map(|r| r.id.clone()).collect();
    for r in &recent {
        print_record(r);
    }
    let Some(stream) = stream.as_mut() else {
        if recent.is_empty() {
            println!("No invocations of {name} yet.");
        }
        return Ok(());
    };
    let mut buffer = String::new();
    while let Some(chunk) = stream.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk?));
        while let Some(data) = client::next_event_data(&mut buffer) {
            if data.is_empty() {
                continue;
            }
            if let Ok(r) = serde_json::from_str::<InvocationRecord>(&data) {
                if seen.insert(r.id.clone()) {
                    print_record(&r);
                }
            }
        }
    }
    Ok(())
}

pub async fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let detail: FunctionDetail = client
        .post_json(
            &format!("/api/v1/functions/{}/alias", args.name),
            &serde_json::json!({ "version": args.version }),
        )
        .await?;
    println!(
        "{} now serves version {}",
        detail.name,
        detail.live_version.unwrap_or_default()
    );
    Ok(())
}

pub async fn costs(args: CostsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let query = args
        .month
        .as_deref()
        .map(|m| format!("?month={}", client::encode_query(m)))
        .unwrap_or_default();
    if args.output.is_some() && args.format != CostsFormat::Pdf {
        bail!("--output goes with --format pdf");
    }
    if matches!(args.format, CostsFormat::Csv | CostsFormat::Pdf) {
        // The download routes name the month; ask the JSON report which one is current.
        let month = match args.month {
            Some(m) => m,
            None => client.get_json::<CostReport>("/api/v1/costs").await?.month,
        };
        let path = |ext: &str| format!("/api/v1/costs/{}.{ext}", client::encode_query(&month));
        if args.format == CostsFormat::Csv {
            print!("{}", client.get_text(&path("csv")).await?);
            return Ok(());
        }
        let pdf = client.get_bytes(&path("pdf")).await?;
        let file = args
            .output
            .unwrap_or_else(|| PathBuf::from(format!("wisp-costs-{month}.pdf")));
        std::fs::write(&file, pdf).with_context(|| format!("writing {}", file.display()))?;
        println!("{}", file.display());
        return Ok(());
    }
    let report: CostReport = client.get_json(&format!("/api/v1/costs{query}")).await?;
    if args.format == CostsFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_costs(&report);
    Ok(())
}

fn print_costs(r: &CostReport) {
    let c = &r.currency;
    println!(
        "Costs for {}{} ({c})",
        r.month,
        if r.month_to_date {
            ", month to date"
        } else {
            ""
        }
    );
    if r.functions.is_empty() {
        println!("No usage in {} or {}.", r.month, r.previous_month);
    } else {
        println!(
            "{:<32} {:>12} {:>8} {:>14} {:>14} {:>12} {:>12}",
            "FUNCTION", "REQUESTS", "ERRORS", "GB-SECONDS", "EGRESS BYTES", "COST", "PREV MONTH"
        );
        for f in &r.functions {
            println!(
                "{:<32} {:>12} {:>8} {:>14} {:>14} {:>12} {:>12}",
                f.name,
                f.usage.requests,
                f.usage.errors,
                round(&f.usage.gb_seconds, 3),
                f.usage.egress_bytes,
                f.usage.cost_display,
                round(&f.previous_month_cost, 2),
            );
        }
    }
    let t = &r.totals;
    println!(
        "{:<32} {:>12} {:>8} {:>14} {:>14} {:>12} {:>12}",
        "TOTAL",
        t.requests,
        t.errors,
        round(&t.gb_seconds, 3),
        t.egress_bytes,
        t.cost_display,
        r.previous_totals.cost_display,
    );
    if let Some(p) = &r.projection {
        println!(
            "Projected to month end: {} {c} ({} requests)",
            p.projected_cost_display, p.projected_requests
        );
    }
    let s = &r.server;
    println!(
        "On an always-on server at {} {c}/month: {}",
        s.server_monthly,
        if s.server_cheaper {
            "the server would be cheaper"
        } else {
            "serverless is cheaper"
        }
    );
    if let Some(n) = s.break_even_requests {
        println!("Break-even at about {n} requests a month (at this month's cost per request).");
    }
}

/// A decimal string rounded for display (the string is kept when it is not a number).
fn round(value: &str, decimals: usize) -> String {
    value
        .parse::<f64>()
        .map(|v| format!("{v:.decimals$}"))
        .unwrap_or_else(|_| value.to_string())
}
