//! MQTT triggers: a QoS 1 subscription to a topic filter (`+` and `#`
//! wildcards) in a persistent session (clean session off, client id
//! `wisp-<trigger id>-<node hash>`), subscribed as the shared subscription
//! `$share/wisp-<trigger id>/<filter>` so the nodes of a cluster each get
//! a share of the messages, with manual acknowledgements: a message is
//! `PUBACK`ed only after a successful call or once it is stored as a dead
//! letter. MQTT has no negative acknowledgement, so a failed call is retried
//! in-process after the backoff delay; an unacknowledged message comes back
//! from the broker after a reconnect or restart (a redelivery of a message
//! still being handled here is recognised and left to the running
//! attempt). The payload is the publish payload; the message id is fresh.
//! Deleting or changing the trigger ends its session on the broker (the
//! changed trigger then subscribes afresh). The broker host must be allowed
//! by `--broker-hosts` before each connection; the status says what failed
//! in fixed words (the cause is logged).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::{Trigger, TriggerSpec};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, Publish, QoS};
use tokio::task::{JoinHandle, JoinSet};

use crate::triggers::{
    deliver_with_retries, mqtt_address, parse_broker_url, reconnect_delay, report_unreachable,
    ExternalMessage, TriggerSource, Verdict, CONNECT_TIMEOUT, STATUS_FAILED, STATUS_NOT_ALLOWED,
};
use crate::{Platform, PlatformError};

/// Largest message accepted from the broker.
const MAX_PACKET_BYTES: usize = 8 * 1024 * 1024;

pub(crate) struct MqttSource;

impl TriggerSource for MqttSource {
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        if let TriggerSpec::Mqtt { url, topic } = spec {
            parse_broker_url(url, &["mqtt", "tcp"], 1883).map_err(PlatformError::invalid)?;
            validate_filter(topic).map_err(PlatformError::invalid)?;
        }
        Ok(())
    }

    fn start(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        let TriggerSpec::Mqtt { url, topic } = &trigger.spec else {
            return None;
        };
        let (host, port) = mqtt_address(url).ok()?;
        let mut options = MqttOptions::new(client_id(&trigger.id, platform.node_id()), host, port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(10))
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
        if let Some((user, pass)) = credentials(url) {
            options.set_credentials(user, pass);
        }
        let (client, events) = AsyncClient::new(options, 64);
        Some(tokio::spawn(run(
            platform.clone(),
            trigger.clone(),
            topic.clone(),
            client,
            events,
        )))
    }

    /// Ends the trigger's persistent session: the broker would otherwise
    /// keep its subscription, and queue every matching QoS 1 message for it,
    /// for good.
    fn retire(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        let TriggerSpec::Mqtt { url, .. } = trigger.spec.clone() else {
            return None;
        };
        let id = trigger.id.clone();
        let platform = platform.clone();
        Some(tokio::spawn(async move {
            match end_session(&platform, &url, &id).await {
                Ok(()) => tracing::info!(trigger = %id, "MQTT session ended"),
                Err(error) => {
                    tracing::warn!(trigger = %id, %url, %error, "an MQTT session the trigger no longer uses is left on the broker")
                }
            }
        }))
    }

    /// Any change (topic or broker) ends the old session before the new task
    /// connects under the same client id: a session still present would
    /// keep the old subscription and never get the new one (the task
    /// subscribes only when the broker has no session for it).
    fn replace(
        &self,
        platform: &Platform,
        old: &Trigger,
        _new: &TriggerSpec,
    ) -> Option<JoinHandle<()>> {
        self.retire(platform, old)
    }
}

/// Connects once under the trigger's client id with a clean session, which
/// makes the broker discard the stored one (MQTT 3.1.1, 3.1.2.4), then
/// disconnects: nothing of the trigger stays on the broker.
async fn end_session(platform: &Platform, url: &str, trigger_id: &str) -> Result<(), String> {
    let (host, port) = mqtt_address(url)?;
    platform.broker_host_allowed(&host, port).await?;
    let mut options = MqttOptions::new(client_id(trigger_id, platform.node_id()), host, port);
    options
        .set_clean_session(true)
        .set_keep_alive(Duration::from_secs(10));
    if let Some((user, pass)) = credentials(url) {
        options.set_credentials(user, pass);
    }
    let (client, mut events) = AsyncClient::new(options, 8);
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut connected = false;
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .map_err(|_| format!("no answer from {url} within 5 s"))?
            .map_err(|e| e.to_string())?;
        match event {
            Event::Incoming(Packet::ConnAck(_)) if !connected => {
                connected = true;
                client.disconnect().await.map_err(|e| e.to_string())?;
            }
            Event::Outgoing(Outgoing::Disconnect) => return Ok(()),
            _ => {}
        }
    }
}

/// A topic filter: `+` is a whole level, `#` the whole last level.
fn validate_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() || filter.len() > 65535 || filter.contains('\0') {
        return Err("topic must be a non-empty MQTT topic filter".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(format!("'#' must be the whole last level of {filter:?}"));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!("'+' must be a whole level of {filter:?}"));
        }
    }
    Ok(())
}

/// A client id stable across restarts of the node (the broker keeps the
/// session), one per node of a cluster: the trigger's id and a hash of the
/// node identity.
fn client_id(trigger_id: &str, node_id: &str) -> String {
    use sha2::Digest as _;
    let node = hex::encode(&sha2::Sha256::digest(node_id.as_bytes())[..4]);
    format!("wisp-{}-{node}", trigger_id.replace('-', ""))
}

