//! Traces over the real server: a caller's W3C `traceparent` is continued
//! through a function-to-function call, a topic publish, the retries of
//! the delivery and an outbound HTTP request, and `GET /api/v1/traces/{id}`
//! answers the whole tree with exactly that shape; an OTLP receiver run by
//! the test gets the same spans (ids and parent links) and the log lines.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{invocation_id, TestServer};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};

/// A plain HTTP server the test runs: answers 200 and keeps the
/// `traceparent` header of every request it gets.
async fn recording_server() -> (u16, Arc<Mutex<Vec<Option<String>>>>) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let kept = kept.clone();
        async move {
            let traceparent = headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            kept.lock().unwrap().push(traceparent);
            "hook ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, seen)
}

/// What the test's OTLP/HTTP receiver got: every span and log record.
#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
}

/// An OTLP/HTTP receiver (protobuf, as a collector on 4318 takes it) that
/// decodes and keeps what Wisp exports.
async fn otlp_receiver() -> (String, Arc<Mutex<Received>>) {
    let received: Arc<Mutex<Received>> = Arc::default();
    let (traces, logs) = (received.clone(), received.clone());
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
                let traces = traces.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    let mut kept = traces.lock().unwrap();
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            kept.spans.extend(scope.spans);
                        }
                    }
                }
            }),
        )
        .route(
            "/v1/logs",
            axum::routing::post(move |body: bytes::Bytes| {
                let logs = logs.clone();
                async move {
                    let request = ExportLogsServiceRequest::decode(body).unwrap();
                    let mut kept = logs.lock().unwrap();
                    for resource in request.resource_logs {
                        for scope in resource.scope_logs {
                            kept.logs.extend(scope.log_records);
                        }
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn span<'a>(spans: &'a [Value], function: &str, attempt: Option<u64>) -> &'a Value {
    spans
        .iter()
        .find(|s| s["function"] == function && s["attempt"].as_u64() == attempt)
        .unwrap_or_else(|| panic!("no span of {function} (attempt {attempt:?}) in {spans:?}"))
}

#[tokio::test]
async fn a_callers_trace_follows_calls_topics_retries_and_outbound_requests() {
    let (port, hook_requests) = recording_server().await;
    let (otlp_url, otlp) = otlp_receiver().await;
    let server = TestServer::start_with(&[
        "--allow-private-destinations",
        "--retry-base-ms",
        "50",
        "--otlp-endpoint",
        &otlp_url,
    ])
    .await;
    for name in ["a", "b", "c"] {
        server.deploy(name, "relay").await;
    }
    server
        .configure(
            "a",
            json!({"env": {"STEPS": "GET http://b.fn.wisp/from-a"}}),
        )
        .await;
    server
        .configure(
            "b",
            json!({"env": {"STEPS": "POST http://events.wisp/orders {body}"}}),
        )
        .await;
    server
        .configure(
            "c",
            json!({
                "allowed_hosts": ["127.0.0.1"],
                "env": {"FAIL_FIRST": "2", "STEPS": format!("GET http://127.0.0.1:{port}/hook")},
            }),
        )
        .await;
    server
        .create_trigger(
            json!({"kind": "topic", "function": "c", "topic": "orders", "max_attempts": 5}),
        )
        .await;

    // A caller with a trace of its own.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let r = server
        .http
        .post(server.fn_url("/fn/a/"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .body("order-7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a_id = invocation_id(&r);

    // Five invocations: a, b, and c three times (two failures, then success).
    let deadline = Instant::now() + Duration::from_secs(60);
    let trace = loop {
        let r = server
            .get(&format!("/api/v1/traces/{trace_id}"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let trace: Value = r.json().await.unwrap();
            let spans = trace["spans"].as_array().unwrap();
            if spans.len() >= 5 && spans.iter().any(|s| s["attempt"] == 3) {
                break trace;
            }
        } else {
            assert_eq!(r.status(), 404, "{}", r.text().await.unwrap());
        }
        assert!(Instant::now() < deadline, "the trace never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(trace["trace_id"], trace_id.as_str());
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 5, "{trace:#}");

    // The tree: a (continuing the caller's span) → b → c × 3.
    let a = span(spans, "a", None);
    assert_eq!(a["invocation_id"], a_id.as_str());
    assert_eq!(a["level"], 0);
    assert_eq!(a["parent_id"], Value::Null);
    assert_eq!(a["parent_span_id"], caller_span);
    assert_eq!(a["trigger"], "http");
    let b = span(spans, "b", None);
    assert_eq!(b["level"], 1);
    assert_eq!(b["parent_id"], a["invocation_id"]);
    assert_eq!(b["parent_span_id"], a["span_id"]);
    assert_eq!(b["trigger"], "function");
    let publish = &b["publishes"].as_array().unwrap()[0];
    assert_eq!(publish["topic"], "orders");
    assert_eq!(publish["deliveries"], 1);
    assert!(
        b["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["target_kind"] == "topic" && c["target"] == "orders"),
        "{b:#}"
    );
    for attempt in 1..=3u64 {
        let c = span(spans, "c", Some(attempt));
        assert_eq!(c["level"], 2, "{c:#}");
        assert_eq!(c["parent_id"], b["invocation_id"], "{c:#}");
        assert_eq!(c["trigger"], "topic");
        let expected = if attempt < 3 { "error" } else { "success" };
        assert_eq!(c["status"], expected, "{c:#}");
        assert_eq!(c["failed"], attempt < 3, "{c:#}");
        if attempt < 3 {
            assert_eq!(c["outcome"], "trap", "{c:#}");
        }
    }
    // Depth first: a, b, then the attempts of c in start order.
    let order: Vec<(&str, Option<u64>)> = spans
        .iter()
        .map(|s| (s["function"].as_str().unwrap(), s["attempt"].as_u64()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("a", None),
            ("b", None),
            ("c", Some(1)),
            ("c", Some(2)),
            ("c", Some(3))
        ]
    );
    // Offsets grow along the chain and stay inside the trace.
    let offset = |s: &Value| s["offset_ms"].as_f64().unwrap();
    assert_eq!(offset(a), 0.0);
    assert!(offset(b) >= offset(a) && offset(&spans[4]) > offset(&spans[2]));
    assert!(trace["duration_ms"].as_f64().unwrap() >= offset(&spans[4]));

    // The outbound request of c's successful attempt carried the trace,
    // naming that invocation's span as its parent.
    let c3 = span(spans, "c", Some(3));
    let Some(hook) = c3["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target_kind"] == "host")
    else {
        let record = server
            .invocation(c3["invocation_id"].as_str().unwrap())
            .await;
        let seen = hook_requests.lock().unwrap().clone();
        let again = server.get_json(&format!("/api/v1/traces/{trace_id}")).await;
        panic!(
            "no outbound call in {c3:#}\nits logs: {}\nthe hook saw: {seen:?}\nthe trace read again: {again:#}",
            record.logs
        );
    };
    assert_eq!(hook["target"], format!("127.0.0.1:{port}"));
    assert_eq!(hook["status_code"], 200);
    let seen = hook_requests.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![Some(format!(
            "00-{trace_id}-{}-01",
            c3["span_id"].as_str().unwrap()
        ))]
    );
    // Nothing of the trace is left waiting.
    assert_eq!(trace["deliveries"], json!([]));

    // Each record names its trace and attempt; the invocation API agrees.
    let c1 = server
        .invocation(span(spans, "c", Some(1))["invocation_id"].as_str().unwrap())
        .await;
    assert_eq!(c1.trace_id.as_deref(), Some(trace_id.as_str()));
    assert_eq!(c1.attempt, Some(1));
    assert!(
        c1.logs.contains("failing call 1 of the first 2"),
        "{}",
        c1.logs
    );

    // Log search narrows to the trace: the five calls, nothing else.
    let found = server
        .get_json(&format!("/api/v1/logs?q=relay&trace={trace_id}"))
        .await;
    let mut ids: Vec<&str> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = spans
        .iter()
        .map(|s| s["invocation_id"].as_str().unwrap())
        .collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "{found:#}");

    // The OTLP receiver got the same five spans: the caller's trace id, the
    // trace API's span ids and parent links, c's failed attempts as errors.
    let deadline = Instant::now() + Duration::from_secs(30);
    let exported = loop {
        let got: Vec<Span> = otlp
            .lock()
            .unwrap()
            .spans
            .iter()
            .filter(|s| hex::encode(&s.trace_id) == trace_id)
            .cloned()
            .collect();
        if got.len() >= 5 {
            break got;
        }
        assert!(Instant::now() < deadline, "OTLP got {} spans", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(exported.len(), 5, "{exported:#?}");
    for expected in spans {
        let id = expected["span_id"].as_str().unwrap();
        let got = exported
            .iter()
            .find(|s| hex::encode(&s.span_id) == id)
            .unwrap_or_else(|| panic!("span {id} not exported: {exported:#?}"));
        assert_eq!(got.name, expected["function"].as_str().unwrap());
        assert_eq!(
            hex::encode(&got.parent_span_id),
            expected["parent_span_id"].as_str().unwrap(),
            "{got:#?}"
        );
        // OTLP status code 2 is ERROR, 1 is OK.
        let code = got.status.as_ref().unwrap().code;
        assert_eq!(code == 2, expected["failed"] == true, "{got:#?}");
        assert!(got.end_time_unix_nano > got.start_time_unix_nano);
    }
    assert_eq!(
        hex::encode(
            &exported
                .iter()
                .find(|s| s.name == "a")
                .unwrap()
                .parent_span_id
        ),
        caller_span
    );
    // Each call's log lines arrive as log records of its span.
    let c3_span = c3["span_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logged = otlp.lock().unwrap().logs.iter().any(|l| {
            hex::encode(&l.trace_id) == trace_id
                && hex::encode(&l.span_id) == c3_span
                && format!("{:?}", l.body).contains("relay: POST")
        });
        if logged {
            break;
        }
        assert!(Instant::now() < deadline, "c's log lines were not exported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_publish_from_outside_continues_the_callers_trace() {
    let server = TestServer::start().await;
    server.deploy("listener", "echo").await;
    server
        .create_trigger(json!({"kind": "topic", "function": "listener", "topic": "signups"}))
        .await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let r = server
        .post("/api/v1/topics/signups")
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .body("ada")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let delivery = server.invocations("listener", 1).await.remove(0);
    assert_eq!(delivery.trace_id.as_deref(), Some(trace_id));
    assert_eq!(delivery.parent_span_id.as_deref(), Some("b7ad6b7169203331"));
    let trace = server.get_json(&format!("/api/v1/traces/{trace_id}")).await;
    assert_eq!(trace["spans"][0]["invocation_id"], delivery.id.as_str());
    assert_eq!(trace["spans"][0]["trigger"], "topic");
}

#[tokio::test]
async fn a_call_without_a_trace_starts_its_own_and_bad_ids_are_refused() {
    let server = TestServer::start().await;
    server.deploy("echo", "echo").await;
    // A malformed traceparent is ignored: the call starts its own trace,
    // named by its invocation id; the function sees its own span.
    let r = server
        .http
        .get(server.fn_url("/fn/echo/"))
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = invocation_id(&r);
    let seen: Value = r.json().await.unwrap();
    let expected_trace = id.replace('-', "");
    let header = seen["headers"]["traceparent"].as_str().unwrap().to_string();
    assert_eq!(
        header,
        format!("00-{expected_trace}-{}-01", platform::span_id(&id))
    );
    let record = server.invocation_eventually(&id).await;
    assert_eq!(record.trace_id.as_deref(), Some(expected_trace.as_str()));
    assert_eq!(record.parent_span_id, None);
    let trace = server
        .get_json(&format!("/api/v1/traces/{expected_trace}"))
        .await;
    assert_eq!(trace["spans"].as_array().unwrap().len(), 1);

    for (id, status) in [
        ("abc", 400),
        ("00000000000000000000000000000000", 400),
        ("4BF92F3577B34DA6A3CE929D0E0E4736", 400),
        ("4bf92f3577b34da6a3ce929d0e0e4736", 404),
    ] {
        let r = server
            .get(&format!("/api/v1/traces/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{id}");
    }
}
