//! OpenTelemetry export (`--otlp-endpoint`, off by default): a background
//! task follows the recorder's feed of stored invocation records and sends
//! them, in batches of at most [`MAX_BATCH`] at least every second, to an
//! OTLP/HTTP collector as spans (`/v1/traces`) and log records
//! (`/v1/logs`), protobuf-encoded. One request is in flight at a time; a
//! collector that is down or busy (connection error, 429, 502–504) gets the
//! batch again up to [`ATTEMPTS`] times, then the batch is dropped and
//! counted so that the exporter never holds memory or the calls back. The
//! records themselves stay in Wisp's store either way.

mod convert;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use model::InvocationRecord;
use platform::Platform;
use prost::Message;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most invocation records in one export request.
const MAX_BATCH: usize = 512;
/// How often a partial batch is sent.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Tries per batch before it is dropped.
const ATTEMPTS: u32 = 3;
/// Time allowed for one export request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to export: the collector's base URL (the signal paths are
/// added to it) and extra request headers (an API key, say).
#[derive(Clone, Debug)]
pub struct OtlpConfig {
    traces_url: reqwest::Url,
    logs_url: reqwest::Url,
    headers: HeaderMap,
}

impl OtlpConfig {
    /// Checks `endpoint` (an `http://` or `https://` base URL such as
    /// `http://127.0.0.1:4318`; a trailing `/v1/traces` or `/v1/logs` is
    /// accepted and dropped) and `headers` (`name=value` each).
    pub fn new(endpoint: &str, headers: &[String]) -> anyhow::Result<Self> {
        let mut base = endpoint.trim().trim_end_matches('/').to_string();
        for signal in ["/v1/traces", "/v1/logs"] {
            if let Some(stripped) = base.strip_suffix(signal) {
                base = stripped.to_string();
            }
        }
        let url = reqwest::Url::parse(&base)
            .with_context(|| format!("--otlp-endpoint {endpoint:?} is not a URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(anyhow!(
                "--otlp-endpoint: credentials in the URL would be written to the log; send them as a header (--otlp-header authorization=...)"
            ));
        }
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(anyhow!(
                "--otlp-endpoint {endpoint:?}: expected http://host:port or https://host (an OTLP/HTTP collector, e.g. http://127.0.0.1:4318)"
            ));
        }
        let signal_url = |path: &str| {
            reqwest::Url::parse(&format!("{base}{path}"))
                .with_context(|| format!("--otlp-endpoint {endpoint:?}"))
        };
        let mut header_map = HeaderMap::new();
        for pair in headers.iter().filter(|h| !h.trim().is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("--otlp-header {pair:?}: expected name=value"))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .with_context(|| format!("--otlp-header {pair:?}: bad header name"))?;
            let value = HeaderValue::from_str(value.trim())
                .with_context(|| format!("--otlp-header {pair:?}: bad header value"))?;
            header_map.append(name, value);
        }
        Ok(Self {
            traces_url: signal_url("/v1/traces")?,
            logs_url: signal_url("/v1/logs")?,
            headers: header_map,
        })
    }
}

/// The running exporter; [`Exporter::finish`] sends what is left.
pub struct Exporter {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    stats: Arc<Stats>,
}

/// What the exporter did, for the shutdown log line.
#[derive(Default)]
struct Stats {
    exported: AtomicU64,
    dropped: AtomicU64,
    /// Received from the feed, neither exported nor dropped yet (waiting
    /// for a batch, or in a request that has not been answered).
    in_hand: AtomicU64,
}

impl Exporter {
    /// Starts following `platform`'s stored invocations.
    pub fn start(platform: &Platform, config: OtlpConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the OTLP client")?;
        let (stop, stop_rx) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let sender = Sender {
            http,
            config,
            stats: stats.clone(),
        };
        let feed = platform.subscribe_invocations();
        let task = tokio::spawn(follow(feed, sender, stop_rx));
        Ok(Self { stop, task, stats })
    }

    /// Sends the records stored so far (call after the recorder's flush),
    /// waiting at most `grace`; what is still unsent then is dropped.
    pub async fn finish(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            let unsent = self.stats.in_hand.swap(0, Ordering::Relaxed);
            self.stats.dropped.fetch_add(unsent, Ordering::Relaxed);
            tracing::warn!(
                records = unsent,
                "OTLP export: not sent within the shutdown grace period"
            );
        }
        tracing::info!(
            exported = self.stats.exported.load(Ordering::Relaxed),
            dropped = self.stats.dropped.load(Ordering::Relaxed),
            "OTLP export finished"
        );
    }
}

