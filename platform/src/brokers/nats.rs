//! NATS triggers. When the trigger names a JetStream `stream`, or a stream
//! on the server captures the subject, messages are consumed through a
//! durable pull consumer (`wisp-<trigger id>`, explicit acks, unbounded
//! redelivery, new messages from the consumer's creation on): acked after a
//! successful call or a dead letter, `nak`ed with the backoff delay for a
//! retry (the server's delivery count is the attempt number), and kept on
//! the server while Wisp is down; deleting the trigger deletes the consumer,
//! and changing its subject replaces it (delivering the new subject from
//! then on) or deletes it from a stream the trigger left.
//! The nodes of a cluster pull from the same durable consumer, so each
//! message goes to one of them; one that dies holding a message leaves it
//! to be redelivered after the ack wait.
//! Otherwise it is a core-NATS subscription in the queue group
//! `wisp-<trigger id>` (one node gets each message): core NATS cannot
//! redeliver, so retries happen in-process and a message that still fails
//! becomes a dead letter. Connection losses are retried with backoff and
//! shown as the trigger's status (in fixed words; the cause is logged). The
//! broker host must be allowed by `--broker-hosts` before each connection,
//! and servers a NATS server advertises are not followed.

use std::time::Duration;

use async_nats::jetstream::context::{ConsumerInfoErrorKind, GetStreamErrorKind};
use async_nats::jetstream::stream::ConsumerErrorKind;
use async_nats::jetstream::{self, consumer, AckKind, ErrorCode};
use futures::StreamExt;
use model::{Trigger, TriggerSpec};
use tokio::task::{JoinHandle, JoinSet};

use crate::triggers::{
    deliver_with_retries, nats_address, parse_broker_url, reconnect_delay, report_unreachable,
    ExternalMessage, TriggerSource, Verdict, CONNECT_TIMEOUT, STATUS_FAILED, STATUS_NOT_ALLOWED,
};
use crate::{Platform, PlatformError};

/// Messages of one core-NATS trigger handled at once.
const CORE_CONCURRENCY: usize = 32;
/// How long JetStream waits for an ack before redelivering; a call still
/// running sends progress acks every third of it.
const ACK_WAIT: Duration = Duration::from_secs(30);

pub(crate) struct NatsSource;

impl TriggerSource for NatsSource {
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        if let TriggerSpec::Nats {
            url,
            subject,
            stream,
        } = spec
        {
            parse_broker_url(url, &["nats"], 4222).map_err(PlatformError::invalid)?;
            validate_subject(subject).map_err(PlatformError::invalid)?;
            if let Some(stream) = stream {
                let bad = |c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\');
                if stream.is_empty() || stream.chars().any(bad) {
                    return Err(PlatformError::invalid(format!(
                        "bad JetStream stream name {stream:?}: no spaces, '.', '*', '>' or slashes"
                    )));
                }
            }
        }
        Ok(())
    }

    fn start(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        matches!(trigger.spec, TriggerSpec::Nats { .. })
            .then(|| tokio::spawn(run(platform.clone(), trigger.clone())))
    }

    /// Deletes the trigger's durable consumer: the server would otherwise
    /// keep it for good (and, on a stream with interest retention, every
    /// message it has not acknowledged).
    fn retire(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        let TriggerSpec::Nats {
            url,
            subject,
            stream,
        } = trigger.spec.clone()
        else {
            return None;
        };
        let durable = format!("wisp-{}", trigger.id);
        let platform = platform.clone();
        Some(tokio::spawn(async move {
            let deleted =
                delete_durable(&platform, &url, &subject, stream.as_deref(), &durable).await;
            log_deleted(&durable, &url, deleted);
        }))
    }

    /// The consumer stays where the updated trigger still reads (its task
    /// replaces it when the subject changed, [`durable_consumer`]); it is
    /// deleted where the trigger no longer reads: another kind, or a
    /// subject in another stream.
    fn replace(
        &self,
        platform: &Platform,
        old: &Trigger,
        new: &TriggerSpec,
    ) -> Option<JoinHandle<()>> {
        let (
            TriggerSpec::Nats {
                url,
                subject,
                stream,
            },
            TriggerSpec::Nats {
                url: new_url,
                subject: new_subject,
                stream: new_stream,
            },
        ) = (old.spec.clone(), new.clone())
        else {
            return self.retire(platform, old);
        };
        let durable = format!("wisp-{}", old.id);
        let platform = platform.clone();
        Some(tokio::spawn(async move {
            let moved = Moved {
                url: &url,
                subject: &subject,
                stream: stream.as_deref(),
                new_url: &new_url,
                new_subject: &new_subject,
                new_stream: new_stream.as_deref(),
            };
            let deleted = leave_stream(&platform, &moved, &durable).await;
            log_deleted(&durable, &url, deleted);
        }))
    }
}

