//! The invocation recorder: calls hand their finished records to a channel;
//! one background task writes them in batches (after the first record it
//! lets a 50 ms window fill, then stores everything queued in one
//! transaction, together with the hourly usage rollups, on a connection of
//! its own: [`sqlite`] for the SQLite file, [`sql`] over the pool
//! otherwise), so recording never sits on a request's hot path and the
//! database sees few, large writes. A flush is written at once. Stored
//! records are also broadcast for live log tails.

mod sql;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use model::InvocationRecord;

use crate::db::Backend;
use crate::hosts::OutboundCallRecord;
use sql::{SqlWriter, BATCH_ROWS};
use sqlite::SqliteWriter;
use sqlx::AnyPool;
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

/// Records waiting to be written before producers start to wait. Producers are
/// background tasks, never the request itself.
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

/// The stored columns of an invocation record, in binding order.
const INVOCATION_COLUMNS: &str = "id, function_name, version, trigger_kind, started_at, \
     duration_us, billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, status, \
     outcome, status_code, error, method, path, logs, logs_truncated, parent_id, trigger_id";
const INVOCATION_COLUMN_COUNT: usize = column_count(INVOCATION_COLUMNS);
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

/// A record's duration as stored (whole microseconds).
fn duration_us(duration_ms: f64) -> i64 {
    (duration_ms * 1000.0).round() as i64
}

enum Message {
    Record(Box<InvocationRecord>),
    Call(Box<OutboundCallRecord>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Message>,
    live: broadcast::Sender<InvocationRecord>,
    /// Ends the writer's batch window early (a flush is waiting).
    hurry: Arc<Notify>,
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
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (live, _) = broadcast::channel(BROADCAST_CAPACITY);
        let hurry = Arc::new(Notify::new());
        tokio::spawn(write_loop(store, rx, live.clone(), hurry.clone()));
        Self { tx, live, hurry }
    }

    pub async fn record(&self, record: InvocationRecord) {
        if self
            .tx
            .send(Message::Record(Box::new(record)))
            .await
            .is_err()
        {
            tracing::error!("invocation recorder stopped; record lost");
        }
    }

    /// Queues an outbound call of a running function (never waits; under
    /// extreme backlog the edge is dropped and logged).
    pub fn record_call(&self, call: OutboundCallRecord) {
        if self.tx.try_send(Message::Call(Box::new(call))).is_err() {
            tracing::warn!("recorder backlog full; outbound call edge dropped");
        }
    }

    /// Waits until everything sent before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            self.hurry.notify_one();
            let _ = wait.await;
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<InvocationRecord> {
        self.live.subscribe()
    }
}

async fn write_loop(
    mut store: Store,
    mut rx: mpsc::Receiver<Message>,
    live: broadcast::Sender<InvocationRecord>,
    hurry: Arc<Notify>,
) {
    let mut inbox: Vec<Message> = Vec::with_capacity(BATCH_ROWS);
    let mut pending = Pending::default();
    // Park until a message arrives after a quiet spell...
    while rx.recv_many(&mut inbox, BATCH_ROWS).await > 0 {
        // ...then let the batch window fill before looking again. A sender
        // wakes the writer only while it waits on the channel, so under load
        // the writer wakes once per window instead of once per record (a
        // cross-thread wake-up each, on the calls' own workers). A flush
        // ends the window at once.
        if !inbox.iter().any(|m| matches!(m, Message::Flush(_))) {
            tokio::select! {
                _ = tokio::time::sleep(BATCH_WINDOW) => {}
                _ = hurry.notified() => {}
            }
        }
        // Store everything queued by now, TRANSACTION_ROWS per transaction.
        loop {
            for message in inbox.drain(..) {
                pending.take(message);
            }
            let mut drained = false;
            while !pending.full() {
                match rx.try_recv() {
                    Ok(message) => pending.take(message),
                    Err(_) => {
                        drained = true;
                        break;
                    }
                }
            }
            pending.store(&mut store, &live).await;
            if drained {
                break;
            }
        }
    }
    // The channel closed: store what is left.
    pending.store(&mut store, &live).await;
}

