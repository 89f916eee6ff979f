//! `wisp replay <invocation> [--version N|live] [--outbound recorded|live]`:
//! runs a recorded call again (`POST /api/v1/invocations/{id}/replay`) and
//! prints what changed — status, headers, body, logs (as a line diff) and
//! outbound requests — or, with `--failures FUNCTION`, replays that
//! function's latest captured failures and prints how each did.

use clap::Args;
use model::{
    DiffTag, ReplayFailuresRequest, ReplayFailuresResult, ReplayOutbound, ReplayRequest,
    ReplayResult, ReplayVersion, TextDiff,
};

use super::client::Client;
use super::ClientArgs;

#[derive(Args)]
pub struct ReplayArgs {
    /// The invocation to replay (its id, as `wisp logs` shows it).
    #[arg(required_unless_present = "failures")]
    pub invocation: Option<String>,
    /// Replay on this version (a number, or `live`); default: the
    /// original call's version (with --failures: the live one).
    #[arg(long)]
    pub version: Option<String>,
    /// Where outbound requests go: `recorded` (answered from the capture;
    /// nothing is sent) or `live` (sent for real).
    #[arg(long, default_value = "recorded")]
    pub outbound: ReplayOutbound,
    /// Replay this function's latest captured failures instead.
    #[arg(long, value_name = "FUNCTION", conflicts_with = "invocation")]
    pub failures: Option<String>,
    /// With --failures: how many (default 10, at most 50).
    #[arg(long)]
    pub last: Option<u32>,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn version(text: &Option<String>) -> anyhow::Result<Option<ReplayVersion>> {
    Ok(match text.as_deref() {
        None => None,
        Some("live") => Some(ReplayVersion::Named("live".into())),
        Some(n) => Some(ReplayVersion::Number(n.parse().map_err(|_| {
            anyhow::anyhow!("--version must be a number or `live`, not {n:?}")
        })?)),
    })
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    if let Some(function) = &args.failures {
        let request = ReplayFailuresRequest {
            version: version(&args.version)?,
            last: args.last,
            outbound: Some(args.outbound),
        };
        let answer: ReplayFailuresResult = client
            .post_json(&format!("/api/v1/functions/{function}/replay"), &request)
            .await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&answer)?);
        } else {
            print_failures(function, &answer);
        }
        return Ok(());
    }
    let id = args.invocation.as_deref().unwrap_or_default();
    let request = ReplayRequest {
        version: version(&args.version)?,
        outbound: Some(args.outbound),
    };
    let answer: ReplayResult = client
        .post_json(&format!("/api/v1/invocations/{id}/replay"), &request)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_result(&answer);
    }
    Ok(())
}

fn status(code: Option<u16>) -> String {
    code.map_or("no response".into(), |c| c.to_string())
}

fn print_result(answer: &ReplayResult) {
    let (original, replay, diff) = (&answer.original, &answer.replay, &answer.diff);
    println!(
        "replayed {} ({} v{}) as {} on v{}",
        original.id, original.function, original.version, replay.id, replay.version
    );
    println!(
        "status:   {} -> {}{}",
        status(diff.status.original),
        status(diff.status.replay),
        if diff.status.same { "" } else { "   (changed)" }
    );
    for h in &diff.headers {
        println!(
            "header {}: {} -> {}",
            h.name,
            h.original.as_deref().unwrap_or("(none)"),
            h.replay.as_deref().unwrap_or("(none)")
        );
    }
    print_text("body", &diff.body);
    print_text("logs", &diff.logs);
    for o in diff.outbound.iter().filter(|o| !o.same) {
        println!(
            "outbound #{}: {} -> {}",
            o.index,
            o.original.as_deref().unwrap_or("(none)"),
            o.replay.as_deref().unwrap_or("(none)")
        );
    }
    for d in &diff.divergences {
        println!(
            "DIVERGED at outbound #{}: recorded {}, replay {} ({} differs; not sent)",
            d.index,
            d.recorded.as_deref().unwrap_or("(no such request)"),
            d.replay,
            d.differs.join(", ")
        );
    }
    if let Some(error) = &replay.error {
        println!("replay error: {error}");
    }
    println!(
        "{}",
        if diff.same {
            "the replay matches the original exactly"
        } else {
            "the replay differs from the original (see above)"
        }
    );
}

fn print_text(what: &str, diff: &TextDiff) {
    if diff.same {
        println!("{what}:     same");
        return;
    }
    println!("{what}:     changed");
    for line in &diff.lines {
        let mark = match line.tag {
            DiffTag::Same => ' ',
            DiffTag::Removed => '-',
            DiffTag::Added => '+',
        };
        println!("  {mark} {}", line.text);
    }
}

fn print_failures(function: &str, answer: &ReplayFailuresResult) {
    println!(
        "{function}: {} failure(s) replayed on v{}: {} fixed, {} still failing, {} diverged, {} skipped",
        answer.results.len(),
        answer.version,
        answer.fixed,
        answer.still_failing,
        answer.diverged,
        answer.skipped
    );
    println!(
        "{:<38} {:<14} {:>8} {:>8}  REPLAY",
        "ORIGINAL", "VERDICT", "BEFORE", "AFTER"
    );
    for r in &answer.results {
        println!(
            "{:<38} {:<14} {:>8} {:>8}  {}",
            r.original_id,
            r.verdict.map_or("skipped".into(), |v| v.to_string()),
            status(r.original_status),
            status(r.replay_status),
            r.replay_id
                .clone()
                .or_else(|| r.error.clone())
                .unwrap_or_default()
        );
    }
}
