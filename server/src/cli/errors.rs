//! `wisp errors`: the team's error groups (`GET /api/v1/errors`) as a
//! table — how often each kind of failure happened, since which version,
//! and the latest failure to open with `wisp logs` or the dashboard.

use clap::Args;
use model::ErrorGroups;

use super::client::{encode_query, Client};
use super::ClientArgs;

#[derive(Args)]
pub struct ErrorsArgs {
    /// Only this function's failures.
    #[arg(long)]
    pub function: Option<String>,
    /// Only groups that failed since then: RFC 3339 or a time ago (`15m`,
    /// `2h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Groups to show (at most 500).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print the JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn errors(args: ErrorsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let mut query = format!("limit={}", args.limit);
    if let Some(function) = &args.function {
        query.push_str(&format!("&function={}", encode_query(function)));
    }
    if let Some(since) = &args.since {
        let since = super::search::instant(since, chrono::Utc::now())?;
        query.push_str(&format!("&since={}", encode_query(&since)));
    }
    let answer: ErrorGroups = client.get_json(&format!("/api/v1/errors?{query}")).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    if answer.groups.is_empty() {
        println!("No failures recorded.");
        return Ok(());
    }
    println!(
        "{:<20} {:<14} {:>7} {:>6} {:<19} {:<36}  ERROR",
        "FUNCTION", "OUTCOME", "COUNT", "SINCE", "LAST SEEN (UTC)", "LATEST INVOCATION"
    );
    for g in &answer.groups {
        let first_line = g
            .sample_error
            .as_deref()
            .and_then(|e| e.lines().next())
            .unwrap_or("");
        println!(
            "{:<20} {:<14} {:>7} {:>6} {:<19} {:<36}  {}",
            g.function,
            g.outcome.as_str(),
            g.count,
            format!("v{}", g.first_version),
            g.last_seen.format("%Y-%m-%d %H:%M:%S"),
            g.last_invocation_id,
            first_line
        );
    }
    Ok(())
}
