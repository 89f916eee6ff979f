//! The recorder's SQLite writer: a connection of its own (rusqlite, the
//! same bundled SQLite as sqlx) on a thread of its own, one cached
//! single-row INSERT per record inside one transaction with the rollups.
//! A record whose id is already stored is skipped (and logged) rather than
//! failing the transaction, and only stored records are metered.
//!
//! Why not the sqlx pool here (profiled at hello c=16, docs/DECISIONS.md
//! #27): a multi-row INSERT through sqlx's `Any` driver clones every text
//! value into its argument list on a tokio worker, crosses to the
//! connection's worker thread per statement, re-parses the statement for
//! every batch size and binds thousands of parameters at once, which
//! overflows SQLite's lookaside allocator into the C heap; a cached
//! one-row statement binds a record's 24 values per step, borrowed from
//! the record ([`columns`]).
//!
//! Why a thread of its own, at background priority (docs/DECISIONS.md #29):
//! a batch takes a few milliseconds of one core; on a tokio blocking thread
//! it competed with the calls' workers as an equal and, woken after its
//! batch window, preempted one of them mid-request (the p99 at c=16). The
//! writer thread is `SCHED_BATCH` (it never preempts on wake-up) with nice 5
//! (a smaller share while the cores are contended), and it still has
//! several times the CPU it needs to keep up under full load.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, LazyLock};
use std::time::Duration;

use model::InvocationRecord;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use super::columns::{self, INVOCATION_COLUMNS, INVOCATION_COLUMN_COUNT};
use super::{Entry, Failed, CALL_COLUMNS};
use crate::error_groups;
use crate::hosts::OutboundCallRecord;
use crate::metering::rollup;

static INSERT_INVOCATION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO invocations ({INVOCATION_COLUMNS}) VALUES ({}) ON CONFLICT (id) DO NOTHING",
        placeholders(INVOCATION_COLUMN_COUNT)
    )
});
/// Feeds the log search index (migration 0012): the stored row's logs and
/// error under its rowid, in the same transaction. Fed here rather than by
/// a trigger, whose FTS5 insert cost the writer several times as much per
/// row (docs/DECISIONS.md #47).
const INDEX_LOGS: &str = "INSERT INTO invocations_fts (rowid, logs, error) VALUES (?, ?, ?)";
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

static UPSERT_ERROR_GROUP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}({}){}",
        error_groups::UPSERT_HEAD,
        placeholders(error_groups::UPSERT_COLUMNS),
        error_groups::UPSERT_TAIL
    )
});

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// The nice value of the writer thread (0 is the default, 19 the lowest).
const WRITER_NICE: libc::c_int = 5;

/// What the writer thread answers: the stored records, or the error with
/// everything that was not stored (to be kept and retried).
type Written = Result<
    Vec<InvocationRecord>,
    (
        rusqlite::Error,
        Vec<InvocationRecord>,
        Vec<OutboundCallRecord>,
    ),
>;

/// One batch for the writer thread, and where to answer.
struct Job {
    entries: Vec<Entry>,
    calls: Vec<OutboundCallRecord>,
    /// Send the stored records back (for live tails).
    keep: bool,
    done: oneshot::Sender<Written>,
}

/// The database file and the writer thread that stores into it (started on
/// first use, and again should it ever end).
pub(super) struct SqliteWriter {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
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
        path.is_file().then_some(Self { path, jobs: None })
    }

    /// Stores the records with their rollups and the call edges in one
    /// transaction, on the writer thread (which also builds the records:
    /// their strings are made and freed on one thread); the stored records
    /// come back when `keep` asks for them. On an error everything comes
    /// back unstored (but for a writer thread that died with the batch).
    pub async fn write(
        &mut self,
        entries: Vec<Entry>,
        calls: Vec<OutboundCallRecord>,
        keep: bool,
    ) -> Result<Vec<InvocationRecord>, Failed> {
        let jobs = match &self.jobs {
            Some(jobs) => jobs,
            None => match start_thread(self.path.clone()) {
                Ok(jobs) => self.jobs.insert(jobs),
                Err(e) => {
                    return Err(Failed {
                        error: format!("starting the recorder's writer thread: {e}"),
                        records: entries.into_iter().map(Entry::into_record).collect(),
                        calls,
                        stored: 0,
                    })
                }
            },
        };
        let (done, answer) = oneshot::channel();
        let sent = jobs.send(Job {
            entries,
            calls,
            keep,
            done,
        });
        match (sent, answer.await) {
            (Ok(()), Ok(Ok(stored))) => Ok(stored),
            (Ok(()), Ok(Err((error, records, calls)))) => Err(Failed {
                error: error.to_string(),
                records,
                calls,
                stored: 0,
            }),
            (Err(mpsc::SendError(job)), _) => {
                // The thread is gone: the next batch starts another.
                self.jobs = None;
                Err(Failed {
                    error: "the recorder's writer thread stopped".into(),
                    records: job.entries.into_iter().map(Entry::into_record).collect(),
                    calls: job.calls,
                    stored: 0,
                })
            }
            (Ok(()), Err(_)) => {
                // The thread died with the batch (it panicked).
                self.jobs = None;
                Err(Failed {
                    error: "the recorder's writer thread stopped".into(),
                    records: Vec::new(),
                    calls: Vec::new(),
                    stored: 0,
                })
            }
        }
    }
}

