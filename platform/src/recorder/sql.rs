//! The recorder's writer over the shared sqlx pool (PostgreSQL; SQLite
//! when the database is not a file): inside one transaction the records,
//! the hourly usage rollups (on SQLite also the log search index) and the
//! batch's call edges, on one connection kept between batches. PostgreSQL
//! stores a whole batch with one statement ([`pg_rows`]); SQLite gets
//! multi-row INSERTs of up to [`BATCH_ROWS`] records. A record whose id is
//! already stored is skipped (and logged), not allowed to roll the whole
//! batch back; only the stored records are metered.

use std::collections::HashSet;

use model::InvocationRecord;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Row};

use super::columns::{self, Value, INVOCATION_COLUMNS, INVOCATION_COLUMN_COUNT};
use super::{pg_rows, Failed, CALL_COLUMNS};
use crate::db::Backend;
use crate::hosts::OutboundCallRecord;

/// Rows per multi-row INSERT (SQLite's records, either database's call
/// edges): 24 columns × 200 rows stays far below SQLite's and
/// PostgreSQL's bind-parameter limits (32,766 and 65,535).
pub(super) const BATCH_ROWS: usize = 200;

/// The writer's own pooled connection, kept between batches (the server's
/// page cache stays warm for it) and replaced after an error.
pub(super) struct SqlWriter {
    db: AnyPool,
    backend: Backend,
    conn: Option<PoolConnection<Any>>,
}

impl SqlWriter {
    pub fn new(db: AnyPool, backend: Backend) -> Self {
        Self {
            db,
            backend,
            conn: None,
        }
    }

    /// Stores the records with their rollups and the call edges in one
    /// transaction; the records stored (those whose id was not taken). On
    /// an error nothing was stored, and all of it comes back.
    pub async fn write(
        &mut self,
        mut records: Vec<InvocationRecord>,
        calls: Vec<OutboundCallRecord>,
    ) -> Result<Vec<InvocationRecord>, Failed> {
        let written = self.write_on_connection(&mut records, &calls).await;
        match written {
            Ok(()) => Ok(records),
            Err(error) => {
                // The next write takes a new connection.
                self.conn = None;
                Err(Failed {
                    error: error.to_string(),
                    records,
                    calls,
                    stored: 0,
                })
            }
        }
    }

    /// Stores `records` (those already stored are dropped from it) and
    /// `calls` in one transaction.
    async fn write_on_connection(
        &mut self,
        records: &mut Vec<InvocationRecord>,
        calls: &[OutboundCallRecord],
    ) -> Result<(), sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.db.acquire().await?);
        }
        let conn: &mut AnyConnection = self.conn.as_mut().expect("acquired above");
        write_batch(conn, self.backend, records, calls).await
    }
}

/// Stores `batch`, adds what was stored to the hourly usage rollups and
/// stores the call edges, in one transaction: a reader never sees a record
/// without the calls it made (they are queued before it). Records whose id
/// is already stored are dropped from `batch` (and logged).
async fn write_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &mut Vec<InvocationRecord>,
    calls: &[OutboundCallRecord],
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        batch.iter_mut().for_each(pg_rows::without_nul);
    }
    let mut tx = conn.begin().await?;
    // The ids stored, when some of the batch may not have been.
    let stored: Option<Vec<String>> = match backend {
        _ if batch.is_empty() => None,
        // A stored id is rare (a redriven record): the batch goes in
        // without a conflict check first, which spares each row an index
        // lookup; only when an id is taken does it go in again with one.
        Backend::Postgres => match pg_rows::insert_all(&mut tx, batch).await {
            Ok(()) => None,
            Err(error) if is_unique_violation(&error) => {
                tx.rollback().await?;
                tx = conn.begin().await?;
                Some(pg_rows::insert_new(&mut tx, batch).await?)
            }
            Err(error) => return Err(error),
        },
        Backend::Sqlite => {
            let mut ids = Vec::with_capacity(batch.len());
            for part in batch.chunks(BATCH_ROWS) {
                let stored = insert_records(&mut tx, part).await?;
                index_logs(&mut tx, &stored).await?;
                ids.extend(stored);
            }
            Some(ids)
        }
    };
    if let Some(ids) = stored.filter(|ids| ids.len() < batch.len()) {
        let mut stored: HashSet<String> = ids.into_iter().collect();
        // The first of two records with one id in a batch is the stored one.
        batch.retain(|r| {
            let kept = stored.remove(&r.id);
            if !kept {
                tracing::error!(
                    invocation = %r.id,
                    function = %r.function,
                    "an invocation record with this id is already stored; the new one is skipped"
                );
            }
            kept
        });
    }
    crate::metering::rollup::add_batch(&mut tx, backend, batch).await?;
    crate::error_groups::add_batch(&mut tx, backend, batch).await?;
    if !calls.is_empty() {
        write_calls(&mut tx, backend, calls).await?;
    }
    tx.commit().await
}

/// Whether `error` is a unique key's violation (an id stored already).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// One multi-row INSERT of up to [`BATCH_ROWS`] records on SQLite (bound
/// by reference); the ids it stored (an id already stored is skipped).
async fn insert_records(
    conn: &mut AnyConnection,
    records: &[InvocationRecord],
) -> Result<Vec<String>, sqlx::Error> {
    let mut sql = format!("INSERT INTO invocations ({INVOCATION_COLUMNS}) VALUES ");
    sql.push_str(&crate::db::values_placeholders(
        Backend::Sqlite,
        records.len(),
        INVOCATION_COLUMN_COUNT,
    ));
    sql.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
    let mut q = sqlx::query(&sql);
    for r in records {
        for value in columns::values(r) {
            q = match value {
                Value::Text(text) => q.bind(text),
                Value::Int(number) => q.bind(number),
                // SQLite's columns take a NULL of any type.
                Value::Null => q.bind(None::<i64>),
            };
        }
    }
    q.fetch_all(conn)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect()
}

/// On SQLite, feeds the log search index (migration 0012) the logs and
/// error of the rows just stored under `ids` (PostgreSQL keeps its own
/// index). Rows with neither are not indexed, as in the SQLite writer.
async fn index_logs(conn: &mut AnyConnection, ids: &[String]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO invocations_fts (rowid, logs, error) \
         SELECT rowid, logs, error FROM invocations WHERE id IN ({}) \
         AND (logs <> '' OR error IS NOT NULL)",
        vec!["?"; ids.len()].join(",")
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.as_str());
    }
    q.execute(conn).await?;
    Ok(())
}

async fn write_calls(
    conn: &mut AnyConnection,
    backend: Backend,
    calls: &[OutboundCallRecord],
) -> Result<(), sqlx::Error> {
    let mut sql = format!("INSERT INTO outbound_calls ({CALL_COLUMNS}) VALUES ");
    sql.push_str(&crate::db::values_placeholders(
        backend,
        calls.len(),
        super::CALL_COLUMN_COUNT,
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
