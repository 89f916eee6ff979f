//! Unit tests of the recorder: batching, rollups, the writers of both
//! databases and what happens when writes fail.

use super::*;
use crate::metering::rollup;
use sqlx::Row;

/// Record `i` of a test batch (every tenth fails).
pub(super) fn record(i: i64) -> InvocationRecord {
    let failed = i % 10 == 0;
    InvocationRecord {
        id: format!("rec-{i:06}"),
        function: format!("fn-{}", i % 3),
        version: 1,
        trigger: model::TriggerKind::Http,
        // Three records a minute: the batch spans several hours.
        started_at: crate::time::from_ms(1_800_000_000_000 + i * 20_000),
        duration_ms: 1.5,
        billed_ms: 2,
        memory_limit_mb: 128,
        peak_memory_bytes: 65_536,
        bytes_in: 10,
        bytes_out: 20,
        status: if failed {
            model::InvocationStatus::Error
        } else {
            model::InvocationStatus::Success
        },
        outcome: if failed {
            model::InvocationOutcome::Trap
        } else {
            model::InvocationOutcome::Success
        },
        status_code: (!failed).then_some(200),
        error: failed.then(|| "boom".to_string()),
        method: "GET".into(),
        path: format!("/item/{i}"),
        logs: format!("line {i}\n"),
        logs_truncated: false,
        parent_id: (i % 7 == 0).then(|| "parent".to_string()),
        trigger_id: None,
        trace_id: None,
        parent_span_id: None,
        attempt: None,
    }
}

async fn count(db: &AnyPool, sql: &str) -> i64 {
    sqlx::query(sql).fetch_one(db).await.unwrap().get(0)
}

/// The recorder's writers: of a SQLite file, over the sqlx pool (SQLite),
/// and over the pool on PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Writer {
    File,
    Pool,
    Postgres,
}

const WRITERS: [Writer; 3] = [Writer::File, Writer::Pool, Writer::Postgres];

/// Where a test's database lives (a folder or a PostgreSQL database);
/// removed on drop.
struct Scratch {
    _dir: Option<tempfile::TempDir>,
    _postgres: Option<PgDatabase>,
}

