//! Bad uploads are refused with a 4xx JSON error that says what is wrong
//! with the file, and nothing is stored.

mod common;

use common::{wasm, TestServer};
use serde_json::Value;

/// The smallest valid core module: magic + version 1, no sections (no `_start`).
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";
/// The smallest valid component: magic + component version/layer, no exports.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

async fn assert_rejected(
    server: &TestServer,
    name: &str,
    bytes: Vec<u8>,
    status: u16,
    code: &str,
    needle: &str,
) {
    let (got, json) = server.upload(name, bytes).await;
    assert_eq!(got, status, "{name}: {json}");
    assert_eq!(json["error"]["code"], code, "{name}: {json}");
    let message = json["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(
        message.contains(needle),
        "{name}: message {message:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn bad_uploads_are_rejected_and_nothing_is_stored() {
    let server = TestServer::start_with(&["--max-upload-bytes", "1000000"]).await;
    assert_rejected(&server, "empty", Vec::new(), 422, "invalid_wasm", "empty").await;
    assert_rejected(
        &server,
        "text",
        b"<html>this is not wasm</html>".to_vec(),
        422,
        "invalid_wasm",
        "webassembly",
    )
    .await;
    let hello = wasm("hello");
    assert_rejected(
        &server,
        "truncated",
        hello[..hello.len() / 2].to_vec(),
        422,
        "invalid_wasm",
        "truncated",
    )
    .await;
    assert_rejected(
        &server,
        "no-start",
        EMPTY_MODULE.to_vec(),
        422,
        "invalid_wasm",
        "_start",
    )
    .await;
    assert_rejected(
        &server,
        "no-export",
        EMPTY_COMPONENT.to_vec(),
        422,
        "invalid_wasm",
        "wasi:http/incoming-handler",
    )
    .await;
    assert_rejected(
        &server,
        "too-big",
        vec![0u8; 1_500_000],
        413,
        "too_large",
        "limit",
    )
    .await;
    assert_rejected(
        &server,
        "Bad_Name",
        hello.clone(),
        400,
        "invalid_input",
        "function name",
    )
    .await;

    // Nothing of the above was stored.
    let list: Value = server.get_json("/api/v1/functions").await;
    assert_eq!(list, serde_json::json!([]));
    for name in [
        "empty",
        "text",
        "truncated",
        "no-start",
        "no-export",
        "too-big",
    ] {
        let r = server
            .get(&format!("/api/v1/functions/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{name} should not exist");
    }

    // A good upload still works afterwards and is version 1.
    let deployed = server.deploy("hello", "hello").await;
    assert_eq!(deployed["version"], 1);
}
