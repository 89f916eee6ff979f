//! The invocation recorder: calls hand their finished records to a channel;
//! one background task writes them in batches (one multi-row INSERT per
//! batch, inside a transaction, together with the batch's hourly usage
//! rollups), so recording never sits on a request's hot
//! path and the database sees few, large writes. Stored records are also
//! broadcast for live log tails.

use std::time::Duration;

use model::InvocationRecord;

use crate::db::Backend;
use crate::hosts::OutboundCallRecord;
use sqlx::AnyPool;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Records waiting to be written before producers start to wait. Producers are
/// background tasks, never the request itself.
const QUEUE_CAPACITY: usize = 65_536;
/// Rows per INSERT: 21 columns × 200 rows stays far below SQLite's and
/// PostgreSQL's bind-parameter limits (32,766 and 65,535).
const BATCH_ROWS: usize = 200;
/// How long a batch may wait to fill before it is written anyway.
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
}

impl Recorder {
    pub fn start(db: AnyPool, backend: Backend) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (live, _) = broadcast::channel(BROADCAST_CAPACITY);
        tokio::spawn(write_loop(db, backend, rx, live.clone()));
        Self { tx, live }
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
) {
    let mut inbox: Vec<Message> = Vec::with_capacity(BATCH_ROWS);
    let mut batch: Vec<InvocationRecord> = Vec::with_capacity(BATCH_ROWS);
    let mut calls: Vec<OutboundCallRecord> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut open = true;
    while open {
        // Wait for work, then take everything already queued in one go
        // (`recv_many`: one wake-up and no timer per record under load);
        // keep collecting until the batch is full, a flush is asked for, or
        // the batch window since its first record has passed.
        if rx.recv_many(&mut inbox, BATCH_ROWS).await == 0 {
            break;
        }
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        loop {
            for message in inbox.drain(..) {
                match message {
                    Message::Record(r) => batch.push(*r),
                    Message::Call(c) => calls.push(*c),
                    Message::Flush(w) => waiters.push(w),
                }
            }
            let room = BATCH_ROWS.saturating_sub(batch.len().max(calls.len()));
            if room == 0 || !waiters.is_empty() {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut inbox, room)).await {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(_) => {}
                Err(_elapsed) => break,
            }
        }
        if !batch.is_empty() {
            // Copies for live tails only when someone listens.
            let tail = (live.receiver_count() > 0).then(|| batch.clone());
            let rows = batch.len();
            match write_batch(&db, backend, &mut batch).await {
                Ok(()) => {
                    for r in tail.into_iter().flatten() {
                        let _ = live.send(r);
                    }
                }
                // Keep the service up; the loss is reported in the log.
                Err(e) => tracing::error!(error = %e, rows, "writing invocation records failed"),
            }
            batch.clear();
        }
        if !calls.is_empty() {
            if let Err(e) = write_calls(&db, backend, &calls).await {
                tracing::error!(error = %e, rows = calls.len(), "writing outbound call records failed");
            }
            calls.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Stores `batch` (emptied: its values move into the statement) and adds it
/// to the hourly usage rollups, in one transaction.
async fn write_batch(
    db: &AnyPool,
    backend: Backend,
    batch: &mut Vec<InvocationRecord>,
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 21;
    let mut sql = String::from(
        "INSERT INTO invocations (id, function_name, version, trigger_kind, started_at, duration_us, \
         billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, status, outcome, \
         status_code, error, method, path, logs, logs_truncated, parent_id, trigger_id) VALUES ",
    );
    sql.push_str(&crate::db::values_placeholders(
        backend,
        batch.len(),
        COLUMNS,
    ));
    let mut tx = db.begin().await?;
    crate::metering::rollup::add_batch(&mut tx, backend, batch).await?;
    let mut q = sqlx::query(&sql);
    for r in batch.drain(..) {
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
    q.execute(&mut *tx).await?;
    tx.commit().await
}

async fn write_calls(
    db: &AnyPool,
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
    q.execute(db).await?;
    Ok(())
}
