//! The invocation recorder: calls hand their finished records to a channel;
//! one background task writes them in batches (one multi-row INSERT per
//! batch, inside a transaction, together with the batch's hourly usage
//! rollups), so recording never sits on a request's hot
//! path and the database sees few, large writes. Stored records are also
//! broadcast for live log tails.

use std::time::Duration;

use model::InvocationRecord;

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
    pub fn start(db: AnyPool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let (live, _) = broadcast::channel(BROADCAST_CAPACITY);
        tokio::spawn(write_loop(db, rx, live.clone()));
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
    mut rx: mpsc::Receiver<Message>,
    live: broadcast::Sender<InvocationRecord>,
) {
    let mut batch: Vec<InvocationRecord> = Vec::with_capacity(BATCH_ROWS);
    let mut calls: Vec<OutboundCallRecord> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        let mut next = Some(first);
        loop {
            match next.take() {
                Some(Message::Record(r)) => batch.push(*r),
                Some(Message::Call(c)) => calls.push(*c),
                Some(Message::Flush(w)) => {
                    waiters.push(w);
                    break;
                }
                None => {}
            }
            if batch.len() >= BATCH_ROWS || calls.len() >= BATCH_ROWS {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => next = Some(m),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            if let Err(e) = write_batch(&db, &batch).await {
                // Keep the service up; the records are reported in the log.
                tracing::error!(error = %e, rows = batch.len(), "writing invocation records failed");
            } else {
                for r in batch.iter() {
                    let _ = live.send(r.clone());
                }
            }
            batch.clear();
        }
        if !calls.is_empty() {
            if let Err(e) = write_calls(&db, &calls).await {
                tracing::error!(error = %e, rows = calls.len(), "writing outbound call records failed");
            }
            calls.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

async fn write_batch(db: &AnyPool, batch: &[InvocationRecord]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 21;
    let mut sql = String::from(
        "INSERT INTO invocations (id, function_name, version, trigger_kind, started_at, duration_us, \
         billed_ms, memory_limit_mb, peak_memory_bytes, bytes_in, bytes_out, status, outcome, \
         status_code, error, method, path, logs, logs_truncated, parent_id, trigger_id) VALUES ",
    );
    sql.push_str(&crate::db::values_placeholders(batch.len(), COLUMNS));
    let mut q = sqlx::query(&sql);
    for r in batch {
        q = q
            .bind(r.id.clone())
            .bind(r.function.clone())
            .bind(r.version)
            .bind(r.trigger.clone())
            .bind(r.started_at.timestamp_millis())
            .bind((r.duration_ms * 1000.0).round() as i64)
            .bind(r.billed_ms)
            .bind(r.memory_limit_mb)
            .bind(r.peak_memory_bytes)
            .bind(r.bytes_in)
            .bind(r.bytes_out)
            .bind(r.status.clone())
            .bind(r.outcome.clone())
            .bind(r.status_code)
            .bind(r.error.clone())
            .bind(r.method.clone())
            .bind(r.path.clone())
            .bind(r.logs.clone())
            .bind(i64::from(r.logs_truncated))
            .bind(r.parent_id.clone())
            .bind(r.trigger_id.clone());
    }
    let mut tx = db.begin().await?;
    q.execute(&mut *tx).await?;
    crate::metering::rollup::add_batch(&mut tx, batch).await?;
    tx.commit().await
}

async fn write_calls(db: &AnyPool, calls: &[OutboundCallRecord]) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 9;
    let mut sql = String::from(
        "INSERT INTO outbound_calls (invocation_id, function_name, target_kind, target, method, \
         status_code, ok, duration_us, at) VALUES ",
    );
    sql.push_str(&crate::db::values_placeholders(calls.len(), COLUMNS));
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
