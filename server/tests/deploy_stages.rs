//! An upload over the real interfaces (issue 27): its stages streamed as they
//! happen (`Accept: application/x-ndjson`) and listed in the plain answer,
//! the version live on baseline code and switched to its optimised code
//! without a failed call, a restart serving the cached optimised artifact,
//! a refused upload showing the stage it stopped at, and `wisp deploy`
//! printing each stage.

mod common;

use common::{functions_dir, wasm, wisp, TestServer};
use serde_json::Value;

/// A server with an artifact cache of its own: nothing is optimised yet.
async fn fresh_server(cache: &tempfile::TempDir) -> TestServer {
    TestServer::start_with(&["--cache-dir", cache.path().to_str().unwrap()]).await
}

/// The streamed answer to an upload: its event lines.
async fn streamed_upload(server: &TestServer, name: &str, bytes: Vec<u8>) -> Vec<Value> {
    let r = server
        .post(&format!("/api/v1/functions/{name}/versions"))
        .header("content-type", "application/wasm")
        .header("accept", "application/x-ndjson")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    assert!(text.ends_with('\n'), "{text}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// `event stage` of each line.
fn shape(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["stage"].as_str().unwrap_or("")
            )
            .trim_end()
            .to_string()
        })
        .collect()
}

/// A call to hello through the gateway: (status, body).
async fn call_hello(server: &TestServer) -> (u16, String) {
    let r = server
        .http
        .get(server.fn_url("/fn/hello/"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn live_code(detail: &Value) -> &str {
    detail["live_code"].as_str().unwrap_or("none")
}

#[tokio::test]
async fn an_upload_streams_its_stages_then_switches_to_optimised_code_without_a_failed_call() {
    let cache = tempfile::tempdir().unwrap();
    let mut server = fresh_server(&cache).await;

    let events = streamed_upload(&server, "hello", wasm("hello")).await;
    assert_eq!(
        shape(&events),
        [
            "done upload",
            "started validate",
            "done validate",
            "started compile",
            "done compile",
            "started live",
            "done live",
            "deployed"
        ]
    );
    let deployed = events.last().unwrap();
    assert_eq!(deployed["version"], 1);
    assert_eq!(deployed["live"], true);
    assert_eq!(deployed["code"], "optimizing", "{deployed}");
    let stages: Vec<&str> = deployed["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["upload", "validate", "compile", "live"]);
    let compile = &deployed["stages"][2];
    assert!(
        compile["detail"]
            .as_str()
            .unwrap()
            .starts_with("baseline compiler (Winch)"),
        "{compile}"
    );
    assert_eq!(events[4], {
        let mut done = compile.clone();
        done["event"] = "done".into();
        done
    });
    assert_eq!(
        deployed["stages"][3]["detail"],
        "version 1 serves /fn/hello/"
    );

    // Calls through the gateway while the optimised code compiles and takes
    // over: every one answers, the same way.
    let mut calls = 0;
    let mut seen = Vec::new();
    loop {
        let detail = server.get_json("/api/v1/functions/hello").await;
        let code = live_code(&detail).to_string();
        if seen.last() != Some(&code) {
            seen.push(code.clone());
        }
        let (status, body) = call_hello(&server).await;
        assert_eq!(status, 200, "call {calls} on {code} code");
        assert_eq!(body, "Hello from Wisp!\n");
        calls += 1;
        if code == "optimized" {
            break;
        }
        assert!(calls < 20_000, "never switched: {seen:?}");
    }
    assert_eq!(seen, ["optimizing", "optimized"], "after {calls} calls");
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["artifact_cache"]["baseline_compiles"], 1, "{status}");
    assert_eq!(status["artifact_cache"]["compiles"], 1, "{status}");
    let records = server.invocations("hello", calls).await;
    assert!(
        records.iter().all(|r| r.status_code == Some(200)),
        "every call recorded as answered"
    );

    // A restart serves the cached optimised artifact from the first call.
    server.restart().await;
    let detail = server.get_json("/api/v1/functions/hello").await;
    assert_eq!(live_code(&detail), "optimized", "{detail}");
    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["artifact_cache"]["baseline_compiles"], 0, "{status}");
    assert_eq!(status["artifact_cache"]["compiles"], 0, "{status}");
    assert_eq!(status["artifact_cache"]["hits"], 1, "{status}");
    assert_eq!(call_hello(&server).await.1, "Hello from Wisp!\n");

    // The plain answer lists the same stages; code already optimised is
    // loaded, not compiled.
    let (status, json) = server.upload("hello", wasm("hello")).await;
    assert_eq!(status, 201, "{json}");
    assert_eq!(json["code"], "optimized");
    assert_eq!(json["stages"].as_array().unwrap().len(), 4, "{json}");
    assert_eq!(
        json["stages"][2]["detail"],
        "optimised code from the artifact cache"
    );
}

#[tokio::test]
async fn a_refused_upload_streams_the_stage_it_stopped_at() {
    let cache = tempfile::tempdir().unwrap();
    let server = fresh_server(&cache).await;
    let events = streamed_upload(&server, "broken", b"\0asm\x01\0\0\0garbage".to_vec()).await;
    assert_eq!(
        shape(&events),
        ["done upload", "started validate", "failed"],
        "{events:?}"
    );
    let failed = events.last().unwrap();
    assert_eq!(failed["status"], 422, "{failed}");
    assert_eq!(failed["error"]["code"], "invalid_wasm", "{failed}");
    // Nothing was stored.
    let r = server.get("/api/v1/functions/broken").send().await.unwrap();
    assert_eq!(r.status(), 404);

    // A bad name is refused at the same stage; the plain form answers as
    // it always did.
    let events = streamed_upload(&server, "Bad_Name", wasm("hello")).await;
    assert_eq!(events.last().unwrap()["status"], 400, "{events:?}");
    let (status, json) = server.upload("broken", b"not wasm".to_vec()).await;
    assert_eq!(status, 422, "{json}");
}

#[tokio::test]
async fn wisp_deploy_prints_each_stage() {
    let cache = tempfile::tempdir().unwrap();
    let server = fresh_server(&cache).await;
    let file = functions_dir().join("echo.wasm");
    let (ok, stdout, stderr) = wisp(
        &server,
        &["deploy", file.to_str().unwrap(), "--name", "staged"],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stderr.contains("upload    100%"), "{stderr}");
    for stage in ["upload ", "validate ", "compile ", "live "] {
        let line = stderr
            .lines()
            .find(|l| l.trim_start().starts_with(stage) && l.contains(" ms "))
            .unwrap_or_else(|| panic!("no finished {stage}line:\n{stderr}"));
        assert!(line.contains(" ms "), "{line}");
    }
    assert!(stderr.contains("baseline compiler (Winch)"), "{stderr}");
    assert!(stdout.contains("Deployed staged version 1"), "{stdout}");
    assert!(
        stdout.contains("calls switch to its optimised code"),
        "{stdout}"
    );
    let detail = server.get_json("/api/v1/functions/staged").await;
    assert!(
        ["optimizing", "optimized"].contains(&live_code(&detail)),
        "{detail}"
    );
}
