//! Delivering a message from an external queue (NATS, Redis stream, MQTT)
//! as a call: the consumer modules hand each message here and act on the
//! [`Verdict`]: acknowledge only after a successful call, redeliver after a
//! backoff, and once the trigger's attempts are used up, store the message
//! as a dead letter (redrivable through the platform's own queue) and then
//! acknowledge it.

use std::time::Duration;

use bytes::Bytes;
use model::Trigger;

use crate::invoke::{new_invocation_id, CallContext};
use crate::queue::{backoff, NewJob};
use crate::topics::cloud_event_headers;
use crate::trace_context::TraceContext;
use crate::{Platform, TriggerKind};

/// One message as a consumer received it.
#[derive(Clone, Debug)]
pub(crate) struct ExternalMessage {
    /// NATS subject, Redis stream name, or MQTT topic.
    pub subject: String,
    /// The broker's id of the message (stream sequence, entry id, packet id),
    /// or a fresh id when it has none.
    pub message_id: String,
    pub payload: Bytes,
    pub content_type: Option<String>,
    /// 1 for the first delivery, as far as the broker knows.
    pub attempt: u32,
    /// The message's W3C `traceparent` (a NATS header, a Redis stream
    /// field), continued by the call.
    pub traceparent: Option<String>,
}

/// What the consumer does with the message next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Delivered: acknowledge it.
    Ack,
    /// Failed: redeliver after this delay (do not acknowledge).
    Retry(Duration),
    /// Failed for the last time: stored as a dead letter; acknowledge it.
    DeadLettered,
}

impl Platform {
    /// Calls `trigger`'s function with `message` and says what to do with it.
    pub(crate) async fn deliver_message(
        &self,
        trigger: &Trigger,
        message: ExternalMessage,
    ) -> Verdict {
        let kind = trigger.spec.kind();
        let source = TriggerKind::parse(kind).unwrap_or(TriggerKind::Async);
        let now = self.inner.clock.now();
        let headers = cloud_event_headers(
            &message.message_id,
            &format!("/triggers/{}", trigger.id),
            &format!("dev.wisp.{kind}.message"),
            &message.subject,
            now,
            message.content_type.as_deref(),
        );
        let path = format!("/{}", message.subject.trim_start_matches('/'));
        let request =
            crate::invoke::delivery_request("POST", &path, &headers, message.payload.clone());
        let context = CallContext {
            trigger: source,
            trigger_id: Some(trigger.id.clone()),
            parent_id: None,
            depth: 0,
            wait_for_slot: true,
            scope: None,
            // Every attempt at one message is in one trace: the sender's,
            // else one named after the message.
            trace: Some(
                message
                    .traceparent
                    .as_deref()
                    .and_then(crate::trace_context::parse_traceparent)
                    .unwrap_or_else(|| TraceContext {
                        trace_id: crate::trace_context::trace_id_for(&format!(
                            "{}/{}",
                            trigger.id, message.message_id
                        )),
                        parent_span_id: None,
                    }),
            ),
            attempt: Some(message.attempt),
        };
        let (invocation_id, error) = match request {
            Err(e) => (None, e),
            Ok(request) => match self
                .invoke_to_completion(new_invocation_id(), &trigger.function, request, context)
                .await
            {
                Ok(call) if call.succeeded() => return Verdict::Ack,
                Ok(call) => (
                    Some(call.invocation_id),
                    call.error
                        .unwrap_or_else(|| format!("the function answered {}", call.status)),
                ),
                Err(e) => (None, e.to_string()),
            },
        };
        if message.attempt < trigger.max_attempts {
            tracing::info!(trigger = %trigger.id, attempt = message.attempt, %error, "queue message failed; will be redelivered");
            return Verdict::Retry(backoff(self.inner.config.retry_base, message.attempt));
        }
        let job = NewJob {
            function: trigger.function.clone(),
            source,
            trigger_id: Some(trigger.id.clone()),
            event_id: Some(message.message_id.clone()),
            dedupe_key: Some(format!("dead:{}:{}", trigger.id, message.message_id)),
            parent_id: None,
            method: "POST".into(),
            path,
            headers,
            body: message.payload.to_vec(),
            max_attempts: trigger.max_attempts,
            run_at_ms: now.timestamp_millis(),
        };
        match self
            .store_dead_letter(&job, message.attempt, invocation_id.as_deref(), &error)
            .await
        {
            Ok(()) => {
                tracing::warn!(trigger = %trigger.id, attempts = message.attempt, %error, "queue message moved to the dead letters");
                Verdict::DeadLettered
            }
            Err(e) => {
                // Keep it on the broker rather than lose it.
                tracing::error!(trigger = %trigger.id, error = %e, "storing a dead letter failed");
                Verdict::Retry(backoff(self.inner.config.retry_base, message.attempt))
            }
        }
    }
}

