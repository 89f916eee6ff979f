//! Live logs: the lines a running call writes, sent to whoever follows the
//! team's live tail while the call still runs. A call gets a line watcher
//! only while someone is listening (no cost otherwise); it splits the
//! runtime's writes into lines, redacts the function's secret values, reads
//! JSON lines as structured, and sends each line at once, in write order.
//! A listener that falls behind skips lines (the stored record keeps them
//! all); one that connects mid-call sees the lines written from then on.
//! In a cluster with `--nats-url`, lines also travel to the other nodes'
//! tails (`crate::cluster::LiveRelay`).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use model::{LiveLogLine, StructuredLog};
use tokio::sync::broadcast;

use crate::cluster::LiveRelay;
use crate::registry::LiveFunction;

/// Lines a slow listener may fall behind before it skips some.
const CAPACITY: usize = 4096;
/// A line longer than this is sent in pieces of this size.
const MAX_LINE_BYTES: usize = 8 * 1024;

/// A line on its way, with the team it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct TeamLine {
    pub team_id: i64,
    pub line: Arc<LiveLogLine>,
}

/// Where running calls send their lines.
pub(crate) struct LiveLogs {
    sender: broadcast::Sender<TeamLine>,
    /// The other nodes' tails (`--nats-url`), once connected.
    relay: OnceLock<Arc<LiveRelay>>,
    /// Invocation-record tails open on this node.
    record_tails: Arc<AtomicUsize>,
}

impl Default for LiveLogs {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            relay: OnceLock::new(),
            record_tails: Arc::default(),
        }
    }
}

/// Counts an open invocation-record tail while it lives.
pub(crate) struct TailGuard(Arc<AtomicUsize>);

impl Drop for TailGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LiveLogs {
    pub fn subscribe(&self) -> broadcast::Receiver<TeamLine> {
        self.sender.subscribe()
    }

    /// An invocation-record tail opens: counted until the guard drops, and
    /// given the other nodes' records when a relay runs.
    pub fn record_tail(
        &self,
    ) -> (
        TailGuard,
        Option<broadcast::Receiver<model::InvocationRecord>>,
    ) {
        self.record_tails.fetch_add(1, Ordering::Relaxed);
        let remote = self.relay.get().map(|r| r.subscribe_remote_records());
        (TailGuard(self.record_tails.clone()), remote)
    }

    /// Line tails open on this node.
    pub fn local_listeners(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Invocation-record tails open on this node.
    pub fn record_listeners(&self) -> usize {
        self.record_tails.load(Ordering::Relaxed)
    }

    pub fn set_relay(&self, relay: Arc<LiveRelay>) -> Result<(), Arc<LiveRelay>> {
        self.relay.set(relay)
    }

    /// A line of another node's call, for this node's tails.
    pub fn inject(&self, line: TeamLine) {
        let _ = self.sender.send(line);
    }

    /// A watcher for one call of `live`, or none while nobody listens.
    pub fn watcher(
        &self,
        live: &LiveFunction,
        invocation_id: &str,
    ) -> Option<Arc<dyn runtime::LogWatcher>> {
        let relay = self.relay.get().filter(|r| r.wanted()).cloned();
        if self.sender.receiver_count() == 0 && relay.is_none() {
            return None;
        }
        Some(Arc::new(LineWatcher {
            sender: self.sender.clone(),
            relay,
            team_id: live.team_id,
            function: live.name.clone(),
            invocation_id: invocation_id.to_string(),
            secrets: live.secret_values.clone(),
            partial: Mutex::default(),
            seq: AtomicU32::new(0),
        }))
    }
}

/// Turns one call's log writes into lines.
struct LineWatcher {
    sender: broadcast::Sender<TeamLine>,
    /// Set while another node's tail wants this node's lines.
    relay: Option<Arc<LiveRelay>>,
    team_id: i64,
    function: String,
    invocation_id: String,
    secrets: Vec<String>,
    /// Written since the last newline.
    partial: Mutex<Vec<u8>>,
    seq: AtomicU32,
}

impl LineWatcher {
    fn send(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches('\r');
        let text = if self.secrets.is_empty() {
            text.to_string()
        } else {
            crate::secrets::redact(text, &self.secrets)
        };
        let line = LiveLogLine {
            invocation_id: self.invocation_id.clone(),
            function: self.function.clone(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            at: chrono::Utc::now(),
            structured: StructuredLog::parse(&text),
            text,
        };
        if let Some(relay) = &self.relay {
            relay.line(self.team_id, &line);
        }
        // Nobody listening any more is fine.
        let _ = self.sender.send(TeamLine {
            team_id: self.team_id,
            line: Arc::new(line),
        });
    }

    fn partial(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.partial.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl runtime::LogWatcher for LineWatcher {
    fn write(&self, bytes: &[u8]) {
        let mut partial = self.partial();
        partial.extend_from_slice(bytes);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            self.send(&line[..line.len() - 1]);
        }
        while partial.len() > MAX_LINE_BYTES {
            let piece: Vec<u8> = partial.drain(..MAX_LINE_BYTES).collect();
            self.send(&piece);
        }
    }
}

impl Drop for LineWatcher {
    /// The call is over: a last line without its newline goes out too.
    fn drop(&mut self) {
        let rest = std::mem::take(&mut *self.partial());
        if !rest.is_empty() {
            self.send(&rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::LogWatcher as _;

    fn watcher(sender: &broadcast::Sender<TeamLine>, secrets: &[&str]) -> LineWatcher {
        LineWatcher {
            sender: sender.clone(),
            relay: None,
            team_id: 7,
            function: "f".into(),
            invocation_id: "i".into(),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            partial: Mutex::default(),
            seq: AtomicU32::new(0),
        }
    }

    #[test]
    fn writes_become_redacted_lines_in_order() {
        let (sender, mut receiver) = broadcast::channel(16);
        let w = watcher(&sender, &["hunter2"]);
        w.write(b"first li");
        w.write(b"ne\r\n{\"level\":\"error\",\"msg\":\"pw hunter2\"}\nlast");
        drop(w);
        let mut lines = Vec::new();
        while let Ok(line) = receiver.try_recv() {
            assert_eq!(line.team_id, 7);
            lines.push((
                line.line.seq,
                line.line.text.clone(),
                line.line.structured.clone(),
            ));
        }
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].1, "first line");
        assert!(!lines[1].1.contains("hunter2"), "{lines:?}");
        let structured = lines[1].2.clone().unwrap();
        assert_eq!(structured.level.as_deref(), Some("error"));
        assert_eq!(lines[2], (2, "last".to_string(), None));
    }

    #[test]
    fn long_lines_go_out_in_pieces() {
        let (sender, mut receiver) = broadcast::channel(16);
        let w = watcher(&sender, &[]);
        w.write(&vec![b'x'; MAX_LINE_BYTES + 10]);
        assert_eq!(receiver.try_recv().unwrap().line.text.len(), MAX_LINE_BYTES);
        drop(w);
        assert_eq!(receiver.try_recv().unwrap().line.text.len(), 10);
    }
}
