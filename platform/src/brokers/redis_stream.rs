//! Redis stream triggers, read through a consumer group (`group`, default
//! `wisp-<trigger id>`, created at the stream's end with MKSTREAM). Each
//! node reads as its own consumer (its node identity), so entries
//! it had not acknowledged when it stopped are delivered again when it
//! starts: first this consumer's pending entries, then new ones with
//! `XREADGROUP ... BLOCK ... >`. The consumer name is the node identity, so
//! the nodes of a cluster share the group; entries another node left
//! unacknowledged for a minute (it died) are claimed by a live one. An entry is `XACK`ed after a successful
//! call or a dead letter; a failed one stays pending and is re-claimed
//! (`XCLAIM`) after the backoff delay, its delivery count being the attempt
//! number. The payload is the entry's `payload` (or `data`, `body`) field,
//! else all its fields as a JSON object; the message id is the entry id.
//! Deleting the trigger destroys the group when Wisp named it. The broker
//! host must be allowed by `--broker-hosts` before each connection; the
//! status says what failed in fixed words (the cause is logged).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use model::{Trigger, TriggerSpec};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::triggers::{
    reconnect_delay, redis_address, report_unreachable, ExternalMessage, TriggerSource, Verdict,
    CONNECT_TIMEOUT, STATUS_FAILED, STATUS_NOT_ALLOWED,
};
use crate::{Platform, PlatformError};

/// Longest single `XREADGROUP` block, so due retries are not held up.
const MAX_BLOCK: Duration = Duration::from_secs(2);
/// Entries read per round trip.
const BATCH: usize = 16;
/// Fields taken as the payload, in order.
const PAYLOAD_FIELDS: [&str; 3] = ["payload", "data", "body"];

pub(crate) struct RedisSource;

impl TriggerSource for RedisSource {
    fn validate(&self, spec: &TriggerSpec) -> Result<(), PlatformError> {
        if let TriggerSpec::Redis { url, stream, group } = spec {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(PlatformError::invalid(
                    "url must look like redis://host:port[/db]",
                ));
            }
            redis::Client::open(url.as_str())
                .map_err(|e| PlatformError::invalid(format!("bad Redis url: {e}")))?;
            if stream.trim().is_empty() {
                return Err(PlatformError::invalid("stream must not be empty"));
            }
            if group.as_deref().is_some_and(|g| g.trim().is_empty()) {
                return Err(PlatformError::invalid("group must not be empty"));
            }
        }
        Ok(())
    }

    fn start(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        matches!(trigger.spec, TriggerSpec::Redis { .. })
            .then(|| tokio::spawn(run(platform.clone(), trigger.clone())))
    }

    /// Destroys the consumer group Wisp named for the trigger (with its
    /// pending-entries list). A group the trigger's creator named is left
    /// alone: other readers may share it.
    fn retire(&self, platform: &Platform, trigger: &Trigger) -> Option<JoinHandle<()>> {
        let TriggerSpec::Redis {
            url,
            stream,
            group: None,
        } = trigger.spec.clone()
        else {
            return None;
        };
        let group = format!("wisp-{}", trigger.id);
        let platform = platform.clone();
        Some(tokio::spawn(async move {
            let destroyed: Result<i64, String> = match allowed_connect(&platform, &url).await {
                Ok(mut conn) => redis::cmd("XGROUP")
                    .arg("DESTROY")
                    .arg(&stream)
                    .arg(&group)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match destroyed {
                Ok(1) => tracing::info!(%stream, %group, "Redis consumer group destroyed"),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%stream, %group, %error, "could not destroy a Redis consumer group the trigger no longer uses")
                }
            }
        }))
    }

    /// The group Wisp named stays while the updated trigger reads the same
    /// stream through it; it is destroyed when the trigger moves to another
    /// stream, to a group the user names, or to another kind. (The same
    /// stream under another URL keeps it: it may be the same server.)
    fn replace(
        &self,
        platform: &Platform,
        old: &Trigger,
        new: &TriggerSpec,
    ) -> Option<JoinHandle<()>> {
        let TriggerSpec::Redis {
            stream,
            group: None,
            ..
        } = &old.spec
        else {
            return None;
        };
        let stays = matches!(new, TriggerSpec::Redis { stream: s, group: None, .. } if s == stream);
        if stays {
            None
        } else {
            self.retire(platform, old)
        }
    }
}

/// Where one trigger reads from.
struct Reader {
    stream: String,
    group: String,
    consumer: String,
    /// Entries that failed, by id, with when to claim them again.
    retries: BTreeMap<String, Instant>,
}

