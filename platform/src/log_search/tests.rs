//! The search on a real SQLite file, its rows stored by the recorder (so
//! the index is fed as in production): team scoping, filters, paging by
//! cursor, the level filter's batches and short pages, and the query plan.

use model::{InvocationOutcome, InvocationRecord, InvocationStatus, TriggerKind};
use sqlx::{AnyPool, Row};

use super::*;
use crate::recorder::Recorder;

/// Call `i` of `function`: one JSON line at `level` (every 10th call at
/// `error`), a plain line, and for every 50th call an error text.
fn record(function: &str, i: i64) -> InvocationRecord {
    let level = if i % 10 == 0 { "error" } else { "info" };
    let failed = i % 50 == 0;
    InvocationRecord {
        id: format!("{function}-{i:06}"),
        function: function.to_string(),
        version: 1,
        trigger: TriggerKind::Http,
        started_at: crate::time::from_ms(1_800_000_000_000 + i * 1000),
        duration_ms: 1.0,
        billed_ms: 1,
        memory_limit_mb: 128,
        peak_memory_bytes: 0,
        bytes_in: 0,
        bytes_out: 0,
        status: if failed {
            InvocationStatus::Error
        } else {
            InvocationStatus::Success
        },
        outcome: if failed {
            InvocationOutcome::Trap
        } else {
            InvocationOutcome::Success
        },
        status_code: (!failed).then_some(200),
        error: failed.then(|| format!("wasm trap: unreachable in call{i}")),
        method: "GET".into(),
        path: format!("/orders/{i}"),
        logs: format!(
            "{{\"level\":\"{level}\",\"msg\":\"order {i} stored\"}}\nGET /orders/call{i} done\n"
        ),
        logs_truncated: false,
        parent_id: None,
        trigger_id: None,
        trace_id: None,
        parent_span_id: None,
        attempt: None,
    }
}

/// A migrated SQLite file with `n` calls of `mine` (team 1) and of
/// `theirs` (team 2), stored through the recorder.
async fn database(n: i64) -> (tempfile::TempDir, AnyPool) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wisp.db").display());
    let (db, backend) = crate::db::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES (2, 'other', 0)")
        .execute(&db)
        .await
        .unwrap();
    for (name, team) in [("mine", 1), ("theirs", 2)] {
        sqlx::query("INSERT INTO function_owners (name, team_id, created_at) VALUES ($1, $2, 0)")
            .bind(name)
            .bind(team)
            .execute(&db)
            .await
            .unwrap();
    }
    let recorder = Recorder::start(db.clone(), backend, &url);
    for i in 0..n {
        recorder.record(record("mine", i)).await;
        recorder.record(record("theirs", i)).await;
    }
    recorder.flush().await;
    (dir, db)
}

fn search(q: &str) -> LogSearch {
    LogSearch {
        q: q.to_string(),
        ..LogSearch::default()
    }
}

/// Every hit of `s` for team 1, page by page: (ids, pages).
async fn all(db: &AnyPool, mut s: LogSearch) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = search_page(db, Backend::Sqlite, 1, &s).await.unwrap();
        pages += 1;
        ids.extend(page.hits.iter().map(|h| h.id.clone()));
        match page.next_before {
            Some(next) => s.before = Some(next),
            None => return (ids, pages),
        }
    }
}

