//! The `wisp` CLI against a real server: deploy, list, invoke, logs, rollback.

mod common;

use common::{functions_dir, wisp, TestServer};

#[tokio::test]
async fn cli_deploys_lists_invokes_and_shows_logs() {
    let server = TestServer::start().await;
    let hello = functions_dir().join("hello.wasm");
    let echo = functions_dir().join("echo.wasm");

    let (ok, out, err) = wisp(
        &server,
        &["deploy", hello.to_str().unwrap(), "--name", "hello"],
    );
    assert!(ok, "deploy failed: {out}{err}");
    assert!(out.contains("Deployed hello version 1"), "{out}");

    let (ok, out, err) = wisp(
        &server,
        &["deploy", echo.to_str().unwrap(), "--name", "hello"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("version 2"), "{out}");

    let (ok, out, _) = wisp(&server, &["functions"]);
    assert!(ok);
    assert!(
        out.lines()
            .any(|l| l.starts_with("hello") && l.contains("component")),
        "{out}"
    );

    let (ok, out, _) = wisp(&server, &["rollback", "hello", "--version", "1"]);
    assert!(ok);
    assert!(out.contains("now serves version 1"), "{out}");

    let (ok, out, err) = wisp(&server, &["invoke", "hello", "--data", "hi"]);
    assert!(ok, "{err}");
    assert_eq!(out, "Hello from Wisp!\n");
    assert!(err.contains("invocation"), "{err}");

    server.invocations("hello", 1).await;
    let (ok, out, _) = wisp(&server, &["logs", "hello"]);
    assert!(ok);
    assert!(out.contains("success"), "{out}");
    assert!(out.contains("| hello: POST /"), "{out}");

    // Clear errors for mistakes.
    let (ok, _, err) = wisp(&server, &["invoke", "missing"]);
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
    let (ok, _, err) = wisp(&server, &["deploy", "/nonexistent.wasm", "--name", "x"]);
    assert!(!ok);
    assert!(err.contains("reading /nonexistent.wasm"), "{err}");
}