/// For brokers that cannot redeliver (core NATS) or only on reconnect
/// (MQTT): retries in-process until delivered or dead-lettered.
pub(crate) async fn deliver_with_retries(
    platform: &Platform,
    trigger: &Trigger,
    mut message: ExternalMessage,
) -> Verdict {
    loop {
        match platform.deliver_message(trigger, message.clone()).await {
            Verdict::Retry(delay) if message.attempt < trigger.max_attempts.saturating_add(10) => {
                tokio::time::sleep(delay).await;
                message.attempt += 1;
            }
            Verdict::Retry(_) => {
                tracing::error!(trigger = %trigger.id, id = %message.message_id, "message dropped: it could neither be delivered nor stored as a dead letter");
                return Verdict::Retry(Duration::ZERO);
            }
            done => return done,
        }
    }
}

/// How long one broker connection attempt (TCP connect and the protocol's
/// handshake) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A trigger's status when its broker could not be reached: the same words
/// whatever went wrong (refused, timed out, not a broker, a banner in
/// reply), so the status echoes no remote bytes and does not tell a closed
/// port from an open one. The cause is in the server log.
pub(crate) const STATUS_UNREACHABLE: &str =
    "error: cannot reach the broker (the server log has the cause)";
/// A trigger's status when a broker it had reached failed: the connection
/// dropped, or the broker refused a request.
pub(crate) const STATUS_FAILED: &str =
    "error: the broker connection failed (the server log has the cause)";
/// A trigger's status when the server's `--broker-hosts` does not allow
/// its broker (a trigger stored before the list changed, or a host name
/// that now resolves elsewhere).
pub(crate) const STATUS_NOT_ALLOWED: &str =
    "error: the broker host is not allowed by the server's --broker-hosts";

/// Reports a connection attempt begun at `started` that failed before the
/// broker's handshake: the status turns to [`STATUS_UNREACHABLE`] no sooner
/// than [`CONNECT_TIMEOUT`] after the attempt began, so a refused port
/// (failing at once) and a silent or chatty one look alike in time too.
pub(crate) async fn report_unreachable(
    platform: &Platform,
    trigger_id: &str,
    started: tokio::time::Instant,
) {
    tokio::time::sleep_until(started + CONNECT_TIMEOUT).await;
    platform.set_trigger_status(trigger_id, STATUS_UNREACHABLE);
}

/// Wait before reconnecting after `failures` connection failures in a row:
/// 0.5 s doubling up to 30 s.
pub(crate) fn reconnect_delay(failures: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << failures.min(6))).min(Duration::from_secs(30))
}

/// Checks a broker URL of the form `scheme://[user[:pass]@]host[:port]`
/// and returns its host and port.
pub(crate) fn parse_broker_url(
    url: &str,
    schemes: &[&str],
    default_port: u16,
) -> Result<(String, u16), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("url must look like {}://host:port", schemes[0]))?;
    if !schemes.contains(&scheme) {
        return Err(format!(
            "url scheme must be {} (got {scheme}://)",
            schemes.join(":// or ")
        ));
    }
    let authority = rest.trim_end_matches('/');
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() || host_port.contains('/') || host_port.contains(',') {
        return Err(format!("url must look like {scheme}://host:port"));
    }
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("bad port in url: {port}"))?;
            (host, port)
        }
        _ => (host_port, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("url must name a host: {scheme}://host:port"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let nats = ["nats"];
        assert_eq!(
            parse_broker_url("nats://127.0.0.1:4222", &nats, 4222),
            Ok(("127.0.0.1".into(), 4222))
        );
        assert_eq!(
            parse_broker_url("nats://u:p@broker", &nats, 4222),
            Ok(("broker".into(), 4222))
        );
        assert!(parse_broker_url("http://x:1", &nats, 4222).is_err());
        assert!(parse_broker_url("nats://:4222", &nats, 4222).is_err());
        assert!(parse_broker_url("nats://h:99999", &nats, 4222).is_err());
        assert!(parse_broker_url("127.0.0.1:4222", &nats, 4222).is_err());
    }

    #[test]
    fn reconnect_delays_grow_and_cap() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(500));
        assert_eq!(reconnect_delay(1), Duration::from_secs(1));
        assert_eq!(reconnect_delay(40), Duration::from_secs(30));
    }
}
