//! CLI commands of the event half: `wisp triggers` (list, create each kind,
//! show, delete), `wisp publish`, `wisp dead-letters` (list, redrive) and
//! `wisp kv` (list, get, put, delete).

use anyhow::Context;
use clap::{Args, Subcommand};
use model::{Job, KvEntry, NewTrigger, PublishReceipt, Trigger, TriggerSpec};

use super::client::{encode_query, Client};
use super::ClientArgs;

#[derive(Args, Debug)]
pub struct TriggersArgs {
    #[command(subcommand)]
    pub command: Option<TriggersCommand>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum TriggersCommand {
    /// List every trigger (the default).
    List,
    /// Show one trigger (cron: its next fire times).
    Get { id: String },
    /// Delete a trigger.
    Delete { id: String },
    /// Route METHOD(S) + PATH at the gateway root to a function.
    Http {
        function: String,
        /// `/orders/:id`, `/files/*`.
        route: String,
        /// Comma-separated methods; default any.
        #[arg(long, value_delimiter = ',')]
        methods: Vec<String>,
    },
    /// Call a function on a schedule.
    Cron {
        function: String,
        /// `*/5 * * * *`, 6 fields with seconds, or `@hourly`.
        schedule: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
    },
    /// Deliver every event of a topic to a function.
    Topic { function: String, topic: String },
    /// Consume a NATS subject.
    Nats {
        function: String,
        subject: String,
        /// The broker (`--url` is the Wisp server's own address).
        #[arg(
            long = "broker-url",
            id = "broker_url",
            default_value = "nats://127.0.0.1:4222"
        )]
        url: String,
        /// JetStream stream to consume from (acknowledged delivery).
        #[arg(long)]
        stream: Option<String>,
    },
    /// Consume a Redis stream through a consumer group.
    Redis {
        function: String,
        stream: String,
        /// The broker (`--url` is the Wisp server's own address).
        #[arg(
            long = "broker-url",
            id = "broker_url",
            default_value = "redis://127.0.0.1:6379"
        )]
        url: String,
        #[arg(long)]
        group: Option<String>,
    },
    /// Consume an MQTT topic filter.
    Mqtt {
        function: String,
        topic: String,
        /// The broker (`--url` is the Wisp server's own address).
        #[arg(
            long = "broker-url",
            id = "broker_url",
            default_value = "mqtt://127.0.0.1:1883"
        )]
        url: String,
    },
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    pub topic: String,
    /// Payload: a string, or @FILE ("@-" for stdin).
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct DeadLettersArgs {
    /// Send this dead letter back to the queue.
    #[arg(long)]
    pub redrive: Option<String>,
    /// Only this function's.
    #[arg(long)]
    pub function: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct KvArgs {
    #[command(subcommand)]
    pub command: KvCommand,
    /// The application whose store to use.
    #[arg(long, default_value = model::DEFAULT_APPLICATION, global = true)]
    pub application: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum KvCommand {
    /// Keys (with a preview of each value), optionally by prefix.
    List {
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Print a value.
    Get { key: String },
    /// Set a value (a string, or @FILE).
    Put { key: String, value: String },
    /// Delete a key.
    Delete { key: String },
}

pub async fn triggers(args: TriggersArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let create = |function: String, spec: TriggerSpec| NewTrigger {
        function,
        spec,
        max_attempts: None,
    };
    let new = match args.command.unwrap_or(TriggersCommand::List) {
        TriggersCommand::List => {
            let list: Vec<Trigger> = client.get_json("/api/v1/triggers").await?;
            if list.is_empty() {
                println!("No triggers yet. Add one: wisp triggers http FUNCTION /path");
            }
            for t in list {
                println!(
                    "{:<38} {:<6} {:<24} {}",
                    t.id,
                    t.spec.kind(),
                    t.function,
                    t.spec.describe()
                );
            }
            return Ok(());
        }
        TriggersCommand::Get { id } => {
            let t: Trigger = client.get_json(&format!("/api/v1/triggers/{id}")).await?;
            print_trigger(&t);
            return Ok(());
        }
        TriggersCommand::Delete { id } => {
            client.delete(&format!("/api/v1/triggers/{id}")).await?;
            println!("Deleted trigger {id}");
            return Ok(());
        }
        TriggersCommand::Http {
            function,
            route,
            methods,
        } => create(function, TriggerSpec::Http { route, methods }),
        TriggersCommand::Cron {
            function,
            schedule,
            timezone,
        } => create(function, TriggerSpec::Cron { schedule, timezone }),
        TriggersCommand::Topic { function, topic } => {
            create(function, TriggerSpec::Topic { topic })
        }
        TriggersCommand::Nats {
            function,
            subject,
            url,
            stream,
        } => create(
            function,
            TriggerSpec::Nats {
                url,
                subject,
                stream,
            },
        ),
        TriggersCommand::Redis {
            function,
            stream,
            url,
            group,
        } => create(function, TriggerSpec::Redis { url, stream, group }),
        TriggersCommand::Mqtt {
            function,
            topic,
            url,
        } => create(function, TriggerSpec::Mqtt { url, topic }),
    };
    let t: Trigger = client.post_json("/api/v1/triggers", &new).await?;
    println!("Created trigger {}", t.id);
    print_trigger(&t);
    Ok(())
}

fn print_trigger(t: &Trigger) {
    println!("  kind:      {}", t.spec.kind());
    println!("  function:  {}", t.function);
    println!("  fires on:  {}", t.spec.describe());
    println!("  attempts:  {}", t.max_attempts);
    if let Some(s) = &t.status {
        println!("  status:    {s}");
    }
    if let Some(last) = t.last_fired {
        println!("  last tick: {}", last.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    for (i, next) in t.next_fires.iter().enumerate() {
        let label = if i == 0 {
            "  next:     "
        } else {
            "           "
        };
        println!("{label} {}", next.format("%Y-%m-%d %H:%M:%S UTC"));
    }
}

/// A `--data` argument: a string, `@FILE`, or `@-` for stdin.
pub(super) async fn read_data(data: Option<&str>) -> anyhow::Result<Vec<u8>> {
    Ok(match data {
        None => Vec::new(),
        Some("@-") => {
            use tokio::io::AsyncReadExt;
            let mut buf = Vec::new();
            tokio::io::stdin().read_to_end(&mut buf).await?;
            buf
        }
        Some(d) if d.starts_with('@') => tokio::fs::read(&d[1..])
            .await
            .with_context(|| format!("reading {}", &d[1..]))?,
        Some(d) => d.as_bytes().to_vec(),
    })
}

pub async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let body = read_data(args.data.as_deref()).await?;
    let receipt: PublishReceipt = client
        .post_bytes_json(&format!("/api/v1/topics/{}", args.topic), body)
        .await?;
    println!(
        "Published event {} to {} ({} subscriber{})",
        receipt.event_id,
        receipt.topic,
        receipt.deliveries,
        if receipt.deliveries == 1 { "" } else { "s" }
    );
    Ok(())
}

pub async fn dead_letters(args: DeadLettersArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    if let Some(id) = args.redrive {
        let job: Job = client
            .post_json(
                &format!("/api/v1/dead-letters/{id}/redrive"),
                &serde_json::json!({}),
            )
            .await?;
        println!(
            "Redriven {}: {} again, {} attempts",
            job.id, job.state, job.max_attempts
        );
        return Ok(());
    }
    let mut path = "/api/v1/dead-letters".to_string();
    if let Some(f) = &args.function {
        path.push_str(&format!("?function={}", encode_query(f)));
    }
    let list: Vec<Job> = client.get_json(&path).await?;
    if list.is_empty() {
        println!("No dead letters.");
    }
    for j in list {
        println!(
            "{}  {:<20} {:<6} {} attempts  {}",
            j.id,
            j.function,
            j.source,
            j.attempts,
            j.last_error.unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn kv(args: KvArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let app = encode_query(&args.application);
    match args.command {
        KvCommand::List { prefix } => {
            let list: Vec<KvEntry> = client
                .get_json(&format!(
                    "/api/v1/kv?application={app}&prefix={}",
                    encode_query(&prefix)
                ))
                .await?;
            if list.is_empty() {
                println!("No keys.");
            }
            for e in list {
                let preview: String = e.preview.chars().take(60).collect();
                println!("{:<40} {:>8} B  {preview}", e.key, e.size_bytes);
            }
        }
        KvCommand::Get { key } => {
            let bytes = client
                .get_bytes(&format!("/api/v1/kv/{app}/{}", encode_query(&key)))
                .await?;
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
        KvCommand::Put { key, value } => {
            let body = read_data(Some(&value)).await?;
            client
                .put_raw(&format!("/api/v1/kv/{app}/{}", encode_query(&key)), body)
                .await?;
            println!("Set {key}");
        }
        KvCommand::Delete { key } => {
            client
                .delete(&format!("/api/v1/kv/{app}/{}", encode_query(&key)))
                .await?;
            println!("Deleted {key}");
        }
    }
    Ok(())
}
