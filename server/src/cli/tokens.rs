//! `wisp tokens`: list the caller's API tokens for its team (never their
//! secrets), create one (a role up to the caller's, an expiry in days or
//! never; the secret is printed once, alone on standard output so scripts
//! can capture it), and revoke one by id.

use anyhow::bail;
use clap::{Args, Subcommand};
use model::{ApiTokenInfo, CreatedApiToken, NewApiToken};

use super::client::Client;
use super::ClientArgs;

#[derive(Args, Debug)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// The active tokens: id, name, prefix, role, created, last used, expires.
    List,
    /// Create a token; its secret is printed once on standard output.
    Create {
        name: String,
        /// `owner`, `developer` or `viewer` (default: your role).
        #[arg(long)]
        role: Option<String>,
        /// Days until it expires (1 to 365), or `never`.
        #[arg(long, default_value = "90")]
        expires: String,
    },
    /// Revoke a token by id: it stops working at once.
    Revoke { id: i64 },
}

pub async fn tokens(args: TokensArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    match args.command {
        TokensCommand::List => {
            let tokens: Vec<ApiTokenInfo> = client.get_json("/api/v1/tokens").await?;
            println!(
                "{:>5}  {:<24} {:<12} {:<9} {:<17} {:<17} expires",
                "id", "name", "prefix", "role", "created", "last used"
            );
            for t in tokens {
                let at = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
                    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| none.to_string())
                };
                println!(
                    "{:>5}  {:<24} {:<12} {:<9} {:<17} {:<17} {}",
                    t.id,
                    t.name,
                    t.prefix.unwrap_or_default(),
                    t.role,
                    at(Some(t.created_at), ""),
                    at(t.last_used_at, "never"),
                    at(t.expires_at, "never"),
                );
            }
        }
        TokensCommand::Create {
            name,
            role,
            expires,
        } => {
            let expires_in_days = match expires.trim() {
                "never" => None,
                days => match days.trim_end_matches('d').parse::<u32>() {
                    Ok(days) => Some(days),
                    Err(_) => bail!("--expires takes a number of days (1 to 365) or `never`"),
                },
            };
            let request = NewApiToken {
                name,
                role,
                expires_in_days,
            };
            let created: CreatedApiToken = client.post_json("/api/v1/tokens", &request).await?;
            eprintln!(
                "Created token {} ({}, role {}, expires {}). The secret is shown only now:",
                created.info.id,
                created.info.name,
                created.info.role,
                created
                    .info
                    .expires_at
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "never".into()),
            );
            println!("{}", created.token);
        }
        TokensCommand::Revoke { id } => {
            client.delete(&format!("/api/v1/tokens/{id}")).await?;
            eprintln!("Revoked token {id}.");
        }
    }
    Ok(())
}
