//! The invocation recorder: calls hand what they finished with to a queue
//! ([`Entry`]: the writer, not the call's worker, turns it into the
//! record); one background task writes them in batches (after the first record it
//! lets a 50 ms window fill, then stores everything queued in one
//! transaction, together with the hourly usage rollups, on a connection of
//! its own: [`sqlite`] for the SQLite file, [`sql`] over the pool
//! otherwise), so recording never sits on a request's hot path and the
//! database sees few, large writes. A flush is written at once. Stored
//! records are also broadcast for live log tails. A record whose id is
//! already stored is skipped and logged: one bad row never rolls back the
//! records batched with it (nor their usage rollups).
//!
//! A failed write is never silent and loses nothing while the process
//! lives (within a bound): the batch is kept in a [`health::Spill`] and
//! retried with backoff ahead of newer records until it is written; the
//! failures, the records waiting and their age, and any records dropped
//! beyond the bound are reported by [`Recorder::health`] (`/healthz`,
//! `/api/v1/status`, the dashboard) and logged.

mod columns;
mod health;
mod pg_rows;
mod sql;
mod sqlite;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use model::{InvocationRecord, RecorderHealth};

use crate::db::Backend;
use crate::hosts::OutboundCallRecord;
use crate::invoke::FinishedCall;
use health::{Spill, WriterHealth};
use sql::{SqlWriter, BATCH_ROWS};
use sqlite::SqliteWriter;
use sqlx::AnyPool;
use tokio::sync::{broadcast, oneshot, Notify};

/// Records (and, apart, call edges) waiting to be written before producers
/// start to wait (edges are dropped). Producers are background tasks, never
/// the request itself.
const QUEUE_CAPACITY: usize = 65_536;
/// Records stored in one transaction:
/// every commit rewrites the B-trees' hot pages into the WAL, so fewer,
/// larger transactions write less.
const TRANSACTION_ROWS: usize = 5 * BATCH_ROWS;
/// How long the writer lets records gather after the first one before it
/// writes them (a flush is written at once).
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Live-tail subscribers that fall this far behind skip records.
const BROADCAST_CAPACITY: usize = 1024;

/// The stored columns of an outbound call edge, in binding order.
const CALL_COLUMNS: &str = "invocation_id, function_name, target_kind, target, method, \
     status_code, ok, duration_us, at";
const CALL_COLUMN_COUNT: usize = column_count(CALL_COLUMNS);

/// How many names a comma-separated column list holds.
const fn column_count(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut count, mut i) = (1, 0);
    while i < bytes.len() {
        if bytes[i] == b',' {
            count += 1;
        }
        i += 1;
    }
    count
}

/// What the recorder is handed: a finished call, turned into its record by
/// the writer (off the call's worker), or a record built elsewhere.
pub(crate) enum Entry {
    Finished(FinishedCall),
    Record(InvocationRecord),
}

impl Entry {
    fn into_record(self) -> InvocationRecord {
        match self {
            Entry::Finished(call) => call.into_record(),
            Entry::Record(record) => record,
        }
    }
}

impl From<FinishedCall> for Entry {
    fn from(call: FinishedCall) -> Self {
        Entry::Finished(call)
    }
}

impl From<InvocationRecord> for Entry {
    fn from(record: InvocationRecord) -> Self {
        Entry::Record(record)
    }
}

/// What producers have handed over and the writer has not taken yet.
#[derive(Default)]
struct Inbox {
    entries: Vec<Entry>,
    /// When the oldest of `entries` was queued.
    since: Option<Instant>,
    calls: Vec<OutboundCallRecord>,
    /// Flushes waiting for everything queued before them.
    waiters: Vec<oneshot::Sender<()>>,
    /// Every recorder handle is gone: store what is left and stop.
    closed: bool,
    /// The writer is gone (it panicked): nothing queued will be stored.
    stopped: bool,
}

impl Inbox {
    /// Nothing to store: the next entry or edge must wake the writer.
    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.calls.is_empty()
    }
}