async fn run(platform: Platform, trigger: Trigger) {
    let TriggerSpec::Redis { url, stream, group } = &trigger.spec else {
        return;
    };
    let mut reader = Reader {
        stream: stream.clone(),
        group: group
            .clone()
            .unwrap_or_else(|| format!("wisp-{}", trigger.id)),
        consumer: consumer_name(&platform),
        retries: BTreeMap::new(),
    };
    let mut failures = 0u32;
    loop {
        platform.set_trigger_status(&trigger.id, "connecting");
        let started = Instant::now();
        if let Err(error) = platform.broker_allowed(&trigger.spec).await {
            tracing::warn!(trigger = %trigger.id, %url, %error, "Redis broker not allowed; not connecting");
            platform.set_trigger_status(&trigger.id, STATUS_NOT_ALLOWED);
        } else {
            // Reached only once the group exists: before that, any port
            // that accepts TCP "connects", and its reply is not Redis's.
            let mut reached = false;
            let error = match connect(url).await {
                Ok(mut conn) => {
                    let result = consume(
                        &platform,
                        &trigger,
                        &mut conn,
                        &mut reader,
                        &mut failures,
                        &mut reached,
                    )
                    .await;
                    result
                        .err()
                        .map_or_else(|| "stopped".to_string(), |e| e.to_string())
                }
                Err(e) => format!("cannot connect: {e}"),
            };
            tracing::warn!(trigger = %trigger.id, %url, %error, "Redis consumer stopped; reconnecting");
            if reached {
                platform.set_trigger_status(&trigger.id, STATUS_FAILED);
            } else {
                report_unreachable(&platform, &trigger.id, started).await;
            }
        }
        tokio::time::sleep(reconnect_delay(failures)).await;
        failures = failures.saturating_add(1);
    }
}

/// A connection to the Redis at `url` when `--broker-hosts` allows it.
async fn allowed_connect(platform: &Platform, url: &str) -> Result<MultiplexedConnection, String> {
    let (host, port) = redis_address(url)?;
    platform.broker_host_allowed(&host, port).await?;
    connect(url).await.map_err(|e| e.to_string())
}

/// This node's consumer name: its node identity (stable across restarts
/// of the same node, distinct per node of a cluster).
fn consumer_name(platform: &Platform) -> String {
    platform.node_id().to_string()
}

/// Entries another consumer (a node that died, or left the cluster) has
/// held unacknowledged for this long are taken over by this one.
const ORPHAN_IDLE: Duration = Duration::from_secs(60);
/// How often other consumers' idle entries are looked for.
const ORPHAN_CHECK_EVERY: Duration = Duration::from_secs(15);

/// Claims other consumers' entries idle for [`ORPHAN_IDLE`] (their node is
/// gone) and makes them due here. Two nodes racing for one entry: the
/// minimum idle time lets only the first claim win.
async fn adopt_orphans(
    conn: &mut MultiplexedConnection,
    reader: &mut Reader,
) -> redis::RedisResult<()> {
    let idle = ORPHAN_IDLE.as_millis() as u64;
    let pending: StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(&reader.stream)
        .arg(&reader.group)
        .arg("IDLE")
        .arg(idle)
        .arg("-")
        .arg("+")
        .arg(BATCH)
        .query_async(conn)
        .await?;
    let now = Instant::now();
    for entry in pending.ids {
        if entry.consumer == reader.consumer {
            continue;
        }
        let claimed: StreamClaimReply = redis::cmd("XCLAIM")
            .arg(&reader.stream)
            .arg(&reader.group)
            .arg(&reader.consumer)
            .arg(idle)
            .arg(&entry.id)
            .query_async(conn)
            .await
            .unwrap_or_default();
        if !claimed.ids.is_empty() {
            tracing::info!(stream = %reader.stream, entry = %entry.id, from = %entry.consumer, "took over an entry another node left unacknowledged");
            reader.retries.entry(entry.id).or_insert(now);
        }
    }
    Ok(())
}

async fn connect(url: &str) -> redis::RedisResult<MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    // XREADGROUP blocks on the server: no client-side response timeout.
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

async fn consume(
    platform: &Platform,
    trigger: &Trigger,
    conn: &mut MultiplexedConnection,
    reader: &mut Reader,
    failures: &mut u32,
    reached: &mut bool,
) -> redis::RedisResult<()> {
    // Bounded like the connection: a port that accepts and stays silent
    // fails as fast as a closed one.
    let mut create = redis::cmd("XGROUP");
    create
        .arg("CREATE")
        .arg(&reader.stream)
        .arg(&reader.group)
        .arg("$")
        .arg("MKSTREAM");
    let create = create.query_async(conn);
    let created: redis::RedisResult<()> = match tokio::time::timeout(CONNECT_TIMEOUT, create).await
    {
        Ok(created) => created,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no answer to XGROUP CREATE",
        )
        .into()),
    };
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => {}
        other => other?,
    }
    *reached = true;
    // What this consumer had not acknowledged (a restart or a lost
    // connection) is due now unless a retry delay is already running.
    let pending: StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(&reader.stream)
        .arg(&reader.group)
        .arg("-")
        .arg("+")
        .arg(10_000)
        .arg(&reader.consumer)
        .query_async(conn)
        .await?;
    let now = Instant::now();
    for entry in pending.ids {
        reader.retries.entry(entry.id).or_insert(now);
    }
    platform.set_trigger_status(&trigger.id, "connected");
    *failures = 0;
    tracing::info!(trigger = %trigger.id, stream = %reader.stream, group = %reader.group, consumer = %reader.consumer, "reading Redis stream");
    let mut orphans_checked = Instant::now() - ORPHAN_CHECK_EVERY;
    loop {
        if orphans_checked.elapsed() >= ORPHAN_CHECK_EVERY {
            orphans_checked = Instant::now();
            adopt_orphans(conn, reader).await?;
        }
        retry_due(platform, trigger, conn, reader).await?;
        let block = reader
            .retries
            .values()
            .min()
            .map_or(MAX_BLOCK, |due| {
                due.saturating_duration_since(Instant::now())
            })
            .clamp(Duration::from_millis(1), MAX_BLOCK);
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&reader.group)
            .arg(&reader.consumer)
            .arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(&reader.stream)
            .arg(">")
            .query_async(conn)
            .await?;
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            handle(platform, trigger, conn, reader, entry, 1).await?;
        }
    }
}

