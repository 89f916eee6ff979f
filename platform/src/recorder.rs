//! The invocation recorder: calls hand their finished records to a channel;
//! one background task writes them in batches (after the first record it
//! lets a 50 ms window fill, then stores everything queued: multi-row
//! INSERTs inside one transaction, together with the hourly usage rollups,
//! on a connection of its own), so recording never sits on a request's hot
//! path and the database sees few, large writes. A flush is written at
//! once. Stored records are also broadcast for live log tails.

use std::sync::Arc;
use std::time::Duration;

use model::InvocationRecord;

use crate::db::Backend;
use crate::hosts::OutboundCallRecord;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

/// Records waiting to be written before producers start to wait. Producers are
/// background tasks, never the request itself.
const QUEUE_CAPACITY: usize = 65_536;
/// Rows per INSERT: 21 columns × 200 rows stays far below SQLite's and
/// PostgreSQL's bind-parameter limits (32,766 and 65,535).
const BATCH_ROWS: usize = 200;
/// Records stored in one transaction (several INSERTs of [`BATCH_ROWS`]):
/// every commit rewrites the B-trees' hot pages into the WAL, so fewer,
/// larger transactions write less.
const TRANSACTION_ROWS: usize = 5 * BATCH_ROWS;
/// How long the writer lets records gather after the first one before it
/// writes them (a flush is written at once).
const BATCH_WINDOW: Duration = Duration::from_millis(50);
/// Live-tail subscribers that fall this far behind skip records.
const BROADCAST_CAPACITY: usize = 1024;

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
    pub fn start(db: AnyPool, backend: Backend) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (live, _) = broadcast::channel(BROADCAST_CAPACITY);
        let hurry = Arc::new(Notify::new());
        tokio::spawn(write_loop(db, backend, rx, live.clone(), hurry.clone()));
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
    db: AnyPool,
    backend: Backend,
    mut rx: mpsc::Receiver<Message>,
    live: broadcast::Sender<InvocationRecord>,
    hurry: Arc<Notify>,
) {
    let mut inbox: Vec<Message> = Vec::with_capacity(BATCH_ROWS);
    let mut pending = Pending::default();
    let mut writer = Writer { db, conn: None };
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
            pending.store(&mut writer, backend, &live).await;
            if drained {
                break;
            }
        }
    }
    // The channel closed: store what is left.
    pending.store(&mut writer, backend, &live).await;
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
    async fn store(
        &mut self,
        writer: &mut Writer,
        backend: Backend,
        live: &broadcast::Sender<InvocationRecord>,
    ) {
        if !self.records.is_empty() {
            // Copies for live tails only when someone listens.
            let tail = (live.receiver_count() > 0).then(|| self.records.clone());
            let rows = self.records.len();
            let written = match writer.conn().await {
                Ok(conn) => write_batch(conn, backend, &mut self.records).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {
                    for r in tail.into_iter().flatten() {
                        let _ = live.send(r);
                    }
                }
                Err(e) => {
                    writer.reset();
                    tracing::error!(error = %e, rows, "writing invocation records failed");
                }
            }
            self.records.clear();
        }
        if !self.calls.is_empty() {
            let written = match writer.conn().await {
                Ok(conn) => write_calls(conn, backend, &self.calls).await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                writer.reset();
                tracing::error!(error = %e, rows = self.calls.len(), "writing outbound call records failed");
            }
            self.calls.clear();
        }
        for w in self.waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// The writer's own database connection. One connection, kept: SQLite's page
/// cache is per connection, and the writer touches the same hot B-tree pages
/// batch after batch (a pooled connection picked at random each time read
/// them back from the file). Replaced after an error.
struct Writer {
    db: AnyPool,
    conn: Option<PoolConnection<Any>>,
}

impl Writer {
    /// The writer's connection, acquired first if needed.
    async fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.db.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("acquired above"))
    }

    /// After a failed write: the next write takes a new connection.
    fn reset(&mut self) {
        self.conn = None;
    }
}

/// Stores `batch` (emptied: its values move into the statements) and adds it
/// to the hourly usage rollups, in one transaction.
async fn write_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &mut Vec<InvocationRecord>,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    crate::metering::rollup::add_batch(&mut tx, backend, batch).await?;
    let mut rows = batch.drain(..).peekable();
    while rows.peek().is_some() {
        insert_records(&mut tx, backend, rows.by_ref().take(BATCH_ROWS)).await?;
    }
    tx.commit().await
}

/// One multi-row INSERT of up to [`BATCH_ROWS`] records (moved into it).
async fn insert_records(
    conn: &mut AnyConnection,
    backend: Backend,
    records: impl ExactSizeIterator<Item = InvocationRecord>,
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 21;
    let mut sql = String::from(
        "INSERT INTO invocations (id, function_name, version, trigger_kind, started_at, duration_us, \
         billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, status, outcome, \
         status_code, error, method, path, logs, logs_truncated, parent_id, trigger_id) VALUES ",
    );
    sql.push_str(&crate::db::values_placeholders(
        backend,
        records.len(),
        COLUMNS,
    ));
    let mut q = sqlx::query(&sql);
    for r in records {
        q = q
            .bind(r.id)
            .bind(r.function)
            .bind(r.version)
            .bind(r.trigger)
            .bind(r.started_at.timestamp_millis())
            .bind((r.duration_ms * 1000.0).round() as i64)
            .bind(r.billed_ms)
            .bind(r.memory_limit_mb)
            .bind(r.peak_memory_bytes)
            .bind(r.bytes_in)
            .bind(r.bytes_out)
            .bind(r.status)
            .bind(r.outcome)
            .bind(r.status_code)
            .bind(r.error)
            .bind(r.method)
            .bind(r.path)
            .bind(r.logs)
            .bind(i64::from(r.logs_truncated))
            .bind(r.parent_id)
            .bind(r.trigger_id);
    }
    q.execute(conn).await?;
    Ok(())
}

async fn write_calls(
    conn: &mut AnyConnection,
    backend: Backend,
    calls: &[OutboundCallRecord],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 9;
    let mut sql = String::from(
        "INSERT INTO outbound_calls (invocation_id, function_name, target_kind, target, method, \
         status_code, ok, duration_us, at) VALUES ",
    );
    sql.push_str(&crate::db::values_placeholders(
        backend,
        calls.len(),
        COLUMNS,
    ));
    let mut q = sqlx::query(&sql);
    for c in calls {
        q = q
            .bind(c.invocation_id.clone())
            .bind(c.function.clone())
            .bind(c.target_kind)
            .bind(c.target.clone())
            .bind(c.method.clone())
            .bind(c.status_code.map(i64::from))
            .bind(i64::from(c.ok))
            .bind(c.duration_us)
            .bind(c.at_ms);
    }
    q.execute(conn).await?;
    Ok(())
}
