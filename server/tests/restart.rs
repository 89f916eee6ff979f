//! A restart keeps functions, versions and invocation history, and serves
//! from the compiled-artifact cache instead of recompiling.

mod common;

use common::TestServer;

#[tokio::test]
async fn restart_keeps_state_and_does_not_recompile() {
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap().to_string();
    let mut server = TestServer::start_with(&["--cache-dir", &cache_arg]).await;
    server.deploy("hello", "hello").await;
    server.deploy("hello", "hello").await; // version 2, same bytes
    server.deploy("echo", "echo").await;
    server.deploy("cgi", "cgi").await;
    for path in ["/fn/hello/", "/fn/echo/", "/fn/cgi/"] {
        let r = server.http.get(server.fn_url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    server.invocations("cgi", 1).await;
    // They went live on baseline code; the optimised code that a restart
    // loads is compiled and cached in the background.
    for name in ["hello", "echo", "cgi"] {
        server
            .wait_json(
                &format!("/api/v1/functions/{name}"),
                "optimised code",
                |f| f["live_code"] == "optimized",
            )
            .await;
    }
    let before = server.get_json("/api/v1/status").await;
    assert_eq!(before["artifact_cache"]["compiles"], 3, "{before}");
    assert_eq!(before["artifact_cache"]["baseline_compiles"], 3, "{before}");

    server.restart().await;

    let status = server.get_json("/api/v1/status").await;
    assert_eq!(status["live_functions"], 3, "{status}");
    assert_eq!(
        status["artifact_cache"]["compiles"], 0,
        "recompiled after restart: {status}"
    );
    assert_eq!(status["artifact_cache"]["hits"], 3, "{status}");

    let list = server.get_json("/api/v1/functions").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cgi", "echo", "hello"]);
    let hello = server.get_json("/api/v1/functions/hello").await;
    assert_eq!(hello["live_version"], 2);
    assert_eq!(hello["versions"].as_array().unwrap().len(), 2);
    assert_eq!(server.invocations("hello", 1).await.len(), 1);
    assert_eq!(server.invocations("echo", 1).await.len(), 1);

    let r = server
        .http
        .get(server.fn_url("/fn/hello/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "Hello from Wisp!\n");
    assert_eq!(server.invocations("hello", 2).await.len(), 2);
}