/// Claims and delivers again the failed entries whose delay is over.
async fn retry_due(
    platform: &Platform,
    trigger: &Trigger,
    conn: &mut MultiplexedConnection,
    reader: &mut Reader,
) -> redis::RedisResult<()> {
    let now = Instant::now();
    let due: Vec<String> = reader
        .retries
        .iter()
        .filter(|(_, at)| **at <= now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in due {
        reader.retries.remove(&id);
        let claimed: StreamClaimReply = redis::cmd("XCLAIM")
            .arg(&reader.stream)
            .arg(&reader.group)
            .arg(&reader.consumer)
            .arg(0)
            .arg(&id)
            .query_async(conn)
            .await?;
        let Some(entry) = claimed.ids.into_iter().next() else {
            // Deleted from the stream (or acknowledged elsewhere): nothing to deliver.
            let _: i64 = redis::cmd("XACK")
                .arg(&reader.stream)
                .arg(&reader.group)
                .arg(&id)
                .query_async(conn)
                .await?;
            continue;
        };
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&reader.stream)
            .arg(&reader.group)
            .arg(&id)
            .arg(&id)
            .arg(1)
            .query_async(conn)
            .await?;
        let attempt = pending.ids.first().map_or(1, |p| p.times_delivered.max(1));
        handle(platform, trigger, conn, reader, entry, attempt).await?;
    }
    Ok(())
}

async fn handle(
    platform: &Platform,
    trigger: &Trigger,
    conn: &mut MultiplexedConnection,
    reader: &mut Reader,
    entry: StreamId,
    attempt: usize,
) -> redis::RedisResult<()> {
    let (payload, content_type) = payload_of(&entry.map);
    let message = ExternalMessage {
        subject: reader.stream.clone(),
        message_id: entry.id.clone(),
        payload,
        content_type,
        attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
        traceparent: entry
            .map
            .get(crate::trace_context::TRACEPARENT)
            .map(|v| String::from_utf8_lossy(&value_bytes(v)).into_owned()),
    };
    match platform.deliver_message(trigger, message).await {
        Verdict::Ack | Verdict::DeadLettered => {
            let _: i64 = redis::cmd("XACK")
                .arg(&reader.stream)
                .arg(&reader.group)
                .arg(&entry.id)
                .query_async(conn)
                .await?;
        }
        Verdict::Retry(delay) => {
            reader.retries.insert(entry.id, Instant::now() + delay);
        }
    }
    Ok(())
}

/// The payload field, else every field as a JSON object.
fn payload_of(fields: &HashMap<String, Value>) -> (Bytes, Option<String>) {
    for name in PAYLOAD_FIELDS {
        if let Some(value) = fields.get(name) {
            return (Bytes::from(value_bytes(value)), None);
        }
    }
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| {
            let text = String::from_utf8_lossy(&value_bytes(v)).into_owned();
            (k.clone(), serde_json::Value::String(text))
        })
        .collect();
    let body = serde_json::to_vec(&object).unwrap_or_default();
    (Bytes::from(body), Some("application/json".to_string()))
}

fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.clone().into_bytes(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Nil => Vec::new(),
        other => format!("{other:?}").into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_field_or_whole_entry() {
        let mut fields = HashMap::new();
        fields.insert("kind".to_string(), Value::BulkString(b"order".to_vec()));
        let (body, ct) = payload_of(&fields);
        assert_eq!(body.as_ref(), br#"{"kind":"order"}"#);
        assert_eq!(ct.as_deref(), Some("application/json"));
        fields.insert("data".to_string(), Value::BulkString(b"raw".to_vec()));
        assert_eq!(payload_of(&fields).0.as_ref(), b"raw");
        fields.insert("payload".to_string(), Value::BulkString(b"first".to_vec()));
        assert_eq!(payload_of(&fields), (Bytes::from_static(b"first"), None));
    }

    #[test]
    fn specs_are_checked() {
        let spec = |url: &str, stream: &str| TriggerSpec::Redis {
            url: url.into(),
            stream: stream.into(),
            group: None,
        };
        assert!(RedisSource
            .validate(&spec("redis://127.0.0.1:6379", "orders"))
            .is_ok());
        assert!(RedisSource.validate(&spec("nats://x", "orders")).is_err());
        assert!(RedisSource
            .validate(&spec("redis://127.0.0.1:6379", " "))
            .is_err());
    }
}
