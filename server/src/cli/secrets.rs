//! `wisp secrets`: list a function's secret names, set secrets (`NAME=VALUE`,
//! or `NAME` alone to read the value from standard input, which keeps it out
//! of the shell history), remove secrets. Values are never printed.

use std::collections::BTreeMap;
use std::io::BufRead as _;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use model::FunctionDetail;

use super::client::Client;
use super::ClientArgs;

#[derive(Args, Debug)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Names of a function's secrets, one per line.
    List { function: String },
    /// Set or replace secrets: NAME=VALUE, or NAME to read its value from stdin.
    Set {
        function: String,
        #[arg(required = true)]
        secrets: Vec<String>,
    },
    /// Remove secrets by name.
    Rm {
        function: String,
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub async fn secrets(args: SecretsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let (function, changes) = match args.command {
        SecretsCommand::List { function } => {
            let detail: FunctionDetail = client
                .get_json(&format!("/api/v1/functions/{function}"))
                .await?;
            for name in detail.secrets {
                println!("{name}");
            }
            return Ok(());
        }
        SecretsCommand::Set { function, secrets } => {
            let mut changes = BTreeMap::new();
            for item in secrets {
                let (name, value) = match item.split_once('=') {
                    Some((name, value)) => (name.to_string(), value.to_string()),
                    None => (item.clone(), read_stdin_line(&item)?),
                };
                changes.insert(name, Some(value));
            }
            (function, changes)
        }
        SecretsCommand::Rm { function, names } => {
            (function, names.into_iter().map(|n| (n, None)).collect())
        }
    };
    let names: Vec<String> = changes.keys().cloned().collect();
    let patch = model::FunctionConfigPatch {
        secrets: Some(changes),
        ..Default::default()
    };
    let detail: FunctionDetail = client
        .patch_json(&format!("/api/v1/functions/{function}"), &patch)
        .await?;
    eprintln!(
        "{function}: {} {}; secrets now: {}",
        if patch.secrets.iter().flatten().any(|(_, v)| v.is_some()) {
            "set"
        } else {
            "removed"
        },
        names.join(", "),
        if detail.secrets.is_empty() {
            "none".to_string()
        } else {
            detail.secrets.join(", ")
        }
    );
    Ok(())
}

/// One line of standard input (without its line end) as the value of `name`.
fn read_stdin_line(name: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the value of {name} from standard input"))?;
    if line.is_empty() {
        bail!("no value for {name}: give NAME=VALUE or pipe the value in");
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