/// An empty PostgreSQL database of the test's own on the machine's server
/// (created from `WISP_TEST_POSTGRES`'s database, by default the `test`
/// database at 127.0.0.1:5432), dropped with the value by `psql`.
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> (Self, String) {
        use sqlx::Connection as _;
        let admin = std::env::var("WISP_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("wisp_recorder_{}_{nanos}", std::process::id());
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
        let url = format!("{server}/{name}");
        (Self { admin, name }, url)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                self.admin.as_str(),
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A fresh database and a writer of it.
async fn database_and_store(writer: Writer) -> (Scratch, AnyPool, Store) {
    if writer == Writer::Postgres {
        let (database, url) = PgDatabase::create().await;
        let (db, backend) = crate::db::connect(&url).await.unwrap();
        assert_eq!(backend, crate::db::Backend::Postgres);
        let store = Store::Sql(SqlWriter::new(db.clone(), backend));
        let scratch = Scratch {
            _dir: None,
            _postgres: Some(database),
        };
        return (scratch, db, store);
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wisp.db").display());
    let (db, backend) = crate::db::connect(&url).await.unwrap();
    let store = if writer == Writer::Pool {
        Store::Sql(SqlWriter::new(db.clone(), backend))
    } else {
        Store::Sqlite(SqliteWriter::for_url(&url).unwrap())
    };
    let scratch = Scratch {
        _dir: Some(dir),
        _postgres: None,
    };
    (scratch, db, store)
}

/// The file writer and the pool writer store the same rows and rollups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_writers_store_every_record_edge_and_rollup() {
    const N: i64 = 2_500;
    for writer in WRITERS {
        let (_dir, db, store) = database_and_store(writer).await;
        let recorder = Recorder::with_store(store);
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
        // Error groups: every failure ("boom", a trap) counted once, in its
        // function's one group.
        assert_eq!(count(&db, "SELECT COUNT(*) FROM error_groups").await, 3);
        assert_eq!(
            count(&db, "SELECT CAST(SUM(count) AS BIGINT) FROM error_groups").await,
            errors
        );
        let row = sqlx::query(
            "SELECT first_seen, last_invocation_id FROM error_groups WHERE function_name = 'fn-0'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(row.get::<i64, _>(0), 1_800_000_000_000);
        assert_eq!(
            row.get::<String, _>(1),
            format!("rec-{:06}", (N - 1) / 30 * 30)
        );
        // Rollups: every record counted once, in its own hour.
        let hours = rollup::load(&db, 0, i64::MAX).await.unwrap();
        let requests: i64 = hours.iter().map(|h| h.usage.requests).sum();
        let failures: i64 = hours.iter().map(|h| h.usage.errors).sum();
        let billed: i64 = hours.iter().map(|h| h.usage.billed_ms).sum();
        assert_eq!((requests, failures, billed), (N, N / 10, 2 * N));
        assert!(hours.len() > 3, "{} rollup rows", hours.len());
        // Every writer fed the log search index every stored record.
        let matches = if writer == Writer::Postgres {
            "SELECT COUNT(*) FROM invocations \
             WHERE invocation_words(logs, error) @@ to_tsquery('simple', 'line')"
        } else {
            "SELECT COUNT(*) FROM invocations_fts WHERE invocations_fts MATCH 'line'"
        };
        assert_eq!(count(&db, matches).await, N, "{writer:?}");
        index_matches_content(&db, writer).await;
    }
}

/// FTS5's own check of the log search index against `invocations`, row
/// by row (fails on an entry under a wrong rowid or a missing one); on
/// PostgreSQL the index is the server's own.
async fn index_matches_content(db: &AnyPool, writer: Writer) {
    if writer == Writer::Postgres {
        return;
    }
    sqlx::query(
        "INSERT INTO invocations_fts (invocations_fts, rank) VALUES ('integrity-check', 1)",
    )
    .execute(db)
    .await
    .unwrap();
}

/// A record under an id that is already stored (a redriven attempt used
/// to reuse its first id) is skipped and not metered twice; the records
/// batched with it are all stored and metered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_id_never_sinks_its_batch() {
    for writer in WRITERS {
        let (_dir, db, store) = database_and_store(writer).await;
        let recorder = Recorder::with_store(store);
        recorder.record(record(1)).await;
        recorder.flush().await;
        let mut tail = recorder.subscribe();
        for i in 2..100 {
            recorder.record(record(i)).await;
            if i == 50 {
                // Same id as the stored one, and twice within the batch.
                recorder.record(record(1)).await;
                recorder.record(record(60)).await;
            }
        }
        recorder.flush().await;
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM invocations").await,
            99,
            "{writer:?}"
        );
        let hours = rollup::load(&db, 0, i64::MAX).await.unwrap();
        let requests: i64 = hours.iter().map(|h| h.usage.requests).sum();
        assert_eq!(requests, 99, "{writer:?}");
        // Live tails see each stored record once.
        let mut tailed = 0;
        while tail.try_recv().is_ok() {
            tailed += 1;
        }
        assert_eq!(tailed, 98, "{writer:?}");
        // A skipped duplicate put nothing into the search index.
        index_matches_content(&db, writer).await;
    }
}

/// A batch's records and its call edges are stored together or not at
/// all: a trace read between two commits once showed a retried call
/// without the outbound request it made (the pool writer committed the
/// records, then stored the edges on their own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_their_call_edges_are_stored_together() {
    for writer in WRITERS {
        let (_dir, db, mut store) = database_and_store(writer).await;
        let edge = OutboundCallRecord {
            invocation_id: "rec-000001".into(),
            function: "fn-1".into(),
            target_kind: "host",
            target: "example.com".into(),
            method: "GET".into(),
            status_code: Some(200),
            ok: true,
            duration_us: 42,
            at_ms: 1_800_000_000_000,
        };
        // The edge cannot be stored: neither is the record.
        let refuse = if writer == Writer::Postgres {
            "CREATE FUNCTION refuse_edges() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'edges refused'; END $$; \
             CREATE TRIGGER refuse_edges BEFORE INSERT ON outbound_calls \
             FOR EACH ROW EXECUTE FUNCTION refuse_edges()"
        } else {
            "CREATE TRIGGER refuse_edges BEFORE INSERT ON outbound_calls \
             BEGIN SELECT RAISE(ABORT, 'edges refused'); END"
        };
        sqlx::raw_sql(refuse).execute(&db).await.unwrap();
        let failed = match store
            .write(vec![record(1).into()], vec![edge.clone()], false)
            .await
        {
            Err(failed) => failed,
            Ok(_) => panic!("the write must fail ({writer:?})"),
        };
        assert!(failed.error.contains("edges refused"), "{}", failed.error);
        assert_eq!(failed.stored, 0, "{writer:?}");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM invocations").await,
            0,
            "a record was stored without its call edge ({writer:?})"
        );
        // What came back is stored whole once the edge can be.
        assert_eq!(failed.records.len(), 1, "{writer:?}");
        assert_eq!(failed.calls.len(), 1, "{writer:?}");
        let allow = if writer == Writer::Postgres {
            "DROP TRIGGER refuse_edges ON outbound_calls"
        } else {
            "DROP TRIGGER refuse_edges"
        };
        sqlx::query(allow).execute(&db).await.unwrap();
        let records = failed.records.into_iter().map(Entry::from).collect();
        if let Err(failed) = store.write(records, failed.calls, false).await {
            panic!("{} ({writer:?})", failed.error);
        }
        assert_eq!(count(&db, "SELECT COUNT(*) FROM invocations").await, 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM outbound_calls").await, 1);
        let hours = rollup::load(&db, 0, i64::MAX).await.unwrap();
        let requests: i64 = hours.iter().map(|h| h.usage.requests).sum();
        assert_eq!(requests, 1, "metered once ({writer:?})");
    }
}

