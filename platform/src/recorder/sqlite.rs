//! The recorder's SQLite writer: a connection of its own (rusqlite, the
//! same bundled SQLite as sqlx) used on a blocking thread, one cached
//! single-row INSERT per record inside one transaction with the rollups.
//!
//! Why not the sqlx pool here (profiled at hello c=16, docs/DECISIONS.md
//! #27): a multi-row INSERT through sqlx's `Any` driver clones every text
//! value into its argument list on a tokio worker, crosses to the
//! connection's worker thread per statement, re-parses the statement for
//! every batch size and binds thousands of parameters at once, which
//! overflows SQLite's lookaside allocator into the C heap; a cached
//! one-row statement binds 21 values per step straight from the record.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use model::InvocationRecord;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use super::{CALL_COLUMNS, INVOCATION_COLUMNS};
use crate::hosts::OutboundCallRecord;
use crate::metering::rollup;

static INSERT_INVOCATION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO invocations ({INVOCATION_COLUMNS}) VALUES ({})",
        placeholders(super::INVOCATION_COLUMN_COUNT)
    )
});
static INSERT_CALL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO outbound_calls ({CALL_COLUMNS}) VALUES ({})",
        placeholders(super::CALL_COLUMN_COUNT)
    )
});
static UPSERT_USAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}({}){}",
        rollup::UPSERT_HEAD,
        placeholders(rollup::UPSERT_COLUMNS),
        rollup::UPSERT_TAIL
    )
});

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// The writer's connection to the database file; opened on first use and
/// after an error.
pub(super) struct SqliteWriter {
    path: PathBuf,
    conn: Option<Connection>,
}

impl SqliteWriter {
    /// A writer for the file a `sqlite:` URL names, or `None` when the URL
    /// names no file on disk (an in-memory database: the pool's own
    /// connections are the only way to it).
    pub fn for_url(url: &str) -> Option<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = PathBuf::from(rest.split('?').next().unwrap_or(rest));
        path.is_file().then_some(Self { path, conn: None })
    }

    /// Stores the records with their rollups and the call edges in one
    /// transaction, on a blocking thread.
    pub async fn write(
        &mut self,
        records: Vec<InvocationRecord>,
        calls: Vec<OutboundCallRecord>,
    ) -> anyhow::Result<()> {
        let conn = self.conn.take();
        let path = self.path.clone();
        let (conn, written) = tokio::task::spawn_blocking(move || {
            let mut conn = match conn {
                Some(conn) => conn,
                None => match open(&path) {
                    Ok(conn) => conn,
                    Err(e) => return (None, Err(e)),
                },
            };
            let written = store(&mut conn, &records, &calls);
            (Some(conn), written)
        })
        .await?;
        // After an error the next batch opens a fresh connection.
        self.conn = conn.filter(|_| written.is_ok());
        Ok(written?)
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    // No CREATE flag: the pool made and migrated the file.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The same per-connection settings as the pool's (db.rs).
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
    )?;
    Ok(conn)
}

fn store(
    conn: &mut Connection,
    records: &[InvocationRecord],
    calls: &[OutboundCallRecord],
) -> rusqlite::Result<()> {
    // IMMEDIATE: take the write lock up front, waiting (busy_timeout) for
    // another writer rather than failing half-way.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(&INSERT_INVOCATION)?;
        for r in records {
            insert.execute(params![
                r.id,
                r.function,
                r.version,
                r.trigger,
                r.started_at.timestamp_millis(),
                super::duration_us(r.duration_ms),
                r.billed_ms,
                r.memory_limit_mb,
                r.peak_memory_bytes,
                r.bytes_in,
                r.bytes_out,
                r.status,
                r.outcome,
                r.status_code,
                r.error,
                r.method,
                r.path,
                r.logs,
                i64::from(r.logs_truncated),
                r.parent_id,
                r.trigger_id,
            ])?;
        }
        let mut upsert = tx.prepare_cached(&UPSERT_USAGE)?;
        for ((function, hour_start), u) in rollup::aggregate(records) {
            upsert.execute(params![
                function,
                hour_start,
                u.requests,
                u.errors,
                u.billed_ms,
                u.mb_ms,
                u.bytes_in,
                u.bytes_out
            ])?;
        }
        let mut edge = tx.prepare_cached(&INSERT_CALL)?;
        for c in calls {
            edge.execute(params![
                c.invocation_id,
                c.function,
                c.target_kind,
                c.target,
                c.method,
                c.status_code.map(i64::from),
                i64::from(c.ok),
                c.duration_us,
                c.at_ms
            ])?;
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::SqliteWriter;

    #[test]
    fn finds_the_database_file_of_a_sqlite_url() {
        let dir = std::env::temp_dir().join(format!("wisp-recorder-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("wisp.db");
        std::fs::write(&file, b"").unwrap();
        let url = format!("sqlite://{}?mode=rwc", file.display());
        assert_eq!(SqliteWriter::for_url(&url).unwrap().path, file);
        // No file behind the URL (in memory, or not there): the pool writes.
        assert!(SqliteWriter::for_url("sqlite::memory:").is_none());
        assert!(SqliteWriter::for_url(&format!("sqlite://{}/absent.db", dir.display())).is_none());
        assert!(SqliteWriter::for_url("postgres://localhost/test").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