/// The queue between the calls and the writer: one short lock per record
/// (a push into a vector that was sized for the last window, no
/// allocation), taken whole by the writer once per batch window. A channel
/// of boxed messages, as before, cost each record a box, a node and the
/// writer's own per-message work, all of it crossing cores
/// (docs/DECISIONS.md #31).
struct Queue {
    inbox: Mutex<Inbox>,
    /// Wakes the writer: the first entry into an empty inbox, a flush, the close.
    wake: Notify,
    /// Ends the writer's batch window early (a flush is waiting).
    hurry: Notify,
    /// Wakes producers waiting for room in a full inbox.
    room: Notify,
    /// What the writer reports (never locked together with `inbox`).
    health: Mutex<WriterHealth>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn health(&self) -> MutexGuard<'_, WriterHealth> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `entry`, or hands it back when the inbox is full (the `Err`
    /// is the entry itself, moved back to the caller, not an error value).
    #[allow(clippy::result_large_err)]
    fn push(&self, entry: Entry) -> Result<(), Entry> {
        let mut inbox = self.lock();
        if inbox.stopped {
            drop(inbox);
            self.health().dropped += 1;
            tracing::error!("invocation recorder stopped; record lost");
            return Ok(());
        }
        if inbox.entries.len() >= QUEUE_CAPACITY {
            return Err(entry);
        }
        if inbox.entries.is_empty() {
            inbox.since = Some(Instant::now());
        }
        let first = inbox.is_empty();
        inbox.entries.push(entry);
        drop(inbox);
        if first {
            self.wake.notify_one();
        }
        Ok(())
    }
}

/// The handle every [`Recorder`] clone shares; the last one dropped closes
/// the queue.
struct Handle(Arc<Queue>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_one();
        self.0.hurry.notify_one();
    }
}

#[derive(Clone)]
pub(crate) struct Recorder {
    queue: Arc<Handle>,
    live: broadcast::Sender<InvocationRecord>,
}

impl Recorder {
    /// Starts the writer for the database behind `db` (`url` is where it
    /// lives).
    pub fn start(db: AnyPool, backend: Backend, url: &str) -> Self {
        Self::with_store(match (backend, SqliteWriter::for_url(url)) {
            (Backend::Sqlite, Some(file)) => Store::Sqlite(file),
            _ => Store::Sql(SqlWriter::new(db, backend)),
        })
    }

    fn with_store(store: Store) -> Self {
        let queue = Arc::new(Queue {
            inbox: Mutex::new(Inbox::default()),
            wake: Notify::new(),
            hurry: Notify::new(),
            room: Notify::new(),
            health: Mutex::new(WriterHealth::default()),
        });
        let (live, _) = broadcast::channel(BROADCAST_CAPACITY);
        tokio::spawn(write_loop(store, queue.clone(), live.clone()));
        Self {
            queue: Arc::new(Handle(queue)),
            live,
        }
    }

    /// Queues a record; waits only while [`QUEUE_CAPACITY`] records are
    /// already waiting to be stored.
    pub async fn record(&self, entry: impl Into<Entry>) {
        let queue = &self.queue.0;
        let mut entry = entry.into();
        loop {
            // Made before looking: a writer that takes the inbox after the
            // look still wakes this wait.
            let room = queue.room.notified();
            match queue.push(entry) {
                Ok(()) => return,
                Err(back) => entry = back,
            }
            room.await;
        }
    }

    /// Queues an outbound call of a running function (never waits; under
    /// extreme backlog the edge is dropped and logged).
    pub fn record_call(&self, call: OutboundCallRecord) {
        let queue = &self.queue.0;
        let mut inbox = queue.lock();
        if inbox.calls.len() >= QUEUE_CAPACITY || inbox.stopped {
            drop(inbox);
            tracing::warn!("recorder backlog full or stopped; outbound call edge dropped");
            return;
        }
        let first = inbox.is_empty();
        inbox.calls.push(call);
        drop(inbox);
        if first {
            queue.wake.notify_one();
        }
    }

