//! `wisp retention`: how long the team's history is kept, how much the
//! server stores and what the last pruning pass removed
//! (`GET /api/v1/retention`); `wisp retention set DAYS|default [--server]`
//! changes the team's period (owners) or the server's (administrators).

use anyhow::bail;
use clap::{Args, Subcommand};
use model::{RetentionStatus, RetentionUpdate};

use super::client::Client;
use super::ClientArgs;

#[derive(Args)]
pub struct RetentionArgs {
    #[command(subcommand)]
    pub command: Option<RetentionCommand>,
    /// Print the JSON answer instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Set the team's period in days (1-3650), or `default` for the
    /// server's; with --server, the server's period for teams that set none.
    Set {
        days: String,
        /// Set the server's period (server administrators).
        #[arg(long)]
        server: bool,
    },
}

pub async fn retention(args: RetentionArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let status: RetentionStatus = match &args.command {
        None => client.get_json("/api/v1/retention").await?,
        Some(RetentionCommand::Set { days, server }) => {
            let days = match days.as_str() {
                "default" if *server => {
                    bail!("the server's period is a number of days (1-3650)")
                }
                "default" => None,
                n => match n.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => bail!("{n:?}: give a number of days (1-3650) or `default`"),
                },
            };
            let path = if *server {
                "/api/v1/retention/server"
            } else {
                "/api/v1/retention/team"
            };
            client.put_json(path, &RetentionUpdate { days }).await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    let whose = match status.team_days {
        Some(_) => "the team's own",
        None => "the server's",
    };
    println!("retention:      {} days ({whose})", status.days);
    println!("server default: {} days", status.server_days);
    match status.oldest_record_at {
        Some(at) => println!("oldest record:  {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        None => println!("oldest record:  none"),
    }
    if let Some(bytes) = status.database_bytes {
        println!("database size:  {}", app::format::bytes(bytes as i64));
    }
    if let Some(pass) = &status.last_pass {
        println!(
            "last pruning:   {} ({} ms): {} invocations, {} outbound calls, {} events, {} captures",
            pass.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
            pass.duration_ms,
            pass.invocations,
            pass.outbound_calls,
            pass.events,
            pass.captures
        );
    }
    Ok(())
}