/// A call that started its own trace is stored without its trace id (the
/// trace index then costs it nothing, docs/DECISIONS.md #68) and read back
/// with it; a call in another call's trace or an outside one keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_started_its_trace_is_stored_without_it() {
    for writer in WRITERS {
        let (_dir, db, mut store) = database_and_store(writer).await;
        let root_id = crate::invoke::new_invocation_id();
        let trace = crate::trace_context::trace_id_of(&root_id);
        let outside = "4bf92f3577b34da6a3ce929d0e0e4736".to_string();
        let mut root = record(1);
        root.id = root_id.clone();
        root.trace_id = Some(trace.clone());
        let mut child = record(2);
        child.id = crate::invoke::new_invocation_id();
        child.parent_id = Some(root_id.clone());
        child.trace_id = Some(trace.clone());
        let mut joined = record(3);
        joined.id = crate::invoke::new_invocation_id();
        joined.trace_id = Some(outside.clone());
        let records = vec![root.into(), child.clone().into(), joined.clone().into()];
        if let Err(failed) = store.write(records, Vec::new(), false).await {
            panic!("{} ({writer:?})", failed.error);
        }
        let stored = |id: String| {
            let db = db.clone();
            async move {
                sqlx::query("SELECT trace_id FROM invocations WHERE id = $1")
                    .bind(id)
                    .fetch_one(&db)
                    .await
                    .unwrap()
                    .get::<Option<String>, _>(0)
            }
        };
        assert_eq!(stored(root_id.clone()).await, None, "{writer:?}");
        assert_eq!(stored(child.id.clone()).await, Some(trace.clone()));
        assert_eq!(stored(joined.id.clone()).await, Some(outside.clone()));
        // Read back, every record names its trace.
        let rows = sqlx::query("SELECT * FROM invocations ORDER BY started_at")
            .fetch_all(&db)
            .await
            .unwrap();
        let traces: Vec<_> = rows
            .iter()
            .map(|row| crate::invocations::record_from_row(row).unwrap().trace_id)
            .collect();
        assert_eq!(traces, [Some(trace.clone()), Some(trace), Some(outside)]);
    }
}