/// Deletes a deleted trigger's durable consumer from the stream it read.
async fn delete_durable(
    platform: &Platform,
    url: &str,
    subject: &str,
    stream: Option<&str>,
    durable: &str,
) -> Result<Option<String>, String> {
    let js = connect_jetstream(platform, url, durable).await?;
    match stream_name(&js, subject, stream).await {
        Ok(Some(name)) => delete_consumer(&js, &name, durable).await,
        // No stream captures the subject (a core-NATS trigger), or none
        // could be looked up: nothing Wisp knows of.
        Ok(None) | Err(_) => Ok(None),
    }
}

/// Where an updated NATS trigger read, and where it reads now.
struct Moved<'a> {
    url: &'a str,
    subject: &'a str,
    stream: Option<&'a str>,
    new_url: &'a str,
    new_subject: &'a str,
    new_stream: Option<&'a str>,
}

/// Deletes an updated trigger's durable consumer from the stream it read,
/// when it now reads another.
async fn leave_stream(
    platform: &Platform,
    moved: &Moved<'_>,
    durable: &str,
) -> Result<Option<String>, String> {
    let js = connect_jetstream(platform, moved.url, durable).await?;
    let Some(old_stream) = stream_name(&js, moved.subject, moved.stream).await? else {
        return Ok(None);
    };
    let new_js = connect_jetstream(platform, moved.new_url, durable).await?;
    let new_stream = stream_name(&new_js, moved.new_subject, moved.new_stream).await?;
    // Only a stream the trigger left: in the one it stays in, its new task
    // replaces the consumer itself, keeping it when the filter is the same.
    // (A stream of the same name on another server keeps it.)
    if new_stream.as_deref() == Some(old_stream.as_str()) {
        return Ok(None);
    }
    delete_consumer(&js, &old_stream, durable).await
}

fn log_deleted(durable: &str, url: &str, deleted: Result<Option<String>, String>) {
    match deleted {
        Ok(Some(stream)) => {
            tracing::info!(consumer = %durable, %stream, "JetStream consumer deleted")
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(consumer = %durable, %url, %error, "a JetStream consumer the trigger no longer uses is left on the server")
        }
    }
}

