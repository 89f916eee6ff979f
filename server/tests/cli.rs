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

#[tokio::test]
async fn cli_creates_lists_and_deletes_queue_triggers() {
    // The brokers run on this machine: the administrator must allow them.
    let server = TestServer::start_with(&["--broker-hosts", "127.0.0.1"]).await;
    let relay = functions_dir().join("relay.wasm");
    let (ok, _, err) = wisp(
        &server,
        &["deploy", relay.to_str().unwrap(), "--name", "sink"],
    );
    assert!(ok, "{err}");
    let u = uuid::Uuid::new_v4().simple().to_string();
    let nats_subject = format!("wcli{u}.orders.*");
    let redis_stream = format!("wisp-cli-{u}");
    let mqtt_topic = format!("wisp-cli/{u}/#");
    let mut ids = Vec::new();
    for args in [
        vec!["triggers", "nats", "sink", nats_subject.as_str()],
        vec![
            "triggers",
            "redis",
            "sink",
            redis_stream.as_str(),
            "--group",
            "cli",
        ],
        vec![
            "triggers",
            "mqtt",
            "sink",
            mqtt_topic.as_str(),
            "--broker-url",
            "mqtt://127.0.0.1:1883",
        ],
    ] {
        let (ok, out, err) = wisp(&server, &args);
        assert!(ok, "{args:?}: {err}");
        let id = out
            .lines()
            .find_map(|l| l.strip_prefix("Created trigger "))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string();
        ids.push(id);
    }
    let (ok, out, _) = wisp(&server, &["triggers"]);
    assert!(ok);
    for (id, (kind, what)) in ids.iter().zip([
        ("nats", format!("{nats_subject} on nats://127.0.0.1:4222")),
        (
            "redis",
            format!("stream {redis_stream} on redis://127.0.0.1:6379"),
        ),
        ("mqtt", format!("{mqtt_topic} on mqtt://127.0.0.1:1883")),
    ]) {
        let line = out
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{id} not listed: {out}"));
        assert!(line.contains(kind) && line.contains(&what), "{line}");
        // Each consumer reaches its broker (running on this machine).
        server
            .wait_json(&format!("/api/v1/triggers/{id}"), "connected", |t| {
                t["status"] == "connected"
            })
            .await;
        let (ok, out, _) = wisp(&server, &["triggers", "get", id]);
        assert!(ok && out.contains("status:    connected"), "{out}");
    }
    for id in &ids {
        let (ok, out, err) = wisp(&server, &["triggers", "delete", id]);
        assert!(ok && out.contains("Deleted"), "{err}");
    }
    let (ok, out, _) = wisp(&server, &["triggers"]);
    assert!(ok && out.contains("No triggers yet"), "{out}");
    let (ok, _, err) = wisp(&server, &["triggers", "mqtt", "sink", "a/#/b"]);
    assert!(!ok && err.contains('#'), "{err}");
}

/// `wisp functions | head` ends quietly when the reader goes away: killed by
/// SIGPIPE as Unix tools are, never a panic ("failed printing to stdout").
#[tokio::test]
async fn a_closed_output_pipe_ends_the_cli_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let server = TestServer::start().await;
    let hello = functions_dir().join("hello.wasm");
    let (ok, _, err) = wisp(
        &server,
        &["deploy", hello.to_str().unwrap(), "--name", "hello"],
    );
    assert!(ok, "{err}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wisp"))
        .arg("functions")
        .env("WISP_URL", &server.api)
        .env("WISP_TOKEN", &server.token)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running wisp");
    // Close the read end before the command prints anything.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("waiting for wisp");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    const SIGPIPE: i32 = 13;
    assert_eq!(output.status.signal(), Some(SIGPIPE), "{stderr}");
}

/// Retention over the CLI and the REST API: the team's period, back to the
/// server's, the server's (administrators), refusals, and the overview's
/// storage figures.
#[tokio::test]
async fn cli_and_api_show_and_set_retention() {
    let server = TestServer::start().await;
    let (ok, out, err) = wisp(&server, &["retention"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("retention:      30 days (the server's)"),
        "{out}"
    );
    assert!(out.contains("database size:"), "{out}");

    let (ok, out, err) = wisp(&server, &["retention", "set", "14"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("retention:      14 days (the team's own)"),
        "{out}"
    );
    let r = server
        .get("/api/v1/retention")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        (r["days"].as_u64(), r["team_days"].as_u64()),
        (Some(14), Some(14))
    );

    let (ok, _, err) = wisp(&server, &["retention", "set", "0"]);
    assert!(!ok);
    assert!(err.contains("1 to 3650 days"), "{err}");
    let (ok, _, err) = wisp(&server, &["retention", "set", "soon"]);
    assert!(!ok);
    assert!(err.contains("number of days"), "{err}");

    let (ok, out, err) = wisp(&server, &["retention", "set", "default"]);
    assert!(ok, "{err}");
    assert!(out.contains("30 days (the server's)"), "{out}");
    let (ok, out, err) = wisp(&server, &["retention", "set", "60", "--server"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("retention:      60 days (the server's)"),
        "{out}"
    );

    let r = server
        .http
        .put(server.api_url("/api/v1/retention/server"))
        .bearer_auth(&server.token)
        .json(&serde_json::json!({"days": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let overview = server
        .get("/api/v1/overview")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(overview["retention"]["days"], 60, "{overview}");
    assert!(overview["retention"]["database_bytes"].as_u64().unwrap() > 0);
}
