//! The REST routes behind the dashboard, over real HTTP: API tokens (create,
//! list, revoke — a revoked token is refused at once), the overview, the
//! functions list's 24-hour columns, and paging invocations by time and cursor.

mod common;

use std::time::{Duration, Instant};

use common::{invocation_id, TestServer};
use model::{ApiTokenInfo, CreatedApiToken, FunctionSummary, InvocationRecord, Overview};

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() {
    let server = TestServer::start().await;

    let response = server
        .post("/api/v1/tokens")
        .json(&serde_json::json!({ "name": "ci deploys" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: CreatedApiToken = response.json().await.unwrap();
    assert!(created.token.starts_with("wisp_"), "{}", created.token);
    assert_eq!(created.info.name, "ci deploys");
    let prefix = created.info.prefix.clone().expect("a prefix");
    assert!(
        created.token.starts_with(&prefix) && prefix.len() == 9,
        "{prefix}"
    );

    let with_new_token = |path: &str| {
        server
            .http
            .get(server.api_url(path))
            .bearer_auth(&created.token)
    };
    assert_eq!(
        with_new_token("/api/v1/functions")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let listed: Vec<ApiTokenInfo> =
        serde_json::from_value(server.get_json("/api/v1/tokens").await).unwrap();
    let mine = listed
        .iter()
        .find(|t| t.id == created.info.id)
        .expect("the new token is listed");
    assert_eq!(mine.name, "ci deploys");
    assert!(listed.iter().any(|t| t.name == "admin (bootstrap)"));
    let json = server
        .get("/api/v1/tokens")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!json.contains(&created.token), "the list leaks the secret");

    let revoke = server
        .http
        .delete(server.api_url(&format!("/api/v1/tokens/{}", created.info.id)))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    let refused = with_new_token("/api/v1/functions").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let listed: Vec<ApiTokenInfo> =
        serde_json::from_value(server.get_json("/api/v1/tokens").await).unwrap();
    assert!(
        listed.iter().all(|t| t.id != created.info.id),
        "revoked token still listed"
    );
    let again = server
        .http
        .delete(server.api_url(&format!("/api/v1/tokens/{}", created.info.id)))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    let nameless = server
        .post("/api/v1/tokens")
        .json(&serde_json::json!({ "name": "  " }))
        .send()
        .await
        .unwrap();
    assert_eq!(nameless.status(), 400);
    let anonymous = server
        .http
        .get(server.api_url("/api/v1/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// Polls the overview until `done` holds (records are written in batches).
async fn overview_until(server: &TestServer, done: impl Fn(&Overview) -> bool) -> Overview {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let overview: Overview =
            serde_json::from_value(server.get_json("/api/v1/overview").await).unwrap();
        if done(&overview) {
            return overview;
        }
        assert!(
            Instant::now() < deadline,
            "overview never caught up: {overview:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn overview_counts_calls_and_lists_failures() {
    let server = TestServer::start().await;
    let empty = overview_until(&server, |_| true).await;
    assert_eq!(empty.functions, 0);
    assert_eq!(empty.last_hour.invocations, 0);
    assert_eq!(empty.per_minute.len(), 60);
    assert!(empty.recent_failures.is_empty());

    server.deploy("hello", "hello").await;
    server.deploy("trap", "trap").await;
    for _ in 0..3 {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let failed = server
        .http
        .get(server.fn_url("/fn/trap/"))
        .send()
        .await
        .unwrap();
    assert!(failed.status().is_server_error());
    let failed_id = invocation_id(&failed);

    let overview = overview_until(&server, |o| o.last_hour.invocations >= 4).await;
    assert_eq!(overview.functions, 2);
    assert_eq!(overview.live_functions, 2);
    assert_eq!(overview.last_hour.invocations, 4);
    assert_eq!(overview.last_hour.errors, 1);
    assert_eq!(overview.last_day.invocations, 4);
    assert_eq!(overview.last_day.errors, 1);
    assert_eq!(overview.per_minute.len(), 60);
    let charted: i64 = overview.per_minute.iter().map(|m| m.invocations).sum();
    let charted_errors: i64 = overview.per_minute.iter().map(|m| m.errors).sum();
    assert_eq!((charted, charted_errors), (4, 1));
    assert!(overview
        .per_minute
        .windows(2)
        .all(|w| w[0].minute < w[1].minute));
    assert_eq!(overview.recent_failures.len(), 1);
    assert_eq!(overview.recent_failures[0].id, failed_id);
    assert_eq!(overview.recent_failures[0].function, "trap");
    assert_eq!(
        overview.recent_failures[0].outcome,
        model::InvocationOutcome::Trap
    );

    let functions: Vec<FunctionSummary> =
        serde_json::from_value(server.get_json("/api/v1/functions").await).unwrap();
    let hello = functions.iter().find(|f| f.name == "hello").unwrap();
    assert_eq!((hello.calls_24h, hello.errors_24h), (3, 0));
    assert!(hello.p50_duration_ms.is_some_and(|ms| ms > 0.0));
    let trap = functions.iter().find(|f| f.name == "trap").unwrap();
    assert_eq!((trap.calls_24h, trap.errors_24h), (1, 1));
}

#[tokio::test]
async fn invocations_page_by_cursor_and_filter_by_time() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    for _ in 0..5 {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let all = server.invocations("hello", 5).await;
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    let page = |query: String| {
        let server = &server;
        async move {
            let list: Vec<InvocationRecord> = serde_json::from_value(
                server
                    .get_json(&format!("/api/v1/functions/hello/invocations?{query}"))
                    .await,
            )
            .unwrap();
            list.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    let first = page("limit=2".into()).await;
    assert_eq!(first, ids[..2]);
    let second = page(format!("limit=2&before={}", first[1])).await;
    assert_eq!(second, ids[2..4]);
    let third = page(format!("limit=2&before={}", second[1])).await;
    assert_eq!(third, ids[4..]);
    let back = page(format!("limit=2&after={}", second[0])).await;
    assert_eq!(
        back, first,
        "the newer page is the first page again, newest first"
    );

    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let encode = |t: &str| t.replace('+', "%2B");
    assert!(page(format!("since={}", encode(&future))).await.is_empty());
    assert!(page(format!("until={}", encode(&past))).await.is_empty());
    assert_eq!(page(format!("since={}", encode(&past))).await.len(), 5);
}