/// The trigger's durable consumer on `stream`: the existing one when it
/// filters the trigger's subject, else a new one. A consumer left with
/// another filter is the trigger's before its subject was changed (an
/// update keeps the id, and so the name): it would go on delivering the old
/// subject, so it is replaced by one that delivers the new subject from
/// now on (what the old filter let through was never meant for it).
async fn durable_consumer(
    trigger: &Trigger,
    stream: &jetstream::stream::Stream,
    mut config: consumer::pull::Config,
) -> Result<consumer::PullConsumer, String> {
    let durable = config.durable_name.clone().unwrap_or_default();
    match stream.consumer_info(&durable).await {
        Ok(info) if info.config.filter_subject == config.filter_subject => {
            return stream
                .get_consumer(&durable)
                .await
                .map_err(|e| e.to_string());
        }
        Ok(info) => {
            stream
                .delete_consumer(&durable)
                .await
                .map_err(|e| e.to_string())?;
            config.deliver_policy = consumer::DeliverPolicy::New;
            tracing::info!(trigger = %trigger.id, consumer = %durable, old = %info.config.filter_subject, new = %config.filter_subject, "the trigger's subject changed: its JetStream consumer is replaced");
        }
        Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    stream
        .create_consumer(config)
        .await
        .map_err(|e| e.to_string())
}

/// A JetStream context on the server at `url`, when `--broker-hosts`
/// allows it (5 s to connect).
async fn connect_jetstream(
    platform: &Platform,
    url: &str,
    name: &str,
) -> Result<jetstream::Context, String> {
    let (host, port) = nats_address(url)?;
    platform.broker_host_allowed(&host, port).await?;
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(CONNECT_TIMEOUT)
        .ignore_discovered_servers()
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    Ok(jetstream::new(client))
}

/// The stream a trigger reads: the one it names, else the one capturing
/// its subject (`None`: no stream does, a core-NATS trigger).
async fn stream_name(
    js: &jetstream::Context,
    subject: &str,
    stream: Option<&str>,
) -> Result<Option<String>, String> {
    match stream {
        Some(name) => Ok(Some(name.to_string())),
        None => match js.stream_by_subject(subject).await {
            Ok(name) => Ok(Some(name)),
            Err(e) if e.kind() == jetstream::context::GetStreamByNameErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(format!("looking up the stream of {subject}: {e}")),
        },
    }
}

/// Deletes the durable consumer `durable` from `stream_name`; the stream's
/// name when there was one to delete.
async fn delete_consumer(
    js: &jetstream::Context,
    stream_name: &str,
    durable: &str,
) -> Result<Option<String>, String> {
    let stream = match js.get_stream(stream_name).await {
        Ok(stream) => stream,
        // The stream is gone, and its consumers with it.
        Err(e)
            if matches!(e.kind(), GetStreamErrorKind::JetStream(j)
            if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(format!("JetStream stream {stream_name}: {e}")),
    };
    match stream.delete_consumer(durable).await {
        Ok(_) => Ok(Some(stream_name.to_string())),
        // Never created (the trigger never connected) or already deleted.
        Err(e)
            if matches!(e.kind(), ConsumerErrorKind::JetStream(j)
            if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("deleting {durable} from {stream_name}: {e}")),
    }
}

/// A subject (wildcards `*` and a final `>` allowed).
fn validate_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() || subject.chars().any(char::is_whitespace) {
        return Err("subject must be non-empty, without spaces".into());
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return Err(format!("subject {subject:?} has an empty token"));
        }
        if *token == ">" && i + 1 != tokens.len() {
            return Err(format!("'>' must be the last token of {subject:?}"));
        }
        if token.len() > 1 && (token.contains('*') || token.contains('>')) {
            return Err(format!("wildcards must be whole tokens in {subject:?}"));
        }
    }
    Ok(())
}

/// Connects, consumes, and on any failure reconnects after a backoff.
async fn run(platform: Platform, trigger: Trigger) {
    let TriggerSpec::Nats {
        url,
        subject,
        stream,
    } = &trigger.spec
    else {
        return;
    };
    let mut failures = 0u32;
    loop {
        platform.set_trigger_status(&trigger.id, "connecting");
        let started = tokio::time::Instant::now();
        if let Err(error) = platform.broker_allowed(&trigger.spec).await {
            tracing::warn!(trigger = %trigger.id, %url, %error, "NATS broker not allowed; not connecting");
            platform.set_trigger_status(&trigger.id, STATUS_NOT_ALLOWED);
        } else {
            match connect(&platform, &trigger.id, url).await {
                Ok(client) => {
                    let error =
                        consume(&platform, &trigger, client, subject, stream.as_deref()).await;
                    failures = 0;
                    tracing::warn!(trigger = %trigger.id, %url, %error, "NATS consumer stopped; reconnecting");
                    platform.set_trigger_status(&trigger.id, STATUS_FAILED);
                }
                Err(error) => {
                    tracing::warn!(trigger = %trigger.id, %url, %error, "cannot connect to the NATS broker; retrying");
                    report_unreachable(&platform, &trigger.id, started).await;
                }
            }
        }
        tokio::time::sleep(reconnect_delay(failures)).await;
        failures = failures.saturating_add(1);
    }
}