/// What the writer has taken from the queue and not stored yet.
#[derive(Default)]
struct Pending {
    records: Vec<InvocationRecord>,
    calls: Vec<OutboundCallRecord>,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Pending {
    fn take(&mut self, message: Message) {
        match message {
            Message::Record(r) => self.records.push(*r),
            Message::Call(c) => self.calls.push(*c),
            Message::Flush(w) => self.waiters.push(w),
        }
    }

    /// One transaction's worth of rows.
    fn full(&self) -> bool {
        self.records.len() >= TRANSACTION_ROWS || self.calls.len() >= BATCH_ROWS
    }

    /// Writes the records and call edges (errors are logged: the service
    /// stays up), then tells the flush waiters.
    async fn store(&mut self, store: &mut Store, live: &broadcast::Sender<InvocationRecord>) {
        if !self.records.is_empty() || !self.calls.is_empty() {
            // Copies for live tails only when someone listens.
            let tail = (live.receiver_count() > 0).then(|| self.records.clone());
            let (rows, edges) = (self.records.len(), self.calls.len());
            let batch = (
                std::mem::take(&mut self.records),
                std::mem::take(&mut self.calls),
            );
            match store.write(batch.0, batch.1).await {
                Ok(()) => {
                    for r in tail.into_iter().flatten() {
                        let _ = live.send(r);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, rows, edges, "writing invocation records failed")
                }
            }
        }
        for w in self.waiters.drain(..) {
            let _ = w.send(());
        }
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
    /// Stores one batch (records with their rollups, and call edges).
    async fn write(
        &mut self,
        records: Vec<InvocationRecord>,
        calls: Vec<OutboundCallRecord>,
    ) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(file) => file.write(records, calls).await,
            Store::Sql(pool) => Ok(pool.write(records, &calls).await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::rollup;
    use sqlx::Row;

    fn record(i: i64) -> InvocationRecord {
        let failed = i % 10 == 0;
        InvocationRecord {
            id: format!("rec-{i:06}"),
            function: format!("fn-{}", i % 3),
            version: 1,
            trigger: "http".into(),
            // Three records a minute: the batch spans several hours.
            started_at: crate::time::from_ms(1_800_000_000_000 + i * 20_000),
            duration_ms: 1.5,
            billed_ms: 2,
            memory_limit_mb: 128,
            peak_memory_bytes: 65_536,
            bytes_in: 10,
            bytes_out: 20,
            status: if failed { "error" } else { "success" }.into(),
            outcome: if failed { "trap" } else { "success" }.into(),
            status_code: (!failed).then_some(200),
            error: failed.then(|| "boom".to_string()),
            method: "GET".into(),
            path: format!("/item/{i}"),
            logs: format!("line {i}\n"),
            logs_truncated: false,
            parent_id: (i % 7 == 0).then(|| "parent".to_string()),
            trigger_id: None,
        }
    }

    async fn count(db: &AnyPool, sql: &str) -> i64 {
        sqlx::query(sql).fetch_one(db).await.unwrap().get(0)
    }

    /// The file writer and the pool writer store the same rows and rollups.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_writers_store_every_record_edge_and_rollup() {
        const N: i64 = 2_500;
        for pool_writer in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("wisp.db").display());
            let (db, backend) = crate::db::connect(&url).await.unwrap();
            let recorder = Recorder::with_store(if pool_writer {
                Store::Sql(SqlWriter::new(db.clone(), backend))
            } else {
                Store::Sqlite(SqliteWriter::for_url(&url).unwrap())
            });
            let mut tail = recorder.subscribe();
            recorder.record(record(0)).await;
            recorder.flush().await;
            // Live tails see what was stored.
            assert_eq!(tail.recv().await.unwrap().id, "rec-000000");
            drop(tail);
            for i in 1..N {
                recorder.record(record(i)).await;
            }
            recorder.record_call(OutboundCallRecord {
                invocation_id: "rec-000001".into(),
                function: "fn-1".into(),
                target_kind: "kv",
                target: "kv:default".into(),
                method: "set".into(),
                status_code: None,
                ok: true,
                duration_us: 42,
                at_ms: 1_800_000_000_000,
            });
            recorder.flush().await;

            assert_eq!(count(&db, "SELECT COUNT(*) FROM invocations").await, N);
            let errors = count(
                &db,
                "SELECT COUNT(*) FROM invocations WHERE status = 'error'",
            )
            .await;
            assert_eq!(errors, N / 10);
            let row = sqlx::query(
                "SELECT duration_us, error, logs, parent_id, status_code FROM invocations \
                 WHERE id = 'rec-000070'",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            assert_eq!(row.get::<i64, _>(0), 1_500);
            assert_eq!(row.get::<Option<String>, _>(1).as_deref(), Some("boom"));
            assert_eq!(row.get::<String, _>(2), "line 70\n");
            assert_eq!(row.get::<Option<String>, _>(3).as_deref(), Some("parent"));
            assert_eq!(row.get::<Option<i64>, _>(4), None);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM outbound_calls").await, 1);
            // Rollups: every record counted once, in its own hour.
            let hours = rollup::load(&db, 0, i64::MAX).await.unwrap();
            let requests: i64 = hours.iter().map(|h| h.usage.requests).sum();
            let failures: i64 = hours.iter().map(|h| h.usage.errors).sum();
            let billed: i64 = hours.iter().map(|h| h.usage.billed_ms).sum();
            assert_eq!((requests, failures, billed), (N, N / 10, 2 * N));
            assert!(hours.len() > 3, "{} rollup rows", hours.len());
        }
    }
}