/// Starts the writer thread for the file at `path`; it ends when the
/// sender is dropped.
fn start_thread(path: PathBuf) -> std::io::Result<mpsc::Sender<Job>> {
    let (jobs, inbox) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("wisp-recorder".into())
        .spawn(move || {
            run_in_background();
            let mut conn: Option<Connection> = None;
            for job in inbox {
                let mut records: Vec<InvocationRecord> =
                    job.entries.into_iter().map(Entry::into_record).collect();
                let written = match conn.take().map_or_else(|| open(&path), Ok) {
                    Ok(mut open_conn) => {
                        let written = store(&mut open_conn, &mut records, &job.calls);
                        // After an error the next batch opens a fresh connection.
                        conn = written.is_ok().then_some(open_conn);
                        written
                    }
                    Err(e) => Err(e),
                };
                let answer = match written {
                    Ok(()) if job.keep => Ok(records),
                    Ok(()) => Ok(Vec::new()),
                    Err(e) => Err((e, records, job.calls)),
                };
                let _ = job.done.send(answer);
            }
        })?;
    Ok(jobs)
}

/// Lowers the calling thread's scheduling priority: `SCHED_BATCH` and
/// [`WRITER_NICE`]. Lowering needs no privilege; should it fail anyway, the
/// writer runs at normal priority.
#[allow(unsafe_code)]
fn run_in_background() {
    // SAFETY: one system call on the calling thread's own scheduling
    // policy; the only pointer passed is to a local, initialised struct.
    let policy = unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(libc::gettid(), libc::SCHED_BATCH, &param)
    };
    let policy = match policy {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    };
    if let Err(error) = policy.and(runtime::set_thread_nice(WRITER_NICE)) {
        tracing::debug!(%error, "the recorder's writer thread keeps normal priority");
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

/// Stores `records` (those whose id is already stored are dropped from it,
/// and logged), their logs in the search index, their rollups and the call
/// edges in one transaction.
fn store(
    conn: &mut Connection,
    records: &mut Vec<InvocationRecord>,
    calls: &[OutboundCallRecord],
) -> rusqlite::Result<()> {
    // IMMEDIATE: take the write lock up front, waiting (busy_timeout) for
    // another writer rather than failing half-way.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(&INSERT_INVOCATION)?;
        let mut index = tx.prepare_cached(INDEX_LOGS)?;
        let mut skipped: Vec<usize> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let stored = insert.execute(params_from_iter(columns::values(r)))?;
            if stored == 0 {
                tracing::error!(
                    invocation = %r.id,
                    function = %r.function,
                    "an invocation record with this id is already stored; the new one is skipped"
                );
                skipped.push(i);
            } else if crate::log_search::indexed(r) {
                index.execute(params![tx.last_insert_rowid(), r.logs, r.error])?;
            }
        }
        if !skipped.is_empty() {
            let mut index = 0;
            records.retain(|_| {
                let keep = !skipped.contains(&index);
                index += 1;
                keep
            });
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
        let mut group = tx.prepare_cached(&UPSERT_ERROR_GROUP)?;
        for g in error_groups::aggregate(records) {
            group.execute(params![
                g.function,
                g.fingerprint,
                g.outcome,
                g.signature,
                g.sample_error,
                g.count,
                g.first_seen,
                g.last_seen,
                g.first_version,
                g.last_version,
                g.last_invocation_id
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

    /// The writer is a thread of its own, at background priority, and it
    /// ends with its writer.
    #[test]
    fn the_writer_thread_runs_at_background_priority() {
        let jobs = super::start_thread(std::path::PathBuf::from("/nonexistent/wisp.db")).unwrap();
        let (done, answer) = tokio::sync::oneshot::channel();
        jobs.send(super::Job {
            entries: Vec::new(),
            calls: Vec::new(),
            keep: false,
            done,
        })
        .unwrap();
        // No such file: the error comes back, and the thread lives on.
        assert!(answer.blocking_recv().unwrap().is_err());
        let writer = std::fs::read_dir("/proc/thread-self/../")
            .unwrap()
            .map(|task| task.unwrap().path())
            .find(|task| {
                std::fs::read_to_string(task.join("comm"))
                    .is_ok_and(|c| c.trim() == "wisp-recorder")
            })
            .expect("a thread named wisp-recorder");
        let stat = std::fs::read_to_string(writer.join("stat")).unwrap();
        // Fields after the command name: state is the 1st, nice the 17th, policy the 39th.
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(fields[16], super::WRITER_NICE.to_string(), "nice");
        assert_eq!(fields[38], libc::SCHED_BATCH.to_string(), "policy");
        drop(jobs);
    }

    /// The bundled SQLite is built (.cargo/config.toml) without the page
    /// cache shared by every connection, whose global mutex the writer
    /// took on every page it fetched, and without memory statistics, a
    /// global mutex on every allocation (docs/DECISIONS.md #67).
    #[test]
    fn the_bundled_sqlite_takes_no_global_mutex_per_page_or_allocation() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }
}
