//! Delivering a message from an external queue (NATS, Redis stream, MQTT)
//! as a call: the consumer modules hand each message here and act on the
//! [`Verdict`]: acknowledge only after a successful call, redeliver after a
//! backoff, and once the trigger's attempts are used up, store the message
//! as a dead letter (redrivable through the platform's own queue) and then
//! acknowledge it.

use std::time::Duration;

use bytes::Bytes;
use model::Trigger;

use crate::invoke::{new_invocation_id, CallContext, TriggerKind};
use crate::queue::{backoff, NewJob};
use crate::topics::cloud_event_headers;
use crate::Platform;

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
        let request = build_request(&path, &headers, message.payload.clone());
        let context = CallContext {
            trigger: source,
            trigger_id: Some(trigger.id.clone()),
            parent_id: None,
            depth: 0,
            wait_for_slot: true,
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

fn build_request(
    path: &str,
    headers: &[(String, String)],
    payload: Bytes,
) -> Result<http::Request<runtime::RequestBody>, String> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header(http::header::HOST, "localhost");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(runtime::full_body(payload))
        .map_err(|e| format!("the message cannot be sent as a request: {e}"))
}