#[tokio::test]
async fn searches_a_teams_calls_with_filters_and_pages() {
    let (_dir, db) = database(300).await;
    // One call's word: only that call of the team (the other team's is not seen).
    let page = search_page(&db, Backend::Sqlite, 1, &search("call123"))
        .await
        .unwrap();
    assert_eq!(page.hits.len(), 1);
    assert_eq!(page.hits[0].id, "mine-000123");
    assert_eq!(page.hits[0].lines[0].text, "GET /orders/call123 done");
    assert_eq!(page.hits[0].lines[0].number, 2);
    // Newest first, every call once across pages of 7.
    let (ids, pages) = all(
        &db,
        LogSearch {
            limit: 7,
            ..search("stored")
        },
    )
    .await;
    assert_eq!(ids.len(), 300);
    assert_eq!(pages, 43);
    assert_eq!(ids[0], "mine-000299");
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    // Status, time, error text.
    let failed = all(
        &db,
        LogSearch {
            status: Some("error".into()),
            ..search("stored")
        },
    )
    .await
    .0;
    assert_eq!(failed.len(), 6);
    let page = search_page(&db, Backend::Sqlite, 1, &search("unreachable call100"))
        .await
        .unwrap();
    assert_eq!(page.hits.len(), 1);
    let error = page.hits[0].error.as_ref().unwrap();
    assert_eq!((error.number, error.highlights.len()), (0, 2));
    let since = crate::time::from_ms(1_800_000_000_000 + 250_000);
    let until = crate::time::from_ms(1_800_000_000_000 + 260_000);
    let window = all(
        &db,
        LogSearch {
            since: Some(since),
            until: Some(until),
            ..search("stored")
        },
    )
    .await
    .0;
    assert_eq!(window.len(), 10);
    // A function filter is a filter: another team's name finds nothing
    // here (the service answers it as not found before).
    let theirs = search_page(
        &db,
        Backend::Sqlite,
        1,
        &LogSearch {
            function: Some("theirs".into()),
            ..search("stored")
        },
    )
    .await
    .unwrap();
    assert!(theirs.hits.is_empty());
}

#[tokio::test]
async fn level_keeps_json_lines_of_that_level_in_batches() {
    let (_dir, db) = database(6_000).await;
    // 600 of the team's calls have an error-level line with "order".
    let s = LogSearch {
        level: Some("ERROR".into()),
        limit: 50,
        ..search("order")
    };
    let page = search_page(&db, Backend::Sqlite, 1, &s).await.unwrap();
    assert_eq!(page.hits.len(), 50);
    assert_eq!(page.hits[0].id, "mine-005990");
    assert!(page
        .hits
        .iter()
        .all(|h| h.lines.len() == 1 && h.lines[0].number == 1));
    let (ids, _) = all(&db, s).await;
    assert_eq!(ids.len(), 600);
    // "done" is on the plain line only: no JSON line holds it. The index
    // narrows to the 5,400 calls with both words, and after reading
    // MAX_ROWS_READ rows a page ends short with a cursor.
    let s = LogSearch {
        level: Some("info".into()),
        ..search("done")
    };
    let page = search_page(&db, Backend::Sqlite, 1, &s).await.unwrap();
    assert!(page.hits.is_empty());
    let next = page.next_before.expect("a cursor after a short page");
    let rest = search_page(
        &db,
        Backend::Sqlite,
        1,
        &LogSearch {
            before: Some(next),
            ..s
        },
    )
    .await
    .unwrap();
    assert!(rest.hits.is_empty() && rest.next_before.is_none());
}

#[tokio::test]
async fn fts5_walks_the_index_newest_first_without_a_sort() {
    let (_dir, db) = database(10).await;
    let s = LogSearch {
        function: Some("mine".into()),
        status: Some("error".into()),
        since: Some(crate::time::from_ms(0)),
        until: Some(crate::time::from_ms(4_000_000_000_000)),
        ..search("order")
    };
    let plan = plan(Backend::Sqlite, 1, &s).unwrap();
    let sql = format!(
        "EXPLAIN QUERY PLAN {}",
        rows_sql(Backend::Sqlite, &plan, true)
    );
    let mut query = sqlx::query(&sql);
    for value in &plan.values {
        query = match value {
            Value::Text(t) => query.bind(t.as_str()),
            Value::Number(n) => query.bind(*n),
        };
    }
    let rows = query
        .bind("mine-000005")
        .bind(51_i64)
        .fetch_all(&db)
        .await
        .unwrap();
    let steps: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
    assert!(
        steps[0].starts_with("SCAN invocations_fts VIRTUAL TABLE"),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|s| s.contains("TEMP B-TREE")),
        "{steps:?}"
    );
}

#[tokio::test]
async fn the_index_holds_what_the_recorder_stored() {
    let (_dir, db) = database(50).await;
    // FTS5 compares the index with the content table, row by row.
    sqlx::query(
        "INSERT INTO invocations_fts (invocations_fts, rank) VALUES ('integrity-check', 1)",
    )
    .execute(&db)
    .await
    .unwrap();
    let indexed: i64 =
        sqlx::query("SELECT COUNT(*) FROM invocations_fts WHERE invocations_fts MATCH 'stored'")
            .fetch_one(&db)
            .await
            .unwrap()
            .get(0);
    assert_eq!(indexed, 100);
}
