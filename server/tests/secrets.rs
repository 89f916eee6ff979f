//! Function secrets over the real HTTP API and CLI: set through
//! `PATCH /api/v1/functions/{name}`, seen by the function as environment
//! variables, never returned by the API or the CLI, redacted from recorded
//! logs, absent in plain text from the database files and the server log,
//! encrypted with a key file of mode 0600, and still working after a restart.

mod common;

use common::{wisp, TestServer};
use serde_json::{json, Value};

/// A value that appears nowhere else, so finding it anywhere is a leak.
const SECRET: &str = "tr0ub4dor-correct-horse-7d1e";
const OTHER_SECRET: &str = "second-secret-value-91c3";
const CLI_SECRET: &str = "cli-secret-value-5a0f";

/// Calls the `env` fixture for `var`: (status, body, invocation id).
async fn read_var(server: &TestServer, var: &str) -> (u16, String, String) {
    let r = server
        .http
        .get(server.fn_url(&format!("/fn/env/?name={var}")))
        .send()
        .await
        .unwrap();
    let id = common::invocation_id(&r);
    (r.status().as_u16(), r.text().await.unwrap(), id)
}

async fn patch(server: &TestServer, body: Value) -> (u16, String) {
    let r = server
        .http
        .patch(server.api_url("/api/v1/functions/env"))
        .bearer_auth(&server.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Every file of the SQLite database (main file, WAL, shared memory).
fn database_bytes(server: &TestServer) -> Vec<u8> {
    let mut bytes = Vec::new();
    for file in ["wisp.db", "wisp.db-wal", "wisp.db-shm"] {
        if let Ok(b) = std::fs::read(server.data_dir.join(file)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_the_function_and_nothing_else() {
    let mut server = TestServer::start().await;
    server.deploy("env", "env").await;

    let (status, text) = patch(
        &server,
        json!({"env": {"PLAIN": "visible-value"},
               "secrets": {"API_KEY": SECRET, "OTHER": OTHER_SECRET}}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains(OTHER_SECRET),
        "{text}"
    );
    let detail: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["secrets"], json!(["API_KEY", "OTHER"]));

    // Names only, wherever the API describes the function.
    for path in ["/api/v1/functions/env", "/api/v1/functions"] {
        let text = server.get(path).send().await.unwrap().text().await.unwrap();
        assert!(!text.contains(SECRET), "{path} shows the value: {text}");
    }

    // The function sees the value; its recorded logs do not keep it.
    let (status, body, id) = read_var(&server, "API_KEY").await;
    assert_eq!((status, body.as_str()), (200, SECRET));
    let record = server.invocation_eventually(&id).await;
    assert!(
        record.logs.contains("env: API_KEY=[redacted]"),
        "{:?}",
        record.logs
    );
    assert!(!record.logs.contains(SECRET), "{:?}", record.logs);
    // Plain variables are not secrets: shown as they are.
    let (status, body, id) = read_var(&server, "PLAIN").await;
    assert_eq!((status, body.as_str()), (200, "visible-value"));
    let record = server.invocation_eventually(&id).await;
    assert!(record.logs.contains("env: PLAIN=visible-value"));

    // A bad name is refused and changes nothing.
    let (status, text) = patch(&server, json!({"secrets": {"1BAD": "x"}})).await;
    assert_eq!(status, 400, "{text}");

    // The CLI sets, lists (names only) and removes.
    let (ok, out, err) = wisp(
        &server,
        &["secrets", "set", "env", &format!("CLI_KEY={CLI_SECRET}")],
    );
    assert!(ok, "{out}{err}");
    assert!(!out.contains(CLI_SECRET) && !err.contains(CLI_SECRET));
    let (status, body, _) = read_var(&server, "CLI_KEY").await;
    assert_eq!((status, body.as_str()), (200, CLI_SECRET));
    let (ok, out, err) = wisp(&server, &["secrets", "list", "env"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["API_KEY", "CLI_KEY", "OTHER"]
    );
    let (ok, _, err) = wisp(&server, &["secrets", "rm", "env", "CLI_KEY"]);
    assert!(ok, "{err}");
    let (status, _, _) = read_var(&server, "CLI_KEY").await;
    assert_eq!(status, 404);

    // null deletes one secret and keeps the others.
    let (status, text) = patch(&server, json!({"secrets": {"OTHER": null}})).await;
    assert_eq!(status, 200, "{text}");
    let detail: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["secrets"], json!(["API_KEY"]));
    let (status, _, _) = read_var(&server, "OTHER").await;
    assert_eq!(status, 404);

    // At rest: the database holds the names but never a value; the key file
    // is private; the server log never saw a value.
    server.stop().await;
    let db = database_bytes(&server);
    assert!(contains(&db, "API_KEY"), "not looking at the right file");
    for value in [SECRET, OTHER_SECRET, CLI_SECRET] {
        assert!(!contains(&db, value), "{value} stored in plain text");
    }
    assert!(!server.log().contains(SECRET));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(server.data_dir.join("secret.key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    // A restart decrypts with the same key file.
    server.resume().await;
    let (status, body, _) = read_var(&server, "API_KEY").await;
    assert_eq!((status, body.as_str()), (200, SECRET));
}

#[tokio::test]
async fn a_configured_key_replaces_the_key_file() {
    let key = "ab".repeat(32);
    let server = TestServer::start_with(&["--secret-key", &key]).await;
    server.deploy("env", "env").await;
    let (status, text) = patch(&server, json!({"secrets": {"TOKEN": SECRET}})).await;
    assert_eq!(status, 200, "{text}");
    let (status, body, _) = read_var(&server, "TOKEN").await;
    assert_eq!((status, body.as_str()), (200, SECRET));
    assert!(!server.data_dir.join("secret.key").exists());
}
