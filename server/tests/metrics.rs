//! `GET /metrics` over the real server: only a server administrator reads
//! it, the counters follow real calls (successes, a trap, a dead letter),
//! and Debian's `promtool check metrics` accepts the exposition.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::json;

/// The value of the sample written exactly as `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

async fn scrape(server: &TestServer) -> String {
    let r = server.get("/metrics").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

/// Scrapes until every `(series, value)` holds (counts land when a call's
/// report is in, just after its response).
async fn scrape_until(server: &TestServer, expected: &[(&str, f64)]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = scrape(server).await;
        let missing: Vec<_> = expected
            .iter()
            .filter(|(series, value)| sample(&text, series) != Some(*value))
            .collect();
        if missing.is_empty() {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {missing:?} in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn metrics_count_real_calls_for_administrators_and_pass_promtool() {
    let server = TestServer::start_with(&["--retry-base-ms", "50"]).await;
    server.deploy("echo", "echo").await;
    server.deploy("flaky", "relay").await;
    server
        .configure("flaky", json!({"env": {"FAIL_FIRST": "1"}}))
        .await;
    server.deploy("doomed", "relay").await;
    server
        .configure("doomed", json!({"env": {"FAIL_FIRST": "1000"}}))
        .await;
    server
        .create_trigger(
            json!({"kind": "topic", "function": "doomed", "topic": "void", "max_attempts": 1}),
        )
        .await;

    // Before any call the exposition is valid too.
    promtool_check(&scrape(&server).await);

    for _ in 0..3 {
        let r = server
            .http
            .get(server.fn_url("/fn/echo/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let first = server
        .http
        .post(server.fn_url("/fn/flaky/"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 502, "FAIL_FIRST=1 traps the first call");
    let second = server
        .http
        .post(server.fn_url("/fn/flaky/"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    let r = server
        .post("/api/v1/topics/void")
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let text = scrape_until(
        &server,
        &[
            (
                r#"wisp_invocations_total{function="echo",trigger="http",status="success"}"#,
                3.0,
            ),
            (
                r#"wisp_invocations_total{function="flaky",trigger="http",status="success"}"#,
                1.0,
            ),
            (
                r#"wisp_invocations_total{function="flaky",trigger="http",status="error"}"#,
                1.0,
            ),
            (
                r#"wisp_invocation_errors_total{function="flaky",outcome="trap"}"#,
                1.0,
            ),
            (
                r#"wisp_invocation_errors_total{function="doomed",outcome="trap"}"#,
                1.0,
            ),
            (
                r#"wisp_invocation_duration_seconds_count{function="echo"}"#,
                3.0,
            ),
            (
                r#"wisp_invocation_duration_seconds_bucket{function="echo",le="+Inf"}"#,
                3.0,
            ),
            (r#"wisp_invocations_in_flight{function="echo"}"#, 0.0),
            (r#"wisp_jobs{function="doomed",state="dead"}"#, 1.0),
            ("wisp_dead_letters", 1.0),
            ("wisp_live_functions", 3.0),
        ],
    )
    .await;
    // Durations are real: the histogram's sum is positive, its buckets grow.
    assert!(
        sample(
            &text,
            r#"wisp_invocation_duration_seconds_sum{function="echo"}"#
        )
        .unwrap()
            > 0.0
    );
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(r#"wisp_invocation_duration_seconds_bucket{function="echo""#))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 16);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert!(sample(&text, "wisp_instantiation_seconds_count").unwrap() >= 5.0);
    assert!(sample(&text, "wisp_recorder_lag_seconds").is_some());
    promtool_check(&text);

    // The metrics span every team: administrators only.
    let r = server
        .http
        .get(server.api_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let owner = server
        .second_team_token("metrics-team", "metrics-owner")
        .await;
    let r = server
        .http
        .get(server.api_url("/metrics"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A scraper may hold a viewer-scoped token of the administrator.
    let r = server
        .post("/api/v1/tokens")
        .json(&json!({"name": "prometheus", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let scraper: serde_json::Value = r.json().await.unwrap();
    let r = server
        .http
        .get(server.api_url("/metrics"))
        .bearer_auth(scraper["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Not on the gateway's origin.
    let r = server
        .http
        .get(server.fn_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