async fn connect(platform: &Platform, id: &str, url: &str) -> Result<async_nats::Client, String> {
    let (p, id_owned) = (platform.clone(), id.to_string());
    async_nats::ConnectOptions::new()
        .name(format!("wisp-{id}"))
        .connection_timeout(CONNECT_TIMEOUT)
        // Only the host `--broker-hosts` allowed: not the servers it advertises.
        .ignore_discovered_servers()
        .event_callback(move |event| {
            let (p, id) = (p.clone(), id_owned.clone());
            async move {
                match event {
                    // The first connection is reported by the consumer once it is
                    // subscribed (earlier, published messages could be missed); a
                    // reconnection restores the subscription itself.
                    async_nats::Event::Connected
                        if p.trigger_status(&id).as_deref() == Some("reconnecting") =>
                    {
                        p.set_trigger_status(&id, "connected")
                    }
                    async_nats::Event::Disconnected => p.set_trigger_status(&id, "reconnecting"),
                    other => tracing::debug!(trigger = %id, event = %other, "NATS event"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}

/// Runs until the connection or consumer fails; returns why.
async fn consume(
    platform: &Platform,
    trigger: &Trigger,
    client: async_nats::Client,
    subject: &str,
    stream: Option<&str>,
) -> String {
    let js = jetstream::new(client.clone());
    let stream_name = stream_name(&js, subject, stream)
        .await
        // No JetStream on this server, or it did not answer: core NATS.
        .unwrap_or_else(|error| {
            tracing::info!(trigger = %trigger.id, %error, "no JetStream stream lookup; using core NATS");
            None
        });
    match stream_name {
        Some(name) => consume_jetstream(platform, trigger, &js, &name, subject)
            .await
            .unwrap_or_else(|e| e),
        None => consume_core(platform, trigger, client, subject).await,
    }
}

async fn consume_jetstream(
    platform: &Platform,
    trigger: &Trigger,
    js: &jetstream::Context,
    stream_name: &str,
    subject: &str,
) -> Result<String, String> {
    let stream = js
        .get_stream(stream_name)
        .await
        .map_err(|e| format!("JetStream stream {stream_name}: {e}"))?;
    let durable = format!("wisp-{}", trigger.id);
    let config = consumer::pull::Config {
        durable_name: Some(durable.clone()),
        description: Some(format!(
            "Wisp trigger {} → {}",
            trigger.id, trigger.function
        )),
        filter_subject: subject.to_string(),
        ack_policy: consumer::AckPolicy::Explicit,
        // Everything published since the trigger was created, even before
        // this consumer existed (a first connection can lag the creation).
        deliver_policy: consumer::DeliverPolicy::ByStartTime {
            start_time: trigger.created_at,
        },
        ack_wait: ACK_WAIT,
        max_deliver: -1,
        ..Default::default()
    };
    let consumer = durable_consumer(trigger, &stream, config)
        .await
        .map_err(|e| format!("JetStream consumer {durable} on {stream_name}: {e}"))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| format!("JetStream pull on {stream_name}: {e}"))?;
    platform.set_trigger_status(&trigger.id, "connected");
    tracing::info!(trigger = %trigger.id, stream = stream_name, %subject, "consuming from JetStream");
    while let Some(next) = messages.next().await {
        let message = next.map_err(|e| format!("JetStream pull on {stream_name}: {e}"))?;
        let info = message.info().ok();
        let attempt = info
            .as_ref()
            .map_or(1, |i| u32::try_from(i.delivered.max(1)).unwrap_or(u32::MAX));
        let message_id = info
            .as_ref()
            .map_or_else(crate::invoke::new_invocation_id, |i| {
                format!("{}-{}", i.stream, i.stream_sequence)
            });
        let external = ExternalMessage {
            subject: message.subject.to_string(),
            message_id,
            payload: message.payload.clone(),
            content_type: content_type(message.headers.as_ref()),
            attempt,
            traceparent: traceparent(message.headers.as_ref()),
        };
        // Keep the server from redelivering while a long call runs.
        let delivery = platform.deliver_message(trigger, external);
        tokio::pin!(delivery);
        let mut progress = tokio::time::interval(ACK_WAIT / 3);
        progress.tick().await;
        let verdict = loop {
            tokio::select! {
                verdict = &mut delivery => break verdict,
                _ = progress.tick() => {
                    if let Err(e) = message.ack_with(AckKind::Progress).await {
                        tracing::debug!(trigger = %trigger.id, error = %e, "progress ack failed");
                    }
                }
            }
        };
        let acked = match verdict {
            Verdict::Ack | Verdict::DeadLettered => message.double_ack().await,
            Verdict::Retry(delay) => message.ack_with(AckKind::Nak(Some(delay))).await,
        };
        if let Err(e) = acked {
            // Unacked messages come back after ACK_WAIT; nothing is lost.
            tracing::warn!(trigger = %trigger.id, error = %e, "JetStream ack failed");
        }
    }
    Ok(format!("JetStream pull on {stream_name} ended"))
}

async fn consume_core(
    platform: &Platform,
    trigger: &Trigger,
    client: async_nats::Client,
    subject: &str,
) -> String {
    // A queue group per trigger: each message goes to one node of a cluster.
    let group = format!("wisp-{}", trigger.id);
    let mut subscription = match client.queue_subscribe(subject.to_string(), group).await {
        Ok(s) => s,
        Err(e) => return format!("subscribe to {subject}: {e}"),
    };
    // Only once the server has the subscription is the trigger connected:
    // an echo through the server, sent after the SUB on this connection.
    if let Err(e) = round_trip(&client).await {
        return format!("subscribe to {subject}: {e}");
    }
    platform.set_trigger_status(&trigger.id, "connected");
    tracing::info!(trigger = %trigger.id, %subject, "subscribed (core NATS, no redelivery by the server)");
    // Owned here, so stopping the trigger also stops its deliveries.
    let mut tasks = JoinSet::new();
    // The client resubscribes by itself after a reconnect.
    while let Some(message) = subscription.next().await {
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= CORE_CONCURRENCY {
            tasks.join_next().await;
        }
        let (platform, trigger) = (platform.clone(), trigger.clone());
        let message_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.to_string())
            .unwrap_or_else(crate::invoke::new_invocation_id);
        let external = ExternalMessage {
            subject: message.subject.to_string(),
            message_id,
            payload: message.payload.clone(),
            content_type: content_type(message.headers.as_ref()),
            attempt: 1,
            traceparent: traceparent(message.headers.as_ref()),
        };
        tasks.spawn(async move {
            deliver_with_retries(&platform, &trigger, external).await;
        });
    }
    format!("subscription to {subject} closed")
}

async fn round_trip(client: &async_nats::Client) -> Result<(), String> {
    let inbox = client.new_inbox();
    let mut echo = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| e.to_string())?;
    client
        .publish(inbox, bytes::Bytes::new())
        .await
        .map_err(|e| e.to_string())?;
    client.flush().await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), echo.next()).await {
        Ok(Some(_)) => Ok(()),
        _ => Err("the server did not answer".into()),
    }
}

