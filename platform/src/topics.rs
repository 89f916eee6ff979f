//! Topics: publishing an event stores it and one queued delivery per
//! subscribed function in a single transaction, before the publisher is
//! answered; the dispatcher delivers them asynchronously as `POST` calls
//! carrying CloudEvents headers.

use bytes::Bytes;
use model::PublishReceipt;
use sqlx::Row;

use crate::invoke::new_invocation_id;
use crate::queue::{insert, NewJob};
use crate::trace_context::TraceContext;
use crate::{Platform, PlatformError, TriggerKind};

/// Largest event payload.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Who published an event from inside a function.
#[derive(Clone, Debug)]
pub struct Publisher {
    pub function: String,
    pub invocation_id: String,
    /// The publishing call's place in its call tree: the deliveries join it
    /// one level deeper, with a share of its budget.
    pub scope: Option<crate::CallScope>,
}

/// Checks a topic name: 1–200 of letters, digits, `.`, `-`, `_`, `/`.
pub fn validate_topic(topic: &str) -> Result<(), PlatformError> {
    let ok = !topic.is_empty()
        && topic.len() <= 200
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    if ok {
        Ok(())
    } else {
        Err(PlatformError::invalid(format!(
            "topic {topic:?} must be 1-200 letters, digits, '.', '-', '_' or '/'"
        )))
    }
}

/// CloudEvents 1.0 binary-mode headers of a delivery.
pub(crate) fn cloud_event_headers(
    id: &str,
    source: &str,
    event_type: &str,
    subject: &str,
    time: chrono::DateTime<chrono::Utc>,
    content_type: Option<&str>,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("ce-specversion".to_string(), "1.0".to_string()),
        ("ce-id".to_string(), id.to_string()),
        ("ce-source".to_string(), source.to_string()),
        ("ce-type".to_string(), event_type.to_string()),
        (
            "ce-time".to_string(),
            time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        ("ce-subject".to_string(), subject.to_string()),
    ];
    headers.push((
        "content-type".to_string(),
        content_type
            .unwrap_or("application/octet-stream")
            .to_string(),
    ));
    headers
}

impl Platform {
    /// Publishes `payload` to `team_id`'s `topic`: stored with one delivery
    /// per subscribed function of the team before this returns (topics are
    /// per team: another team's subscribers never see the event).
    pub(crate) async fn publish(
        &self,
        team_id: i64,
        topic: &str,
        payload: Bytes,
        content_type: Option<&str>,
        publisher: Option<Publisher>,
        caller_trace: Option<TraceContext>,
    ) -> Result<PublishReceipt, PlatformError> {
        validate_topic(topic)?;
        if payload.len() > MAX_EVENT_BYTES {
            return Err(PlatformError::TooLarge {
                size: payload.len() as u64,
                limit: MAX_EVENT_BYTES as u64,
            });
        }
        let event_id = new_invocation_id();
        let now = self.inner.clock.now();
        let now_ms = now.timestamp_millis();
        let mut tx = crate::db::begin_write(&self.inner.db, self.inner.backend).await?;
        let subscribers = sqlx::query(concat!(
    "SELECT id, function_name, max_attempts FROM triggers WHERE kind = 'topic' AND topic = $1 \
             AND function_name IN ",
    team_functions!("$2")
))
        .bind(topic)
        .bind(team_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut headers = cloud_event_headers(
            &event_id,
            &format!("/topics/{topic}"),
            "dev.wisp.topic.event",
            topic,
            now,
            content_type,
        );
        // Published by a function: the deliveries carry their place in its
        // call tree (else each is a root of its own).
        if let Some(scope) = publisher.as_ref().and_then(|p| p.scope.as_ref()) {
            let hop = self.hop_from(scope, subscribers.len() as u32);
            headers.extend(hop.headers());
        } else if let Some(trace) = caller_trace {
            // Published from outside with a `traceparent`: each delivery
            // continues the caller's trace (the dispatcher reads it).
            let parent = trace.parent_span_id.unwrap_or_default();
            headers.push((
                crate::trace_context::TRACEPARENT.to_string(),
                crate::trace_context::traceparent(&trace.trace_id, &parent),
            ));
        }
        let mut deliveries = 0u32;
        for row in &subscribers {
            let trigger_id: String = row.try_get("id")?;
            let job = NewJob {
                function: row.try_get("function_name")?,
                source: TriggerKind::Topic,
                trigger_id: Some(trigger_id.clone()),
                event_id: Some(event_id.clone()),
                dedupe_key: Some(format!("topic:{event_id}:{trigger_id}")),
                parent_id: publisher.as_ref().map(|p| p.invocation_id.clone()),
                method: "POST".into(),
                path: format!("/{topic}"),
                headers: headers.clone(),
                body: payload.to_vec(),
                max_attempts: row.try_get::<i64, _>("max_attempts")? as u32,
                run_at_ms: now_ms,
            };
            if insert(&mut tx, &job, now_ms).await?.is_some() {
                deliveries += 1;
            }
        }
        sqlx::query(
            "INSERT INTO events (id, topic, content_type, size_bytes, deliveries, publisher_function, \
             publisher_invocation_id, published_at, team_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(event_id.clone())
        .bind(topic)
        .bind(content_type.map(str::to_string))
        .bind(payload.len() as i64)
        .bind(i64::from(deliveries))
        .bind(publisher.as_ref().map(|p| p.function.clone()))
        .bind(publisher.as_ref().map(|p| p.invocation_id.clone()))
        .bind(now_ms)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if deliveries > 0 {
            self.inner.dispatcher.wake();
        }
        Ok(PublishReceipt {
            event_id,
            topic: topic.to_string(),
            deliveries,
        })
    }

    /// Queues an async invocation of `name` (`?async=true`): stored before
    /// this returns, run by the dispatcher with retries.
    pub(crate) async fn enqueue_invocation(
        &self,
        name: &str,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> Result<model::AsyncInvocation, PlatformError> {
        if self.inner.registry.get(name).is_none() {
            return Err(PlatformError::not_found(format!("function {name}")));
        }
        let now_ms = self.inner.clock.now_ms();
        // A new root: an outside caller's copies of the internal call-tree
        // headers are dropped.
        let headers = crate::call_tree::without_call_headers(&headers);
        let job = NewJob {
            function: name.to_string(),
            source: TriggerKind::Async,
            trigger_id: None,
            event_id: None,
            dedupe_key: None,
            parent_id: None,
            method: method.to_string(),
            path: path.to_string(),
            headers,
            body: body.to_vec(),
            max_attempts: self.inner.config.max_attempts,
            run_at_ms: now_ms,
        };
        let mut conn = self.inner.db.acquire().await?;
        let id = insert(&mut conn, &job, now_ms)
            .await?
            .ok_or_else(|| PlatformError::Internal(anyhow::anyhow!("job id collision")))?;
        drop(conn);
        self.inner.dispatcher.wake();
        Ok(model::AsyncInvocation {
            invocation_id: id.clone(),
            job_id: id,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn topic_names() {
        assert!(super::validate_topic("orders").is_ok());
        assert!(super::validate_topic("orders/eu.v2_x-y").is_ok());
        assert!(super::validate_topic("").is_err());
        assert!(super::validate_topic("a b").is_err());
    }
}