async fn follow(
    mut feed: tokio::sync::broadcast::Receiver<InvocationRecord>,
    sender: Sender,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: Vec<InvocationRecord> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = feed.recv() => match received {
                Ok(record) => {
                    sender.stats.in_hand.fetch_add(1, Ordering::Relaxed);
                    pending.push(record);
                    if pending.len() >= MAX_BATCH {
                        sender.send(std::mem::take(&mut pending)).await;
                    }
                }
                Err(RecvError::Lagged(skipped)) => sender.dropped(skipped, "the exporter fell behind the recorder"),
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                if !pending.is_empty() {
                    sender.send(std::mem::take(&mut pending)).await;
                }
            }
            _ = stop.changed() => break,
        }
    }
    // Shutting down: what the recorder already stored is still in the feed.
    loop {
        match feed.try_recv() {
            Ok(record) => {
                sender.stats.in_hand.fetch_add(1, Ordering::Relaxed);
                pending.push(record);
            }
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(skipped)) => {
                sender.dropped(skipped, "the exporter fell behind the recorder")
            }
            Err(_) => break,
        }
    }
    for batch in pending.chunks(MAX_BATCH) {
        sender.send(batch.to_vec()).await;
    }
}

struct Sender {
    http: reqwest::Client,
    config: OtlpConfig,
    stats: Arc<Stats>,
}

impl Sender {
    /// Exports one batch: spans first, then the log lines.
    async fn send(&self, records: Vec<InvocationRecord>) {
        let count = records.len() as u64;
        let sent = self.export(&records).await;
        // Saturating: `finish` may have counted this batch as dropped already.
        let _ = self
            .stats
            .in_hand
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(count))
            });
        match sent {
            Ok(()) => {
                self.stats.exported.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => self.dropped(count, &error),
        }
    }

    /// The spans of `records` (an error drops the batch), then their log
    /// lines (an error there only loses the lines).
    async fn export(&self, records: &[InvocationRecord]) -> Result<(), String> {
        let spans = convert::trace_request(records).encode_to_vec();
        self.post(&self.config.traces_url, spans).await?;
        let logs = convert::logs_request(records);
        if !logs.resource_logs.is_empty() {
            if let Err(error) = self.post(&self.config.logs_url, logs.encode_to_vec()).await {
                tracing::warn!(records = records.len(), %error, "OTLP export: log lines dropped");
            }
        }
        Ok(())
    }

    async fn post(&self, url: &reqwest::Url, body: Vec<u8>) -> Result<(), String> {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(250 << (attempt - 2))).await;
            }
            let sent = self
                .http
                .post(url.clone())
                .headers(self.config.headers.clone())
                .header(CONTENT_TYPE, "application/x-protobuf")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    last = format!("{url} answered {status}");
                    let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                    if !retryable {
                        return Err(last);
                    }
                }
                Err(error) => last = format!("{url}: {error}"),
            }
        }
        Err(last)
    }

    fn dropped(&self, records: u64, why: &str) {
        self.stats.dropped.fetch_add(records, Ordering::Relaxed);
        tracing::warn!(
            records,
            reason = why,
            "OTLP export: invocations not exported"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_and_signal_paths_added() {
        let config = OtlpConfig::new("http://127.0.0.1:4318/", &[]).unwrap();
        assert_eq!(
            config.traces_url.as_str(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(config.logs_url.as_str(), "http://127.0.0.1:4318/v1/logs");
        let config = OtlpConfig::new(
            "https://otel.example.com/otlp/v1/traces",
            &["x-api-key = secret".to_string()],
        )
        .unwrap();
        assert_eq!(
            config.logs_url.as_str(),
            "https://otel.example.com/otlp/v1/logs"
        );
        assert_eq!(config.headers["x-api-key"], "secret");
        for bad in [
            "",
            "127.0.0.1:4318",
            "grpc://collector:4317",
            "http://",
            "http://user:secret@collector:4318",
        ] {
            assert!(OtlpConfig::new(bad, &[]).is_err(), "{bad:?} accepted");
        }
        assert!(OtlpConfig::new("http://c:4318", &["no-equals".to_string()]).is_err());
    }
}