fn content_type(headers: Option<&async_nats::HeaderMap>) -> Option<String> {
    headers
        .and_then(|h| h.get("Content-Type"))
        .map(|v| v.to_string())
}

fn traceparent(headers: Option<&async_nats::HeaderMap>) -> Option<String> {
    headers
        .and_then(|h| h.get(crate::trace_context::TRACEPARENT))
        .map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        for ok in ["orders", "orders.*", "orders.>", "a.*.c", ">"] {
            assert!(validate_subject(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a..b", "a.>.c", "a b", "or*ders", "orders.", ".x"] {
            assert!(validate_subject(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specs_are_checked() {
        let spec = |url: &str, subject: &str, stream: Option<&str>| TriggerSpec::Nats {
            url: url.into(),
            subject: subject.into(),
            stream: stream.map(Into::into),
        };
        assert!(NatsSource
            .validate(&spec("nats://127.0.0.1:4222", "orders.*", None))
            .is_ok());
        assert!(NatsSource
            .validate(&spec("nats://127.0.0.1:4222", "orders", Some("ORDERS")))
            .is_ok());
        assert!(NatsSource
            .validate(&spec("redis://127.0.0.1", "orders", None))
            .is_err());
        assert!(NatsSource
            .validate(&spec("nats://127.0.0.1", "orders", Some("A.B")))
            .is_err());
    }
}
