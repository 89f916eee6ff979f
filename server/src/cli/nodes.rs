//! `wisp nodes`: the cluster's members (`GET /api/v1/nodes`) as a table —
//! which nodes are up, down or stopped, where they listen, and their load.

use clap::Args;
use model::{NodeState, Nodes};

use super::client::Client;
use super::ClientArgs;

#[derive(Args)]
pub struct NodesArgs {
    /// Print the JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn nodes(args: NodesArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let answer: Nodes = client.get_json("/api/v1/nodes").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!(
        "{:<28} {:<8} {:<22} {:<22} {:<9} {:>9} {:>8}  LAST SEEN (UTC)",
        "NODE", "STATE", "ADDRESS", "GATEWAY", "VERSION", "IN FLIGHT", "CALLS/S"
    );
    for n in &answer.nodes {
        let id = if n.this_node {
            format!("{} *", n.id)
        } else {
            n.id.clone()
        };
        println!(
            "{:<28} {:<8} {:<22} {:<22} {:<9} {:>9} {:>8.1}  {}",
            id,
            n.state.as_str(),
            n.address,
            n.gateway_address,
            n.version,
            n.in_flight,
            n.calls_per_s,
            n.last_seen.format("%Y-%m-%d %H:%M:%S"),
        );
    }
    let down = answer
        .nodes
        .iter()
        .filter(|n| n.state == NodeState::Down)
        .count();
    println!(
        "{} node(s), {down} down (no heartbeat for {} s); * answered this request",
        answer.nodes.len(),
        answer.down_after_secs
    );
    Ok(())
}
