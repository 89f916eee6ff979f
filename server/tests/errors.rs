//! Debugging failures over the real server: a trap in a function built
//! with debug info shows its frames with source file and line (with
//! `--backtrace-details`, and only then), and failures are grouped by
//! function, outcome and shape — counted, with the version each group
//! first appeared in — through `GET /api/v1/errors` and `wisp errors`,
//! each team seeing its own.

mod common;

use std::time::{Duration, Instant};

use common::{invocation_id, wisp, TestServer};
use serde_json::{json, Value};

/// Calls `/fn/{name}/{path}` and returns the invocation id (any status).
async fn call(server: &TestServer, name: &str, path: &str) -> (u16, String) {
    let r = server
        .http
        .post(server.fn_url(&format!("/fn/{name}/{path}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), invocation_id(&r))
}

/// `GET /api/v1/errors?{query}` once every listed function's groups hold
/// `count` failures in all.
async fn groups_when(server: &TestServer, query: &str, counts: &[(&str, i64)]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = server.get_json(&format!("/api/v1/errors?{query}")).await;
        let groups = answer["groups"].as_array().unwrap().clone();
        let total = |function: &str| -> i64 {
            groups
                .iter()
                .filter(|g| g["function"] == function)
                .map(|g| g["count"].as_i64().unwrap())
                .sum()
        };
        if counts.iter().all(|(f, n)| total(f) == *n) {
            return groups;
        }
        assert!(
            Instant::now() < deadline,
            "groups never reached {counts:?}: {answer:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn group<'a>(groups: &'a [Value], function: &str) -> &'a Value {
    let mine: Vec<&Value> = groups
        .iter()
        .filter(|g| g["function"] == function)
        .collect();
    assert_eq!(mine.len(), 1, "one group of {function}: {groups:#?}");
    mine[0]
}

#[tokio::test]
async fn traps_show_source_lines_and_failures_are_grouped_per_team() {
    let server = TestServer::start_with(&["--backtrace-details"]).await;
    server.deploy("shop", "trap-debug").await;
    server.deploy("flaky", "relay").await;
    server
        .configure("flaky", json!({"env": {"FAIL_FIRST": "2"}}))
        .await;
    server.deploy("spin", "infinite-loop").await;
    server.configure("spin", json!({"timeout_ms": 300})).await;

    // Three failures of shop on different paths: one shape.
    let mut shop_ids = Vec::new();
    for path in ["a", "order/17", "order/9f86d081884c7d65"] {
        let (status, id) = call(&server, "shop", path).await;
        assert_eq!(status, 502);
        shop_ids.push(id);
    }
    for expected in [502, 502, 200] {
        assert_eq!(call(&server, "flaky", "").await.0, expected);
    }
    assert_eq!(call(&server, "spin", "").await.0, 504);

    // The trap's frames name the functions and their source lines.
    let record = server.invocation_eventually(&shop_ids[0]).await;
    let error = record.error.expect("a trap has an error");
    assert!(error.contains("validate_order"), "{error}");
    assert!(error.contains("checkout"), "{error}");
    let located: Vec<&str> = error
        .lines()
        .filter(|l| l.trim_start().starts_with("at ") && l.contains("src/main.rs:"))
        .collect();
    assert!(!located.is_empty(), "no frame with file:line in\n{error}");

    let groups = groups_when(&server, "", &[("shop", 3), ("flaky", 2), ("spin", 1)]).await;
    let shop = group(&groups, "shop");
    assert_eq!(shop["outcome"], "trap");
    assert_eq!(shop["count"], 3);
    assert_eq!(shop["first_version"], 1);
    assert_eq!(shop["last_invocation_id"], shop_ids[2].as_str());
    let signature = shop["signature"].as_str().unwrap();
    assert!(signature.contains("validate_order"), "{signature}");
    assert!(
        !signature.contains("src/main.rs"),
        "file:line is not part of the shape: {signature}"
    );
    assert!(shop["sample_error"]
        .as_str()
        .unwrap()
        .contains("src/main.rs:"));
    assert_eq!(group(&groups, "flaky")["outcome"], "trap");
    assert_eq!(group(&groups, "spin")["outcome"], "timeout");
    assert_eq!(groups.len(), 3, "{groups:#?}");

    // A new version failing the same way joins the group; the group keeps
    // the version where it first appeared.
    server.deploy("shop", "trap-debug").await;
    let (_, latest) = call(&server, "shop", "again").await;
    let groups = groups_when(&server, "function=shop", &[("shop", 4)]).await;
    let shop = group(&groups, "shop");
    assert_eq!(
        (
            shop["first_version"].as_i64(),
            shop["last_version"].as_i64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(shop["last_invocation_id"], latest.as_str());
    assert!(shop["first_seen"].as_str() < shop["last_seen"].as_str());
    let since = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let later = server
        .get_json(&format!(
            "/api/v1/errors?since={}",
            since.replace('+', "%2B")
        ))
        .await;
    assert_eq!(later["groups"], json!([]));

    // The CLI shows the same groups.
    let (ok, out, err) = wisp(&server, &["errors", "--function", "shop"]);
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("shop "))
        .unwrap_or_else(|| panic!("no shop row in\n{out}"));
    assert!(
        row.contains(" 4 ") && row.contains("v1") && row.contains(&latest),
        "{row}"
    );
    let (ok, out, err) = wisp(&server, &["errors", "--json"]);
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["groups"].as_array().unwrap().len(), 3);

    // Another team sees none of them, and cannot ask for shop's.
    let other = server
        .second_team_token("errors-team", "errors-owner")
        .await;
    let r = server
        .http
        .get(server.api_url("/api/v1/errors"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["groups"], json!([]));
    let r = server
        .http
        .get(server.api_url("/api/v1/errors?function=shop"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn without_backtrace_details_frames_have_names_only() {
    let server = TestServer::start().await;
    server.deploy("shop", "trap-debug").await;
    let (status, id) = call(&server, "shop", "").await;
    assert_eq!(status, 502);
    let error = server.invocation_eventually(&id).await.error.unwrap();
    assert!(error.contains("validate_order"), "{error}");
    assert!(!error.contains("src/main.rs"), "{error}");
}
