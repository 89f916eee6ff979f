//! `wisp alerts`: the team's alert rules (`GET /api/v1/alerts`), creating
//! and deleting them, and the firing/resolved history
//! (`GET /api/v1/alerts/history`).

use anyhow::bail;
use clap::{Args, Subcommand};
use model::{AlertHistory, AlertMetric, AlertRules, AlertState, CreatedAlertRule, NewAlertRule};

use super::client::Client;
use super::ClientArgs;

#[derive(Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Print the JSON answer instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// The team's rules and whether they fire (the default).
    List,
    /// Create a rule: it fires when the metric goes above the threshold.
    Create {
        name: String,
        /// error-rate (%), p95-ms, dead-letters, queue-age-secs or
        /// monthly-cost (the month's projected cost: a budget).
        #[arg(long)]
        metric: String,
        /// The threshold.
        #[arg(long)]
        above: f64,
        /// Watch this function only.
        #[arg(long, conflicts_with = "application")]
        function: Option<String>,
        /// Watch this application's functions only.
        #[arg(long)]
        application: Option<String>,
        /// Minutes of calls the error rate and p95 look at (default 5).
        #[arg(long)]
        window_minutes: Option<u32>,
        /// Calls needed before the error rate or p95 counts (default 1).
        #[arg(long)]
        min_calls: Option<u32>,
        /// POST firing/resolved notifications here (JSON, HMAC-signed).
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Delete a rule by id (its history stays).
    Delete { id: String },
    /// Rules that fired and were resolved, newest first.
    History {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

pub async fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    match args.command.unwrap_or(AlertsCommand::List) {
        AlertsCommand::List => {
            let answer: AlertRules = client.get_json("/api/v1/alerts").await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!(
                "{:<36} {:<24} {:<8} {:<16} {:>10} {:>10}  SCOPE",
                "ID", "NAME", "STATE", "METRIC", "ABOVE", "LAST"
            );
            for r in &answer.rules {
                println!(
                    "{:<36} {:<24} {:<8} {:<16} {:>10} {:>10}  {}",
                    r.id,
                    r.name,
                    if r.state == AlertState::Firing {
                        "FIRING"
                    } else {
                        "ok"
                    },
                    r.metric.as_str(),
                    r.threshold,
                    r.last_value
                        .map(|v| format!("{v:.2}"))
                        .unwrap_or_else(|| "-".into()),
                    r.scope()
                );
            }
        }
        AlertsCommand::Create {
            name,
            metric,
            above,
            function,
            application,
            window_minutes,
            min_calls,
            webhook,
        } => {
            if !above.is_finite() || above < 0.0 {
                bail!("--above: a number, 0 or more (not {above})");
            }
            let Some(metric) = AlertMetric::parse(&metric) else {
                bail!(
                    "{metric:?}: the metric is one of error-rate, p95-ms, dead-letters, \
                     queue-age-secs, monthly-cost"
                );
            };
            let new = NewAlertRule {
                name,
                metric,
                threshold: above,
                function,
                application,
                window_minutes,
                min_calls,
                webhook_url: webhook,
            };
            let created: CreatedAlertRule = client.post_json("/api/v1/alerts", &new).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&created)?);
                return Ok(());
            }
            println!(
                "Created alert {} ({}): fires when {} is above {} for {}",
                created.rule.name,
                created.rule.id,
                created.rule.metric.as_str(),
                created.rule.threshold,
                created.rule.scope()
            );
            println!(
                "Webhook signing secret (shown once): {}",
                created.webhook_secret
            );
        }
        AlertsCommand::Delete { id } => {
            client.delete(&format!("/api/v1/alerts/{id}")).await?;
            println!("Deleted alert {id}");
        }
        AlertsCommand::History { limit } => {
            let answer: AlertHistory = client
                .get_json(&format!("/api/v1/alerts/history?limit={limit}"))
                .await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            println!(
                "{:<20} {:<24} {:<9} {:>10} {:>10}  DELIVERY",
                "AT (UTC)", "RULE", "STATE", "VALUE", "THRESHOLD"
            );
            for e in &answer.events {
                println!(
                    "{:<20} {:<24} {:<9} {:>10.2} {:>10}  {}",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.rule_name,
                    e.state,
                    e.value,
                    e.threshold,
                    e.delivery
                );
            }
        }
    }
    Ok(())
}