/// The filter subscribed to: a shared subscription of the trigger's group
/// (MQTT 5, supported by Mosquitto, EMQX and HiveMQ also for 3.1.1
/// clients), so each message goes to one node of the cluster.
fn shared_filter(trigger_id: &str, topic: &str) -> String {
    format!("$share/wisp-{}/{topic}", trigger_id.replace('-', ""))
}

fn credentials(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let (userinfo, _) = rest.rsplit_once('@')?;
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((user.to_string(), pass.to_string()))
}

async fn run(
    platform: Platform,
    trigger: Trigger,
    topic: String,
    client: AsyncClient,
    mut events: EventLoop,
) {
    // Messages being handled, so a redelivery after a reconnect is not run twice.
    let in_flight: Arc<Mutex<HashSet<u64>>> = Arc::default();
    // Owned here, so stopping the trigger also stops its deliveries.
    let mut tasks = JoinSet::new();
    let mut failures = 0u32;
    // Whether the event loop holds a connection (a ConnAck since the last
    // error); when not, its next poll connects.
    let mut connected = false;
    let mut started = tokio::time::Instant::now();
    platform.set_trigger_status(&trigger.id, "connecting");
    loop {
        while tasks.try_join_next().is_some() {}
        if !connected {
            if let Err(error) = platform.broker_allowed(&trigger.spec).await {
                tracing::warn!(trigger = %trigger.id, %error, "MQTT broker not allowed; not connecting");
                platform.set_trigger_status(&trigger.id, STATUS_NOT_ALLOWED);
                tokio::time::sleep(reconnect_delay(failures)).await;
                failures = failures.saturating_add(1);
                started = tokio::time::Instant::now();
                continue;
            }
        }
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                connected = true;
                failures = 0;
                if ack.session_present {
                    platform.set_trigger_status(&trigger.id, "connected");
                } else {
                    let filter = shared_filter(&trigger.id, &topic);
                    if let Err(e) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                        tracing::error!(trigger = %trigger.id, error = %e, "MQTT subscribe failed");
                    }
                }
                tracing::info!(trigger = %trigger.id, %topic, session_present = ack.session_present, "MQTT connected");
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                {
                    platform.set_trigger_status(
                        &trigger.id,
                        format!("error: the broker refused the subscription to {topic}"),
                    );
                } else {
                    platform.set_trigger_status(&trigger.id, "connected");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                // QoS 0 has no packet id and is never redelivered: no tracking.
                let key = (publish.qos != QoS::AtMostOnce).then(|| message_key(&publish));
                if let Some(key) = key {
                    let fresh = lock(&in_flight).insert(key);
                    if !fresh && publish.dup {
                        tracing::debug!(trigger = %trigger.id, pkid = publish.pkid, "redelivery of a message in progress; skipped");
                        continue;
                    }
                }
                let (platform, trigger, client, in_flight) = (
                    platform.clone(),
                    trigger.clone(),
                    client.clone(),
                    in_flight.clone(),
                );
                tasks.spawn(async move {
                    handle(&platform, &trigger, &client, &publish).await;
                    if let Some(key) = key {
                        lock(&in_flight).remove(&key);
                    }
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(trigger = %trigger.id, error = %e, "MQTT connection failed; reconnecting");
                if connected {
                    platform.set_trigger_status(&trigger.id, STATUS_FAILED);
                } else {
                    report_unreachable(&platform, &trigger.id, started).await;
                }
                connected = false;
                tokio::time::sleep(reconnect_delay(failures)).await;
                failures = failures.saturating_add(1);
                platform.set_trigger_status(&trigger.id, "connecting");
                started = tokio::time::Instant::now();
            }
        }
    }
}

async fn handle(platform: &Platform, trigger: &Trigger, client: &AsyncClient, publish: &Publish) {
    let message = ExternalMessage {
        subject: publish.topic.clone(),
        message_id: crate::invoke::new_invocation_id(),
        payload: publish.payload.clone(),
        content_type: None,
        attempt: 1,
        // MQTT 3.1.1 has no headers (a v5 user property would carry it).
        traceparent: None,
    };
    match deliver_with_retries(platform, trigger, message).await {
        Verdict::Ack | Verdict::DeadLettered => {
            if let Err(e) = client.ack(publish).await {
                tracing::warn!(trigger = %trigger.id, error = %e, "MQTT ack failed; the broker will redeliver");
            }
        }
        // Neither delivered nor stored: leave it unacknowledged for the broker.
        Verdict::Retry(_) => {}
    }
}

/// Identifies a message across a redelivery: packet id, topic and payload.
fn message_key(publish: &Publish) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    publish.pkid.hash(&mut hasher);
    publish.topic.hash(&mut hasher);
    publish.payload.hash(&mut hasher);
    hasher.finish()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters() {
        for ok in ["sensors/#", "sensors/+/temp", "#", "+", "a/b/c", "/leading"] {
            assert!(validate_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["", "sensors/#/x", "sensors/te#", "sen+sors/x"] {
            assert!(validate_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specs_and_ids() {
        let spec = |url: &str, topic: &str| TriggerSpec::Mqtt {
            url: url.into(),
            topic: topic.into(),
        };
        assert!(MqttSource
            .validate(&spec("mqtt://127.0.0.1:1883", "sensors/#"))
            .is_ok());
        assert!(MqttSource.validate(&spec("http://x", "a")).is_err());
        assert_eq!(client_id("01-23", "node-a"), client_id("0123", "node-a"));
        assert!(client_id("01-23", "node-a").starts_with("wisp-0123-"));
        assert_ne!(client_id("01-23", "node-a"), client_id("01-23", "node-b"));
        assert_eq!(shared_filter("01-23", "s/#"), "$share/wisp-0123/s/#");
        assert_eq!(
            credentials("mqtt://u:p@h:1"),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(credentials("mqtt://h:1"), None);
    }
}