/// A function's log line or error holding a NUL character is stored on
/// every database (PostgreSQL's text cannot hold one: it stores U+FFFD
/// instead). On PostgreSQL it used to fail the whole batch, and the failed
/// batch, retried ahead of every newer record, stopped all recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_log_line_never_stops_recording() {
    for writer in WRITERS {
        let (_scratch, db, store) = database_and_store(writer).await;
        let recorder = Recorder::with_store(store);
        for i in 0..50 {
            let mut r = record(i);
            if i == 20 {
                r.logs = "before\0after\n".into();
                r.error = Some("trap: \0".into());
            }
            recorder.record(r).await;
        }
        recorder.flush().await;
        let health = recorder.health();
        assert_eq!(
            (health.failures, health.queued, health.dropped),
            (0, 0, 0),
            "{writer:?}: {:?}",
            health.last_error
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM invocations").await, 50);
        let row = sqlx::query("SELECT logs, error FROM invocations WHERE id = 'rec-000020'")
            .fetch_one(&db)
            .await
            .unwrap();
        let nul = if writer == Writer::Postgres {
            "\u{FFFD}"
        } else {
            "\0"
        };
        assert_eq!(
            row.get::<String, _>(0),
            format!("before{nul}after\n"),
            "{writer:?}"
        );
        assert_eq!(
            row.get::<Option<String>, _>(1),
            Some(format!("trap: {nul}")),
            "{writer:?}"
        );
    }
}

/// Every value of a record comes back as it was stored, on every writer:
/// texts with quotes, backslashes, commas, braces, blanks, the word NULL,
/// line breaks and non-ASCII characters (PostgreSQL's rows are bound as
/// array literals, where each of those means something); empty texts and
/// missing ones apart; the extremes of the integers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_comes_back_as_it_was_stored() {
    let texts = [
        r#"say "hi", {x} \ \" NULL"#,
        "NULL",
        "",
        "  blanks around  ",
        "line one\nline two\r\n\ttab",
        "ünïcødé → 日本 🦀",
        "{\"a\":[1,2]}",
        "\\\\",
    ];
    for writer in WRITERS {
        let (_scratch, db, mut store) = database_and_store(writer).await;
        let mut expected = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let mut r = record(i as i64 + 1);
            r.id = format!("{text}-{i}");
            r.function = format!("fn {text}");
            r.path = format!("/{text}");
            r.method = (*text).to_string();
            r.logs = (*text).to_string();
            r.error = (i % 2 == 0).then(|| (*text).to_string());
            r.parent_id = (i % 3 == 0).then(|| (*text).to_string());
            r.trigger_id = Some((*text).to_string());
            // Read back, a record always names its trace.
            r.trace_id = Some(if i % 2 == 1 {
                format!("trace {text}")
            } else {
                crate::trace_context::trace_id_of(&r.id)
            });
            r.parent_span_id = (i % 2 == 1).then(String::new);
            r.attempt = (i % 2 == 0).then_some(u32::MAX);
            r.peak_memory_bytes = i64::MAX;
            r.bytes_in = i64::MIN;
            r.status_code = (i % 2 == 1).then_some(-1);
            r.logs_truncated = i % 2 == 0;
            expected.push(r);
        }
        let entries = expected.iter().cloned().map(Entry::from).collect();
        if let Err(failed) = store.write(entries, Vec::new(), false).await {
            panic!("{} ({writer:?})", failed.error);
        }
        for r in &expected {
            let row = sqlx::query("SELECT * FROM invocations WHERE id = $1")
                .bind(r.id.as_str())
                .fetch_one(&db)
                .await
                .unwrap_or_else(|e| panic!("{writer:?}: {:?}: {e}", r.id));
            let stored = crate::invocations::record_from_row(&row).unwrap();
            assert_eq!(&stored, r, "{writer:?}");
        }
    }
}

/// Dropping the last recorder handle stores what is still queued, and a
/// flush covers the records queued before it even when they arrive in
/// the middle of a batch window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_queued_is_lost_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wisp.db").display());
    let (db, _) = crate::db::connect(&url).await.unwrap();
    let recorder = Recorder::with_store(Store::Sqlite(SqliteWriter::for_url(&url).unwrap()));
    let second = recorder.clone();
    // The first record opens a batch window; the flush ends it early.
    recorder.record(record(0)).await;
    second.record(record(1)).await;
    second.flush().await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM invocations").await, 2);
    for i in 2..300 {
        second.record(record(i)).await;
    }
    drop(recorder);
    drop(second);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count(&db, "SELECT COUNT(*) FROM invocations").await < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "queued records were not stored at close"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