    /// Waits until everything queued before this call is stored.
    pub async fn flush(&self) {
        let queue = &self.queue.0;
        let (done, wait) = oneshot::channel();
        {
            let mut inbox = queue.lock();
            if inbox.stopped {
                return;
            }
            inbox.waiters.push(done);
        }
        queue.wake.notify_one();
        queue.hurry.notify_one();
        let _ = wait.await;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<InvocationRecord> {
        self.live.subscribe()
    }

    /// How recording is doing: records waiting and their age, failed
    /// writes, records dropped, the last error.
    pub fn health(&self) -> RecorderHealth {
        let queue = &self.queue.0;
        let (queued, since) = {
            let inbox = queue.lock();
            (inbox.entries.len(), inbox.since)
        };
        queue.health().report(queued, since)
    }
}

/// Marks the queue stopped should the writer end without being closed (a
/// panic), so that producers stop waiting for it.
struct StopOnExit(Arc<Queue>);

impl Drop for StopOnExit {
    fn drop(&mut self) {
        let mut inbox = self.0.lock();
        inbox.stopped = true;
        inbox.waiters.clear();
        drop(inbox);
        self.0.room.notify_waiters();
    }
}

async fn write_loop(
    mut store: Store,
    queue: Arc<Queue>,
    live: broadcast::Sender<InvocationRecord>,
) {
    let _stop = StopOnExit(queue.clone());
    let mut capacity = 64;
    let mut spill = Spill::new(health::SPILL_MAX_RECORDS, health::SPILL_MAX_BYTES);
    let mut retry = health::RETRY_FIRST;
    loop {
        if spill.is_empty() {
            // Park until an entry arrives after a quiet spell...
            queue.wake.notified().await;
            // ...then let the batch window fill before looking again.
            // Producers wake the writer only for the first entry into an
            // empty inbox, so under load it wakes once per window, not once
            // per record. A flush (or the close) ends the window at once.
            let waiting = {
                let inbox = queue.lock();
                !inbox.waiters.is_empty() || inbox.closed
            };
            if !waiting {
                tokio::select! {
                    _ = tokio::time::sleep(BATCH_WINDOW) => {}
                    _ = queue.hurry.notified() => {}
                }
            }
        } else {
            // The last write failed: retry after the backoff (a flush or
            // the close retries at once), with whatever arrived meanwhile.
            let waiting = {
                let inbox = queue.lock();
                !inbox.waiters.is_empty() || inbox.closed
            };
            if !waiting {
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = queue.hurry.notified() => {}
                }
            }
        }
        // Take everything queued by now; the inbox gets a vector as large as
        // this window's, so that producers do not grow one push by push.
        let fresh = Vec::with_capacity(capacity);
        let (entries, calls, waiters, closed, since) = {
            let mut inbox = queue.lock();
            (
                std::mem::replace(&mut inbox.entries, fresh),
                std::mem::take(&mut inbox.calls),
                std::mem::take(&mut inbox.waiters),
                inbox.closed,
                inbox.since.take(),
            )
        };
        queue.room.notify_waiters();
        capacity = entries.len().clamp(64, QUEUE_CAPACITY);
        // Kept records go first: they are older.
        let (kept, mut kept_calls, kept_since) = spill.take();
        let since = kept_since.or(since);
        let mut batch: Vec<Entry> = Vec::with_capacity(kept.len() + entries.len());
        batch.extend(kept.into_iter().map(Entry::Record));
        batch.extend(entries);
        kept_calls.extend(calls);
        {
            let mut health = queue.health();
            health.pending = batch.len();
            health.pending_since = since;
            health.spilled = 0;
        }
        let sent = batch.len();
        let outcome = store_batch(&mut store, &live, batch, kept_calls).await;
        let mut health = queue.health();
        match outcome {
            Ok(()) => {
                if let Some(failing_since) = health.written() {
                    tracing::warn!(
                        records = sent,
                        %failing_since,
                        "invocation records are written again"
                    );
                }
                retry = health::RETRY_FIRST;
            }
            Err(failed) => {
                if failed.stored > 0 {
                    // Part of the batch was written before the failure.
                    health.written();
                }
                health.failed(&failed.error);
                let lost = sent.saturating_sub(failed.records.len() + failed.stored);
                let dropped = spill.keep(since, failed.records, failed.calls) + lost;
                health.dropped += dropped as u64;
                tracing::error!(
                    error = %failed.error,
                    kept = spill.len(),
                    dropped,
                    retry_in_ms = retry.as_millis() as u64,
                    "writing invocation records failed; they are kept and retried"
                );
                retry = (retry * 2).min(health::RETRY_MAX);
            }
        }
        health.pending = spill.len();
        health.pending_since = spill.since();
        health.spilled = spill.len();
        drop(health);
        for w in waiters {
            let _ = w.send(());
        }
        if closed {
            if !spill.is_empty() {
                queue.health().dropped += spill.len() as u64;
                tracing::error!(
                    records = spill.len(),
                    "the recorder is closing with records it could not write; they are lost"
                );
            }
            break;
        }
    }
}

