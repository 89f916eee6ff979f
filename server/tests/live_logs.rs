//! Live logs over the real server: the lines a running call writes reach
//! the live tail (`GET /api/v1/invocations/stream?logs=true`) while the call
//! still runs, in the order written, with its invocation id and function,
//! JSON lines read as structured, secret values redacted, other teams'
//! lines never shown.

mod common;

use std::time::{Duration, Instant};

use common::{invocation_id, TestServer};
use serde_json::{json, Value};

/// Reads server-sent events from `response` until `done` says stop; each
/// event as (name, data as JSON), with the time it arrived.
async fn events_until(
    response: &mut reqwest::Response,
    done: impl Fn(&[(String, Value, Instant)]) -> bool,
) -> Vec<(String, Value, Instant)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&events) {
        let chunk = tokio::time::timeout_at(deadline.into(), response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no more events; got {events:?}"))
            .unwrap()
            .expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !name.is_empty() {
                events.push((name, serde_json::from_str(&data).unwrap(), Instant::now()));
            }
        }
    }
    events
}

#[tokio::test]
async fn a_running_calls_lines_reach_the_tail_before_it_ends() {
    let server = TestServer::start().await;
    server.deploy("slow", "relay").await;
    server
        .configure(
            "slow",
            json!({
                "env": {"SLEEP_MS": "2000", "LOG_LINE": r#"{"level":"warn","msg":"token s3cr3t-value used","n":1}"#},
                "secrets": {"TOKEN": "s3cr3t-value"},
            }),
        )
        .await;
    let mut tail = server
        .get("/api/v1/invocations/stream?logs=true&function=slow")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 200);

    let url = server.fn_url("/fn/slow/work");
    let http = server.http.clone();
    let call = tokio::spawn(async move {
        let r = http.post(url).body("x").send().await.unwrap();
        let id = invocation_id(&r);
        r.text().await.unwrap();
        id
    });

    // The first lines arrive while the call sleeps.
    let first = events_until(&mut tail, |events| {
        events.iter().any(|(_, data, _)| {
            data["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("relay: POST"))
        })
    })
    .await;
    assert!(
        !call.is_finished(),
        "the call ended before its first line was seen"
    );
    assert!(first.iter().all(|(name, _, _)| name == "log"), "{first:?}");
    let json_line = &first[0].1;
    assert_eq!(json_line["function"], "slow");
    assert_eq!(json_line["seq"], 0);
    assert_eq!(json_line["structured"]["level"], "warn");
    assert_eq!(json_line["structured"]["fields"]["n"], 1);
    let text = json_line["text"].as_str().unwrap();
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");

    // Then the line written after the sleep, then the stored record.
    let rest = events_until(&mut tail, |events| {
        events.iter().any(|(name, _, _)| name == "invocation")
    })
    .await;
    let id = call.await.unwrap();
    let all: Vec<&(String, Value, Instant)> = first.iter().chain(rest.iter()).collect();
    let lines: Vec<&str> = all
        .iter()
        .filter(|(name, _, _)| name == "log")
        .map(|(_, data, _)| {
            assert_eq!(data["invocation_id"], id.as_str());
            data["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[1].starts_with("relay: POST /work"), "{lines:?}");
    assert_eq!(lines[2], "relay: slept 2000 ms");
    let seqs: Vec<u64> = all
        .iter()
        .filter(|(name, _, _)| name == "log")
        .map(|(_, data, _)| data["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
    let record = &all.last().unwrap().1;
    assert_eq!(record["id"], id.as_str());
}

#[tokio::test]
async fn another_teams_tail_sees_none_of_the_lines() {
    let server = TestServer::start().await;
    server.deploy("quiet", "relay").await;
    server
        .configure("quiet", json!({"env": {"SLEEP_MS": "300"}}))
        .await;
    // A second team with its own owner token.
    let other = server.second_team_token("others", "olga").await;
    let mut foreign = server
        .http
        .get(server.api_url("/api/v1/invocations/stream?logs=true"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    let mut own = server
        .get("/api/v1/invocations/stream?logs=true")
        .send()
        .await
        .unwrap();
    let r = server
        .http
        .post(server.fn_url("/fn/quiet/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = events_until(&mut own, |events| {
        events.iter().any(|(name, _, _)| name == "invocation")
    })
    .await;
    assert!(seen.iter().any(|(name, _, _)| name == "log"), "{seen:?}");
    // Nothing reached the other team within a second of the end.
    let nothing = tokio::time::timeout(Duration::from_secs(1), foreign.chunk()).await;
    match nothing {
        Err(_) => {}
        Ok(Ok(Some(chunk))) => {
            let text = String::from_utf8_lossy(&chunk);
            assert!(
                !text.contains("event: log") && !text.contains("quiet"),
                "{text}"
            );
        }
        other => panic!("the other team's stream failed: {other:?}"),
    }
}
