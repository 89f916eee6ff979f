//! Alerts over the real interfaces: a webhook receiver run by the test gets
//! exactly one firing and one resolved notification, each with a valid
//! HMAC signature, for an error-rate rule on a function that fails and is
//! then fixed; a budget rule fires once the month's projected cost passes
//! it; the history and the CLI show both.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{wisp, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What the receiver got: (headers, body) per request.
type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push((headers, body));
                "thanks"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// HMAC-SHA256 (RFC 2104) over sha2, as the receiver of a webhook computes it.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Checks `X-Wisp-Signature: t=…,v1=…` against the body and the secret.
fn signature_is_valid(headers: &axum::http::HeaderMap, body: &str, secret: &str) -> bool {
    let Some(header) = headers
        .get("x-wisp-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_string()),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let expected = hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes());
    hex::encode(expected) == v1
}

async fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get_json(server: &TestServer, path: &str) -> Value {
    server.get(path).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn an_error_rate_rule_fires_once_and_resolves_once_with_signed_webhooks() {
    let (hook, received) = receiver().await;
    let server =
        TestServer::start_with(&["--allow-private-destinations", "--alert-every", "1s"]).await;
    server.deploy("flaky", "trap").await;

    let r = server
        .http
        .post(server.api_url("/api/v1/alerts"))
        .bearer_auth(&server.token)
        .json(&json!({
            "name": "flaky-errors",
            "metric": "error_rate",
            "threshold": 50,
            "function": "flaky",
            "window_minutes": 1,
            "min_calls": 3,
            "webhook_url": hook,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let secret = created["webhook_secret"].as_str().unwrap().to_string();
    let rule_id = created["rule"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["rule"]["state"], "ok");

    // Failing calls: the rule fires, once.
    for _ in 0..5 {
        let r = server
            .http
            .get(server.fn_url("/fn/flaky/"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_server_error(), "{}", r.status());
    }
    wait_for("a firing notification", 30, || {
        !received.lock().unwrap().is_empty()
    })
    .await;
    let rule = get_json(&server, &format!("/api/v1/alerts/{rule_id}")).await;
    assert_eq!(rule["state"], "firing", "{rule}");

    // The fix: a version that answers. Enough good calls bring the rate
    // in the window under 50 %: resolved, once.
    server.deploy("flaky", "hello").await;
    for _ in 0..20 {
        let r = server
            .http
            .get(server.fn_url("/fn/flaky/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_for("a resolved notification", 30, || {
        received.lock().unwrap().len() >= 2
    })
    .await;
    // Several more evaluations: nothing more is sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    let states: Vec<String> = got
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<Value>(body).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(states, ["firing", "resolved"]);
    for (headers, body) in &got {
        assert!(
            signature_is_valid(headers, body, &secret),
            "bad signature: {headers:?}"
        );
        assert!(!signature_is_valid(
            headers,
            &body.replace("flaky", "other"),
            &secret
        ));
        let note: Value = serde_json::from_str(body).unwrap();
        assert_eq!(note["rule"], "flaky-errors");
        assert_eq!(note["scope"], "function flaky");
        assert_eq!(note["threshold"], 50.0);
        assert_eq!(
            headers["x-wisp-event"].to_str().unwrap(),
            format!("alert.{}", note["state"].as_str().unwrap())
        );
    }
    let fired: Value = serde_json::from_str(&got[0].1).unwrap();
    assert!(fired["value"].as_f64().unwrap() > 50.0, "{fired}");

    // The history says the same, with the deliveries.
    let history = get_json(&server, "/api/v1/alerts/history").await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{history}");
    assert_eq!(events[0]["state"], "resolved");
    assert_eq!(events[1]["state"], "firing");
    for e in events {
        assert_eq!(e["delivery"], "delivered (200)", "{e}");
    }
    let (ok, out, err) = wisp(&server, &["alerts", "history"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("flaky-errors") && out.contains("resolved"),
        "{out}"
    );
    let (ok, out, _) = wisp(&server, &["alerts"]);
    assert!(ok);
    assert!(
        out.contains("flaky-errors") && out.contains("function flaky"),
        "{out}"
    );
}

#[tokio::test]
async fn a_budget_rule_fires_when_the_projection_passes_it() {
    let server = TestServer::start_with(&["--alert-every", "1s"]).await;
    server.deploy("hello", "hello").await;
    // One cent a request from the month's start (plans price whole hours):
    // ten calls cost 0.10 so far this month; the projection to the month's
    // end is at least that.
    let month_start = chrono::Utc::now().format("%Y-%m-01T00:00:00Z").to_string();
    let r = server
        .http
        .put(server.api_url("/api/v1/price-plan"))
        .bearer_auth(&server.token)
        .json(&json!({
            "effective_from": month_start,
            "currency": "USD",
            "per_million_requests": "10000",
            "per_gb_second": "0",
            "per_gb_egress": "0",
            "server_monthly": "0",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (ok, out, err) = wisp(
        &server,
        &[
            "alerts",
            "create",
            "budget",
            "--metric",
            "monthly-cost",
            "--above",
            "0.05",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Webhook signing secret"), "{out}");
    // Below the budget: it stays ok.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rules = get_json(&server, "/api/v1/alerts").await;
    assert_eq!(rules["rules"][0]["state"], "ok", "{rules}");

    for _ in 0..10 {
        let r = server
            .http
            .get(server.fn_url("/fn/hello/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rules = get_json(&server, "/api/v1/alerts").await;
        if rules["rules"][0]["state"] == "firing" {
            assert!(
                rules["rules"][0]["last_value"].as_f64().unwrap() >= 0.1,
                "{rules}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the budget alert never fired: {rules}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let history = get_json(&server, "/api/v1/alerts/history").await;
    assert_eq!(history["events"][0]["state"], "firing");
    assert_eq!(history["events"][0]["delivery"], "none");

    // Bad input is refused with a reason.
    let r = server
        .http
        .post(server.api_url("/api/v1/alerts"))
        .bearer_auth(&server.token)
        .json(
            &json!({"name": "x", "metric": "error_rate", "threshold": 1, "webhook_url": "ftp://a"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (ok, _, err) = wisp(
        &server,
        &[
            "alerts", "create", "y", "--metric", "latency", "--above", "1",
        ],
    );
    assert!(!ok);
    assert!(err.contains("error-rate"), "{err}");
}

/// Regression (outside attack): a receiver that answers 200 and then streams
/// a body without end. Only the status counts: the delivery is recorded as
/// delivered at once (the body used to be read whole, into memory, until the
/// attempt's 10 s deadline cut it, and the attempt was counted as failed).
#[tokio::test]
async fn a_webhook_answer_body_is_not_read() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000000000\r\n\r\n")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                while socket.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    let server =
        TestServer::start_with(&["--allow-private-destinations", "--alert-every", "1s"]).await;
    server.deploy("flaky", "trap").await;
    let r = server
        .http
        .post(server.api_url("/api/v1/alerts"))
        .bearer_auth(&server.token)
        .json(
            &json!({"name": "endless", "metric": "error_rate", "threshold": 10,
                      "function": "flaky", "webhook_url": hook}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    server
        .http
        .get(server.fn_url("/fn/flaky/"))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let history = get_json(&server, "/api/v1/alerts/history").await;
        if history["events"][0]["delivery"] == "delivered (200)" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within 8 s: {history}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
