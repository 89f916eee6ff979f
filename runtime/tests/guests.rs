//! The example and hostile functions of `functions/`, run through the real
//! runtime: what a user of Wisp would see for each of them.

mod common;

use std::time::{Duration, Instant};

use common::*;
use http_body_util::BodyExt as _;
use runtime::{Outcome, SandboxConfig};

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_answers_and_its_log_is_captured() {
    let hello = prepare("hello").await;
    assert_eq!(hello.kind(), runtime::FunctionKind::Component);

    let answer = answer(
        hello
            .invoke(get("/greet?who=wisp"), SandboxConfig::default())
            .await,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer.body, "Hello from Wisp!\n");

    let report = answer.report;
    assert_eq!(report.outcome, Outcome::Success);
    assert_eq!(report.status_code, Some(200));
    assert_eq!(report.bytes_out, 17);
    assert_eq!(report.bytes_in, 0);
    assert!(
        report.logs.contains("hello: GET /greet?who=wisp"),
        "logs: {:?}",
        report.logs
    );
    assert!(!report.logs_truncated);
    assert!(report.peak_memory_bytes > 0);
    assert!(report.duration > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_sees_method_path_query_headers_and_body() {
    let echo = prepare("echo").await;
    let request = http::Request::builder()
        .method("PUT")
        .uri("/orders/42?expand=items&limit=3")
        .header("host", "functions.test")
        .header("x-custom", "one")
        .header("x-custom", "two")
        .header("content-type", "text/plain")
        .body(runtime::full_body("the payload"))
        .expect("request");
    let answer = answer(echo.invoke(request, SandboxConfig::default()).await).await;
    assert_eq!(answer.status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&answer.body).expect("echo returns JSON");
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["path"], "/orders/42");
    assert_eq!(seen["query"], "expand=items&limit=3");
    assert_eq!(seen["headers"]["x-custom"], "one, two");
    assert_eq!(seen["headers"]["content-type"], "text/plain");
    assert_eq!(seen["body"], "the payload");
    assert_eq!(seen["body_len"], 11);
    assert_eq!(answer.report.bytes_in, 11);
    assert_eq!(answer.report.bytes_out, answer.body.len() as u64);
    assert!(answer.report.logs.contains("echo: PUT /orders/42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cgi_module_gets_request_in_env_and_stdin() {
    let cgi = prepare("cgi").await;
    assert_eq!(cgi.kind(), runtime::FunctionKind::Module);
    let request = http::Request::builder()
        .method("POST")
        .uri("/submit/form?debug=1")
        .header("host", "functions.test:8080")
        .header("user-agent", "wisp-test/1.0")
        .header("content-length", "9")
        .body(runtime::full_body("name=wisp"))
        .expect("request");
    let sandbox = SandboxConfig {
        env: vec![("GREETING".into(), "hi".into())],
        ..SandboxConfig::default()
    };
    let answer = answer(cgi.invoke(request, sandbox).await).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    let seen: serde_json::Value = serde_json::from_slice(&answer.body).expect("cgi returns JSON");
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/submit/form");
    assert_eq!(seen["query"], "debug=1");
    assert_eq!(seen["body"], "name=wisp");
    assert_eq!(seen["user_agent"], "wisp-test/1.0");
    let report = answer.report;
    assert_eq!(report.outcome, Outcome::Success);
    assert_eq!(report.status_code, Some(200));
    assert_eq!(report.bytes_in, 9);
    assert_eq!(report.bytes_out, answer.body.len() as u64);
    assert!(
        report.logs.contains("cgi: POST /submit/form"),
        "logs: {:?}",
        report.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_is_a_trap_with_its_log_kept() {
    let trap = prepare("trap").await;
    let report = failure(&trap, get("/"), SandboxConfig::default()).await;
    let Outcome::Trap { message } = &report.outcome else {
        panic!("expected a trap, got {:?}", report.outcome);
    };
    assert!(!message.is_empty());
    assert!(
        report.logs.contains("trap: about to fail"),
        "logs: {:?}",
        report.logs
    );
    assert!(
        report.logs.contains("deliberate panic"),
        "logs: {:?}",
        report.logs
    );
    assert_eq!(report.status_code, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out() {
    let looping = prepare("infinite-loop").await;
    let sandbox = SandboxConfig {
        timeout: Duration::from_secs(1),
        ..SandboxConfig::default()
    };
    let started = Instant::now();
    let report = failure(&looping, get("/"), sandbox).await;
    let elapsed = started.elapsed();
    assert_eq!(report.outcome, Outcome::Timeout);
    assert!(
        elapsed >= Duration::from_secs(1),
        "stopped early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "took too long: {elapsed:?}"
    );
    assert!(report.duration >= Duration::from_secs(1));
    assert!(report.logs.contains("infinite-loop: spinning"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_runs_out_of_memory_within_its_limit() {
    let bomb = prepare("memory-bomb").await;
    let limit = 32 * MIB;
    let sandbox = SandboxConfig {
        memory_limit_bytes: limit,
        ..SandboxConfig::default()
    };
    let report = failure(&bomb, get("/"), sandbox).await;
    assert_eq!(report.outcome, Outcome::OutOfMemory);
    assert!(
        report.peak_memory_bytes <= limit,
        "peak {} > limit",
        report.peak_memory_bytes
    );
    // It really filled most of its allowance before dying.
    assert!(
        report.peak_memory_bytes > limit / 2,
        "peak {}",
        report.peak_memory_bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_the_stack() {
    let recursion = prepare("deep-recursion").await;
    let report = failure(&recursion, get("/"), SandboxConfig::default()).await;
    assert_eq!(
        report.outcome,
        Outcome::StackOverflow,
        "logs: {}",
        report.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_is_cut_at_the_response_limit() {
    let huge = prepare("huge-output").await;
    let sandbox = SandboxConfig {
        max_response_body: MIB,
        ..SandboxConfig::default()
    };
    let invocation = huge.invoke(get("/?mb=8"), sandbox).await;
    let response = invocation
        .response
        .expect("the head is sent before the body");
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await;
    assert!(
        body.is_err(),
        "the body must fail once it exceeds the limit"
    );
    let report = invocation.report.await;
    assert_eq!(report.outcome, Outcome::ResponseTooLarge);
    assert!(report.bytes_out <= MIB, "sent {}", report.bytes_out);
    assert!(report.bytes_out > 0);
    assert_eq!(report.status_code, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_flood_is_truncated_at_the_cap() {
    let flood = prepare("log-flood").await;
    let cap = 64 * 1024;
    let sandbox = SandboxConfig {
        max_log_bytes: cap,
        ..SandboxConfig::default()
    };
    // 20k lines of ~22 bytes: ~440 KB of logs.
    let answer = answer(flood.invoke(get("/?lines=20000"), sandbox).await).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "done");
    let report = answer.report;
    assert_eq!(report.outcome, Outcome::Success);
    assert!(report.logs_truncated);
    assert!(report.logs.starts_with("log-flood: line 0\n"));
    assert!(report
        .logs
        .ends_with("[wisp: log truncated at 65536 bytes]\n"));
    // The cap, plus one newline and the marker line.
    assert!(
        report.logs.len() <= cap + 64,
        "logs are {} bytes",
        report.logs.len()
    );
    assert!(!report.logs.contains("line 19999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_body_over_the_limit_is_refused() {
    let echo = prepare("echo").await;
    let sandbox = SandboxConfig {
        max_request_body: 4,
        ..SandboxConfig::default()
    };
    // Declared too large: refused before the guest runs.
    let declared = http::Request::post("/")
        .header("host", "functions.test")
        .header("content-length", "10")
        .body(runtime::full_body("0123456789"))
        .expect("request");
    let report = failure(&echo, declared, sandbox.clone()).await;
    assert_eq!(report.outcome, Outcome::RequestTooLarge);
    assert_eq!(report.duration, Duration::ZERO);

    // Streamed without a length: cut off while the guest reads it.
    let invocation = echo
        .invoke(request("POST", "/", "0123456789"), sandbox)
        .await;
    if let Ok(response) = invocation.response {
        let _ = response.into_body().collect().await;
    }
    let report = invocation.report.await;
    assert_eq!(report.outcome, Outcome::RequestTooLarge);
    assert!(report.bytes_in <= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_component_answers() {
    let python = prepare("python-hello").await;
    let answer = answer(
        python
            .invoke(get("/py?x=1"), SandboxConfig::default())
            .await,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["x-powered-by"], "componentize-py");
    assert_eq!(answer.body, "Hello from Python on Wisp!\n");
    assert_eq!(answer.report.outcome, Outcome::Success);
    assert!(
        answer.report.logs.contains("python-hello: /py?x=1"),
        "logs: {:?}",
        answer.report.logs
    );
}

/// A guest spinning on the CPU must not starve other calls — even on a
/// single-threaded executor, thanks to the epoch yields.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_guest_does_not_block_other_calls() {
    let looping = prepare("infinite-loop").await;
    let hello = prepare("hello").await;
    let timeout = Duration::from_secs(3);
    let sandbox = SandboxConfig {
        timeout,
        ..SandboxConfig::default()
    };
    let started = Instant::now();
    let spinner = tokio::spawn({
        let sandbox = sandbox.clone();
        async move {
            let invocation = looping.invoke(get("/"), sandbox).await;
            (invocation.response.is_err(), invocation.report.await)
        }
    });
    // Let the spinner get going.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..5 {
        let call = Instant::now();
        let answer = answer(
            hello
                .invoke(get(&format!("/during/{i}")), SandboxConfig::default())
                .await,
        )
        .await;
        assert_eq!(answer.status, 200);
        eprintln!("hello #{i} during the spin: {:?}", call.elapsed());
        assert!(
            call.elapsed() < Duration::from_secs(1),
            "hello #{i} took {:?}",
            call.elapsed()
        );
    }
    assert!(
        started.elapsed() < timeout,
        "hello calls finished only after the spinner"
    );
    let (no_response, report) = spinner.await.expect("spinner task");
    assert!(no_response);
    assert_eq!(report.outcome, Outcome::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_a_fresh_sandbox() {
    let hello = prepare("hello").await;
    let calls = (0..8).map(|i| {
        let hello = hello.clone();
        tokio::spawn(async move {
            answer(
                hello
                    .invoke(get(&format!("/n/{i}")), SandboxConfig::default())
                    .await,
            )
            .await
        })
    });
    for (i, call) in calls.enumerate() {
        let answer = call.await.expect("call task");
        assert_eq!(answer.status, 200);
        // Each report holds only its own call's log line.
        assert_eq!(answer.report.logs.matches("hello: GET").count(), 1);
        assert!(answer.report.logs.contains(&format!("/n/{i}")));
    }
}