/// A write that failed: the error, and what was not stored (to be kept and
/// retried).
pub(super) struct Failed {
    /// The database's message.
    pub error: String,
    pub records: Vec<InvocationRecord>,
    pub calls: Vec<OutboundCallRecord>,
    /// Records of the batch stored before the failure.
    pub stored: usize,
}

/// Writes a taken batch, [`TRANSACTION_ROWS`] records (and [`BATCH_ROWS`]
/// edges) per transaction, in order; at the first failure the rest is not
/// tried: everything not stored comes back.
async fn store_batch(
    store: &mut Store,
    live: &broadcast::Sender<InvocationRecord>,
    entries: Vec<Entry>,
    calls: Vec<OutboundCallRecord>,
) -> Result<(), Failed> {
    let entries = chunks(entries, TRANSACTION_ROWS);
    let calls = chunks(calls, BATCH_ROWS);
    let parts = entries.len().max(calls.len());
    let mut entries = entries.into_iter();
    let mut calls = calls.into_iter();
    let mut stored = 0;
    for _ in 0..parts {
        let part = entries.next().unwrap_or_default();
        let rows = part.len();
        let edges = calls.next().unwrap_or_default();
        if let Err(mut failed) = write_one(store, live, part, edges).await {
            // The rest was not tried.
            failed
                .records
                .extend(entries.flatten().map(Entry::into_record));
            failed.calls.extend(calls.flatten());
            failed.stored += stored;
            return Err(failed);
        }
        stored += rows;
    }
    Ok(())
}

async fn write_one(
    store: &mut Store,
    live: &broadcast::Sender<InvocationRecord>,
    entries: Vec<Entry>,
    calls: Vec<OutboundCallRecord>,
) -> Result<(), Failed> {
    if entries.is_empty() && calls.is_empty() {
        return Ok(());
    }
    // The stored records come back for live tails only when someone listens.
    let tail = live.receiver_count() > 0;
    for r in store.write(entries, calls, tail).await? {
        let _ = live.send(r);
    }
    Ok(())
}

/// `items` in order, at most `size` per part (no copy when one part holds all).
fn chunks<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    if items.len() <= size {
        return vec![items];
    }
    let mut rest = items.into_iter();
    let mut parts = Vec::new();
    loop {
        let part: Vec<T> = rest.by_ref().take(size).collect();
        if part.is_empty() {
            return parts;
        }
        parts.push(part);
    }
}

/// Where the writer stores batches.
enum Store {
    /// The SQLite database file, on a connection of the writer's own.
    Sqlite(SqliteWriter),
    /// Any database through the shared sqlx pool (PostgreSQL).
    Sql(SqlWriter),
}

impl Store {
    /// Stores one batch (records with their rollups, and call edges); the
    /// stored records come back when `keep` asks for them, and on an error
    /// what was not stored.
    async fn write(
        &mut self,
        entries: Vec<Entry>,
        calls: Vec<OutboundCallRecord>,
        keep: bool,
    ) -> Result<Vec<InvocationRecord>, Failed> {
        match self {
            Store::Sqlite(file) => file.write(entries, calls, keep).await,
            Store::Sql(pool) => {
                let records: Vec<InvocationRecord> =
                    entries.into_iter().map(Entry::into_record).collect();
                let stored = pool.write(records, calls).await?;
                Ok(if keep { stored } else { Vec::new() })
            }
        }
    }
}

#[cfg(test)]
mod tests;
